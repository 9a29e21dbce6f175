// TRUST_PROXY and the cookie policy: whether cookies are Secure, and whether a request counts as
// arriving over TLS, is PUBLIC_URL's to say (sso/cookies.ts), with or without a trusted proxy.
// A trusted proxy's X-Forwarded-Proto: https does not make the cookies of an http relay Secure,
// and its X-Forwarded-Proto: http is refused by an https one.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Page } from '../support/browser.js';
import { API_KEY } from '../support/relay.js';
import { startSignInWorld, type SignInWorld } from '../support/world.js';

const PROXIED = { 'X-Forwarded-Proto': 'https', 'X-Forwarded-For': '203.0.113.7' };

const setCookie = (page: Page, name: string) =>
  page.headers
    .getSetCookie()
    .find((c) => c.startsWith(`${name}=`))
    ?.split(';')
    .slice(1)
    .map((a) => a.trim().toLowerCase());

/** A sign-in whose every request to the relay carries `headers`; the relay's answers. */
async function signInWith(w: SignInWorld, headers: Record<string, string>) {
  const browser = w.browser();
  const start = await browser.request(`${w.relay.url}/sso/login`, { headers });
  const callback = await w.unifiedLogin(browser, 'alice');
  const publicBase = w.relay.config.publicBase;
  const landed = await browser.request(callback.replace(publicBase, w.relay.url), { headers });
  return { browser, start, landed };
}

describe('TRUST_PROXY=true behind an http PUBLIC_URL', () => {
  let w: SignInWorld;
  beforeAll(async () => {
    w = await startSignInWorld({ env: { TRUST_PROXY: 'true' } });
  });
  afterAll(() => w.close());

  it('keeps the cookies without Secure although the trusted proxy says https', async () => {
    const { browser, start, landed } = await signInWith(w, PROXIED);
    expect(start.status).toBe(302);
    expect(landed.status).toBe(302);
    for (const [page, name] of [
      [start, 'relay.pending'],
      [landed, w.relay.config.session.cookieName],
    ] as const) {
      const attrs = setCookie(page, name);
      expect([name, attrs]).toEqual([name, expect.arrayContaining(['httponly', 'samesite=lax'])]);
      expect([name, attrs!.includes('secure')]).toEqual([name, false]);
    }
    const me = await w.relay.http
      .get('/api/v1/session')
      .set('Authorization', `Bearer ${API_KEY}`)
      .set('Cookie', browser.cookieHeader(w.relay.url));
    expect(me.status).toBe(200);
  });
});

describe('TRUST_PROXY=true behind an https PUBLIC_URL', () => {
  const PUBLIC = 'https://isv.example.com';
  let w: SignInWorld;
  beforeAll(async () => {
    w = await startSignInWorld({ env: { TRUST_PROXY: 'true', PUBLIC_URL: PUBLIC } });
  });
  afterAll(() => w.close());

  it('sets Secure cookies for requests the proxy forwarded from TLS', async () => {
    const { start, landed } = await signInWith(w, PROXIED);
    expect(landed.status).toBe(302);
    expect(setCookie(start, 'relay.pending')).toContain('secure');
    expect(setCookie(landed, w.relay.config.session.cookieName)).toContain('secure');
  });

  it('refuses, setting no cookie, a request the trusted proxy says came over plain http', async () => {
    for (const path of ['/sso/login', `/sso/callback?code=x&tenant=${w.acme.tenantId}`]) {
      const res = await w.relay.http.get(path).set({ ...PROXIED, 'X-Forwarded-Proto': 'http' });
      expect([path, res.status]).toEqual([path, 500]);
      expect(res.text).toContain('data-failure="insecure_transport"');
      expect(res.headers['set-cookie']).toBeUndefined();
    }
  });
});
