// The browser routes beyond the happy path (contract §4, joint-login.md §3.6, §5): cookie flags
// behind TLS, returnTo end to end, account switching without a pending sign-in, sign-out
// against cross-site requests, and client-secret changes pushed by applicationSync.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser, Page } from '../support/browser.js';
import { API_KEY, APP_ID } from '../support/relay.js';
import { startSignInWorld, type SignInWorld } from '../support/world.js';

const sessionOf = (w: SignInWorld, headers: Record<string, string>) =>
  w.relay.http.get('/api/v1/session').set('Authorization', `Bearer ${API_KEY}`).set(headers);

const failureOf = (page: Page) => /data-failure="([^"]*)"/.exec(page.text)?.[1];

/** The raw Set-Cookie line for `name` in a response, split into lower-cased attributes. */
function setCookie(page: Page, name: string): { value: string; attrs: string[] } | undefined {
  const raw = page.headers.getSetCookie().find((c) => c.startsWith(`${name}=`));
  if (!raw) return undefined;
  const [pair, ...attrs] = raw.split(';').map((s) => s.trim());
  return { value: pair!.slice(name.length + 1), attrs: attrs.map((a) => a.toLowerCase()) };
}

describe('cookies and sign-out under an https PUBLIC_URL', () => {
  const PUBLIC = 'https://isv.example.com';
  const TLS = { 'X-Forwarded-Proto': 'https' };
  let w: SignInWorld;
  beforeAll(async () => {
    w = await startSignInWorld({ env: { PUBLIC_URL: PUBLIC } });
  });
  afterAll(() => w.close());

  it('registers the https callback with the sandbox app', () => {
    expect(w.world.apps.get(APP_ID)!.callbackUrl).toBe(`${PUBLIC}/sso/callback`);
  });

  it('marks the pending and session cookies Secure, HttpOnly, SameSite=Lax', async () => {
    const browser = w.browser();
    const start = await browser.request(`${w.relay.url}/sso/login?returnTo=%2Freports`, { headers: TLS });
    expect(start.status).toBe(302);
    const pending = setCookie(start, 'relay.pending')!;
    expect(pending).toBeDefined();
    expect(pending.attrs).toEqual(
      expect.arrayContaining(['secure', 'httponly', 'samesite=lax', 'path=/sso']),
    );

    const callback = await w.unifiedLogin(browser, 'alice');
    expect(callback.startsWith(`${PUBLIC}/sso/callback?`)).toBe(true);
    const landed = await browser.request(callback.replace(PUBLIC, w.relay.url), { headers: TLS });
    expect(landed.status).toBe(302);
    expect(landed.location).toBe(`${w.relay.url}/reports`);

    const name = w.relay.config.session.cookieName;
    const cookie = setCookie(landed, name)!;
    expect(cookie).toBeDefined();
    expect(cookie.attrs).toEqual(expect.arrayContaining(['secure', 'httponly', 'samesite=lax', 'path=/']));
    expect(browser.cookie(w.relay.url, name)).toMatchObject({
      secure: true,
      httpOnly: true,
      sameSite: 'Lax',
      path: '/',
    });
    // the pending cookie is cleared with the same flags
    const cleared = setCookie(landed, 'relay.pending')!;
    expect(cleared).toBeDefined();
    expect(cleared.attrs).toEqual(expect.arrayContaining(['secure', 'path=/sso']));
    expect(browser.cookie(w.relay.url, 'relay.pending')).toBeUndefined();

    const me = await sessionOf(w, { Cookie: browser.cookieHeader(w.relay.url) });
    expect(me.status).toBe(200);
    expect(me.body.user.userName).toBe('alice');
  });

  it('signs out to the identity server with the https logged-out page, URL-encoded', async () => {
    const browser = w.browser();
    await browser.request(`${w.relay.url}/sso/login`, { headers: TLS });
    const callback = await w.unifiedLogin(browser, 'bob');
    expect((await browser.request(callback.replace(PUBLIC, w.relay.url), { headers: TLS })).status).toBe(302);
    const name = w.relay.config.session.cookieName;
    const cookieHeader = browser.cookieHeader(w.relay.url);
    expect((await sessionOf(w, { Cookie: cookieHeader })).body.user.userName).toBe('bob');

    const out = await browser.request(`${w.relay.url}/sso/logout`, {
      method: 'POST',
      headers: { ...TLS, Origin: PUBLIC },
    });
    expect(out.status).toBe(302);
    expect(out.headers.get('location')).toBe(
      `${w.world.domainName(w.acme)}/api/v1/logout?redirect_url=${encodeURIComponent(`${PUBLIC}/sso/logged-out`)}`,
    );
    expect(out.headers.get('location')).toContain(
      'redirect_url=https%3A%2F%2Fisv.example.com%2Fsso%2Flogged-out',
    );
    const cleared = setCookie(out, name)!;
    expect(cleared).toBeDefined();
    expect(cleared.attrs).toEqual(expect.arrayContaining(['secure', 'httponly', 'path=/']));
    expect(browser.cookie(w.relay.url, name)).toBeUndefined();
    expect((await sessionOf(w, { Cookie: cookieHeader })).status).toBe(401);
  });

  it('refuses loudly, instead of silently dropping its Secure cookies, when a request arrives without TLS', async () => {
    for (const path of ['/sso/login', `/sso/callback?code=x&tenant=${w.acme.tenantId}`]) {
      const res = await w.relay.http.get(path);
      expect(res.status).toBe(500);
      expect(res.text).toContain('data-failure="insecure_transport"');
      expect(res.headers['set-cookie']).toBeUndefined();
    }
    expect((await w.relay.http.get('/sso/login').set(TLS)).status).toBe(302);
  });

  it('signs out with nothing to end straight to the https logged-out page', async () => {
    const out = await w.browser().request(`${w.relay.url}/sso/logout`, {
      method: 'POST',
      headers: { ...TLS, Origin: PUBLIC },
    });
    expect(out.status).toBe(302);
    expect(out.headers.get('location')).toBe(`${PUBLIC}/sso/logged-out`);
  });
});

describe('returnTo end to end', () => {
  let w: SignInWorld;
  beforeAll(async () => {
    w = await startSignInWorld();
  });
  afterAll(() => w.close());

  it.each([
    '//evil.com',
    '///evil.com',
    '/\\evil.com',
    'https://evil.com',
    'javascript:alert(1)',
    '/%2F%2Fevil.com',
    '/%5Cevil.com',
    '/\t/evil.com',
    '/.//evil.com',
    '/a/..//evil.com',
    '/%2e%2e//evil.com',
    '//evil.com@127.0.0.1',
    '/sso/login',
  ])('lands on POST_LOGIN_PATH for %j', async (payload) => {
    const { landed } = await w.signIn('alice', payload);
    expect(landed).toBe(`${w.relay.url}/`);
  });

  it.each([
    ['/reports?year=2026#q3', '/reports?year=2026#q3'],
    ['/中文路径', '/%E4%B8%AD%E6%96%87%E8%B7%AF%E5%BE%84'],
    ['/?next=%2F%2Fx', '/?next=%2F%2Fx'],
    ['/a/b/c', '/a/b/c'],
  ])('lands on %j for a same-origin path', async (payload, path) => {
    const { landed } = await w.signIn('alice', payload);
    expect(landed).toBe(`${w.relay.url}${path}`);
  });
});

describe('a callback for another user while signed in', () => {
  let w: SignInWorld;
  beforeAll(async () => {
    w = await startSignInWorld();
  });
  afterAll(() => w.close());

  const launch = (browser: Browser, user: string) =>
    browser.request(`${w.sandbox.url}/workbench/launch?appId=${APP_ID}&user=${user}`);
  const logins = async (outcome: string) => {
    const m = new RegExp(`^relay_logins_total\\{outcome="${outcome}"\\} (\\d+)$`, 'm').exec(
      (await w.relay.http.get('/metrics')).text,
    );
    return m ? Number(m[1]) : 0;
  };

  it('without a pending sign-in: 409 naming both users, the session unchanged', async () => {
    const { browser, sid } = await w.signIn('alice');
    const name = w.relay.config.session.cookieName;
    const cookieBefore = browser.cookie(w.relay.url, name)!.value;
    const conflicts = await logins('session_conflict');

    const hop = await launch(browser, 'bob');
    expect(hop.status).toBe(302);
    expect(hop.location).toMatch(new RegExp(`^${w.relay.url}/sso/callback\\?code=`));
    const page = await browser.request(hop.location!);
    expect(page.status).toBe(409);
    expect(page.headers.get('content-type')).toMatch(/^text\/html\b/);
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.text).toContain('data-page="session-conflict"');
    expect(page.text).toContain('<strong>alice</strong>');
    expect(page.text).toContain('<strong>bob</strong>');
    expect(page.text).toContain(`<code id="reference">${page.headers.get('x-request-id')}</code>`);
    expect(setCookie(page, name)).toBeUndefined();
    expect(browser.cookie(w.relay.url, name)!.value).toBe(cookieBefore);
    expect(await logins('session_conflict')).toBe(conflicts + 1);

    const me = await sessionOf(w, { Cookie: browser.cookieHeader(w.relay.url) });
    expect(me.status).toBe(200);
    expect(me.body.user.userName).toBe('alice');
    expect((await sessionOf(w, { 'X-Session-Id': sid })).body.user.userName).toBe('alice');
  });

  it('without a pending sign-in, for the same user: a normal sign-in', async () => {
    const { browser, sid } = await w.signIn('alice');
    const hop = await launch(browser, 'alice');
    const landed = await browser.request(hop.location!);
    expect(landed.status).toBe(302);
    expect(landed.location).toBe(`${w.relay.url}/`);
    const me = await sessionOf(w, { Cookie: browser.cookieHeader(w.relay.url) });
    expect(me.body.user.userName).toBe('alice');
    // a fresh session id all the same (no fixation)
    expect((await sessionOf(w, { 'X-Session-Id': sid })).status).toBe(401);
  });

  it('with a pending sign-in (which any page can start): the same 409, alice stays signed in', async () => {
    const { browser, sid } = await w.signIn('alice');
    await browser.request(`${w.relay.url}/sso/login`);
    expect(browser.cookie(w.relay.url, 'relay.pending')).toBeDefined();
    const page = await browser.request(await w.unifiedLogin(browser, 'bob'));
    expect(page.status).toBe(409);
    expect(page.text).toContain('data-page="session-conflict"');
    const me = await sessionOf(w, { Cookie: browser.cookieHeader(w.relay.url) });
    expect(me.body.user.userName).toBe('alice');
    expect((await sessionOf(w, { 'X-Session-Id': sid })).status).toBe(200);
  });

  it('to change accounts: sign out, then sign in as the other user', async () => {
    const { browser } = await w.signIn('alice');
    const out = await browser.request(`${w.relay.url}/sso/logout`, {
      method: 'POST',
      headers: { Origin: w.relay.url },
    });
    expect(out.status).toBe(302);
    await browser.request(`${w.relay.url}/sso/login`);
    const landed = await browser.request(await w.unifiedLogin(browser, 'bob'));
    expect(landed.status).toBe(302);
    const me = await sessionOf(w, { Cookie: browser.cookieHeader(w.relay.url) });
    expect(me.body.user.userName).toBe('bob');
  });
});

describe('sign-out against cross-site requests', () => {
  let w: SignInWorld;
  beforeAll(async () => {
    w = await startSignInWorld();
  });
  afterAll(() => w.close());

  const stillSignedIn = async (sid: string, user = 'alice') => {
    const me = await sessionOf(w, { 'X-Session-Id': sid });
    expect(me.status).toBe(200);
    expect(me.body.user.userName).toBe(user);
  };
  const idpLogout = () =>
    `${w.world.domainName(w.acme)}/api/v1/logout?redirect_url=${encodeURIComponent(`${w.relay.url}/sso/logged-out`)}`;

  it.each([
    ['an Origin of another site', { Origin: 'https://evil.example' }],
    ['Origin null', { Origin: 'null' }],
    ['Sec-Fetch-Site cross-site and no Origin', { 'Sec-Fetch-Site': 'cross-site' }],
    ['Sec-Fetch-Site same-site and no Origin', { 'Sec-Fetch-Site': 'same-site' }],
  ])('POST with %s: 403 cross_site, the session kept', async (_name, headers) => {
    const { browser, sid } = await w.signIn('alice');
    const page = await browser.request(`${w.relay.url}/sso/logout`, { method: 'POST', headers });
    expect(page.status).toBe(403);
    expect(failureOf(page)).toBe('cross_site');
    expect(page.headers.get('content-type')).toMatch(/^text\/html\b/);
    const reference = /<code id="reference">([^<]*)<\/code>/.exec(page.text)?.[1];
    expect(reference).toBe(page.headers.get('x-request-id'));
    expect(setCookie(page, w.relay.config.session.cookieName)).toBeUndefined();
    await stillSignedIn(sid);
  });

  it.each([
    ['Sec-Fetch-Site cross-site', { 'Sec-Fetch-Site': 'cross-site' }],
    ['Sec-Fetch-Site same-site', { 'Sec-Fetch-Site': 'same-site' }],
    ['no Sec-Fetch-Site (taken as cross-site)', {}],
  ])(
    'GET with %s: 200 confirmation page posting to /sso/logout, the session kept',
    async (_name, headers) => {
      const { browser, sid } = await w.signIn('alice');
      const page = await browser.request(`${w.relay.url}/sso/logout`, { headers });
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html\b/);
      expect(page.headers.get('cache-control')).toBe('no-store');
      expect(page.text).toContain('data-page="confirm-sign-out"');
      expect(page.text).toMatch(/<form method="post" action="\/sso\/logout">/);
      expect(setCookie(page, w.relay.config.session.cookieName)).toBeUndefined();
      await stillSignedIn(sid);

      // the confirmation's own POST is same-origin: it signs out
      const out = await browser.request(`${w.relay.url}/sso/logout`, {
        method: 'POST',
        headers: { Origin: w.relay.url },
      });
      expect(out.status).toBe(302);
      expect(out.location).toBe(idpLogout());
      expect((await sessionOf(w, { 'X-Session-Id': sid })).status).toBe(401);
    },
  );

  it.each([
    ['no Sec-Fetch-Site but a Referer from the relay', { Referer: 'RELAY/some/page' }],
    ['Sec-Fetch-Site same-origin', { 'Sec-Fetch-Site': 'same-origin' }],
    ['Sec-Fetch-Site none (typed in the address bar)', { 'Sec-Fetch-Site': 'none' }],
  ])('GET with %s: 302 to the identity server, the session gone', async (_name, headers) => {
    const { browser, sid } = await w.signIn('alice');
    const sent = Object.fromEntries(
      Object.entries(headers).map(([k, v]) => [k, v.replace('RELAY', w.relay.url)]),
    );
    const out = await browser.request(`${w.relay.url}/sso/logout`, { headers: sent });
    expect(out.status).toBe(302);
    expect(out.location).toBe(idpLogout());
    expect(out.headers.get('cache-control')).toBe('no-store');
    expect((await sessionOf(w, { 'X-Session-Id': sid })).status).toBe(401);
    expect(browser.cookie(w.relay.url, w.relay.config.session.cookieName)).toBeUndefined();
  });

  it('POST from the same origin signs out', async () => {
    const { browser, sid } = await w.signIn('bob');
    const out = await browser.request(`${w.relay.url}/sso/logout`, {
      method: 'POST',
      headers: { Origin: w.relay.url, 'Sec-Fetch-Site': 'same-origin' },
    });
    expect(out.status).toBe(302);
    expect(out.location).toBe(idpLogout());
    expect((await sessionOf(w, { 'X-Session-Id': sid })).status).toBe(401);
  });

  it.each(['GET', 'POST'])('%s without any session: 302 to the relay logged-out page', async (method) => {
    const page = await w.browser().request(`${w.relay.url}/sso/logout`, {
      method,
      headers: method === 'POST' ? { Origin: w.relay.url } : {},
    });
    expect(page.status).toBe(302);
    expect(page.location).toBe(`${w.relay.url}/sso/logged-out`);
    const done = await w.browser().request(page.location!);
    expect(done.status).toBe(200);
    expect(done.text).toContain('data-page="signed-out"');
    expect(done.text).toContain('href="/sso/login"');
  });
});

describe('client secret changes', () => {
  let w: SignInWorld;
  beforeAll(async () => {
    w = await startSignInWorld();
  });
  afterAll(() => w.close());

  const signInPage = async (user: string) => {
    const browser = w.browser();
    await browser.request(`${w.relay.url}/sso/login`);
    return browser.request(await w.unifiedLogin(browser, user));
  };

  it('signs in with the new secret after an applicationSync pushes it', async () => {
    // a first sign-in, so the relay has the tenant's client configured
    expect((await w.signIn('alice')).landed).toBe(`${w.relay.url}/`);
    const { clientId, clientSecret } = w.acme.clients.get(APP_ID)!;
    w.acme.clients.set(APP_ID, { clientId, clientSecret: `${clientSecret}-rotated` });
    const pushed = await w.relay.pusher.applicationSync({
      instanceId: w.acme.instanceId,
      tenantId: w.acme.tenantId,
      appId: APP_ID,
      clientId,
      clientSecret: `${clientSecret}-rotated`,
      flag: 2,
      testFlag: 0,
    });
    expect(pushed.resultCode).toBe('000000');
    const landed = await signInPage('bob');
    expect(landed.status).toBe(302);
    expect(landed.location).toBe(`${w.relay.url}/`);
  });

  it('signs in after the marketplace re-provisions the tenant with another secret', async () => {
    const { clientId } = w.acme.clients.get(APP_ID)!;
    w.acme.clients.set(APP_ID, { clientId, clientSecret: 'new-secret' });
    await w.world.provision(APP_ID, [w.acme.tenantId]);
    const landed = await signInPage('alice');
    expect(landed.status).toBe(302);
    expect(landed.location).toBe(`${w.relay.url}/`);
  });

  it('fails with 400 code_rejected when the identity server changed the secret unannounced', async () => {
    expect((await signInPage('alice')).status).toBe(302);
    const { clientId } = w.acme.clients.get(APP_ID)!;
    w.acme.clients.set(APP_ID, { clientId, clientSecret: 'changed-without-telling-the-relay' });
    const page = await signInPage('alice');
    expect(page.status).toBe(400);
    expect(failureOf(page)).toBe('code_rejected');
    const reference = /<code id="reference">([^<]*)<\/code>/.exec(page.text)?.[1];
    expect(reference).toBe(page.headers.get('x-request-id'));
    let line: Record<string, unknown> | undefined;
    for (let i = 0; i < 50 && !line; i++) {
      line = w.relay.logs
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.reqId === reference);
      if (!line) await new Promise((r) => setTimeout(r, 20));
    }
    expect(line).toMatchObject({ failure: 'code_rejected', detail: '401 invalid_client' });
  });
});
