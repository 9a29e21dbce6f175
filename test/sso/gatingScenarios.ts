/**
 * Instance gating (relay-contract.md §3b) as scenarios over a whole sign-in world, so the same
 * checks run on the embedded store, on Redis and on a Redis Cluster: a tenant whose known
 * instances are all frozen or released cannot sign in or be authorized, its sessions end in the
 * write that blocked it (so before the marketplace gets its answer), and access comes back at
 * once with UNFREEZE.
 */
import { randomBytes } from 'node:crypto';
import { expect, it } from '@jest/globals';
import type { PushResult } from '../../src/sandbox/pusher.js';
import type { SandboxTenant } from '../../src/sandbox/world.js';
import { API_KEY, APP_ID } from '../support/relay.js';
import type { SignInWorld } from '../support/world.js';

export function gatingScenarios(world: () => SignInWorld): void {
  const w = () => world();
  const ok = (r: PushResult) => {
    expect(r.problem).toBeUndefined();
    return r;
  };
  const session = async (sid: string) =>
    (
      await w()
        .relay.http.get('/api/v1/session')
        .set('Authorization', `Bearer ${API_KEY}`)
        .set('X-Session-Id', sid)
    ).status;
  const authorize = async (tenantId: string, userName: string) =>
    (
      await w()
        .relay.http.post('/api/v1/authorize')
        .set('Authorization', `Bearer ${API_KEY}`)
        .send({ tenantId, userName })
    ).body as { allowed: boolean; reason: string };
  /** The session record and its index entry, read from the store itself. */
  const stored = async (sid: string, tenantId: string, userName: string) => {
    const { store, relay } = w().relay;
    return {
      record: await store.get(relay.keys.session(sid)),
      indexed: (await store.sMembers(relay.keys.userSessions(tenantId, APP_ID, userName))).includes(sid),
    };
  };
  /** A sign-in through the unified login that may be refused: the callback's answer. */
  const attempt = async (userName: string) => {
    const browser = w().browser();
    const relayUrl = w().relay.url;
    await browser.request(`${relayUrl}/sso/login`);
    const callback = await w().unifiedLogin(browser, userName);
    const publicBase = w().relay.config.publicUrl.href.replace(/\/$/, '');
    const landed = await browser.request(callback.replace(publicBase, relayUrl));
    return { status: landed.status, text: landed.text, cookie: browser.cookie(relayUrl, 'relay.sid') };
  };
  /** A buyer of its own, bought and provisioned, with two users. */
  const buyer = async (name: string): Promise<SandboxTenant> => {
    const tenant = w().world.addTenant({ name, tenantCode: `g${randomBytes(4).toString('hex')}` });
    for (const userName of [`${tenant.tenantCode}-a`, `${tenant.tenantCode}-b`])
      w().world.addUser({
        tenantId: tenant.tenantId,
        userName,
        name: userName,
        password: w().password,
        apps: new Set([APP_ID]),
      });
    await w().world.provision(APP_ID, [tenant.tenantId]);
    return tenant;
  };
  const step = (tenant: SandboxTenant, kind: 'freeze' | 'unfreeze' | 'release') =>
    w().world.lifecycle(APP_ID, tenant.tenantId, { kind });

  it('FREEZE ends the tenant’s sessions before it is answered, and refuses sign-in and authorize', async () => {
    const t = await buyer('冻结测试');
    const a = `${t.tenantCode}-a`;
    const b = `${t.tenantCode}-b`;
    const sa = await w().signIn(a);
    const sb = await w().signIn(b);
    const other = await w().signIn('alice');
    expect([await session(sa.sid), await session(sb.sid)]).toEqual([200, 200]);

    const r = ok(await step(t, 'freeze'));
    // Read from the store right after the answer: the write that froze the tenant ended them.
    expect(await stored(sa.sid, t.tenantId, a)).toEqual({ record: null, indexed: false });
    expect(await stored(sb.sid, t.tenantId, b)).toEqual({ record: null, indexed: false });
    expect(r.resultCode).toBe('000000');
    expect([await session(sa.sid), await session(sb.sid)]).toEqual([401, 401]);
    expect(await session(other.sid)).toBe(200);
    const log = w()
      .relay.logs.map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.interface === 'updateInstanceStatus' && l.instanceId === t.instanceId);
    expect(log).toMatchObject({ resultCode: '000000', sessionsEnded: 2 });

    const refused = await attempt(a);
    expect(refused.status).toBe(403);
    expect(refused.text).toContain('订阅已冻结');
    expect(refused.text).toContain('This subscription is frozen');
    expect(refused.cookie).toBeUndefined();
    expect(await authorize(t.tenantId, a)).toMatchObject({ allowed: false, reason: 'instance_frozen' });
    expect(await authorize(w().acme.tenantId, 'alice')).toMatchObject({ allowed: true });

    ok(await step(t, 'unfreeze'));
    expect(await authorize(t.tenantId, a)).toMatchObject({ allowed: true, reason: 'ok' });
    const back = await w().signIn(a);
    expect(await session(back.sid)).toBe(200);
  });

  it('releaseInstance blocks for good, with the released page and reason', async () => {
    const t = await buyer('释放测试');
    const a = `${t.tenantCode}-a`;
    const s = await w().signIn(a);
    ok(await step(t, 'release'));
    expect(await session(s.sid)).toBe(401);
    const refused = await attempt(a);
    expect(refused.status).toBe(403);
    expect(refused.text).toContain('订阅已释放');
    expect(refused.text).toContain('This subscription has been released');
    expect(await authorize(t.tenantId, a)).toMatchObject({ allowed: false, reason: 'instance_released' });
    // A release is final: UNFREEZE does not bring it back.
    ok(await w().world.pusher(APP_ID).updateInstanceStatus({ instanceId: t.instanceId, status: 'UNFREEZE' }));
    expect(await authorize(t.tenantId, a)).toMatchObject({ allowed: false, reason: 'instance_released' });
  });

  it('keeps a tenant with two instances open while one is active', async () => {
    const t = await buyer('多实例测试');
    const a = `${t.tenantCode}-a`;
    const pusher = w().world.pusher(APP_ID);
    const orderId = `CS${randomBytes(6).toString('hex').toUpperCase()}`;
    const second = ok(await pusher.newInstance({ orderId, orderLineId: `${orderId}-000001` }));
    const instanceId2 = second.answer!.instanceId as string;
    // Multi-instance binding (支持多实例绑定): the same enterprise, another order; flag 0 unbinds it.
    const bind = (flag: 0 | 1) =>
      pusher.tenantSync({
        instanceId: instanceId2,
        orderId,
        tenantId: t.tenantId,
        tenantCode: t.tenantCode,
        name: t.name,
        domainName: w().world.domainName(t),
        flag,
      });
    ok(await bind(1));
    ok(await step(t, 'freeze'));
    expect(await authorize(t.tenantId, a)).toMatchObject({ allowed: true });
    const s = await w().signIn(a);
    ok(await pusher.updateInstanceStatus({ instanceId: instanceId2, status: 'FREEZE' }));
    expect(await session(s.sid)).toBe(401);
    expect(await authorize(t.tenantId, a)).toMatchObject({ allowed: false, reason: 'instance_frozen' });
    ok(await pusher.updateInstanceStatus({ instanceId: instanceId2, status: 'UNFREEZE' }));
    expect(await authorize(t.tenantId, a)).toMatchObject({ allowed: true });
    const tenant = (await w().relay.api(`/api/v1/tenants/${t.tenantId}`)).body as { instances: unknown[] };
    expect(tenant.instances).toEqual(
      [
        { instanceId: t.instanceId, status: 'frozen' },
        { instanceId: instanceId2, status: 'active' },
      ]
        .sort((x, y) => (x.instanceId < y.instanceId ? -1 : 1))
        .map((i) => expect.objectContaining(i)),
    );

    // Unbinding the active one (tenantSync flag 0 naming it) leaves only the frozen: blocked.
    const s2 = await w().signIn(a);
    ok(await bind(0));
    expect(await session(s2.sid)).toBe(401);
    expect(await authorize(t.tenantId, a)).toMatchObject({ allowed: false, reason: 'instance_frozen' });
    expect(
      ((await w().relay.api(`/api/v1/instances/${instanceId2}`)).body as { tenantIds: string[] }).tenantIds,
    ).toEqual([]);
  });

  it('never blocks for instances the relay does not know', async () => {
    // A tenant bound before the relay saw its purchase, and the seller's debug tenant.
    const tenant = w().world.addTenant({
      name: '未知实例',
      instanceId: `unseen-${randomBytes(4).toString('hex')}`,
    });
    w().world.addUser({
      tenantId: tenant.tenantId,
      userName: `${tenant.tenantCode}-u`,
      name: 'u',
      password: w().password,
      apps: new Set([APP_ID]),
    });
    await w().world.provision(APP_ID, [tenant.tenantId]);
    const pusher = w().world.pusher(APP_ID);
    const r = await pusher.updateInstanceStatus({ instanceId: tenant.instanceId, status: 'FREEZE' });
    expect(r.resultCode).toBe('000003');
    expect(await authorize(tenant.tenantId, `${tenant.tenantCode}-u`)).toMatchObject({ allowed: true });
    expect(
      ((await w().relay.api(`/api/v1/tenants/${tenant.tenantId}`)).body as { instances: unknown[] })
        .instances,
    ).toEqual([]);
    const s = await w().signIn(`${tenant.tenantCode}-u`);
    expect(await session(s.sid)).toBe(200);
  });
}
