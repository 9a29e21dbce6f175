// Rate limits (src/limits/, issue 9 §6): per client address on /sso/login, /sso/callback, refused
// hand-off ticket redemptions and refused API keys; per tenant on calls to identity servers;
// never on the marketplace's routes. Each trips at its threshold with 429, Retry-After, the
// bilingual page or the JSON error, and relay_rate_limited_total{limit}; on the embedded store
// and on the real Redis, where two relays on one prefix share the counts.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { formatExpireTime } from '../../src/sandbox/marketplace/index.js';
import { Handoff } from '../../src/sso/handoff.js';
import { MemoryStore } from '../../src/store/memory.js';
import { StoreUnavailableError } from '../../src/store/store.js';
import { appFields, authFields, newTenantId, tenantFields, user } from '../support/data.js';
import { API_KEY, APP_ID, startRelay, type StoreKind, type TestRelay } from '../support/relay.js';
import { startSignInWorld, type SignInWorld } from '../support/world.js';
import type { Browser } from '../support/browser.js';

const STORES: StoreKind[] = ['memory', 'redis'];

/** A documentation address per client (TRUST_PROXY=loopback lets the test name it). */
const address = () => `198.51.100.${1 + (randomBytes(1)[0]! % 250)}`;
const OTHER = '203.0.113.77';

async function refusals(relay: TestRelay, limit: string): Promise<number> {
  const values = (await relay.relay.metrics.rateLimited.get()).values;
  return values.find((v) => v.labels.limit === limit)?.value ?? 0;
}

type Answer = { status: number; headers: Record<string, string>; text: string };

/** 429, a Retry-After within the minute, and the bilingual failure page with the request's id. */
function expectPage(res: Answer): void {
  expect(res.status).toBe(429);
  expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(60);
  expect(res.headers['content-type']).toMatch(/^text\/html/);
  expect(res.headers['cache-control']).toBe('no-store');
  expect(res.text).toContain('data-failure="rate_limited"');
  expect(res.text).toContain('登录请求过于频繁');
  expect(res.text).toContain('Too many sign-in attempts');
  expect(res.text).toContain(`<code id="reference">${res.headers['x-request-id']}</code>`);
}

/** 429, a Retry-After within the minute, and the API's error form. */
function expectJson(res: Answer & { body: unknown }): void {
  expect(res.status).toBe(429);
  expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(60);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.body).toEqual({ error: 'rate_limited', message: expect.stringContaining('Retry-After') });
}

describe.each(STORES)('per client address, on the %s store', (store) => {
  let r: TestRelay;
  beforeAll(async () => {
    r = await startRelay({
      store,
      env: {
        TRUST_PROXY: 'loopback',
        RATE_LIMIT_LOGIN_PER_MINUTE: '3',
        RATE_LIMIT_CALLBACK_PER_MINUTE: '2',
        RATE_LIMIT_API_KEY_FAILURES_PER_MINUTE: '3',
      },
    });
  });
  afterAll(() => r.close());

  it('/sso/login: the 4th request of an address in a minute is 429 with the page; other addresses go on', async () => {
    const ip = address();
    const login = (from = ip) => r.http.get('/sso/login').set('X-Forwarded-For', from);
    for (let i = 0; i < 3; i++) expect((await login()).status).toBe(302);
    const refused = await login();
    expectPage(refused);
    expect((await login()).status).toBe(429);
    expect((await login(OTHER)).status).toBe(302);
    expect(await refusals(r, 'login')).toBe(2);
    const line = await r.logLine(refused.headers['x-request-id']!);
    expect(line).toMatchObject({ status: 429, failure: 'rate_limited', detail: 'login limit' });
  });

  it('/sso/callback: the 3rd callback of an address is 429 with the page, before the mirror is read', async () => {
    const ip = address();
    const callback = (from = ip) =>
      r.http.get(`/sso/callback?code=c&tenant=${newTenantId()}`).set('X-Forwarded-For', from);
    for (let i = 0; i < 2; i++) expect((await callback()).status).toBe(400); // unknown tenant
    const refused = await callback();
    expectPage(refused);
    expect(refused.text).not.toContain('unknown_tenant');
    expect((await callback(OTHER)).status).toBe(400);
    expect(await refusals(r, 'callback')).toBe(1);
  });

  it('/api/v1: the 4th missing or wrong key of an address is 429 rate_limited; a correct key never is', async () => {
    const ip = address();
    const wrong = () =>
      r.http
        .get('/api/v1/session')
        .set('X-Forwarded-For', ip)
        .set('Authorization', 'Bearer wrong-key-0123456789');
    const none = () => r.http.get('/api/v1/session').set('X-Forwarded-For', ip);
    const right = () =>
      r.http
        .get('/api/v1/tenants/nobody')
        .set('X-Forwarded-For', ip)
        .set('Authorization', `Bearer ${API_KEY}`);
    // Before, between and after the failures, far more correct calls than the limit: never counted.
    for (let i = 0; i < 10; i++) expect((await right()).status).toBe(404);
    expect((await wrong()).status).toBe(401);
    expect((await none()).status).toBe(401);
    for (let i = 0; i < 10; i++) expect((await right()).status).toBe(404);
    expect((await wrong()).status).toBe(401);
    const refused = await wrong();
    expectJson(refused);
    expectJson(await none());
    for (let i = 0; i < 10; i++) expect((await right()).status).toBe(404);
    expect(await refusals(r, 'api_key')).toBe(2);
    // another address still gets its own 401s
    const other = await r.http
      .get('/api/v1/session')
      .set('X-Forwarded-For', OTHER)
      .set('Authorization', 'Bearer x');
    expect(other.status).toBe(401);
  });
});

describe('a correct API key is never limited', () => {
  it('answers 1,000 calls of one address with a limit of 1 failure a minute, after that failure', async () => {
    const r = await startRelay({ store: 'memory', env: { RATE_LIMIT_API_KEY_FAILURES_PER_MINUTE: '1' } });
    try {
      expect((await r.http.get('/api/v1/session').set('Authorization', 'Bearer nope')).status).toBe(401);
      expect((await r.http.get('/api/v1/session').set('Authorization', 'Bearer nope')).status).toBe(429);
      const statuses = new Set<number>();
      for (let i = 0; i < 1000; i++) statuses.add((await r.api('/api/v1/tenants/nobody')).status);
      expect([...statuses]).toEqual([404]);
    } finally {
      await r.close();
    }
  });
});

describe('limits shared by two relays on one Redis prefix', () => {
  let a: TestRelay;
  let b: TestRelay;
  beforeAll(async () => {
    const env = {
      TRUST_PROXY: 'loopback',
      RATE_LIMIT_LOGIN_PER_MINUTE: '4',
      RATE_LIMIT_API_KEY_FAILURES_PER_MINUTE: '4',
    };
    a = await startRelay({ store: 'redis', env });
    b = await startRelay({ store: 'redis', env, prefix: a.prefix });
  });
  afterAll(async () => {
    await b.close();
    await a.close();
  });

  it('counts /sso/login on both: two here and two there, then both refuse', async () => {
    const ip = address();
    const login = (relay: TestRelay) => relay.http.get('/sso/login').set('X-Forwarded-For', ip);
    for (const relay of [a, b, a, b]) expect((await login(relay)).status).toBe(302);
    expectPage(await login(a));
    expectPage(await login(b));
    expect([await refusals(a, 'login'), await refusals(b, 'login')]).toEqual([1, 1]);
  });

  it('counts refused API keys on both', async () => {
    const ip = address();
    const wrong = (relay: TestRelay) =>
      relay.http.get('/api/v1/session').set('X-Forwarded-For', ip).set('Authorization', 'Bearer bad');
    for (const relay of [b, b, b, a]) expect((await wrong(relay)).status).toBe(401);
    expectJson(await wrong(b));
    expectJson(await wrong(a));
  });

  it('does not share counts with a relay on another prefix', async () => {
    const c = await startRelay({
      store: 'redis',
      env: { TRUST_PROXY: 'loopback', RATE_LIMIT_LOGIN_PER_MINUTE: '1' },
    });
    try {
      const ip = address();
      expect((await a.http.get('/sso/login').set('X-Forwarded-For', ip)).status).toBe(302);
      expect((await c.http.get('/sso/login').set('X-Forwarded-For', ip)).status).toBe(302);
    } finally {
      await c.close();
    }
  });
});

describe('windows and switches', () => {
  it('lets an address through again when its window has passed', async () => {
    for (const store of STORES) {
      const r = await startRelay({
        store,
        env: { RATE_LIMIT_LOGIN_PER_MINUTE: '1' },
        configure: (config) => void (config.rateLimits.windowMs = 700),
      });
      try {
        expect((await r.http.get('/sso/login')).status).toBe(302);
        const refused = await r.http.get('/sso/login');
        expect([refused.status, refused.headers['retry-after']]).toEqual([429, '1']);
        await new Promise((done) => setTimeout(done, 800));
        expect((await r.http.get('/sso/login')).status).toBe(302);
      } finally {
        await r.close();
      }
    }
  });

  it('warns in the log when TRUST_PROXY lets clients pick their address, or is missing behind a proxy', async () => {
    const permissive = await startRelay({ store: 'memory', env: { TRUST_PROXY: 'true' } });
    const unset = await startRelay({ store: 'memory' });
    try {
      await permissive.http.get('/sso/login');
      await unset.http.get('/sso/login').set('X-Forwarded-For', OTHER);
      const warned = (relay: TestRelay) =>
        relay.logs
          .map((l) => JSON.parse(l) as Record<string, unknown>)
          .filter((l) => l.msg === 'rate limit: configuration check')
          .map((l) => [l.level, l.check]);
      expect(warned(permissive)).toEqual([['warn', 'ERR_ERL_PERMISSIVE_TRUST_PROXY']]);
      expect(warned(unset)).toEqual([['warn', 'ERR_ERL_UNEXPECTED_X_FORWARDED_FOR']]);
    } finally {
      await permissive.close();
      await unset.close();
    }
  });

  it('turns a limit off with 0', async () => {
    const r = await startRelay({
      store: 'memory',
      env: { RATE_LIMIT_LOGIN_PER_MINUTE: '0', RATE_LIMIT_API_KEY_FAILURES_PER_MINUTE: '0' },
    });
    try {
      for (let i = 0; i < 50; i++) {
        const login = await r.http.get('/sso/login');
        expect([login.status, login.headers.ratelimit]).toEqual([302, undefined]);
        expect((await r.http.get('/api/v1/session').set('Authorization', 'Bearer bad')).status).toBe(401);
      }
    } finally {
      await r.close();
    }
  });

  it('lets requests through, counted as store errors and logged once, while the store cannot count', async () => {
    // A store that has a Redis connection (so the limits count there), which fails every command.
    const store = Object.assign(new MemoryStore(), {
      sendCommand: async () => {
        throw new StoreUnavailableError('store did not answer EVALSHA within 1500 ms');
      },
    });
    const r = await startRelay({
      store,
      env: { RATE_LIMIT_LOGIN_PER_MINUTE: '1', RATE_LIMIT_API_KEY_FAILURES_PER_MINUTE: '1' },
    });
    try {
      for (let i = 0; i < 3; i++) {
        expect((await r.http.get('/sso/login')).status).toBe(302);
        expect((await r.http.get('/api/v1/session').set('Authorization', 'Bearer bad')).status).toBe(401);
      }
      expect((await r.relay.metrics.storeErrors.get()).values[0]?.value).toBe(6);
      // one line for the same failure, not one per request
      expect(r.logs.filter((l) => l.includes('rate limit not counted'))).toHaveLength(1);
    } finally {
      await r.close();
    }
  });
});

describe('refused hand-off ticket redemptions, per address', () => {
  let w: SignInWorld;
  let handoff: Handoff;
  beforeAll(async () => {
    w = await startSignInWorld({
      env: { TRUST_PROXY: 'loopback', RATE_LIMIT_TICKET_FAILURES_PER_MINUTE: '2' },
    });
    handoff = new Handoff(w.relay.store, w.relay.relay.keys);
  });
  afterAll(() => w.close());

  const redeem = (ticket: string, from: string) =>
    w.relay.http
      .post('/api/v1/session/ticket')
      .set('Authorization', `Bearer ${API_KEY}`)
      .set('X-Forwarded-For', from)
      .send({ ticket });

  it('does not count good tickets; the 3rd refusal is 429, and then good tickets from that address too', async () => {
    const { sid } = await w.signIn('alice');
    const ip = address();
    for (let i = 0; i < 5; i++) expect((await redeem(await handoff.issue(sid), ip)).status).toBe(200);
    const bogus = () => redeem(randomBytes(32).toString('base64url'), ip);
    expect((await bogus()).body.error).toBe('invalid_ticket');
    expect((await bogus()).body.error).toBe('invalid_ticket');
    expectJson(await bogus());
    const blocked = await redeem(await handoff.issue(sid), ip);
    expectJson(blocked);
    expect(blocked.body.message).toMatch(/ticket redemptions/);
    expect((await redeem(await handoff.issue(sid), OTHER)).status).toBe(200);
    expect(await refusals(w.relay, 'ticket')).toBe(2);
  });
});

describe("calls to a tenant's identity server, per tenant", () => {
  let w: SignInWorld;
  let second: TestRelay;
  let beta: { tenantId: string; tenantCode: string };
  beforeAll(async () => {
    // Each sign-in makes two calls (code, userinfo), each renewal one: 5 allows two sign-ins and a renewal.
    w = await startSignInWorld({ env: { RATE_LIMIT_IDP_CALLS_PER_MINUTE: '5' } });
    const t = w.world.addTenant({ name: 'Beta 公司' });
    w.world.addUser({
      tenantId: t.tenantId,
      userName: 'erin',
      password: w.password,
      name: 'Erin',
      orgCode: '',
      apps: new Set([APP_ID]),
    });
    await w.world.provision(APP_ID, [t.tenantId]);
    beta = t;
    // a second relay on the same Redis prefix: the count is shared
    second = await startRelay({
      store: 'redis',
      prefix: w.relay.prefix,
      env: { RATE_LIMIT_IDP_CALLS_PER_MINUTE: '5', PUBLIC_URL: w.relay.config.publicBase },
    });
  });
  afterAll(async () => {
    await second.close();
    await w.close();
  });

  /** Every call the sandbox's identity servers answered (token and refresh grants, userinfo). */
  const idpCalls = () => {
    const s = w.sandbox.identity.stats;
    return Object.values(s.token).reduce((a, b) => a + b, 0) + s.userinfo;
  };

  /** /sso/login, the unified login, the callback: the callback's answer. */
  async function attempt(
    username: string,
  ): Promise<{ browser: Browser; status: number; headers: Headers; text: string }> {
    const browser = w.browser();
    expect((await browser.request(`${w.relay.url}/sso/login`)).status).toBe(302);
    const callback = await w.unifiedLogin(browser, username);
    const page = await browser.request(callback);
    return { browser, status: page.status, headers: page.headers, text: page.text };
  }

  it('slows a tenant past its limit (sign-in page, renewal JSON), on both relays, and no other tenant', async () => {
    const first = await w.signIn('alice');
    await w.signIn('bob'); // 4 calls
    // the 5th call, a renewal through the other relay
    const token = (sid: string, relay: TestRelay) =>
      relay.http
        .post('/api/v1/session/token')
        .set('Authorization', `Bearer ${API_KEY}`)
        .set('X-Session-Id', sid)
        .send({ forceRefresh: true });
    expect((await token(first.sid, second)).status).toBe(200);
    const before = idpCalls();

    // the 6th: a sign-in, refused before its code is spent
    const refused = await attempt('dave');
    expect(refused.status).toBe(429);
    expectPage({
      status: refused.status,
      headers: Object.fromEntries(refused.headers.entries()),
      text: refused.text,
    });
    expect(refused.browser.cookie(w.relay.url, w.relay.config.session.cookieName)).toBeUndefined();
    // a renewal on either relay: 429 JSON, the session kept
    const renewal = await token(first.sid, w.relay);
    expectJson(renewal);
    expect(renewal.body.message).toMatch(/identity server/);
    expectJson(await token(first.sid, second));
    expect(idpCalls()).toBe(before);
    const kept = await w.relay.http
      .get('/api/v1/session')
      .set('Authorization', `Bearer ${API_KEY}`)
      .set('X-Session-Id', first.sid);
    expect(kept.status).toBe(200);

    // another tenant signs in as usual
    const other = await attempt('erin');
    expect(other.status).toBe(302);
    expect(beta.tenantId).toBeTruthy();

    expect(await refusals(w.relay, 'idp')).toBe(2);
    expect(await refusals(second, 'idp')).toBe(1);
    const refreshes = (await w.relay.relay.metrics.tokenRefreshes.get()).values;
    expect(refreshes.find((v) => v.labels.outcome === 'rate_limited')?.value).toBe(1);
    const logins = (await w.relay.relay.metrics.logins.get()).values;
    expect(logins.find((v) => v.labels.outcome === 'rate_limited')?.value).toBe(1);
  });
});

describe.each(STORES)('the marketplace routes are never limited, on the %s store', (store) => {
  let r: TestRelay;
  beforeAll(async () => {
    r = await startRelay({
      store,
      env: {
        PRODUCE_BASE_PATH: '/isv/produce',
        TRUST_PROXY: 'loopback',
        RATE_LIMIT_LOGIN_PER_MINUTE: '1',
        RATE_LIMIT_CALLBACK_PER_MINUTE: '1',
        RATE_LIMIT_TICKET_FAILURES_PER_MINUTE: '1',
        RATE_LIMIT_API_KEY_FAILURES_PER_MINUTE: '1',
        RATE_LIMIT_IDP_CALLS_PER_MINUTE: '1',
      },
    });
  });
  afterAll(() => r.close());

  it('answers every kit and basic call of one address, signed or not, with 200 and its result code', async () => {
    const ip = address();
    // the address is over every per-address limit first
    for (let i = 0; i < 2; i++) {
      await r.http.get('/sso/login').set('X-Forwarded-For', ip);
      await r.http.get('/sso/callback?code=c&tenant=t').set('X-Forwarded-For', ip);
      await r.http.get('/api/v1/session').set('X-Forwarded-For', ip);
    }
    expect((await r.http.get('/sso/login').set('X-Forwarded-For', ip)).status).toBe(429);
    const refusedBefore = (await r.relay.metrics.rateLimited.get()).values;
    const from = { headers: { 'X-Forwarded-For': ip } };

    const codes: string[] = [];
    for (let i = 0; i < 15; i++) {
      const tenantId = newTenantId();
      const pushes = [
        await r.pusher.tenantSync(tenantFields(tenantId), from),
        await r.pusher.applicationSync(appFields(tenantId), from),
        await r.pusher.authSync(authFields(tenantId, [user('u1')]), from),
        await r.pusher.newInstance(
          {
            orderId: `CS${tenantId.slice(0, 12)}`,
            orderLineId: `CS${tenantId.slice(0, 12)}-000001`,
            productId: 'P-1',
            expireTime: formatExpireTime(Date.UTC(2027, 0, 1)),
          },
          from,
        ),
        await r.pusher.tenantSync(tenantFields(tenantId), { ...from, sign: 'bad' }),
        await r.pusher.queryInstance({ instanceId: 'nope' }, from),
      ];
      for (const p of pushes) {
        expect(p.status).toBe(200);
        codes.push(p.resultCode!);
      }
    }
    expect(new Set(codes)).toEqual(new Set(['000000', '000001', '000003']));
    // unsigned bodies to the kit and to the basic route (the production address itself)
    for (const path of ['/isv/produce/produceAPI/v2/tenantSync', '/isv/produce', '/isv/produce/']) {
      for (let i = 0; i < 10; i++) {
        const res = await r.http.post(path).set('X-Forwarded-For', ip).send({ hello: 'world' });
        expect(res.status).toBe(200);
        expect(res.headers.ratelimit).toBeUndefined();
        expect(res.headers['retry-after']).toBeUndefined();
      }
    }
    expect((await r.relay.metrics.rateLimited.get()).values).toEqual(refusedBefore);
  });
});
