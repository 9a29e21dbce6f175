// The V1 basic interfaces over real HTTP (kit-sync-and-signing.md §4, §7; contract §8), signed by
// the sandbox's own V1 code, on both stores: GET with the parameters in the query (and POST with
// them as JSON) at the base path beside V2, each activity onto the V2 instance operations, with
// repeats, out-of-order arrival and unknown instances; expireInstance is a freeze that gates the
// tenant, and the renewal after it opens it again.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { formatExpireTime } from '../../src/sandbox/marketplace/index.js';
import type { Fields, PushResult } from '../../src/sandbox/pusher.js';
import { appFields, authFields, newTenantId, tenantFields, user } from '../support/data.js';
import { startRelay, V1_KEY, type StoreKind, type TestRelay } from '../support/relay.js';

const newOrderId = () => `CS${randomBytes(6).toString('hex').toUpperCase()}`;
const DAY = 24 * 3600 * 1000;
const expire = (days: number) => formatExpireTime(Date.UTC(2027, 0, 1) + days * DAY);
const iso = (days: number) => new Date(Date.UTC(2027, 0, 1) + days * DAY).toISOString();
/** a V1 timeStamp (UTC, ms) `ms` before now: a call made earlier, arriving late */
const signedAgo = (ms: number) => formatExpireTime(Date.now() - ms, 17);

describe.each<StoreKind>(['memory', 'redis'])('V1 basic interfaces on the %s store', (kind) => {
  let t: TestRelay;
  beforeAll(async () => {
    t = await startRelay({
      store: kind,
      env: { V1_ACCESS_KEY: V1_KEY, PRODUCE_BASE_PATH: '/isv/produce' },
      pusher: { v1Key: V1_KEY },
    });
  });
  afterAll(() => t.close());

  const ok = async (result: Promise<PushResult>) => {
    const r = await result;
    expect(r.problem).toBeUndefined();
    expect(r.resultCode).toBe('000000');
    expect(r.bodySignValid).toBe(true);
    return r;
  };
  const code = async (result: Promise<PushResult>, expected: string) => {
    const r = await result;
    expect([r.resultCode, r.bodySignValid]).toEqual([expected, true]);
    return r;
  };
  const v1 = (activity: string, f: Fields, method: 'GET' | 'POST' = 'GET') =>
    t.pusher.v1Basic(activity, f, { method });
  const instance = async (id: string) =>
    (await t.api(`/api/v1/instances/${id}`)).body as Record<string, unknown>;
  const purchase = async (extra: Fields = {}, method: 'GET' | 'POST' = 'GET') => {
    const orderId = newOrderId();
    const r = await ok(
      v1(
        'newInstance',
        {
          customerId: newTenantId(),
          mobilePhone: '13800138000',
          email: 'buyer@example.com',
          orderId,
          productId: 'P-v1',
          expireTime: expire(0),
          ...extra,
        },
        method,
      ),
    );
    return { orderId, instanceId: r.answer!.instanceId as string, businessId: r.body.businessId as string };
  };
  const authorize = async (tenantId: string, userName: string) =>
    (
      await t.http
        .post('/api/v1/authorize')
        .set('Authorization', `Bearer ${t.config.sellerApiKeys[0]}`)
        .send({ tenantId, userName })
    ).body as { allowed: boolean; reason: string };
  /** A tenant bound to `instanceId` by a V1 tenantSync, with its app and one user. */
  const boundTenant = async (instanceId: string) => {
    const id = newTenantId();
    await ok(t.pusher.v1Push('tenantSync', tenantFields(id, { instanceId })));
    await ok(t.pusher.v1Push('applicationSync', appFields(id, { instanceId })));
    await ok(t.pusher.v1Push('authSync', authFields(id, [user('alice')], { instanceId })));
    return id;
  };

  describe('newInstance', () => {
    it.each(['GET', 'POST'] as const)(
      'creates the instance under the businessId (%s), answers it with appInfo, order line = order',
      async (method) => {
        const orderId = newOrderId();
        const businessId = randomUUID();
        const r = await ok(
          v1(
            'newInstance',
            { businessId, orderId, productId: 'P-1', expireTime: expire(30), testFlag: '1' },
            method,
          ),
        );
        expect(r.answer).toEqual({
          resultCode: '000000',
          resultMsg: 'Success',
          instanceId: businessId,
          appInfo: { frontEndUrl: `${t.config.publicBase}/` },
        });
        expect(await instance(businessId)).toMatchObject({
          instanceId: businessId,
          orderId,
          orderLineId: orderId,
          productId: 'P-1',
          status: 'active',
          expireTime: iso(30),
          testFlag: 1,
        });
        const log = t.logs.map((l) => JSON.parse(l)).find((l) => l.instanceId === businessId);
        expect(log).toMatchObject({ interface: 'v1.newInstance', v1: true, resultCode: '000000' });
      },
    );

    it('answers the same instanceId to three retries with new businessIds and to a verbatim replay, changing nothing', async () => {
      const first = await purchase();
      const before = await t.state();
      for (let i = 0; i < 3; i++) {
        const again = await ok(v1('newInstance', { orderId: first.orderId, productId: 'P-v1' }));
        expect(again.answer!.instanceId).toBe(first.instanceId);
      }
      const params = t.pusher.v1BasicParams('newInstance', { orderId: first.orderId });
      await ok(t.pusher.sendV1Basic('newInstance', params));
      const replay = await ok(t.pusher.sendV1Basic('newInstance', params));
      expect(replay.answer!.instanceId).toBe(first.instanceId);
      expect(await t.state()).toEqual(before);
    });
  });

  describe('refreshInstance', () => {
    it('renews, ignores a repeat of the order and an older renewal arriving late', async () => {
      const p = await purchase();
      const orderId = newOrderId();
      await ok(v1('refreshInstance', { instanceId: p.instanceId, orderId, expireTime: expire(365) }));
      expect(await instance(p.instanceId)).toMatchObject({ expireTime: iso(365), status: 'active' });
      const before = await t.state();
      for (let i = 0; i < 3; i++)
        await ok(v1('refreshInstance', { instanceId: p.instanceId, orderId, expireTime: expire(365) }));
      await ok(
        v1('refreshInstance', {
          instanceId: p.instanceId,
          orderId: newOrderId(),
          expireTime: expire(100),
          timeStamp: signedAgo(60_000),
        }),
      );
      expect(await t.state()).toEqual(before);
      await ok(
        v1('refreshInstance', {
          instanceId: p.instanceId,
          orderId: newOrderId(),
          expireTime: expire(400),
          trialToFormal: '1',
          productId: 'P-formal',
        }),
      );
      const record = await instance(p.instanceId);
      expect(record).toMatchObject({ expireTime: iso(400), productId: 'P-formal' });
      expect((record.history as { scene?: string }[]).at(-1)).toMatchObject({ scene: 'TRIAL_TO_FORMAL' });
    });

    it('answers 000003 for an unknown instance', async () => {
      await code(
        v1('refreshInstance', { instanceId: randomUUID(), orderId: newOrderId(), expireTime: expire(1) }),
        '000003',
      );
    });
  });

  describe('expireInstance (a freeze) and the renewal after it', () => {
    it('freezes the instance and gates its tenant; the renewal after it opens both again', async () => {
      const p = await purchase();
      const tenantId = await boundTenant(p.instanceId);
      expect(await authorize(tenantId, 'alice')).toMatchObject({ allowed: true });

      for (let i = 0; i < 3; i++) await ok(v1('expireInstance', { instanceId: p.instanceId }));
      expect(await instance(p.instanceId)).toMatchObject({ status: 'frozen' });
      expect(await authorize(tenantId, 'alice')).toMatchObject({ allowed: false, reason: 'instance_frozen' });
      expect((await t.api(`/api/v1/tenants/${tenantId}`)).status).toBe(200);

      await ok(
        v1('refreshInstance', { instanceId: p.instanceId, orderId: newOrderId(), expireTime: expire(60) }),
      );
      expect(await instance(p.instanceId)).toMatchObject({ status: 'active', expireTime: iso(60) });
      expect(await authorize(tenantId, 'alice')).toMatchObject({ allowed: true });
    });

    it('ignores a freeze signed before a renewal but arriving after it, and a renewal older than the freeze does not open', async () => {
      const p = await purchase({ timeStamp: signedAgo(10_000) });
      await ok(
        v1('refreshInstance', {
          instanceId: p.instanceId,
          orderId: newOrderId(),
          expireTime: expire(30),
          timeStamp: signedAgo(1000),
        }),
      );
      await ok(v1('expireInstance', { instanceId: p.instanceId, timeStamp: signedAgo(5000) }));
      expect(await instance(p.instanceId)).toMatchObject({ status: 'active', expireTime: iso(30) });

      const q = await purchase({ timeStamp: signedAgo(10_000) });
      await ok(v1('expireInstance', { instanceId: q.instanceId, timeStamp: signedAgo(1000) }));
      await ok(
        v1('refreshInstance', {
          instanceId: q.instanceId,
          orderId: newOrderId(),
          expireTime: expire(30),
          timeStamp: signedAgo(5000),
        }),
      );
      expect(await instance(q.instanceId)).toMatchObject({ status: 'frozen', expireTime: iso(30) });
    });

    it('answers 000003 for an unknown instance', async () => {
      await code(v1('expireInstance', { instanceId: randomUUID() }), '000003');
    });
  });

  describe('releaseInstance', () => {
    it('releases for good; repeats and unknown instances succeed; later calls change nothing', async () => {
      const p = await purchase({}, 'POST');
      const tenantId = await boundTenant(p.instanceId);
      for (let i = 0; i < 3; i++)
        await ok(v1('releaseInstance', { instanceId: p.instanceId }, i === 1 ? 'POST' : 'GET'));
      expect(await instance(p.instanceId)).toMatchObject({ status: 'released' });
      expect(await authorize(tenantId, 'alice')).toMatchObject({
        allowed: false,
        reason: 'instance_released',
      });
      const before = await t.state();
      await ok(
        v1('refreshInstance', { instanceId: p.instanceId, orderId: newOrderId(), expireTime: expire(90) }),
      );
      await ok(v1('upgrade', { instanceId: p.instanceId, orderId: newOrderId(), productId: 'P-x' }));
      await ok(v1('expireInstance', { instanceId: p.instanceId }));
      expect(await t.state()).toEqual(before);
      await ok(v1('releaseInstance', { instanceId: randomUUID() }));
    });
  });

  describe('upgrade', () => {
    it('records the upgrade order and product, ignores repeats, 000003 for an unknown instance', async () => {
      const p = await purchase();
      const orderId = newOrderId();
      await ok(v1('upgrade', { instanceId: p.instanceId, orderId, productId: 'P-pro', skuCode: 'sku-2' }));
      expect(await instance(p.instanceId)).toMatchObject({ productId: 'P-pro' });
      const before = await t.state();
      for (let i = 0; i < 3; i++)
        await ok(v1('upgrade', { instanceId: p.instanceId, orderId, productId: 'P-pro' }));
      expect(await t.state()).toEqual(before);
      await code(
        v1('upgrade', { instanceId: randomUUID(), orderId: newOrderId(), productId: 'P' }),
        '000003',
      );
    });
  });

  describe('beside V2 at the same path', () => {
    it('serves V2 calls (signature in the query) and V1 calls (authToken) on one instance', async () => {
      const p = await purchase();
      await ok(t.pusher.updateInstanceStatus({ instanceId: p.instanceId, status: 'FREEZE' }));
      expect(await instance(p.instanceId)).toMatchObject({ status: 'frozen' });
      await ok(t.pusher.updateInstanceStatus({ instanceId: p.instanceId, status: 'UNFREEZE' }));
      await ok(v1('expireInstance', { instanceId: p.instanceId }));
      expect(await instance(p.instanceId)).toMatchObject({ status: 'frozen' });
      const q = await ok(t.pusher.newInstance({ orderId: newOrderId(), orderLineId: 'L1' }));
      await ok(v1('releaseInstance', { instanceId: q.answer!.instanceId as string }));
      expect(await instance(q.answer!.instanceId as string)).toMatchObject({ status: 'released' });
    });
  });
});

describe('V1 basic calls without V1_ACCESS_KEY', () => {
  let t: TestRelay;
  beforeAll(async () => {
    t = await startRelay({ store: 'memory', pusher: { v1Key: V1_KEY } });
  });
  afterAll(() => t.close());

  it.each([
    ['GET with the query', 'GET'],
    ['POST with the JSON body', 'POST'],
  ] as const)(
    'answers a plain 404 to a V1 newInstance sent as %s, changing nothing',
    async (_label, method) => {
      const before = await t.state();
      const r = await t.pusher.v1Basic('newInstance', { orderId: newOrderId() }, { method });
      expect([r.status, r.bodySignValid]).toEqual([404, null]);
      expect(r.contentType).toMatch(/^text\/plain/);
      expect(await t.state()).toEqual(before);
    },
  );

  it('answers a plain 404 to a POST with authToken in its query', async () => {
    const params = t.pusher.v1BasicParams('expireInstance', { instanceId: randomUUID() });
    const r = await t.pusher.sendV1Basic('expireInstance', params, { method: 'POST', query: 'authToken=x' });
    expect(r.status).toBe(404);
  });

  it('still serves V2 basic calls', async () => {
    const r = await t.pusher.newInstance({ orderId: newOrderId(), orderLineId: 'L1' });
    expect([r.resultCode, r.bodySignValid]).toEqual(['000000', true]);
  });
});
