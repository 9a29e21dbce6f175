// The whole browser sign-in over real HTTP: relay <-> sandbox unified login and identity server.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { API_KEY, APP_ID } from '../support/relay.js';
import { startSignInWorld, type SignInWorld } from '../support/world.js';

describe('browser sign-in', () => {
  let w: SignInWorld;
  beforeAll(async () => {
    w = await startSignInWorld();
  });
  afterAll(() => w.close());

  const session = (headers: Record<string, string>) =>
    w.relay.http.get('/api/v1/session').set('Authorization', `Bearer ${API_KEY}`).set(headers);

  it('goes relay -> unified login -> callback -> relay session, keeping returnTo', async () => {
    const browser = w.browser();
    const start = await browser.request(
      `${w.relay.url}/sso/login?returnTo=${encodeURIComponent('/reports?year=2026#q3')}`,
    );
    expect(start.status).toBe(302);
    // built literally: the unified login's parameters stay in the fragment
    expect(start.headers.get('location')).toBe(
      `${w.sandbox.url}/unified-login/#/portal-login?ind=UNOP&appId=${APP_ID}`,
    );
    const pending = browser.cookie(w.relay.url, 'relay.pending')!;
    expect(pending).toMatchObject({ httpOnly: true, path: '/sso', sameSite: 'Lax' });

    const loginPage = await browser.request(`${w.sandbox.url}/unified-login/`);
    expect(loginPage.status).toBe(200);
    const callback = await w.unifiedLogin(browser, 'alice');
    const cb = new URL(callback);
    expect(`${cb.origin}${cb.pathname}`).toBe(`${w.relay.url}/sso/callback`);
    expect([...cb.searchParams.keys()]).toEqual(['code', 'tenant']);
    expect(cb.searchParams.get('tenant')).toBe(w.acme.tenantId);

    const landed = await browser.request(callback);
    expect(landed.status).toBe(302);
    expect(landed.location).toBe(`${w.relay.url}/reports?year=2026#q3`);
    const cookie = browser.cookie(w.relay.url, w.relay.config.session.cookieName)!;
    expect(cookie).toMatchObject({ httpOnly: true, secure: false, sameSite: 'Lax', path: '/' });
    expect(browser.cookie(w.relay.url, 'relay.pending')).toBeUndefined();

    const me = await session({ Cookie: browser.cookieHeader(w.relay.url) });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({
      user: {
        userName: 'alice',
        name: '爱丽丝',
        role: 'admin',
        orgCode: 'hq',
        email: 'alice@acme.example',
        mobile: '13800000001',
      },
      tenant: { tenantId: w.acme.tenantId, tenantCode: w.acme.tenantCode, name: 'Acme 科技' },
      appId: APP_ID,
      instanceId: w.acme.instanceId,
    });
    expect(Date.parse(me.body.expiresAt)).toBeGreaterThan(Date.now());
  });

  it('accepts the tenant as tenant_id, as one seed page names it', async () => {
    const browser = w.browser();
    await browser.request(`${w.relay.url}/sso/login`);
    const callback = new URL(await w.unifiedLogin(browser, 'bob'));
    const tenant = callback.searchParams.get('tenant')!;
    callback.searchParams.delete('tenant');
    callback.searchParams.set('tenant_id', tenant);
    const landed = await browser.request(callback.href);
    expect([landed.status, landed.location]).toEqual([302, `${w.relay.url}/`]);
    const me = await session({ Cookie: browser.cookieHeader(w.relay.url) });
    expect(me.body).toMatchObject({ user: { userName: 'bob' }, tenant: { tenantId: w.acme.tenantId } });
  });

  it('accepts the session by X-Session-Id, raw or as the signed cookie value', async () => {
    const { browser, sid } = await w.signIn('bob');
    expect((await session({ 'X-Session-Id': sid })).body.user.userName).toBe('bob');
    const signed = browser.cookie(w.relay.url, w.relay.config.session.cookieName)!.value;
    expect((await session({ 'X-Session-Id': signed })).body.user.userName).toBe('bob');
    expect((await session({ 'X-Session-Id': `${sid}x` })).status).toBe(401);
    expect(
      (await session({ 'X-Session-Id': signed.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')) })).status,
    ).toBe(401);
  });

  it('gives a new session id at every sign-in (no fixation)', async () => {
    const first = await w.signIn('bob');
    const browser = first.browser;
    await browser.request(`${w.relay.url}/sso/login`);
    const callback = await w.unifiedLogin(browser, 'bob');
    expect((await browser.request(callback)).status).toBe(302);
    const cookie = browser.cookie(w.relay.url, w.relay.config.session.cookieName)!.value;
    const second = decodeURIComponent(cookie).slice(2, decodeURIComponent(cookie).lastIndexOf('.'));
    expect(second).not.toBe(first.sid);
    expect((await session({ 'X-Session-Id': first.sid })).status).toBe(401);
    expect((await session({ 'X-Session-Id': second })).status).toBe(200);
  });

  it('signs in from the enterprise workbench with no earlier visit to the relay', async () => {
    const browser = w.browser();
    const { page, hops } = await browser.navigate(
      `${w.sandbox.url}/workbench/launch?appId=${APP_ID}&user=alice`,
    );
    expect(hops[1]).toMatch(
      new RegExp(`^${w.relay.url}/sso/callback\\?code=[^&]+&tenant=${w.acme.tenantId}$`),
    );
    expect(hops[2]).toBe(`${w.relay.url}/`);
    expect(page.status).toBe(404); // the relay serves no app at "/" in this test
    expect((await session({ Cookie: browser.cookieHeader(w.relay.url) })).body.user.userName).toBe('alice');
  });

  it('hands out the access token, and signs out through the identity server', async () => {
    const { browser, sid } = await w.signIn('alice');
    const token = await w.relay.http
      .post('/api/v1/session/token')
      .set('Authorization', `Bearer ${API_KEY}`)
      .set('X-Session-Id', sid);
    expect(token.status).toBe(200);
    // the token works at the tenant's identity server
    const info = await fetch(`${w.world.domainName(w.acme)}/api/v1/oauth2/userinfo`, {
      headers: { Authorization: `Bearer ${token.body.accessToken}` },
    });
    expect(((await info.json()) as { userName: string }).userName).toBe('alice');

    const out = await browser.request(`${w.relay.url}/sso/logout`, {
      method: 'POST',
      headers: { Origin: w.relay.url },
    });
    expect(out.status).toBe(302);
    const expected = `${w.world.domainName(w.acme)}/api/v1/logout?redirect_url=${encodeURIComponent(`${w.relay.url}/sso/logged-out`)}`;
    expect(out.location).toBe(expected);
    const { page, hops } = await browser.navigate(out.location!);
    expect(hops.at(-1)).toBe(`${w.relay.url}/sso/logged-out`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('You are signed out');
    expect((await session({ 'X-Session-Id': sid })).status).toBe(401);
    expect(browser.cookie(w.relay.url, w.relay.config.session.cookieName)).toBeUndefined();
  });
});

describe('identity servers over plain http without ALLOW_INSECURE_IDP', () => {
  let w: SignInWorld;
  beforeAll(async () => {
    w = await startSignInWorld({ env: { ALLOW_INSECURE_IDP: undefined } });
  });
  afterAll(() => w.close());

  it('refuses the sign-in (502) without sending the code or the client secret anywhere', async () => {
    const browser = w.browser();
    await browser.request(`${w.relay.url}/sso/login`);
    const callback = await w.unifiedLogin(browser, 'alice');
    const before = JSON.stringify(w.sandbox.identity.stats.token);
    const landed = await browser.request(callback);
    expect(landed.status).toBe(502);
    expect(landed.text).toContain('data-failure="idp_unavailable"');
    expect(JSON.stringify(w.sandbox.identity.stats.token)).toBe(before);
    const line = w.relay.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.failure);
    expect(line).toMatchObject({ failure: 'idp_unavailable', detail: 'the tenant domainName is not https' });
  });
});

describe('identity servers over plain http in production', () => {
  // A production relay (issue 9 §9) behind a TLS proxy; the sandbox's identity servers are http.
  let w: SignInWorld;
  beforeAll(async () => {
    w = await startSignInWorld({
      env: {
        NODE_ENV: 'production',
        PUBLIC_URL: 'https://isv.example.com',
        TRUST_PROXY: 'true',
        // production refuses an http unified login; the test signs in at the sandbox directly
        UNIFIED_LOGIN_URL: 'https://login.example.com/#/portal-login?appId={appId}',
        REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
        SELLER_API_KEYS: 'kJ3v9QeZr2WmX7tYb4NcH8uLpA6sDfG1oTzRyV5wE0q',
        ALLOW_INSECURE_IDP: undefined,
      },
    });
  });
  afterAll(() => w.close());

  it('runs with ALLOW_INSECURE_IDP refused, and refuses an http domainName at sign-in (502) sending nothing to it', async () => {
    expect(w.relay.config).toMatchObject({ production: true, allowInsecureIdp: false });
    expect(w.world.domainName(w.acme)).toMatch(/^http:\/\//);
    const proxied = { 'X-Forwarded-Proto': 'https' };
    const browser = w.browser();
    const callback = await w.unifiedLogin(browser, 'alice');
    const before = JSON.stringify(w.sandbox.identity.stats);
    const landed = await browser.request(callback.replace(w.relay.config.publicBase, w.relay.url), {
      headers: proxied,
    });
    expect(landed.status).toBe(502);
    expect(landed.text).toContain('data-failure="idp_unavailable"');
    expect(browser.cookie(w.relay.url, w.relay.config.session.cookieName)).toBeUndefined();
    // no code, client secret or token went to the identity server
    expect(JSON.stringify(w.sandbox.identity.stats)).toBe(before);
    const line = w.relay.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.failure);
    expect(line).toMatchObject({ failure: 'idp_unavailable', detail: 'the tenant domainName is not https' });
  });
});
