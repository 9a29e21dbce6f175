// Session lifetimes through HTTP (SESSION_IDLE_SECONDS, SESSION_ABSOLUTE_SECONDS): a session
// unused for the idle time ends, each GET /api/v1/session slides the idle expiry, and no use
// keeps a session past its absolute lifetime. On the embedded store the store's expiry follows
// the relay's injected clock, so the whole story runs on a moved clock; on Redis the idle expiry
// is the key's own TTL, which is read and set as Redis keeps it.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MemoryStore } from '../../src/store/memory.js';
import { API_KEY } from '../support/relay.js';
import { startSignInWorld, type SignInWorld } from '../support/world.js';

const IDLE_S = 600;
const ABSOLUTE_S = 3600;
const env = { SESSION_IDLE_SECONDS: String(IDLE_S), SESSION_ABSOLUTE_SECONDS: String(ABSOLUTE_S) };

/**
 * Real time plus an offset the test moves forward. It starts at the real time, so the sandbox's
 * pushes (signed with the real time) verify at start-up; it only ever moves after them.
 */
function movableClock() {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    advance: (seconds: number) => {
      offset += seconds * 1000;
    },
  };
}

function sessionApi(w: SignInWorld) {
  const call = (method: 'get' | 'post', path: string, sid: string) =>
    w.relay.http[method](path).set('Authorization', `Bearer ${API_KEY}`).set('X-Session-Id', sid).send();
  return {
    session: (sid: string) => call('get', '/api/v1/session', sid),
    token: (sid: string) => call('post', '/api/v1/session/token', sid),
    assertion: (sid: string) => call('post', '/api/v1/session/assertion', sid),
  };
}

describe('session lifetimes on the embedded store, on a moved clock', () => {
  const clock = movableClock();
  let w: SignInWorld;
  let api: ReturnType<typeof sessionApi>;
  beforeAll(async () => {
    w = await startSignInWorld({ store: new MemoryStore(clock.now), now: clock.now, env });
    api = sessionApi(w);
  });
  afterAll(() => w.close());

  it('ends a session left unused for the idle time, in the API and in the browser routes', async () => {
    const used = await w.signIn('alice');
    const idle = await w.signIn('alice');
    clock.advance(IDLE_S - 1);
    expect((await api.session(used.sid)).status).toBe(200);
    clock.advance(2);
    // one second past the idle time since sign-in: only the session used in between lives
    for (const call of [api.session, api.token, api.assertion])
      expect((await call(idle.sid)).status).toBe(401);
    expect((await api.session(used.sid)).status).toBe(200);
    expect(await w.relay.store.get(w.relay.relay.keys.session(idle.sid))).toBeNull();
    // express-session no longer finds it either: signing out has nothing to end
    const out = await idle.browser.request(`${w.relay.url}/sso/logout`, { method: 'POST' });
    expect(out.location).toBe(`${w.relay.config.publicBase}/sso/logged-out`);
  });

  it('slides the idle expiry with each GET /api/v1/session, well past one idle time', async () => {
    const { sid } = await w.signIn('bob');
    for (let round = 0; round < 3; round++) {
      clock.advance(IDLE_S - 1);
      const me = await api.session(sid);
      expect(me.status).toBe(200);
      // it ends one idle time after this use, not after sign-in
      expect(Math.abs(Date.parse(me.body.expiresAt) - (clock.now() + IDLE_S * 1000))).toBeLessThan(1000);
    }
    clock.advance(IDLE_S + 1);
    expect((await api.session(sid)).status).toBe(401);
  });

  it('counts a token or assertion call as use too, as every session API call', async () => {
    for (const call of [api.token, api.assertion]) {
      const { sid } = await w.signIn('bob');
      clock.advance(IDLE_S - 1);
      expect((await call(sid)).status).toBe(200);
      clock.advance(IDLE_S - 1);
      expect((await api.session(sid)).status).toBe(200);
    }
  });

  it('ends a session at its absolute lifetime, however recently it was used', async () => {
    const { sid } = await w.signIn('bob');
    const absoluteEnd = clock.now() + ABSOLUTE_S * 1000;
    let last;
    // used every 500 s: the idle expiry alone would never end it
    for (let elapsed = 500; elapsed < ABSOLUTE_S; elapsed += 500) {
      clock.advance(500);
      last = await api.session(sid);
      expect(last.status).toBe(200);
    }
    // the last idle period is cut to the absolute end (≈ 100 s left, fewer than IDLE_S)
    expect(Math.abs(Date.parse(last!.body.expiresAt) - absoluteEnd)).toBeLessThan(1000);
    clock.advance(ABSOLUTE_S - 3500 + 1);
    for (const call of [api.session, api.token, api.assertion]) expect((await call(sid)).status).toBe(401);
  });
});

describe('session lifetimes on Redis: the session key’s TTL', () => {
  const clock = movableClock();
  let w: SignInWorld;
  let api: ReturnType<typeof sessionApi>;
  beforeAll(async () => {
    w = await startSignInWorld({ now: clock.now, env });
    api = sessionApi(w);
  });
  afterAll(() => w.close());

  const ttl = (sid: string) => w.relay.store.pTtl(w.relay.relay.keys.session(sid));
  /** As if the session had been idle for all but `seconds` of its idle time. */
  const idleUntil = (sid: string, seconds: number) =>
    w.relay.store.apply([{ op: 'pexpire', key: w.relay.relay.keys.session(sid), ttlMs: seconds * 1000 }]);

  it('keeps a session for the idle time after sign-in, and again after each read', async () => {
    const { sid } = await w.signIn('alice');
    expect(await ttl(sid)).toBeGreaterThan((IDLE_S - 5) * 1000);
    expect(await ttl(sid)).toBeLessThanOrEqual(IDLE_S * 1000);

    await idleUntil(sid, 30);
    const me = await api.session(sid);
    expect(me.status).toBe(200);
    expect(await ttl(sid)).toBeGreaterThan((IDLE_S - 5) * 1000);
    expect(Date.parse(me.body.expiresAt) - clock.now()).toBeGreaterThan((IDLE_S - 5) * 1000);

    // idle to the end: Redis drops it, and the API says so
    await idleUntil(sid, 0.001);
    await new Promise((r) => setTimeout(r, 20));
    expect((await api.session(sid)).status).toBe(401);
  });

  it('slides the idle expiry on a token call, and the renewal’s rewrite keeps it (never immortal)', async () => {
    const { sid } = await w.signIn('bob');
    await idleUntil(sid, 30);
    const renewed = await w.relay.http
      .post('/api/v1/session/token')
      .set('Authorization', `Bearer ${API_KEY}`)
      .set('X-Session-Id', sid)
      .send({ forceRefresh: true });
    expect(renewed.status).toBe(200);
    expect(await ttl(sid)).toBeGreaterThan((IDLE_S - 5) * 1000);
    expect(await ttl(sid)).toBeLessThanOrEqual(IDLE_S * 1000);
  });

  it('never keeps a session past its absolute end, and refuses it there', async () => {
    const { sid } = await w.signIn('alice');
    const absoluteEnd = clock.now() + ABSOLUTE_S * 1000;
    clock.advance(ABSOLUTE_S - 100);
    await idleUntil(sid, 30);
    const me = await api.session(sid);
    expect(me.status).toBe(200);
    // slid, but only to the absolute end: about 100 s, not IDLE_S
    expect(await ttl(sid)).toBeLessThanOrEqual(101_000);
    expect(await ttl(sid)).toBeGreaterThan(90_000);
    expect(Math.abs(Date.parse(me.body.expiresAt) - absoluteEnd)).toBeLessThan(1000);
    clock.advance(101);
    // still in Redis for a moment, but over its absolute lifetime
    expect(await ttl(sid)).toBeGreaterThan(0);
    for (const call of [api.session, api.token, api.assertion]) expect((await call(sid)).status).toBe(401);
  });
});
