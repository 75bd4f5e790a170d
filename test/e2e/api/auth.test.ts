import { expect } from 'chai';
import { SignJWT } from 'jose';
import { startApi, envelopeOf, PASSWORD, type ApiFixture } from './harness.js';

describe('API auth: login, refresh, the current user, and every way a token fails', () => {
  let api: ApiFixture;
  before(async () => {
    api = await startApi({ settings: { loginMaxFailures: 3, loginLockMs: 1500 } });
  });
  after(async () => api?.close());

  it('logs in with e-mail and password and gets a ThingsBoard-shaped JWT pair', async () => {
    const res = await api.call('POST', '/api/auth/login', { body: { username: api.world.adminA.email, password: PASSWORD } });
    expect(res.status).to.equal(200);
    const { token, refreshToken } = res.json as { token: string; refreshToken: string };
    const [header, payload] = token.split('.').slice(0, 2).map((p) => JSON.parse(Buffer.from(p as string, 'base64url').toString()) as Record<string, unknown>);
    expect(header).to.include({ alg: 'HS512' });
    expect(payload).to.include({
      sub: 'admin@a.example',
      userId: api.world.adminA.id.id,
      tenantId: api.world.tenantA.id.id,
      customerId: '13814000-1dd2-11b2-8080-808080808080',
      isPublic: false,
      iss: 'thingsboard.io',
    });
    expect(payload.scopes).to.deep.equal(['TENANT_ADMIN']);
    expect(payload.exp).to.be.a('number');
    expect(payload.iat).to.be.a('number');
    expect(refreshToken).to.be.a('string').and.not.equal(token);
  });

  it('GET /api/auth/user answers the User JSON without any password, with either header', async () => {
    const token = await api.login(api.world.userA1);
    for (const header of ['x-authorization', 'authorization']) {
      const res = await api.call('GET', '/api/auth/user', { headers: { [header]: `Bearer ${token}` } });
      expect(res.status, header).to.equal(200);
      const user = res.json as Record<string, unknown>;
      expect(user).to.deep.include({ email: 'user@a1.example', authority: 'CUSTOMER_USER', id: { entityType: 'USER', id: api.world.userA1.id.id } });
      expect(user.customerId).to.deep.equal({ entityType: 'CUSTOMER', id: api.world.customerA1.id.id });
      expect(res.text).to.not.match(/password|scrypt/i);
    }
  });

  it('POST /api/auth/token exchanges a refresh token for a new pair; an access token is not a refresh token', async () => {
    const login = await api.call('POST', '/api/auth/login', { body: { username: api.world.adminA.email, password: PASSWORD } });
    const { token, refreshToken } = login.json as { token: string; refreshToken: string };
    const refreshed = await api.call('POST', '/api/auth/token', { body: { refreshToken } });
    expect(refreshed.status).to.equal(200);
    const pair = refreshed.json as { token: string; refreshToken: string };
    expect((await api.call('GET', '/api/auth/user', { token: pair.token })).status).to.equal(200);

    const wrong = await api.call('POST', '/api/auth/token', { body: { refreshToken: token } });
    expect(envelopeOf(wrong)).to.include({ status: 401, errorCode: 10 });
    // ... and a refresh token does not open the API.
    expect(envelopeOf(await api.call('GET', '/api/auth/user', { token: refreshToken }))).to.include({ status: 401, errorCode: 10 });
  });

  it('bad credentials: 401 "Invalid username or password", errorCode 10, same for an unknown user', async () => {
    for (const username of [api.world.adminB.email, 'nobody@nowhere.example']) {
      const res = await api.call('POST', '/api/auth/login', { body: { username, password: 'wrong' } });
      expect(envelopeOf(res)).to.include({ status: 401, message: 'Invalid username or password', errorCode: 10 });
    }
  });

  it('locks a user name after repeated failures (429 + Retry-After, even with the right password), then lets it in again', async () => {
    const username = api.world.userA1.email;
    const attempt = (password: string) => api.call('POST', '/api/auth/login', { body: { username, password } });
    expect((await attempt('bad-1')).status).to.equal(401);
    expect((await attempt('bad-2')).status).to.equal(401);
    const third = await attempt('bad-3');
    expect(envelopeOf(third)).to.include({ status: 429, errorCode: 33 });
    expect(Number(third.headers.get('retry-after'))).to.be.within(1, 2);
    expect(envelopeOf(await attempt(PASSWORD))).to.include({ status: 429, errorCode: 33 });
    // Other users are not affected.
    expect((await api.call('POST', '/api/auth/login', { body: { username: api.world.adminA.email, password: PASSWORD } })).status).to.equal(200);
    await new Promise((r) => setTimeout(r, 1600));
    expect((await attempt(PASSWORD)).status).to.equal(200);
  });

  it('no token, blank token, malformed header: 401 "Authentication failed", errorCode 10', async () => {
    const cases: Record<string, string>[] = [{}, { 'x-authorization': '' }, { 'x-authorization': 'Bearer ' }, { authorization: 'Basic abc' }, { 'x-authorization': 'Bearer not.a.jwt' }];
    for (const headers of cases) {
      const res = await api.call('GET', '/api/auth/user', { headers });
      expect(envelopeOf(res), JSON.stringify(headers)).to.include({ status: 401, message: 'Authentication failed', errorCode: 10 });
    }
  });

  it('expired token: 401 "Token has expired", errorCode 11', async () => {
    const expired = await api.jwt.accessToken(api.world.adminA, { expiresAt: Math.floor(Date.now() / 1000) - 10 });
    const res = await api.call('GET', '/api/auth/user', { token: expired });
    expect(envelopeOf(res)).to.include({ status: 401, message: 'Token has expired', errorCode: 11 });
  });

  it('forged signature and "alg": "none" are refused with 401', async () => {
    const good = await api.login(api.world.adminA);
    const [h, p] = good.split('.');
    const otherKey = new TextEncoder().encode('x'.repeat(64));
    const claims = JSON.parse(Buffer.from(p as string, 'base64url').toString()) as Record<string, unknown>;
    const forged = await new SignJWT({ ...claims, scopes: ['SYS_ADMIN'] }).setProtectedHeader({ alg: 'HS512' }).sign(otherKey);
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${p}.`;
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...claims, scopes: ['SYS_ADMIN'] })).toString('base64url')}.${good.split('.')[2]}`;
    for (const token of [forged, none, tampered]) {
      expect(envelopeOf(await api.call('GET', '/api/auth/user', { token }))).to.include({ status: 401, errorCode: 10 });
    }
  });

  it('wrong role: 403 "You don\'t have permission to perform this operation!", errorCode 20', async () => {
    const token = await api.login(api.world.userA1);
    const res = await api.call('GET', '/api/tenants?pageSize=10&page=0', { token });
    expect(envelopeOf(res)).to.include({ status: 403, message: "You don't have permission to perform this operation!", errorCode: 20 });
  });

  it('login body errors name the field', async () => {
    const res = await api.call('POST', '/api/auth/login', { body: { username: 'x@y.z' } });
    expect(envelopeOf(res)).to.include({ status: 400, errorCode: 31, message: 'body.password is required' });
  });
});
