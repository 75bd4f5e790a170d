// Who is calling: what the access token says, attached to the request by requireAuth().
import type { Authority } from '../../store/users.js';

export type { Authority };

export interface AuthUser {
  readonly userId: string;
  /** The token's `sub`. */
  readonly email: string;
  readonly authority: Authority;
  /** NULL_UUID for SYS_ADMIN. */
  readonly tenantId: string;
  /** NULL_UUID unless CUSTOMER_USER. */
  readonly customerId: string;
  readonly firstName: string | null;
  readonly lastName: string | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by requireAuth(); null on routes without it. */
    user: AuthUser | null;
  }
}
