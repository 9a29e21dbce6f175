// The integration kit a seller app uses: typed client, middleware, signed assertion, ticket hand-off.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { decodeProtectedHeader } from 'jose';
import request from 'supertest';
import { DataKeyRing } from '../../src/crypto/dataKey.js';
import {
  RelayClient,
  RelayError,
  requireRelaySession,
  verifyRelayAssertion,
} from '../../src/client/index.js';
import { AssertionKeys } from '../../src/sso/assertionKeys.js';
import { Handoff } from '../../src/sso/handoff.js';
import { Keys } from '../../src/store/keys.js';
import { MemoryStore } from '../../src/store/memory.js';
import { API_KEY, APP_ID } from '../support/relay.js';
import { startSignInWorld, type SignInWorld } from '../support/world.js';

describe('integration kit against a running relay', () => {
  let w: SignInWorld;
  let client: RelayClient;
  beforeAll(async () => {
    w = await startSignInWorld();
    client = new RelayClient({ baseUrl: w.relay.url, apiKey: API_KEY });
  });
  afterAll(() => w.close());

  it('reads the session by cookie or id, renews tokens and ends the session', async () => {
    const { browser, sid } = await w.signIn('alice');
    const byCookie = await client.session({ cookie: browser.cookieHeader(w.relay.url) });
    expect(byCookie?.user).toMatchObject({ userName: 'alice', role: 'admin' });
    expect((await client.session({ sessionId: sid }))?.tenant.tenantId).toBe(w.acme.tenantId);
    const token = await client.accessToken({ sessionId: sid }, { forceRefresh: true });
    expect(token.accessToken).toMatch(/^[0-9a-f-]{36}$/);
    await client.endSession({ sessionId: sid });
    expect(await client.session({ sessionId: sid })).toBeNull();
    await expect(client.accessToken({ sessionId: sid })).rejects.toMatchObject({
      status: 401,
      code: 'no_session',
    });
  });

  it('reads the mirror and answers authorize', async () => {
    const tenant = await client.tenant(w.acme.tenantId);
    expect(tenant.name).toBe('Acme 科技');
    expect(tenant.instances).toEqual([
      expect.objectContaining({ instanceId: w.acme.instanceId, status: 'active' }),
    ]);
    const instance = await client.instance(w.acme.instanceId);
    expect(instance).toMatchObject({
      status: 'active',
      tenantIds: [w.acme.tenantId],
      orderId: w.acme.orderId,
    });
    await expect(client.instance('no-such-instance')).rejects.toMatchObject({
      status: 404,
      code: 'not_found',
    });
    expect((await client.departments(w.acme.tenantId, 'hq')).map((d) => d.orgCode)).toEqual(['rd']);
    expect(
      await client.authorize({ tenantId: w.acme.tenantId, userName: 'bob', role: 'admin' }),
    ).toMatchObject({ allowed: false, reason: 'role_missing' });
    await expect(
      new RelayClient({ baseUrl: w.relay.url, apiKey: 'wrong-key-000000000' }).tenant(w.acme.tenantId),
    ).rejects.toBeInstanceOf(RelayError);
    await expect(
      new RelayClient({ baseUrl: 'http://127.0.0.1:1', apiKey: API_KEY }).tenant('x'),
    ).rejects.toMatchObject({ status: 0, code: 'relay_unreachable' });
  });

  it('issues an ES256 assertion that verifies against the JWKS, and nothing else does', async () => {
    const { sid } = await w.signIn('bob');
    const { assertion, expiresAt } = await client.assertion({ sessionId: sid });
    const claims = await verifyRelayAssertion(assertion, {
      relayUrl: w.relay.config.publicUrl.href,
      appId: APP_ID,
      jwksUrl: `${w.relay.url}/.well-known/jwks.json`,
    });
    expect(claims).toMatchObject({
      sub: `${w.acme.tenantId}:bob`,
      appId: APP_ID,
      user: { userName: 'bob', role: 'user' },
      tenant: { tenantId: w.acme.tenantId },
    });
    expect(claims.exp! * 1000).toBeLessThanOrEqual(Date.parse(expiresAt));
    expect(claims.exp! - claims.iat!).toBeLessThanOrEqual(300);
    const jwks = (await w.relay.http.get('/.well-known/jwks.json')).body as {
      keys: { kid: string; kty: string; crv: string; d?: string }[];
    };
    expect(jwks.keys[0]).toMatchObject({
      kty: 'EC',
      crv: 'P-256',
      kid: decodeProtectedHeader(assertion).kid,
    });
    expect(jwks.keys.every((k) => k.d === undefined)).toBe(true);
    const options = {
      relayUrl: w.relay.config.publicUrl.href,
      jwksUrl: `${w.relay.url}/.well-known/jwks.json`,
    };
    await expect(verifyRelayAssertion(assertion, { ...options, appId: 'another-app' })).rejects.toThrow();
    const [h, p, s] = assertion.split('.');
    const forged = Buffer.from(
      JSON.stringify({
        ...JSON.parse(Buffer.from(p!, 'base64url').toString()),
        user: { userName: 'bob', role: 'admin' },
      }),
    ).toString('base64url');
    await expect(
      verifyRelayAssertion(`${h}.${forged}.${s}`, { ...options, appId: APP_ID }),
    ).rejects.toThrow();
  });

  it('protects app routes with requireRelaySession, by role', async () => {
    const app = express();
    app.get('/home', requireRelaySession({ client }), (req, res) => void res.json(req.relaySession));
    app.get(
      '/admin',
      requireRelaySession({ client, role: 'admin' }),
      (_req, res) => void res.send('admin area'),
    );
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const appUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const anonymous = await request(appUrl).get('/home?tab=1').set('Accept', 'text/html');
      expect(anonymous.status).toBe(302);
      expect(anonymous.headers.location).toBe('/sso/login?returnTo=%2Fhome%3Ftab%3D1');
      expect((await request(appUrl).get('/home').set('Accept', 'application/json')).status).toBe(401);

      const alice = await w.signIn('alice');
      const bob = await w.signIn('bob');
      const home = await request(appUrl).get('/home').set('Cookie', alice.browser.cookieHeader(w.relay.url));
      expect(home.body.user.userName).toBe('alice');
      expect(
        (await request(appUrl).get('/admin').set('Cookie', alice.browser.cookieHeader(w.relay.url))).text,
      ).toBe('admin area');
      const refused = await request(appUrl)
        .get('/admin')
        .set('Accept', 'text/html')
        .set('Cookie', bob.browser.cookieHeader(w.relay.url));
      expect(refused.status).toBe(403);
    } finally {
      server.close();
    }
  });
});

describe('cross-origin ticket hand-off', () => {
  let w: SignInWorld;
  beforeAll(async () => {
    w = await startSignInWorld({ env: { HANDOFF_URL: 'https://app.example.com/auth/relay?from=relay' } });
  });
  afterAll(() => w.close());

  it('sends the browser to the app with a one-time ticket the app redeems once', async () => {
    const browser = w.browser();
    await browser.request(`${w.relay.url}/sso/login?returnTo=%2Fprojects%2F7`);
    const landed = await browser.request(await w.unifiedLogin(browser, 'alice'));
    expect(landed.status).toBe(302);
    const target = new URL(landed.location!);
    expect(`${target.origin}${target.pathname}`).toBe('https://app.example.com/auth/relay');
    expect(target.searchParams.get('from')).toBe('relay');
    expect(target.searchParams.get('returnTo')).toBe('/projects/7');
    const ticket = target.searchParams.get('ticket')!;
    const client = new RelayClient({ baseUrl: w.relay.url, apiKey: API_KEY });
    const redeemed = await client.redeemTicket(ticket);
    expect(redeemed.session.user.userName).toBe('alice');
    expect((await client.session({ sessionId: redeemed.sessionId }))?.user.userName).toBe('alice');
    await expect(client.redeemTicket(ticket)).rejects.toMatchObject({ status: 400, code: 'invalid_ticket' });
    await expect(client.redeemTicket('x'.repeat(43))).rejects.toMatchObject({
      status: 400,
      code: 'invalid_ticket',
    });
  });

  it('lets the app origin sign the browser out', async () => {
    const { browser, sid } = await w.signIn('bob');
    const out = await browser.request(`${w.relay.url}/sso/logout`, {
      method: 'POST',
      headers: { Origin: 'https://app.example.com' },
    });
    expect(out.status).toBe(302);
    expect(
      await new RelayClient({ baseUrl: w.relay.url, apiKey: API_KEY }).session({ sessionId: sid }),
    ).toBeNull();
  });
});

describe('tickets and assertion keys over time', () => {
  it('expires a ticket after 60 s', async () => {
    let now = 1_000_000;
    const store = new MemoryStore(() => now);
    const handoff = new Handoff(store, new Keys('t:'));
    const ticket = await handoff.issue('{t:x}.sid');
    now += 60_001;
    expect(await handoff.redeem(ticket)).toBeNull();
    const fresh = await handoff.issue('{t:x}.sid');
    expect(await handoff.redeem(fresh)).toBe('{t:x}.sid');
    expect(await handoff.redeem(fresh)).toBeNull();
    await store.close();
  });

  it('rotates the signing key and keeps the previous one published while its assertions live', async () => {
    let now = Date.now();
    const store = new MemoryStore(() => now);
    const keys = new AssertionKeys({
      store,
      keys: new Keys('t:'),
      dataKeys: new DataKeyRing([Buffer.alloc(32, 3)]),
      now: () => now,
      rotationDays: 30,
    });
    const sign = () =>
      keys.sign({}, { issuer: 'https://relay', audience: 'app', subject: 's', expiresAt: now + 300_000 });
    const first = decodeProtectedHeader(await sign()).kid;
    expect(decodeProtectedHeader(await sign()).kid).toBe(first);
    now += 31 * 86_400_000;
    const second = decodeProtectedHeader(await sign()).kid;
    expect(second).not.toBe(first);
    expect((await keys.jwks()).keys.map((k) => k.kid)).toEqual([second, first]);
    now += 31 * 86_400_000;
    const third = decodeProtectedHeader(await sign()).kid;
    expect((await keys.jwks()).keys.map((k) => k.kid)).toEqual([third, second]);
    await store.close();
  });
});
