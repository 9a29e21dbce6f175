// The keys derived from SESSION_SECRET, end to end on a relay whose secret has been rotated
// (SESSION_SECRET=new,old): express-session and the seller API take the same cookies, those
// signed with either secret's session-cookie key, and refuse the old scheme (the raw secret)
// and every other use's key; the pending cookie and the session cookie do not stand in for each
// other; the assertion's `sid` is no cookie signature. And the rotation itself, through a
// restart: cookies a relay signed with the old secret keep working once it runs with new,old.
import { createHmac, type KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as cookieSignature from 'cookie-signature';
import { verifyRelayAssertion } from '../../src/client/index.js';
import { deriveKey, deriveSessionKeys } from '../../src/crypto/sessionKeys.js';
import { PENDING_COOKIE } from '../../src/sso/callback/pending.js';
import { signValue } from '../../src/sso/signedValue.js';
import type { Browser } from '../support/browser.js';
import { API_KEY, APP_ID } from '../support/relay.js';
import { startSignInWorld, type SignInWorld } from '../support/world.js';

const NEW = 'the-new-session-secret-0002';
const OLD = 'the-old-session-secret-0001';

describe('session keys derived from a rotated SESSION_SECRET', () => {
  let w: SignInWorld;
  beforeAll(async () => {
    w = await startSignInWorld({ env: { SESSION_SECRET: `${NEW},${OLD}` } });
  });
  afterAll(() => w.close());

  const name = () => w.relay.config.session.cookieName;
  const signed = (sid: string, key: string | KeyObject) => `s:${cookieSignature.sign(sid, key)}`;
  const asCookie = (value: string) => `${name()}=${encodeURIComponent(value)}`;
  const session = (headers: Record<string, string>) =>
    w.relay.http.get('/api/v1/session').set('Authorization', `Bearer ${API_KEY}`).set(headers);
  /** express-session's reading of a cookie: sign-out ends the session it finds, if any. */
  const signOutWith = async (cookie: string) => {
    const res = await w.relay.http
      .get('/sso/logout')
      .set('Cookie', cookie)
      .set('Sec-Fetch-Site', 'same-origin');
    expect(res.status).toBe(302);
    return res.headers.location!.startsWith(`${w.world.domainName(w.acme)}/api/v1/logout`)
      ? 'ended'
      : 'no session';
  };

  it("takes a cookie signed with the second (rotated-out) secret's derived key, in both readers", async () => {
    const { sid } = await w.signIn('alice');
    const value = signed(sid, deriveKey(OLD, 'sessionCookie'));
    expect((await session({ Cookie: asCookie(value) })).body.user.userName).toBe('alice');
    expect((await session({ 'X-Session-Id': encodeURIComponent(value) })).body.user.userName).toBe('alice');
    expect(await signOutWith(asCookie(value))).toBe('ended');
    expect((await session({ 'X-Session-Id': sid })).status).toBe(401);
  });

  it("refuses a cookie signed with a raw secret (the old scheme) or another use's key, in both readers", async () => {
    const { sid } = await w.signIn('bob');
    const keys = deriveSessionKeys([NEW, OLD]);
    const signers: [string, string | KeyObject][] = [
      ['raw new secret', NEW],
      ['raw old secret', OLD],
      ['pending-cookie key', keys.pendingCookie[0]],
      ['old pending-cookie key', keys.pendingCookie[1]!],
      ['fingerprint key', keys.sessionFingerprint],
    ];
    for (const [signer, key] of signers) {
      const value = signed(sid, key);
      expect([signer, (await session({ Cookie: asCookie(value) })).status]).toEqual([signer, 401]);
      expect([signer, (await session({ 'X-Session-Id': value })).status]).toEqual([signer, 401]);
      expect([signer, await signOutWith(asCookie(value))]).toEqual([signer, 'no session']);
    }
    // the session itself was never touched
    expect((await session({ 'X-Session-Id': sid })).body.user.userName).toBe('bob');
  });

  it('does not take the pending cookie for the session cookie, nor the other way round', async () => {
    const browser = w.browser();
    await browser.request(`${w.relay.url}/sso/login`);
    const pending = browser.cookie(w.relay.url, PENDING_COOKIE)!.value;
    expect((await session({ Cookie: `${name()}=${pending}` })).status).toBe(401);

    // A pending sign-in with a returnTo is followed only when signed with the pending-cookie key.
    const keys = deriveSessionKeys([NEW]);
    const landing = async (signer: 'pendingCookie' | 'sessionCookie') => {
      const b = w.browser();
      const value = signValue({ returnTo: '/reports', nonce: 'n0nce', at: Date.now() }, keys[signer]);
      b.setCookie(w.relay.url, PENDING_COOKIE, encodeURIComponent(value), '/sso');
      const landed = await b.request(await w.unifiedLogin(b, 'alice'));
      expect(landed.status).toBe(302);
      return landed.location;
    };
    expect(await landing('pendingCookie')).toBe(`${w.relay.url}/reports`);
    expect(await landing('sessionCookie')).toBe(`${w.relay.url}/`);
  });

  it("gives an assertion `sid` from the fingerprint key, unlike any signature of the session's cookie", async () => {
    const { browser, sid } = await w.signIn('alice');
    const res = await w.relay.http
      .post('/api/v1/session/assertion')
      .set('Authorization', `Bearer ${API_KEY}`)
      .set('X-Session-Id', sid)
      .send({});
    expect(res.status).toBe(200);
    const claims = JSON.parse(Buffer.from(res.body.assertion.split('.')[1], 'base64url').toString()) as {
      sid: string;
    };
    const mac = (key: string | KeyObject) =>
      createHmac('sha256', key).update(sid).digest('base64url').slice(0, 22);
    expect(claims.sid).toBe(mac(deriveKey(NEW, 'sessionFingerprint')));

    const cookie = decodeURIComponent(browser.cookie(w.relay.url, name())!.value);
    const signature = cookie
      .slice(cookie.lastIndexOf('.') + 1)
      .replace(/\+/g, '-')
      .replace(/\//g, '_');
    expect(claims.sid).not.toBe(signature.slice(0, 22));
    // what the claim was before: the HMAC under the raw first secret, the cookie's old signature
    expect(claims.sid).not.toBe(mac(NEW));
  });

  it("keeps one `sid` per session, never any part of the cookie, and the seller's verifier takes it", async () => {
    const alice = await w.signIn('alice');
    const bob = await w.signIn('bob');
    const verified = async (headers: Record<string, string>) => {
      const res = await w.relay.http
        .post('/api/v1/session/assertion')
        .set('Authorization', `Bearer ${API_KEY}`)
        .set(headers)
        .send({});
      expect(res.status).toBe(200);
      // the seller-side helper (src/client/assertion.ts), against the relay's JWKS
      return verifyRelayAssertion(res.body.assertion as string, {
        relayUrl: w.relay.config.publicBase,
        appId: APP_ID,
        jwksUrl: `${w.relay.url}/.well-known/jwks.json`,
      });
    };
    const cookieOf = (browser: Browser) => browser.cookieHeader(w.relay.url);
    const first = await verified({ 'X-Session-Id': alice.sid });
    // stable: another assertion of the session, the session named by its cookie this time
    const again = await verified({ Cookie: cookieOf(alice.browser) });
    expect(first.sub).toBe(`${w.acme.tenantId}:alice`);
    expect(again.sid).toBe(first.sid);
    expect(again.jti).not.toBe(first.jti);
    // per session: bob's differs
    const other = await verified({ 'X-Session-Id': bob.sid });
    expect(other.sid).not.toBe(first.sid);

    // Neither the session id nor the cookie's signature, in either base64 alphabet, whole or in part.
    for (const [session, claims] of [
      [alice, first],
      [bob, other],
    ] as const) {
      const cookie = decodeURIComponent(session.browser.cookie(w.relay.url, name())!.value);
      const signature = cookie.slice(cookie.lastIndexOf('.') + 1);
      const urlSafe = signature.replace(/\+/g, '-').replace(/\//g, '_');
      expect(claims.sid).toMatch(/^[A-Za-z0-9_-]{22}$/);
      for (const text of [signature, urlSafe, session.sid, cookie]) {
        expect(text).not.toContain(claims.sid);
        expect(claims.sid).not.toContain(text.slice(0, 8));
      }
    }
  });
});

describe('SESSION_SECRET rotation through a restart', () => {
  let w: SignInWorld;
  beforeAll(async () => {
    w = await startSignInWorld({ env: { SESSION_SECRET: OLD } });
  });
  afterAll(() => w.close());

  const name = () => w.relay.config.session.cookieName;
  /** The cookie's value as the browser holds it, and whose derived key signed it. */
  const cookieOf = (browser: Browser) => {
    const value = decodeURIComponent(browser.cookie(w.relay.url, name())!.value);
    const signedWith = (secret: string) =>
      cookieSignature.unsign(value.slice(2), deriveKey(secret, 'sessionCookie')) !== false;
    return { header: `${name()}=${encodeURIComponent(value)}`, value, signedWith };
  };
  const session = (headers: Record<string, string>) =>
    w.relay.http.get('/api/v1/session').set('Authorization', `Bearer ${API_KEY}`).set(headers);

  it('keeps the cookies the old secret signed working after a restart with new,old, until the old secret goes', async () => {
    const alice = await w.signIn('alice');
    const dave = await w.signIn('dave');
    expect(cookieOf(alice.browser).signedWith(OLD)).toBe(true);

    await w.restartRelay({ SESSION_SECRET: `${NEW},${OLD}` });

    // The old cookies as the browsers still send them: the seller API takes them...
    for (const { browser } of [alice, dave]) {
      const cookie = cookieOf(browser);
      expect((await session({ Cookie: cookie.header })).status).toBe(200);
      expect((await session({ 'X-Session-Id': encodeURIComponent(cookie.value) })).status).toBe(200);
    }
    // ...and so does express-session: signing out with alice's old cookie ends her session.
    const out = await w.relay.http.post('/sso/logout').set('Cookie', cookieOf(alice.browser).header);
    expect(out.headers.location).toMatch(new RegExp(`^${w.world.domainName(w.acme)}/api/v1/logout`));
    expect((await session({ 'X-Session-Id': alice.sid })).status).toBe(401);

    // A sign-in now gets a cookie signed with the new secret.
    const bob = await w.signIn('bob');
    expect(cookieOf(bob.browser).signedWith(NEW)).toBe(true);
    expect(cookieOf(bob.browser).signedWith(OLD)).toBe(false);

    // With the old secret dropped, its cookies are refused; the new ones still work.
    await w.restartRelay({ SESSION_SECRET: NEW });
    expect((await session({ Cookie: cookieOf(dave.browser).header })).status).toBe(401);
    expect((await session({ Cookie: cookieOf(bob.browser).header })).status).toBe(200);
    // the session itself is still there: only its old cookie no longer names it
    expect((await session({ 'X-Session-Id': dave.sid })).status).toBe(200);
  });
});
