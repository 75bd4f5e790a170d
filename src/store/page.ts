// ThingsBoard's paging: PageLink in, PageData out.
import { StoreValidationError } from './errors.js';

export type SortOrder = 'ASC' | 'DESC';

export interface PageLink {
  readonly pageSize: number;
  /** 0-based */
  readonly page: number;
  /** Case-insensitive substring match (on the name/title) */
  readonly textSearch?: string;
  readonly sortProperty?: string;
  readonly sortOrder?: SortOrder;
}

export interface PageData<T> {
  readonly data: T[];
  readonly totalPages: number;
  readonly totalElements: number;
  readonly hasNext: boolean;
}

export function checkPageLink(link: PageLink, sortProperties: readonly string[]): void {
  if (!Number.isInteger(link.pageSize) || link.pageSize < 1) throw new StoreValidationError('pageSize must be a positive integer');
  if (!Number.isInteger(link.page) || link.page < 0) throw new StoreValidationError('page must be a non-negative integer');
  // The first rank goes to Redis as a number: past 2^53 it prints as 1e+21 and Redis refuses it.
  if (!Number.isSafeInteger(link.page * link.pageSize)) throw new StoreValidationError('page is too large');
  if (link.sortProperty !== undefined && !sortProperties.includes(link.sortProperty)) {
    throw new StoreValidationError(`sortProperty must be one of ${sortProperties.join(', ')}`);
  }
  if (link.sortOrder !== undefined && link.sortOrder !== 'ASC' && link.sortOrder !== 'DESC') {
    throw new StoreValidationError('sortOrder must be ASC or DESC');
  }
}

export function pageData<T>(data: T[], totalElements: number, link: PageLink): PageData<T> {
  const totalPages = Math.ceil(totalElements / link.pageSize);
  return { data, totalPages, totalElements, hasNext: link.page + 1 < totalPages };
}

/** [start, stop] ranks (inclusive) of a page, for ZRANGE. */
export function pageRange(link: PageLink): [number, number] {
  const start = link.page * link.pageSize;
  return [start, start + link.pageSize - 1];
}

export function matchesText(text: string, search: string | undefined): boolean {
  return search === undefined || search === '' || text.toLowerCase().includes(search.toLowerCase());
}

/** Filters, sorts and slices a list in memory (small lists: tenants, customers, per-customer lists). */
export function pageInMemory<T>(
  items: readonly T[],
  link: PageLink,
  opts: { text: (item: T) => string; sortKeys: Record<string, (item: T) => string | number>; defaultSort: string },
): PageData<T> {
  const filtered = items.filter((item) => matchesText(opts.text(item), link.textSearch));
  const key = opts.sortKeys[link.sortProperty ?? opts.defaultSort] ?? opts.sortKeys[opts.defaultSort];
  if (key === undefined) throw new StoreValidationError('no sort key');
  const dir = link.sortOrder === 'DESC' ? -1 : 1;
  const sorted = [...filtered].sort((a, b) => {
    const x = key(a);
    const y = key(b);
    return (x < y ? -1 : x > y ? 1 : 0) * dir;
  });
  const [start, stop] = pageRange(link);
  return pageData(sorted.slice(start, stop + 1), sorted.length, link);
}
