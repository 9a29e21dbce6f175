// Marketplace changes end sessions at once: the push that takes a user away ends their sessions
// in the same atomic write, so the very next session call after its 000000 answer is 401.
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
    expect([await status(a.sid), await status(b.sid), await status(other.sid)]).toEqual([200, 200, 200]);

    const r = await w.relay.pusher.authSync({ ...common(), ...fields(user) });
    ok(r);
    expect([await status(a.sid), await status(b.sid)]).toEqual([401, 401]);
    expect(await status(other.sid)).toBe(200);
    const left = await sessionKeys();
    expect(left.some((k) => k.endsWith(a.sid) || k.endsWith(b.sid))).toBe(false);
    expect(left.some((k) => k.endsWith(other.sid))).toBe(true);
    expect(
      w.relay.logs.map((l) => JSON.parse(l)).find((l) => l.interface === 'authSync' && l.sessionsEnded === 2),
    ).toBeDefined();
  });

  it('applicationSync delete ends every session of the app in the tenant', async () => {
    await reprovision();
    const sids = [(await w.signIn('alice')).sid, (await w.signIn('bob')).sid];
    ok(await w.relay.pusher.applicationSync({ ...common(), flag: 0 }));
    expect(await Promise.all(sids.map(status))).toEqual([401, 401]);
  });

  it('tenantSync delete ends every session of the tenant', async () => {
    await reprovision();
    const sids = [(await w.signIn('alice')).sid, (await w.signIn('bob')).sid];
    ok(
      await w.relay.pusher.tenantSync({
        instanceId: w.acme.instanceId,
        tenantId: w.acme.tenantId,
        flag: 0,
        testFlag: 0,
      }),
    );
    expect(await Promise.all(sids.map(status))).toEqual([401, 401]);
    expect(await sessionKeys()).toEqual([]);
  });

  it('keeps sessions on a modify that leaves the user authorized and enabled', async () => {
    await reprovision();
    const { sid } = await w.signIn('bob');
    ok(
      await w.relay.pusher.authSync({
        ...common(),
        userList: [{ ...userForSync(w.world.users.get('bob')!), role: 'admin' }],
        flag: 2,
      }),
    );
    const me = await w.relay.http
      .get('/api/v1/session')
      .set('Authorization', `Bearer ${API_KEY}`)
      .set('X-Session-Id', sid);
    expect(me.status).toBe(200);
    // the session follows the mirror: the new role shows at once
    expect(me.body.user.role).toBe('admin');
  });
});
