// Security headers (helmet, src/app.ts): every browser-facing answer (pages, failure pages,
// redirects, the marketplace's answers, the JWKS) carries a CSP that allows nothing but the
// relay's own stylesheet and forms and no framing, nosniff, no referrer, and HSTS under an
// https PUBLIC_URL; the seller API, for servers, gets no browser headers but never names its
// framework, and never lets a session answer be cached.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type request from 'supertest';
import { tenantFields, newTenantId } from '../support/data.js';
import { API_KEY, startRelay, type TestRelay } from '../support/relay.js';
import { startSignInWorld, type SignInWorld } from '../support/world.js';

type Answer = request.Response;

/** The CSP's directives by name. */
function csp(answer: Answer): Map<string, string[]> {
  const header = answer.headers['content-security-policy'] ?? '';
  return new Map(
    header
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((d) => d[0])
      .map(([name, ...values]) => [name!, values]),
  );
}

describe('browser-facing answers under an https PUBLIC_URL', () => {
  const TLS = { 'X-Forwarded-Proto': 'https' };
  let t: TestRelay;
  beforeAll(async () => {
    t = await startRelay({ store: 'memory', env: { PUBLIC_URL: 'https://isv.example.com' } });
  });
  afterAll(() => t.close());

  const pages: [string, () => Promise<Answer>, number][] = [
    ['the signed-out page', () => t.http.get('/sso/logged-out').set(TLS), 200],
    ['a failure page', () => t.http.get('/sso/callback?code=x').set(TLS), 400],
    ['the insecure-transport page', () => t.http.get('/sso/login'), 500],
    ['the redirect to the unified login', () => t.http.get('/sso/login').set(TLS), 302],
    ['the stylesheet', () => t.http.get('/sso/assets/relay.css').set(TLS), 200],
    ['an unknown path', () => t.http.get('/no-such-page').set(TLS), 404],
  ];

  it.each(pages)(
    '%s: a CSP that allows only its own stylesheet and forms, and no framing',
    async (_, get, status) => {
      const answer = await get();
      expect(answer.status).toBe(status);
      const directives = csp(answer);
      expect(directives.get('default-src')).toEqual(["'none'"]);
      expect(directives.get('style-src')).toEqual(["'self'"]);
      expect(directives.get('form-action')).toEqual(["'self'"]);
      expect(directives.get('frame-ancestors')).toEqual(["'none'"]);
      expect(directives.get('base-uri')).toEqual(["'none'"]);
      expect(directives.get('object-src')).toEqual(["'none'"]);
      expect(answer.headers['content-security-policy']).not.toContain('unsafe-');
      // the older header says the same as frame-ancestors, for browsers that only read it
      expect(answer.headers['x-frame-options']).toBe('DENY');
    },
  );

  it.each(pages)('%s: nosniff, no referrer, HSTS, and no framework named', async (_, get) => {
    const answer = await get();
    expect(answer.headers['x-content-type-options']).toBe('nosniff');
    expect(answer.headers['referrer-policy']).toBe('no-referrer');
    const hsts = /max-age=(\d+)/.exec(answer.headers['strict-transport-security'] ?? '');
    expect(Number(hsts?.[1])).toBeGreaterThanOrEqual(180 * 24 * 3600);
    expect(answer.headers['x-powered-by']).toBeUndefined();
  });

  it('gives the marketplace’s answers and the JWKS nosniff, and names no framework', async () => {
    const answers = [await t.http.get('/.well-known/jwks.json').set(TLS), await t.http.get('/healthz')];
    const push = await t.pusher.tenantSync(tenantFields(newTenantId()));
    expect(push.resultCode).toBe('000000');
    for (const answer of answers) {
      expect(answer.headers['x-content-type-options']).toBe('nosniff');
      expect(answer.headers['x-powered-by']).toBeUndefined();
    }
    const raw = await t.http
      .post('/produceAPI/v2/tenantSync')
      .set('Content-Type', 'application/json')
      .send('{}');
    expect(raw.body.resultCode).toMatch(/^00000[1-9]$/);
    expect(raw.headers['x-content-type-options']).toBe('nosniff');
    expect(raw.headers['x-powered-by']).toBeUndefined();
  });
});

describe('seller API answers', () => {
  let w: SignInWorld;
  beforeAll(async () => {
    w = await startSignInWorld({ store: 'memory' });
  });
  afterAll(() => w.close());

  const api = (method: 'get' | 'post', path: string) =>
    w.relay.http[method](path).set('Authorization', `Bearer ${API_KEY}`);

  it('never names the framework, and never lets a session, token or assertion be cached', async () => {
    const { sid } = await w.signIn('alice');
    const session = [
      await api('get', '/api/v1/session').set('X-Session-Id', sid),
      await api('post', '/api/v1/session/token').set('X-Session-Id', sid).send({}),
      await api('post', '/api/v1/session/assertion').set('X-Session-Id', sid).send({}),
    ];
    for (const answer of session) {
      expect(answer.status).toBe(200);
      expect(answer.headers['cache-control']).toBe('no-store');
    }
    const others = [
      await api('get', `/api/v1/tenants/${w.acme.tenantId}`),
      await api('get', '/api/v1/session').set('X-Session-Id', 'nothing'),
      await w.relay.http.get('/api/v1/session'),
      await w.relay.http.get('/api/v1/openapi.json'),
    ];
    expect(others.map((a) => a.status)).toEqual([200, 401, 401, 200]);
    for (const answer of [...session, ...others]) {
      expect(answer.headers['content-type']).toMatch(/^application\/json/);
      expect(answer.headers['x-powered-by']).toBeUndefined();
    }
  });
});
