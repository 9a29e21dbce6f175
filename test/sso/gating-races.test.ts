// Gating under interleavings a review found, made deterministic with a store hook that runs one
// call just before another's write, on a store writing all slots at once and on one writing
// slot by slot (as a Redis Cluster does): a newer push overtaking an unbind, a late bind of one
// instance after a newer bind of another, a bind of a frozen instance, and a freeze landing
// between a sign-in's authorization and its session.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { PushResult } from '../../src/sandbox/pusher.js';
import type { SandboxTenant } from '../../src/sandbox/world.js';
import type { WriteOp } from '../../src/store/store.js';
import { at } from '../support/data.js';
import { API_KEY, APP_ID } from '../support/relay.js';
import { InstrumentedStore } from '../support/stores.js';
import { startSignInWorld, type SignInWorld } from '../support/world.js';

describe.each([
  ['all slots at once', false],
  ['slot by slot', true],
])('gating races, writing %s', (_name, slotBySlot) => {
  let w: SignInWorld;
  const store = new InstrumentedStore({ slotBySlot });
  beforeAll(async () => {
    w = await startSignInWorld({ store });
  });
  afterAll(() => w.close());

  const ok = (r: PushResult) => {
    expect(r.problem).toBeUndefined();
    return r;
  };
  const pusher = () => w.world.pusher(APP_ID);
  const authorize = async (tenantId: string, userName: string) =>
    (
      await w.relay.http
        .post('/api/v1/authorize')
        .set('Authorization', `Bearer ${API_KEY}`)
        .send({ tenantId, userName })
    ).body as { allowed: boolean; reason: string };
  const session = async (sid: string) =>
    (
      await w.relay.http
        .get('/api/v1/session')
        .set('Authorization', `Bearer ${API_KEY}`)
        .set('X-Session-Id', sid)
    ).status;
  /** A tenant and its user, provisioned; `instanceId` given: bound to a purchase the relay never saw. */
  const buyer = async (instanceId?: string): Promise<{ t: SandboxTenant; user: string }> => {
    const t = w.world.addTenant({
      name: 'race',
      tenantCode: `r${randomBytes(4).toString('hex')}`,
      ...(instanceId ? { instanceId } : {}),
    });
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
  const buy = async () => {
    const orderId = `CS${randomBytes(6).toString('hex').toUpperCase()}`;
    const r = ok(await pusher().newInstance({ orderId, orderLineId: `${orderId}-000001` }));
    return { instanceId: r.answer!.instanceId as string, orderId };
  };
  const tenantSync = (t: SandboxTenant, instanceId: string, flag: 0 | 1 | 2, timeStamp: string) =>
    pusher().tenantSync({
      instanceId,
      tenantId: t.tenantId,
      tenantCode: t.tenantCode,
      name: t.name,
      domainName: w.world.domainName(t),
      flag,
      timeStamp,
    });
  /** What the relay holds about the binding: the record's list, the links, and the copies. */
  const binding = async (tenantId: string, instanceId: string) => {
    const keys = w.relay.relay.keys;
    const tenant = JSON.parse((await store.get(keys.tenant(tenantId)))!) as { instanceIds: string[] };
    const links = JSON.parse((await store.hGet(keys.instanceLinks(), instanceId)) ?? '[]') as string[];
    const copy = await store.hGet(keys.tenantInstances(tenantId), instanceId);
    return {
      listed: tenant.instanceIds.includes(instanceId),
      linked: links.includes(tenantId),
      copied: copy !== null,
    };
  };
  const tenantWrite = (tenantId: string) => (ops: readonly WriteOp[]) =>
    ops.some((o) => o.key === w.relay.relay.keys.tenant(tenantId));

  it('an unbind overtaken by a newer push binding the same instance leaves it bound, linked and copied', async () => {
    const { t } = await buyer();
    const j = await buy();
    ok(await tenantSync(t, j.instanceId, 1, at(1_000_000)));
    // The unbind (older) is read and planned; the newer bind lands before its first write.
    store.beforeApply(tenantWrite(t.tenantId), async () => {
      ok(await tenantSync(t, j.instanceId, 2, at(1_000_400)));
    });
    ok(await tenantSync(t, j.instanceId, 0, at(1_000_300)));
    expect(await binding(t.tenantId, j.instanceId)).toEqual({ listed: true, linked: true, copied: true });
    // The link still carries the instance's changes to the tenant.
    ok(await pusher().updateInstanceStatus({ instanceId: t.instanceId, status: 'FREEZE' }));
    ok(await pusher().releaseInstance({ instanceId: j.instanceId }));
    expect(await authorize(t.tenantId, `${t.tenantCode}-u`)).toMatchObject({
      allowed: false,
      reason: 'instance_frozen',
    });
  });

  it('binds an instance whose push arrives after a newer push binding another', async () => {
    const { t, user } = await buyer();
    const i = await buy();
    const j = await buy();
    ok(await tenantSync(t, j.instanceId, 1, at(2_000_200)));
    ok(await tenantSync(t, i.instanceId, 1, at(2_000_100)));
    expect(await binding(t.tenantId, i.instanceId)).toEqual({ listed: true, linked: true, copied: true });
    // Its own purchase and j lapse; i keeps the tenant open.
    ok(await pusher().updateInstanceStatus({ instanceId: t.instanceId, status: 'FREEZE' }));
    ok(await pusher().releaseInstance({ instanceId: j.instanceId }));
    expect(await authorize(t.tenantId, user)).toMatchObject({ allowed: true });
  });

  it('ends the sessions of a tenant that a bind of a frozen instance blocks', async () => {
    // A tenant whose purchase the relay never saw, then bound to a frozen instance.
    const { t, user } = await buyer(`unseen-${randomBytes(4).toString('hex')}`);
    const s = await w.signIn(user);
    const frozen = await buy();
    ok(await pusher().updateInstanceStatus({ instanceId: frozen.instanceId, status: 'FREEZE' }));
    const r = ok(await tenantSync(t, frozen.instanceId, 1, at(3_000_000)));
    expect(await store.get(w.relay.relay.keys.session(s.sid))).toBeNull();
    expect(r.resultCode).toBe('000000');
    expect(await session(s.sid)).toBe(401);
    expect(await authorize(t.tenantId, user)).toMatchObject({ allowed: false, reason: 'instance_frozen' });
  });

  it('refuses a sign-in whose tenant is frozen between its authorization and its session', async () => {
    const { t, user } = await buyer();
    const keys = w.relay.relay.keys;
    store.beforeApply(
      (ops) => ops.some((o) => o.op === 'sadd' && o.key === keys.sessionUsers(t.tenantId, APP_ID)),
      async () => {
        ok(await pusher().updateInstanceStatus({ instanceId: t.instanceId, status: 'FREEZE' }));
      },
    );
    const browser = w.browser();
    await browser.request(`${w.relay.url}/sso/login`);
    const callback = await w.unifiedLogin(browser, user);
    const landed = await browser.request(callback.replace(w.relay.config.publicBase, w.relay.url));
    expect(landed.status).toBe(403);
    expect(landed.text).toContain('订阅已冻结');
    expect(browser.cookie(w.relay.url, w.relay.config.session.cookieName)).toBeUndefined();
    expect(await store.sMembers(keys.userSessions(t.tenantId, APP_ID, user))).toEqual([]);
  });
});
