// JWTs as ThingsBoard issues them: HS512, iss "thingsboard.io", the access token carrying sub
// (e-mail), userId, scopes [authority], tenantId, customerId, isPublic; the refresh token carrying
// scopes ["REFRESH_TOKEN"]. Only HS512 is accepted, so "alg": "none" and other algorithms fail.
import { randomUUID } from 'node:crypto';
import { errors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import type { User } from '../../store/users.js';
import { authenticationFailed, tokenExpired } from '../errors.js';
import type { AuthUser, Authority } from './auth-user.js';

const ALG = 'HS512';
const REFRESH_SCOPE = 'REFRESH_TOKEN';
const AUTHORITIES: readonly string[] = ['SYS_ADMIN', 'TENANT_ADMIN', 'CUSTOMER_USER'];

export interface JwtOptions {
  /** ThingsBoard: JWT_TOKEN_ISSUER, default "thingsboard.io". */
  readonly issuer?: string;
  /** ThingsBoard: JWT_TOKEN_EXPIRATION_TIME, default 9000 s (2.5 h). */
  readonly accessTtlSec?: number;
  /** ThingsBoard: JWT_REFRESH_TOKEN_EXPIRATION_TIME, default 604800 s (1 week). */
  readonly refreshTtlSec?: number;
}

export interface TokenPair {
  readonly token: string;
  readonly refreshToken: string;
}

/** Whom a refresh token names; the caller reloads the user (it may have been deleted). */
export interface RefreshSubject {
  readonly userId: string;
  readonly email: string;
}

export class JwtService {
  readonly issuer: string;
  readonly accessTtlSec: number;
  readonly refreshTtlSec: number;

  constructor(
    private readonly key: Uint8Array,
    opts: JwtOptions = {},
  ) {
    this.issuer = opts.issuer ?? 'thingsboard.io';
    this.accessTtlSec = opts.accessTtlSec ?? 9000;
    this.refreshTtlSec = opts.refreshTtlSec ?? 604800;
    for (const [name, v] of [['accessTtlSec', this.accessTtlSec], ['refreshTtlSec', this.refreshTtlSec]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`JwtService: ${name} must be a positive integer, got ${v}`);
    }
  }

  async issue(user: User): Promise<TokenPair> {
    return { token: await this.accessToken(user), refreshToken: await this.refreshToken(user) };
  }

  /** `expiresAt` (epoch seconds) overrides the TTL, e.g. to make an expired token in a test. */
  async accessToken(user: User, opts: { expiresAt?: number } = {}): Promise<string> {
    const now = nowSec();
    return new SignJWT({
      userId: user.id.id,
      scopes: [user.authority],
      sessionId: randomUUID(),
      enabled: true,
      isPublic: false,
      tenantId: user.tenantId.id,
      customerId: user.customerId.id,
      firstName: user.firstName,
      lastName: user.lastName,
    })
      .setProtectedHeader({ alg: ALG })
      .setSubject(user.email)
      .setIssuer(this.issuer)
      .setIssuedAt(now)
      .setExpirationTime(opts.expiresAt ?? now + this.accessTtlSec)
      .sign(this.key);
  }

  async refreshToken(user: User): Promise<string> {
    const now = nowSec();
    return new SignJWT({ userId: user.id.id, scopes: [REFRESH_SCOPE], sessionId: randomUUID(), isPublic: false })
      .setProtectedHeader({ alg: ALG })
      .setSubject(user.email)
      .setIssuer(this.issuer)
      .setJti(randomUUID())
      .setIssuedAt(now)
      .setExpirationTime(now + this.refreshTtlSec)
      .sign(this.key);
  }

  /**
   * Access tokens verified before, until they expire: an HMAC check per request was the
   * largest single cost of a REST RPC (scripts/bench/rpc.ts). Bounded; the oldest go first.
   */
  private readonly verified = new Map<string, { user: AuthUser; expSec: number }>();

  /** The caller of an access token; throws the 401 ApiError ThingsBoard answers with. */
  async verifyAccess(token: string): Promise<AuthUser> {
    const cached = this.verified.get(token);
    if (cached) {
      if (cached.expSec > nowSec()) return cached.user;
      this.verified.delete(token);
    }
    const claims = await this.verify(token);
    const scope = Array.isArray(claims.scopes) ? claims.scopes[0] : undefined;
    const { sub, userId, tenantId, customerId } = claims;
    if (typeof scope !== 'string' || !AUTHORITIES.includes(scope)) throw authenticationFailed();
    if (typeof sub !== 'string' || typeof userId !== 'string' || typeof tenantId !== 'string' || typeof customerId !== 'string') {
      throw authenticationFailed();
    }
    const user: AuthUser = {
      userId,
      email: sub,
      authority: scope as Authority,
      tenantId,
      customerId,
      firstName: typeof claims.firstName === 'string' ? claims.firstName : null,
      lastName: typeof claims.lastName === 'string' ? claims.lastName : null,
    };
    if (typeof claims.exp === 'number') {
      if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.delete(this.verified.keys().next().value as string);
      this.verified.set(token, { user, expSec: claims.exp });
    }
    return user;
  }

  async verifyRefresh(token: string): Promise<RefreshSubject> {
    const claims = await this.verify(token);
    const scopes = Array.isArray(claims.scopes) ? claims.scopes : [];
    if (!scopes.includes(REFRESH_SCOPE) || typeof claims.sub !== 'string' || typeof claims.userId !== 'string') {
      throw authenticationFailed('Invalid refresh token');
    }
    return { userId: claims.userId, email: claims.sub };
  }

  private async verify(token: string): Promise<JWTPayload & Record<string, unknown>> {
    try {
      const { payload } = await jwtVerify(token, this.key, { algorithms: [ALG], issuer: this.issuer });
      return payload;
    } catch (e) {
      if (e instanceof errors.JWTExpired) throw tokenExpired();
      throw authenticationFailed();
    }
  }
}

const VERIFIED_CACHE_SIZE = 10_000;

function nowSec(): number {
  return Math.floor(Date.now() / 1000);
}
