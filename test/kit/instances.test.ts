// The basic instance interfaces over real HTTP, signed by the sandbox's own marketplace code
// (kit-sync-and-signing.md §2.3, §4; relay-contract.md §3b): each activity's success path, three
// repeats, late (out-of-order) arrival, and what an unknown instance is answered, on both stores.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Pusher, type Fields, type PushResult, type SendOverrides } from '../../src/sandbox/pusher.js';
import { formatExpireTime } from '../../src/sandbox/marketplace/index.js';
import { newTenantId, tenantFields } from '../support/data.js';
import { BASIC_KEY, startRelay, type StoreKind, type TestRelay } from '../support/relay.js';

const newOrder = () => {
  const orderId = `CS${randomBytes(6).toString('hex').toUpperCase()}`;
  return { orderId, orderLineId: `${orderId}-000001` };
};
const DAY = 24 * 3600 * 1000;
const expire = (days: number) => formatExpireTime(Date.UTC(2027, 0, 1) + days * DAY);
const iso = (days: number) => new Date(Date.UTC(2027, 0, 1) + days * DAY).toISOString();

describe.each<StoreKind>(['memory', 'redis'])('basic instance interfaces on the %s store', (kind) => {
  let t: TestRelay;
  beforeAll(async () => {
    t = await startRelay({ store: kind });
  });
  afterAll(() => t.close());

  const ok = async (result: Promise<PushResult>) => {
    const r = await result;
    expect(r.problem).toBeUndefined();
    expect(r.resultCode).toBe('000000');
    // Signed with the basic key, as the call was verified with it.
    expect(r.bodySignValid).toBe(true);
    return r;
  };
  const code = async (result: Promise<PushResult>, expected: string) => {
    const r = await result;
    expect([r.resultCode, r.bodySignValid]).toEqual([expected, true]);
    return r;
  };
  const instance = async (id: string) =>
    (await t.api(`/api/v1/instances/${id}`)).body as Record<string, unknown>;
  const purchase = async (extra: Fields = {}) => {
    const order = newOrder();
    const r = await ok(
      t.pusher.newInstance({ ...order, productId: 'P-basic', expireTime: expire(0), ...extra }),
    );
    return { ...order, instanceId: r.answer!.instanceId as string, businessId: r.body.businessId as string };
  };
  /** signed `ms` before now: a call the marketplace made earlier, arriving late */
  const earlier = (ms: number): SendOverrides => ({ timestamp: String(Date.now() - ms) });

  describe('newInstance', () => {
    it('creates the instance under the first businessId and answers it', async () => {
      const order = newOrder();
      const businessId = randomUUID();
      const r = await ok(
        t.pusher.newInstance({
          ...order,
          businessId,
          productId: 'P-1',
          expireTime: expire(30),
          testFlag: '1',
        }),
      );
      expect(r.answer).toEqual({ resultCode: '000000', resultMsg: 'Success', instanceId: businessId });
      expect(await instance(businessId)).toMatchObject({
        instanceId: businessId,
        ...order,
        productId: 'P-1',
        status: 'active',
        expireTime: iso(30),
        testFlag: 1,
        tenantIds: [],
        history: [expect.objectContaining({ activity: 'newInstance', status: 'active' })],
      });
    });

    it('answers the same instanceId to three retries with new businessIds, changing nothing', async () => {
      const first = await purchase();
      const before = await t.state();
      for (let i = 0; i < 3; i++) {
        const again = await ok(
          t.pusher.newInstance({ orderId: first.orderId, orderLineId: first.orderLineId }),
        );
        expect(again.body.businessId).not.toBe(first.businessId);
        expect(again.answer!.instanceId).toBe(first.instanceId);
      }
      expect(await t.state()).toEqual(before);
    });

    it('treats another order line of the same order as another purchase', async () => {
      const first = await purchase();
      const second = await ok(
        t.pusher.newInstance({ orderId: first.orderId, orderLineId: `${first.orderId}-000002` }),
      );
      expect(second.answer!.instanceId).not.toBe(first.instanceId);
    });

    it('accepts the 17-digit expireTime of the document example, and none at all', async () => {
      const a = await purchase({ expireTime: '20221124023618256' });
      expect((await instance(a.instanceId)).expireTime).toBe('2022-11-24T02:36:18.256Z');
      const b = await purchase({ expireTime: undefined });
      expect((await instance(b.instanceId)).expireTime).toBeNull();
    });

    it('takes null for an absent optional field, as the signed payload drops top-level nulls', async () => {
      const order = newOrder();
      const r = await ok(
        t.pusher.newInstance({ ...order, expireTime: null, productId: null, skuCode: null }),
      );
      const id = r.answer!.instanceId as string;
      expect(await instance(id)).toMatchObject({ expireTime: null, productId: '' });
      await ok(t.pusher.releaseInstance({ instanceId: id, orderId: null, orderLineId: null }));
      expect((await instance(id)).status).toBe('released');
    });

    it('binds tenants that a tenantSync named before the purchase reached the relay', async () => {
      const tenantId = newTenantId();
      const instanceId = randomUUID();
      await ok(t.pusher.tenantSync(tenantFields(tenantId, { instanceId })));
      expect((await t.api(`/api/v1/tenants/${tenantId}`)).body.instances).toEqual([]);
      await ok(t.pusher.newInstance({ ...newOrder(), businessId: instanceId }));
      expect((await t.api(`/api/v1/tenants/${tenantId}`)).body.instances).toEqual([
        expect.objectContaining({ instanceId, status: 'active' }),
      ]);
      expect((await instance(instanceId)).tenantIds).toEqual([tenantId]);
    });
  });

  describe('queryInstance', () => {
    it('answers appInfo for the known instances among those asked, in order', async () => {
      const a = await purchase();
      const b = await purchase();
      const r = await ok(t.pusher.queryInstance({ instanceId: `${b.instanceId},no-such,${a.instanceId}` }));
      const appInfo = { frontEndUrl: new URL('/', t.config.publicUrl).href };
      expect(r.answer!.info).toEqual([
        { instanceId: b.instanceId, appInfo },
        { instanceId: a.instanceId, appInfo },
      ]);
    });

    it('answers 000003 when none is known', async () => {
      await code(t.pusher.queryInstance({ instanceId: 'no-such,nor-this' }), '000003');
    });
  });

  describe('refreshInstance', () => {
    it('renews: new expireTime, the order in the history; three repeats change nothing', async () => {
      const p = await purchase();
      const renewal = { instanceId: p.instanceId, ...newOrder(), scene: 'RENEWAL', expireTime: expire(365) };
      await ok(t.pusher.refreshInstance(renewal));
      const after = await instance(p.instanceId);
      expect(after).toMatchObject({ expireTime: iso(365), status: 'active' });
      expect((after.history as object[]).at(-1)).toMatchObject({
        activity: 'refreshInstance',
        scene: 'RENEWAL',
        orderId: renewal.orderId,
      });
      const before = await t.state();
      for (let i = 0; i < 3; i++) await ok(t.pusher.refreshInstance(renewal));
      expect(await t.state()).toEqual(before);
    });

    it('keeps every scene, and a new productId when the period type changed', async () => {
      const p = await purchase();
      for (const [i, scene] of ['TRIAL_TO_FORMAL', 'RENEWAL_CHANGE', 'UNSUBSCRIBE_RENEWAL_PERIOD'].entries())
        await ok(
          t.pusher.refreshInstance({
            instanceId: p.instanceId,
            ...newOrder(),
            scene,
            expireTime: expire(100 - i),
            ...(scene === 'RENEWAL_CHANGE' ? { productId: 'P-yearly' } : {}),
          }),
        );
      const after = await instance(p.instanceId);
      expect(after).toMatchObject({ expireTime: iso(98), productId: 'P-yearly' });
      expect((after.history as { scene?: string }[]).map((h) => h.scene).filter(Boolean)).toEqual([
        'TRIAL_TO_FORMAL',
        'RENEWAL_CHANGE',
        'UNSUBSCRIBE_RENEWAL_PERIOD',
      ]);
    });

    it('leaves a newer renewal in place when an older one arrives late', async () => {
      const p = await purchase();
      await ok(
        t.pusher.refreshInstance({
          instanceId: p.instanceId,
          ...newOrder(),
          scene: 'RENEWAL',
          expireTime: expire(60),
        }),
      );
      const before = await t.state();
      await ok(
        t.pusher.refreshInstance(
          { instanceId: p.instanceId, ...newOrder(), scene: 'RENEWAL', expireTime: expire(30) },
          earlier(20_000),
        ),
      );
      expect(await t.state()).toEqual(before);
      expect((await instance(p.instanceId)).expireTime).toBe(iso(60));
    });

    it('answers 000003 for an unknown instance and creates nothing', async () => {
      const before = await t.state();
      await code(
        t.pusher.refreshInstance({
          instanceId: 'no-such',
          ...newOrder(),
          scene: 'RENEWAL',
          expireTime: expire(1),
        }),
        '000003',
      );
      expect(await t.state()).toEqual(before);
    });
  });

  describe('updateInstanceStatus', () => {
    it('freezes and unfreezes; three repeats of each change nothing', async () => {
      const p = await purchase();
      for (const [status, expected] of [
        ['FREEZE', 'frozen'],
        ['UNFREEZE', 'active'],
      ] as const) {
        await ok(t.pusher.updateInstanceStatus({ instanceId: p.instanceId, status }));
        expect((await instance(p.instanceId)).status).toBe(expected);
        const before = await t.state();
        for (let i = 0; i < 3; i++)
          await ok(t.pusher.updateInstanceStatus({ instanceId: p.instanceId, status }));
        expect(await t.state()).toEqual(before);
      }
    });

    it('keeps the newer status when an older FREEZE arrives after a newer UNFREEZE', async () => {
      const p = await purchase();
      await ok(
        t.pusher.updateInstanceStatus({ instanceId: p.instanceId, status: 'FREEZE' }, earlier(30_000)),
      );
      await ok(t.pusher.updateInstanceStatus({ instanceId: p.instanceId, status: 'UNFREEZE' }));
      const before = await t.state();
      await ok(
        t.pusher.updateInstanceStatus({ instanceId: p.instanceId, status: 'FREEZE' }, earlier(10_000)),
      );
      expect(await t.state()).toEqual(before);
      expect((await instance(p.instanceId)).status).toBe('active');
    });

    it('applies calls signed at the same time in the order they arrive', async () => {
      const p = await purchase();
      const same = { timestamp: String(Date.now()) };
      await ok(t.pusher.updateInstanceStatus({ instanceId: p.instanceId, status: 'FREEZE' }, same));
      await ok(t.pusher.updateInstanceStatus({ instanceId: p.instanceId, status: 'UNFREEZE' }, same));
      expect((await instance(p.instanceId)).status).toBe('active');
    });

    it('answers 000003 for an unknown instance', async () => {
      const before = await t.state();
      await code(t.pusher.updateInstanceStatus({ instanceId: 'no-such', status: 'FREEZE' }), '000003');
      expect(await t.state()).toEqual(before);
    });
  });

  describe('releaseInstance', () => {
    it('releases for good: repeats, a late FREEZE, UNFREEZE, renewal or upgrade change nothing', async () => {
      const p = await purchase();
      await ok(t.pusher.releaseInstance({ instanceId: p.instanceId, ...newOrder() }));
      expect((await instance(p.instanceId)).status).toBe('released');
      const before = await t.state();
      for (let i = 0; i < 3; i++) await ok(t.pusher.releaseInstance({ instanceId: p.instanceId }));
      await ok(t.pusher.updateInstanceStatus({ instanceId: p.instanceId, status: 'UNFREEZE' }));
      await ok(t.pusher.updateInstanceStatus({ instanceId: p.instanceId, status: 'FREEZE' }, earlier(5_000)));
      await ok(
        t.pusher.refreshInstance({
          instanceId: p.instanceId,
          ...newOrder(),
          scene: 'RENEWAL',
          expireTime: expire(9),
        }),
      );
      await ok(t.pusher.upgradeInstance({ instanceId: p.instanceId, ...newOrder(), productId: 'P-x' }));
      expect(await t.state()).toEqual(before);
    });

    it('answers 000000 for an unknown instance and creates nothing (idempotent release)', async () => {
      const before = await t.state();
      await ok(t.pusher.releaseInstance({ instanceId: `never-${randomUUID()}` }));
      expect(await t.state()).toEqual(before);
    });

    it('releases even when its time is older than the last status change', async () => {
      const p = await purchase();
      await ok(t.pusher.updateInstanceStatus({ instanceId: p.instanceId, status: 'FREEZE' }));
      await ok(t.pusher.releaseInstance({ instanceId: p.instanceId }, earlier(10_000)));
      expect((await instance(p.instanceId)).status).toBe('released');
    });
  });

  describe('upgradeInstance', () => {
    it('records the upgrade order and the new product; three repeats change nothing', async () => {
      const p = await purchase();
      const upgrade = { instanceId: p.instanceId, ...newOrder(), productId: 'P-pro' };
      await ok(t.pusher.upgradeInstance(upgrade));
      const after = await instance(p.instanceId);
      expect(after).toMatchObject({ instanceId: p.instanceId, productId: 'P-pro', orderId: p.orderId });
      expect((after.history as object[]).at(-1)).toMatchObject({
        activity: 'upgradeInstance',
        orderId: upgrade.orderId,
        productId: 'P-pro',
      });
      const before = await t.state();
      for (let i = 0; i < 3; i++) await ok(t.pusher.upgradeInstance(upgrade));
      expect(await t.state()).toEqual(before);
    });

    it('keeps the newer product when an older upgrade arrives late', async () => {
      const p = await purchase();
      await ok(t.pusher.upgradeInstance({ instanceId: p.instanceId, ...newOrder(), productId: 'P-new' }));
      await ok(
        t.pusher.upgradeInstance(
          { instanceId: p.instanceId, ...newOrder(), productId: 'P-old' },
          earlier(15_000),
        ),
      );
      expect((await instance(p.instanceId)).productId).toBe('P-new');
    });

    it('answers 000003 for an unknown instance', async () => {
      const before = await t.state();
      await code(t.pusher.upgradeInstance({ instanceId: 'no-such', ...newOrder() }), '000003');
      expect(await t.state()).toEqual(before);
    });
  });

  describe('signing variants the relay accepts', () => {
    it('a timestamp in seconds (intl copies of §2.3) and a trailing slash on the address', async () => {
      await ok(t.pusher.newInstance(newOrder(), { timestamp: String(Math.floor(Date.now() / 1000)) }));
      await ok(t.pusher.newInstance(newOrder(), { path: '/' }));
    });

    it("Jackson's payload and the older JSON.stringify one, where they differ (\\u001F against \\u001f)", async () => {
      const odd = { saasExtendParams: 'unit\u001fseparator' };
      await ok(t.pusher.newInstance({ ...newOrder(), ...odd }));
      const legacy = new Pusher({ ...t.pusher.options, signing: 'legacy' });
      await ok(legacy.newInstance({ ...newOrder(), ...odd }));
    });

    it('refuses a call signed with the kit key', async () => {
      const r = await t.pusher.newInstance(newOrder(), { key: t.config.kitAccessKey });
      expect([r.resultCode, r.resultMsg]).toEqual([
        '000001',
        'signature does not match the request (check the basic access key)',
      ]);
      expect(BASIC_KEY).not.toBe(t.config.kitAccessKey);
    });
  });
});
