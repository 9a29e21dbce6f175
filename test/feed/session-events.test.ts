// Session events from real sign-ins (contract §5b): session.started at sign-in, naming the session
// by the `sid` claim the relay's assertions carry; session.ended with reason `logout` (POST
// /sso/logout), `deleted` (DELETE /api/v1/session) and `revoked` (an authSync taking the user
// away: one event per live session); nothing for a session that had already expired; and no
// session id, in any form, in any event.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RelayEvent } from '../../src/api/contract.js';
import { MemoryStore } from '../../src/store/memory.js';
import type { Store } from '../../src/store/store.js';
import { connectRedisStore, dropPrefix } from '../support/redis.js';
import { API_KEY, APP_ID, type StoreKind } from '../support/relay.js';
import { startSignInWorld, type SignInWorld } from '../support/world.js';

interface Event {
  id: string;
  type: string;
  tenantId: string | null;
  data: Record<string, unknown>;
}

/** Run once, just before the next write that ends a session is sent to the store, then cleared. */
let beforeNextEnd: (() => Promise<void>) | null = null;

/** The same store, with a hook before its next write that ends a session (nothing imitated). */
function hooked(store: Store): Store {
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'apply')
        return async (...args: Parameters<Store['apply']>) => {
          const hook = beforeNextEnd;
          const ends = args[0].some((op) => op.op === 'xadd' && op.value.includes('"type":"session.ended"'));
          if (hook && ends) {
            beforeNextEnd = null;
            await hook();
          }
          return target.apply(...args);
        };
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe.each<StoreKind>(['memory', 'redis'])('session events on the %s store', (kind) => {
  let w: SignInWorld;
  let store: Store;
  /** every session id signed in, to look for in every event */
  const sids: string[] = [];
  /** every cookie value the browser held, signed as sent */
  const cookies: string[] = [];

  beforeAll(async () => {
    store = kind === 'memory' ? new MemoryStore() : await connectRedisStore();
    w = await startSignInWorld({ store: hooked(store) });
  });
  afterAll(async () => {
    await w.close();
    // a store given to the relay is the test's to close (and its keys to drop)
    if (kind === 'redis') await dropPrefix(w.relay.prefix);
    await store.close();
  });

  /** The feed from `after` (the start without one), every event checked against the contract. */
  async function read(after?: string): Promise<{ events: Event[]; next: string }> {
    const events: Event[] = [];
    let next = after;
    for (;;) {
      const res = await w.relay.api(`/api/v1/events?limit=500${next ? `&after=${next}` : ''}`);
      expect(res.status).toBe(200);
      const page = res.body as { events: Event[]; next: string };
      for (const e of page.events) RelayEvent.parse(e);
      events.push(...page.events);
      if (page.events.length === 0) return { events, next: page.next };
      next = page.next;
    }
  }
  const now = async () => (await read()).next;
  const sessionEvents = async (after: string) =>
    (await read(after)).events.filter((e) => e.type.startsWith('session.'));

  const signIn = async (userName: string) => {
    const signed = await w.signIn(userName);
    sids.push(signed.sid);
    cookies.push(signed.browser.cookie(w.relay.url, w.relay.config.session.cookieName)!.value);
    return signed;
  };
  const api = (method: 'post' | 'delete' | 'get', path: string, sid: string) =>
    w.relay.http[method](path).set('Authorization', `Bearer ${API_KEY}`).set('X-Session-Id', sid);
  /** The `sid` claim of the relay's assertion for this session: how events must name it. */
  const sidClaim = async (sid: string): Promise<string> => {
    const res = await api('post', '/api/v1/session/assertion', sid);
    expect(res.status).toBe(200);
    const payload = (res.body as { assertion: string }).assertion.split('.')[1]!;
    return (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { sid: string }).sid;
  };
  /** A session record expired by the store itself: its time to live cut to 1 ms, then run out. */
  const expire = async (sid: string) => {
    const key = w.relay.relay.keys.session(sid);
    await w.relay.store.apply([{ op: 'pexpire', key, ttlMs: 1 }]);
    for (let i = 0; i < 100 && (await w.relay.store.pTtl(key)) !== -2; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(await w.relay.store.pTtl(key)).toBe(-2);
  };
  const ended = (sessionRef: string, reason: string, userName = 'alice') => ({
    type: 'session.ended',
    tenantId: w.acme.tenantId,
    data: { appId: APP_ID, userName, sessionRef, reason },
  });

  it('records a sign-in as session.started, named as the assertion names it', async () => {
    const start = await now();
    const { sid } = await signIn('alice');
    const events = await sessionEvents(start);
    const ref = await sidClaim(sid);
    expect(events).toEqual([
      {
        id: expect.any(String),
        type: 'session.started',
        occurredAt: expect.any(String),
        tenantId: w.acme.tenantId,
        data: { appId: APP_ID, userName: 'alice', sessionRef: ref, instanceId: w.acme.instanceId },
      },
    ]);
    expect(w.acme.instanceId).toBeTruthy();
    expect(ref).not.toBe(sid);
  });

  it('ends the session a browser holds when it signs in again, with its event', async () => {
    const from = await now();
    const first = await signIn('alice');
    const firstRef = await sidClaim(first.sid);
    // the same browser through the unified login and the callback again
    const callback = await w.unifiedLogin(first.browser, 'alice');
    const again = await first.browser.request(callback);
    expect(again.status).toBe(302);
    const events = await sessionEvents(from);
    expect(events.map((e) => [e.type, e.data.reason ?? null])).toEqual([
      ['session.started', null],
      ['session.ended', 'logout'],
      ['session.started', null],
    ]);
    expect(events[1]).toMatchObject(ended(firstRef, 'logout'));
    expect(await w.relay.store.get(w.relay.relay.keys.session(first.sid))).toBeNull();
  });

  it('records a sign-out as session.ended, reason logout', async () => {
    const { sid, browser } = await signIn('alice');
    const ref = await sidClaim(sid);
    const start = await now();
    const out = await browser.request(`${w.relay.url}/sso/logout`, {
      method: 'POST',
      headers: { Origin: w.relay.url },
    });
    expect(out.status).toBe(302);
    expect(await sessionEvents(start)).toEqual([expect.objectContaining(ended(ref, 'logout'))]);
    // signing out again, with nothing left to end, says nothing
    const again = await browser.request(`${w.relay.url}/sso/logout`, {
      method: 'POST',
      headers: { Origin: w.relay.url },
    });
    expect(again.status).toBe(302);
    expect(await sessionEvents(start)).toHaveLength(1);
  });

  it('records DELETE /api/v1/session as session.ended, reason deleted, once', async () => {
    const { sid } = await signIn('alice');
    const ref = await sidClaim(sid);
    const start = await now();
    expect((await api('delete', '/api/v1/session', sid)).status).toBe(204);
    expect(await sessionEvents(start)).toEqual([expect.objectContaining(ended(ref, 'deleted'))]);
    expect((await api('delete', '/api/v1/session', sid)).status).toBe(204);
    expect(await sessionEvents(start)).toHaveLength(1);
  });

  it('records an authSync removing the user as session.ended, reason revoked, once per live session, and nothing for an expired one', async () => {
    const live = [await signIn('dave'), await signIn('dave')];
    const refs = await Promise.all(live.map((s) => sidClaim(s.sid)));
    const gone = await signIn('dave');
    await expire(gone.sid);
    const other = await signIn('bob');
    const start = await now();

    const r = await w.relay.pusher.authSync({
      instanceId: w.acme.instanceId,
      tenantId: w.acme.tenantId,
      appId: APP_ID,
      userList: [{ userName: 'dave' }],
      flag: 0,
    });
    expect(r.resultCode).toBe('000000');
    const events = await read(start);
    expect(events.events.map((e) => e.type)).toEqual(['user.removed', 'session.ended', 'session.ended']);
    expect(
      events.events
        .slice(1)
        .map((e) => e.data.sessionRef)
        .sort(),
    ).toEqual([...refs].sort());
    for (const e of events.events.slice(1))
      expect(e).toMatchObject(ended(e.data.sessionRef as string, 'revoked', 'dave'));

    // The expired session's end was nobody's doing: neither the API nor signing out reports it,
    // and bob's session was not touched.
    expect((await api('get', '/api/v1/session', gone.sid)).status).toBe(401);
    expect((await api('delete', '/api/v1/session', gone.sid)).status).toBe(204);
    await gone.browser.request(`${w.relay.url}/sso/logout`, {
      method: 'POST',
      headers: { Origin: w.relay.url },
    });
    expect((await api('get', '/api/v1/session', other.sid)).status).toBe(200);
    expect((await read(events.next)).events).toEqual([]);
  });

  it('says nothing when a session that had already expired is signed out or deleted', async () => {
    const a = await signIn('alice');
    const b = await signIn('alice');
    await expire(a.sid);
    await expire(b.sid);
    const start = await now();
    const out = await a.browser.request(`${w.relay.url}/sso/logout`, {
      method: 'POST',
      headers: { Origin: w.relay.url },
    });
    expect(out.status).toBe(302);
    expect((await api('delete', '/api/v1/session', b.sid)).status).toBe(204);
    expect((await api('post', '/api/v1/session/assertion', b.sid)).status).toBe(401);
    expect((await read(start)).events).toEqual([]);
  });

  it('ends a session once when it is deleted twice at the same time', async () => {
    const { sid } = await signIn('alice');
    const ref = await sidClaim(sid);
    const start = await now();
    // the second DELETE runs whole while the first, having read the session, is about to end it
    let second: number | undefined;
    beforeNextEnd = async () => {
      second = (await api('delete', '/api/v1/session', sid)).status;
    };
    expect((await api('delete', '/api/v1/session', sid)).status).toBe(204);
    expect(second).toBe(204);
    expect(await sessionEvents(start)).toEqual([expect.objectContaining(ended(ref, 'deleted'))]);
  });

  it('ends a session once when it is deleted while a push revoking its user is being written', async () => {
    const [a, b] = [await signIn('bob'), await signIn('bob')];
    const [refA, refB] = [await sidClaim(a.sid), await sidClaim(b.sid)];
    const start = await now();
    // the push has read bob's sessions; before its write lands, the app deletes one of them
    beforeNextEnd = async () => {
      expect((await api('delete', '/api/v1/session', a.sid)).status).toBe(204);
    };
    const r = await w.relay.pusher.authSync({
      instanceId: w.acme.instanceId,
      tenantId: w.acme.tenantId,
      appId: APP_ID,
      userList: [{ userName: 'bob' }],
      flag: 3,
    });
    expect(r.resultCode).toBe('000000');
    expect(beforeNextEnd).toBeNull();
    // each session of bob's (earlier tests' too) ended once, the deleted one as deleted
    const ends = new Map<string, string[]>();
    for (const e of await sessionEvents(start)) {
      const ref = e.data.sessionRef as string;
      ends.set(ref, [...(ends.get(ref) ?? []), e.data.reason as string]);
    }
    expect(ends.get(refA)).toEqual(['deleted']);
    expect(ends.get(refB)).toEqual(['revoked']);
    for (const reasons of ends.values()) expect(reasons).toHaveLength(1);
  });

  it('ends a session once when its user signs out after its refresh token was refused', async () => {
    const { sid, browser } = await signIn('alice');
    const ref = await sidClaim(sid);
    const start = await now();
    expect(w.sandbox.identity.revokeRefreshTokens('alice')).toBeGreaterThan(0);
    const refused = await api('post', '/api/v1/session/token', sid).send({ forceRefresh: true });
    expect([refused.status, refused.body.error]).toEqual([401, 'reauthenticate']);
    const out = await browser.request(`${w.relay.url}/sso/logout`, {
      method: 'POST',
      headers: { Origin: w.relay.url },
    });
    expect(out.status).toBe(302);
    expect((await api('delete', '/api/v1/session', sid)).status).toBe(204);
    expect(await sessionEvents(start)).toEqual([expect.objectContaining(ended(ref, 'revoked'))]);
  });

  // last: over every session the tests above signed in
  it('never names a session by its id in any event: not the id, its random part or the signed cookie', async () => {
    const { events } = await read();
    expect(sids.length).toBeGreaterThan(10);
    const secrets = [...sids, ...sids.map((sid) => sid.slice(sid.indexOf('.') + 1)), ...cookies];
    const naming = events.filter((e) => secrets.some((secret) => JSON.stringify(e).includes(secret)));
    expect(naming).toEqual([]);
    // and each session event names one by its reference alone
    for (const e of events.filter((e) => e.type.startsWith('session.')))
      expect(e.data.sessionRef).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });
});
