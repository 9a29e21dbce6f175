// Marketplace changes end sessions at once: the push that takes a user away ends their sessions
// in the same atomic write, so they are gone from the store when its 000000 answer arrives. The
// store is read before any call to the session API, which would end a session it finds revoked
// by itself and so hide a push that did not.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { PushResult } from '../../src/sandbox/pusher.js';
import { userForSync } from '../../src/sandbox/world.js';
import { API_KEY, APP_ID } from '../support/relay.js';
import { startSignInWorld, type SignInWorld } from '../support/world.js';

describe('revocation by kit pushes', () => {
  let w: SignInWorld;
  beforeAll(async () => {
    w = await startSignInWorld();
  });
  afterAll(() => w.close());

  const status = async (sid: string) =>
    (
      await w.relay.http
        .get('/api/v1/session')
        .set('Authorization', `Bearer ${API_KEY}`)
        .set('X-Session-Id', sid)
    ).status;
  const ok = (r: PushResult) => expect(r.resultCode).toBe('000000');
  const sessionKeys = async () => Object.keys(await w.relay.state()).filter((k) => k.includes(':sess:'));
  const common = () => ({ instanceId: w.acme.instanceId, tenantId: w.acme.tenantId, appId: APP_ID });
  const reprovision = () => w.world.provision(APP_ID);
  /** A request id of its own for one push, so the test reads that push's log line and no other. */
  const tagged = () => {
    const reqId = `push-${randomUUID()}`;
    return { reqId, overrides: { headers: { 'X-Request-Id': reqId } } };
  };
  const gone = { records: [], indexed: [], listed: false };

  it.each([
    [
      'authSync flag 3 (authorization cancelled)',
      'dave',
      (u: string) => ({ userList: [{ userName: u }], flag: 3 }),
    ],
    ['authSync flag 0 (user removed)', 'dave', (u: string) => ({ userList: [{ userName: u }], flag: 0 })],
    [
      'authSync enable "false"',
      'dave',
      (u: string) => ({ userList: [{ ...userForSync(w.world.users.get(u)!), enable: 'false' }], flag: 2 }),
    ],
  ])('%s ends that user’s sessions, and no one else’s', async (_label, user, fields) => {
    await reprovision();
    const a = await w.signIn(user);
    const b = await w.signIn(user);
    const other = await w.signIn('bob');
    const mine = [a.sid, b.sid].sort();
    expect(await w.sessionsInStore(user, mine)).toEqual({ records: mine, indexed: mine, listed: true });

    const { reqId, overrides } = tagged();
    ok(await w.relay.pusher.authSync({ ...common(), ...fields(user) }, overrides));
    // Straight from the store, before any API call: the push itself ended them.
    expect(await w.sessionsInStore(user, mine)).toEqual(gone);
    const others = await w.sessionsInStore('bob', [other.sid]);
    expect(others).toMatchObject({ records: [other.sid], listed: true });
    expect(others.indexed).toContain(other.sid);
    expect(await w.relay.logLine(reqId)).toMatchObject({
      interface: 'authSync',
      resultCode: '000000',
      sessionsEnded: 2,
    });

    expect([await status(a.sid), await status(b.sid)]).toEqual([401, 401]);
    expect(await status(other.sid)).toBe(200);
  });

  it('applicationSync delete ends every session of the app in the tenant', async () => {
    await reprovision();
    const alice = (await w.signIn('alice')).sid;
    const bob = (await w.signIn('bob')).sid;
    // earlier tests' sessions of the tenant end too, and are counted
    const before = (await sessionKeys()).length;
    expect(before).toBeGreaterThanOrEqual(2);

    const { reqId, overrides } = tagged();
    ok(await w.relay.pusher.applicationSync({ ...common(), flag: 0 }, overrides));
    expect(await w.sessionsInStore('alice', [alice])).toEqual(gone);
    expect(await w.sessionsInStore('bob', [bob])).toEqual(gone);
    expect(await sessionKeys()).toEqual([]);
    expect(await w.relay.logLine(reqId)).toMatchObject({
      interface: 'applicationSync',
      resultCode: '000000',
      sessionsEnded: before,
    });

    expect(await Promise.all([alice, bob].map(status))).toEqual([401, 401]);
  });

  it('tenantSync delete ends every session of the tenant', async () => {
    await reprovision();
    const alice = (await w.signIn('alice')).sid;
    const bob = (await w.signIn('bob')).sid;
    const before = (await sessionKeys()).length;
    expect(before).toBeGreaterThanOrEqual(2);

    const { reqId, overrides } = tagged();
    ok(
      await w.relay.pusher.tenantSync(
        { instanceId: w.acme.instanceId, tenantId: w.acme.tenantId, flag: 0, testFlag: 0 },
        overrides,
      ),
    );
    expect(await w.sessionsInStore('alice', [alice])).toEqual(gone);
    expect(await w.sessionsInStore('bob', [bob])).toEqual(gone);
    expect(await sessionKeys()).toEqual([]);
    expect(await w.relay.logLine(reqId)).toMatchObject({
      interface: 'tenantSync',
      resultCode: '000000',
      sessionsEnded: before,
    });

    expect(await Promise.all([alice, bob].map(status))).toEqual([401, 401]);
  });

  it('keeps sessions on a modify that leaves the user authorized and enabled', async () => {
    await reprovision();
    const { sid } = await w.signIn('bob');
    const { reqId, overrides } = tagged();
    ok(
      await w.relay.pusher.authSync(
        {
          ...common(),
          userList: [{ ...userForSync(w.world.users.get('bob')!), role: 'admin' }],
          flag: 2,
        },
        overrides,
      ),
    );
    expect((await w.sessionsInStore('bob', [sid])).records).toEqual([sid]);
    expect(await w.relay.logLine(reqId)).not.toHaveProperty('sessionsEnded');
    const me = await w.relay.http
      .get('/api/v1/session')
      .set('Authorization', `Bearer ${API_KEY}`)
      .set('X-Session-Id', sid);
    expect(me.status).toBe(200);
    // the session follows the mirror: the new role shows at once
    expect(me.body.user.role).toBe('admin');
  });
});
