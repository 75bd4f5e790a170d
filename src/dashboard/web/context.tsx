// What every page gets: the API client, the live event stream, who is signed in, navigation, and
// per-browser preferences (widget settings, RPC history) in localStorage.
import { Api, type User } from './api.js';
import { LiveEvents } from './live.js';

const TOKEN_KEY = 'rpc-chains.token';

/** The signed-in user. The token lives in sessionStorage: one tab, gone when the tab closes. */
export class Session {
  token: string | null = sessionStorage.getItem(TOKEN_KEY);
  user: User | null = null;
  tenantName: string | null = null;

  signIn(token: string): void {
    this.token = token;
    sessionStorage.setItem(TOKEN_KEY, token);
  }

  signOut(): void {
    this.token = null;
    this.user = null;
    this.tenantName = null;
    sessionStorage.removeItem(TOKEN_KEY);
  }

  get isTenantAdmin(): boolean {
    return this.user?.authority === 'TENANT_ADMIN';
  }

  get isCustomerUser(): boolean {
    return this.user?.authority === 'CUSTOMER_USER';
  }
}

export interface AppContext {
  readonly api: Api;
  readonly live: LiveEvents;
  readonly session: Session;
  navigate(hash: string): void;
  /** A short message at the top of the page (errors that belong to no widget). */
  toast(text: string, kind?: 'info' | 'error'): void;
}

export function createApi(session: Session, onExpired: (message: string) => void): Api {
  return new Api(() => session.token, onExpired);
}

export const NULL_UUID = '13814000-1dd2-11b2-8080-808080808080';

/** Reads a JSON preference, falling back to the defaults for anything missing or malformed. */
export function loadPref<T extends object>(key: string, defaults: T): T {
  try {
    const raw = localStorage.getItem(`rpc-chains.${key}`);
    if (raw === null) return defaults;
    const value = JSON.parse(raw) as unknown;
    return typeof value === 'object' && value !== null ? { ...defaults, ...(value as Partial<T>) } : defaults;
  } catch {
    return defaults;
  }
}

export function savePref(key: string, value: unknown): void {
  try {
    localStorage.setItem(`rpc-chains.${key}`, JSON.stringify(value));
  } catch {
    // Storage full or disabled: preferences are a convenience only.
  }
}
