// Customers of a tenant; the title is unique per tenant (as in ThingsBoard).
import { getDocs, saveNamedDoc, type NamedDocKeys } from './docs.js';
import { DuplicateError, NotFoundError, StoreValidationError } from './errors.js';
import { idOf, newId, type IdOf } from './ids.js';
import { parseDoc, parseDocOrNull, type JsonObject } from './json.js';
import type { StoreKeys } from './keys.js';
import { checkPageLink, pageInMemory, type PageData, type PageLink } from './page.js';
import type { RedisClient } from './redis-client.js';
import { retryStale, STALE } from './retry.js';

export interface Customer {
  readonly id: IdOf<'CUSTOMER'>;
  readonly createdTime: number;
  readonly tenantId: IdOf<'TENANT'>;
  readonly title: string;
  /** ThingsBoard repeats the title as name. */
  readonly name: string;
  readonly email: string | null;
  readonly additionalInfo: JsonObject | null;
}

export interface CustomerInput {
  readonly title: string;
  readonly email?: string | null;
  readonly additionalInfo?: JsonObject | null;
}

export class CustomerRepository {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: StoreKeys,
  ) {}

  async create(tenantId: string, input: CustomerInput): Promise<Customer> {
    const title = checkTitle(input.title);
    const customer: Customer = {
      id: newId('CUSTOMER'),
      createdTime: Date.now(),
      tenantId: idOf('TENANT', tenantId),
      title,
      name: title,
      email: input.email ?? null,
      additionalInfo: input.additionalInfo ?? null,
    };
    const result = await saveNamedDoc(this.redis, this.docKeys(tenantId, customer.id.id), {
      id: customer.id.id,
      next: JSON.stringify(customer),
      newName: title,
      createdTime: customer.createdTime,
    });
    if (result === 'DUPLICATE') throw duplicateTitle(title);
    return customer;
  }

  async get(tenantId: string, customerId: string): Promise<Customer | null> {
    return parseDocOrNull<Customer>(await this.redis.get(this.keys.customer(tenantId, customerId)));
  }

  async findByTitle(tenantId: string, title: string): Promise<Customer | null> {
    const id = await this.redis.hget(this.keys.customerTitles(tenantId), title);
    return id === null ? null : this.get(tenantId, id);
  }

  async update(tenantId: string, customerId: string, patch: Partial<CustomerInput>): Promise<Customer> {
    const keys = this.docKeys(tenantId, customerId);
    return retryStale('update customer', async () => {
      const before = await this.redis.get(keys.doc);
      if (before === null) throw new NotFoundError('CUSTOMER', customerId);
      const cur = parseDoc<Customer>(before);
      const title = patch.title !== undefined ? checkTitle(patch.title) : cur.title;
      const next: Customer = {
        ...cur,
        title,
        name: title,
        email: patch.email !== undefined ? patch.email : cur.email,
        additionalInfo: patch.additionalInfo !== undefined ? patch.additionalInfo : cur.additionalInfo,
      };
      const result = await saveNamedDoc(this.redis, keys, {
        id: customerId,
        expected: before,
        next: JSON.stringify(next),
        oldName: cur.title,
        newName: title,
        createdTime: cur.createdTime,
      });
      if (result === 'DUPLICATE') throw duplicateTitle(title);
      return result === 'OK' ? next : STALE;
    });
  }

  async list(tenantId: string, link: PageLink): Promise<PageData<Customer>> {
    checkPageLink(link, ['createdTime', 'title', 'name']);
    const ids = await this.redis.zrange(this.keys.customers(tenantId), 0, -1);
    const all = await getDocs<Customer>(this.redis, ids.map((id) => this.keys.customer(tenantId, id)));
    return pageInMemory(all, link, {
      text: (c) => c.title,
      sortKeys: { createdTime: (c) => c.createdTime, title: (c) => c.title.toLowerCase(), name: (c) => c.title.toLowerCase() },
      defaultSort: 'createdTime',
    });
  }

  private docKeys(tenantId: string, customerId: string): NamedDocKeys {
    return {
      doc: this.keys.customer(tenantId, customerId),
      names: this.keys.customerTitles(tenantId),
      byCreated: this.keys.customers(tenantId),
    };
  }
}

function checkTitle(title: string): string {
  if (typeof title !== 'string' || title.trim() === '') throw new StoreValidationError('Customer title should be specified!');
  return title;
}

function duplicateTitle(title: string): DuplicateError {
  return new DuplicateError('CUSTOMER', 'title', title, 'Customer with such title already exists!');
}
