// Application deletion (applicationSync flag 0, issue 9 §7): the tenant's app credential for
// KOO_APP_ID is gone, so authorize refuses with `app_unknown`, and no session of the tenant stays
// usable, also one made by a sign-in in flight when the deletion lands. The interleavings are made
// deterministic as in gating-races.test.ts: a store hook runs the deletion just before one of the
// sign-in's writes, on a store writing all slots at once and on one writing slot by slot. The
// per-call check itself is then tested on Redis, where it is one scripted read.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { PushResult } from '../../src/sandbox/pusher.js';
import type { SandboxTenant } from '../../src/sandbox/world.js';
import type { WriteOp } from '../../src/store/store.js';
import { API_KEY, APP_ID } from '../support/relay.js';
import { InstrumentedStore } from '../support/stores.js';
import { startSignInWorld, type SignInWorld } from '../support/world.js';

/** The seller API's calls that name a session, and what each answers. */
const SESSION_CALLS = {
  session: (w: SignInWorld, sid: string) =>
    w.relay.http.get('/api/v1/session').set('Authorization', `Bearer ${API_KEY}`).set('X-Session-Id', sid),
  token: (w: SignInWorld, sid: string) =>
    w.relay.http
      .post('/api/v1/session/token')
      .set('Authorization', `Bearer ${API_KEY}`)
      .set('X-Session-Id', sid)
      .send({}),
  assertion: (w: SignInWorld, sid: string) =>
    w.relay.http
      .post('/api/v1/session/assertion')
      .set('Authorization', `Bearer ${API_KEY}`)
      .set('X-Session-Id', sid)
      .send({}),
};

const authorize = async (w: SignInWorld, tenantId: string, userName: string) =>
  (
    await w.relay.http
      .post('/api/v1/authorize')
      .set('Authorization', `Bearer ${API_KEY}`)
      .send({ tenantId, userName })
  ).body as { allowed: boolean; reason: string; user?: { userName: string } };

describe.each([
  ['all slots at once', false],
  ['slot by slot', true],
])('application deletion racing a sign-in, writing %s', (_name, slotBySlot) => {
  let w: SignInWorld;
  const store = new InstrumentedStore({ slotBySlot });
  beforeAll(async () => {
    w = await startSignInWorld({ store });
  });
  afterAll(() => w.close());

  const ok = (r: PushResult) => {
    expect(r.problem).toBeUndefined();
    expect(r.resultCode).toBe('000000');
    return r;
  };
  const keys = () => w.relay.relay.keys;
  /** A tenant of its own, provisioned, with one user. */
  const buyer = async (): Promise<{ t: SandboxTenant; user: string }> => {
    const t = w.world.addTenant({ name: 'app race', tenantCode: `a${randomBytes(4).toString('hex')}` });
    const user = `${t.tenantCode}-u`;
    w.world.addUser({
      tenantId: t.tenantId,
      userName: user,
      name: user,
      password: w.password,
      apps: new Set([APP_ID]),
    });
    await w.world.provision(APP_ID, [t.tenantId]);
    return { t, user };
  };
  const deleteApp = async (t: SandboxTenant) =>
    ok(
      await w.world
        .pusher(APP_ID)
        .applicationSync({ instanceId: t.instanceId, tenantId: t.tenantId, appId: APP_ID, flag: 0 }),
    );
  /** The sign-in, from the unified login to the relay's answer to its callback. */
  const signIn = async (user: string) => {
    const browser = w.browser();
    await browser.request(`${w.relay.url}/sso/login`);
    const callback = await w.unifiedLogin(browser, user);
    const landed = await browser.request(callback.replace(w.relay.config.publicBase, w.relay.url));
    return { browser, landed };
  };
  const sessionRecords = async () => (await store.keys()).filter((k) => k.startsWith(keys().sessionPrefix()));

  it('authorize answers app_unknown once the app is deleted, and allows again after a new applicationSync', async () => {
    const { t, user } = await buyer();
    expect(await authorize(w, t.tenantId, user)).toMatchObject({ allowed: true, reason: 'ok' });
    await deleteApp(t);
    // the user is still mirrored: the answer names them
    expect(await authorize(w, t.tenantId, user)).toEqual({
      allowed: false,
      reason: 'app_unknown',
      user: expect.objectContaining({ userName: user }),
    });
    const { landed } = await signIn(user);
    expect(landed.status).toBe(400);
    expect(landed.text).toContain('data-failure="no_client"');
    await w.world.provision(APP_ID, [t.tenantId]);
    expect(await authorize(w, t.tenantId, user)).toMatchObject({ allowed: true, reason: 'ok' });
  });

  it('refuses a sign-in whose app is deleted between its authorization and its session (400, nothing kept)', async () => {
    const { t, user } = await buyer();
    const before = await sessionRecords();
    // The deletion lands just before the write that indexes the new session.
    store.beforeApply(
      (ops: readonly WriteOp[]) =>
        ops.some((o) => o.op === 'sadd' && o.key === keys().sessionUsers(t.tenantId, APP_ID)),
      async () => void (await deleteApp(t)),
    );
    const { browser, landed } = await signIn(user);
    expect(landed.status).toBe(400);
    expect(landed.text).toContain('data-failure="no_client"');
    expect(browser.cookie(w.relay.url, w.relay.config.session.cookieName)).toBeUndefined();
    expect(await store.sMembers(keys().userSessions(t.tenantId, APP_ID, user))).toEqual([]);
    expect(await sessionRecords()).toEqual(before);
  });

  it.each(Object.keys(SESSION_CALLS) as (keyof typeof SESSION_CALLS)[])(
    'leaves no usable session when the deletion lands after the session is indexed but before it is saved: %s answers 401 no_session and removes it',
    async (call) => {
      const { t, user } = await buyer();
      const sessionWrite = (ops: readonly WriteOp[]) =>
        ops.some((o) => o.op === 'set' && o.key.startsWith(keys().sessionPrefix()));
      // The deletion finds the new session in the index and ends it; the sign-in then saves its
      // record, which no index names any more.
      store.beforeApply(sessionWrite, async () => void (await deleteApp(t)));
      const { browser, landed } = await signIn(user);
      expect(landed.status).toBe(302);
      const cookie = browser.cookie(w.relay.url, w.relay.config.session.cookieName);
      expect(cookie).toBeDefined();
      const sid = w.relay.relay.sessions.cookie.fromCookieHeader(browser.cookieHeader(w.relay.url))!;
      expect(await store.get(keys().session(sid))).not.toBeNull();

      const res = await SESSION_CALLS[call](w, sid);
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ error: 'no_session' });
      // cleaned up by that call
      expect(await store.get(keys().session(sid))).toBeNull();
      for (const other of Object.values(SESSION_CALLS)) expect((await other(w, sid)).status).toBe(401);
      expect(await authorize(w, t.tenantId, user)).toMatchObject({ allowed: false, reason: 'app_unknown' });
    },
  );
});

describe('the per-call session check on Redis covers the app record', () => {
  let w: SignInWorld;
  beforeAll(async () => {
    w = await startSignInWorld();
  });
  afterAll(() => w.close());

  it('answers 401 no_session for a session whose app record is gone, in the same read, and ends it', async () => {
    const { sid } = await w.signIn('bob');
    const keys = w.relay.relay.keys;
    expect((await SESSION_CALLS.session(w, sid)).status).toBe(200);
    // The app record goes without the deletion's own write ending the session: what a deletion
    // that did not see a session in flight leaves behind.
    const app = await w.relay.store.hGet(keys.apps(w.acme.tenantId), APP_ID);
    await w.relay.store.apply([{ op: 'hdel', key: keys.apps(w.acme.tenantId), fields: [APP_ID] }]);
    try {
      const res = await SESSION_CALLS.session(w, sid);
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ error: 'no_session' });
      expect(await w.sessionsInStore('bob', [sid])).toMatchObject({ records: [], indexed: [] });
      expect(await authorize(w, w.acme.tenantId, 'bob')).toMatchObject({
        allowed: false,
        reason: 'app_unknown',
      });
    } finally {
      await w.relay.store.apply([{ op: 'hset', key: keys.apps(w.acme.tenantId), entries: [[APP_ID, app!]] }]);
    }
    // the app back, bob signs in again as before
    const again = await w.signIn('bob');
    expect((await SESSION_CALLS.session(w, again.sid)).status).toBe(200);
  });
});
