// No event from a push that changed nothing (contract §5b, §3: "a request that is not answered
// 000000 changed nothing"): with a redis-server of the test's own paused just as the push's write
// is sent (test/kit/outage.test.ts), the push is answered 000005 and, once Redis is back and the
// late write has reached it, the feed holds no event of it; the marketplace's retry then writes
// exactly one set of events, and a repeat of that retry none. A reply lost after the write landed,
// and a refused push, make no second set and no set at all.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { PushResult, SendOverrides } from '../../src/sandbox/pusher.js';
import type { BasicActivity, KitInterface } from '../../src/vocabulary.js';
import { formatExpireTime } from '../../src/sandbox/marketplace/index.js';
import { allOrgFields, authFields, newTenantId, tenantFields, user } from '../support/data.js';
import type { RedisProcess } from '../support/redis.js';
import { startOutageWorld, waitFor, WriteHooks, type OutageWorld } from '../support/writeHooks.js';
import type { TestRelay } from '../support/relay.js';

interface Event {
  id: string;
  type: string;
  tenantId: string | null;
  data: Record<string, unknown>;
}

// The push's change is the write the pause waits for (the feed's own moves are not).
const hooks = new WriteHooks((ops) => ops.some((op) => op.op !== 'xadd'));

/** How a push is sent again: verbatim (the same nonce and timestamp), or as a new call. */
type Send = (overrides: SendOverrides) => Promise<PushResult>;

describe('the change feed when the store goes away mid-write', () => {
  let redis: RedisProcess;
  let t: TestRelay;
  const tenantId = newTenantId();

  let world: OutageWorld;

  beforeAll(async () => {
    world = await startOutageWorld(hooks, tenantId);
    ({ redis, t } = world);
  });

  afterAll(() => world.close());

  const ready = async () => (await t.http.get('/readyz')).status;

  /** Every event after `after` (from the start without it). */
  async function read(after?: string): Promise<{ events: Event[]; next: string }> {
    const events: Event[] = [];
    let next = after;
    for (;;) {
      const res = await t.api(`/api/v1/events?limit=500${next ? `&after=${next}` : ''}`);
      expect(res.status).toBe(200);
      const page = res.body as { events: Event[]; next: string };
      events.push(...page.events);
      if (page.events.length === 0) return { events, next: page.next };
      next = page.next;
    }
  }
  const types = (events: Event[]) => events.map((e) => e.type);

  /**
   * Sends the push with Redis paused at its write, past its deadline: 000005, and no event once
   * Redis is back. Returns the marketplace's retry: the same body, under the same nonce and
   * timestamp unless told otherwise.
   */
  async function pausedAtWrite(
    call: KitInterface | BasicActivity,
    send: Send,
  ): Promise<{ start: string; retry: Send }> {
    const { next: start } = await read();
    const sent = { nonce: randomBytes(32).toString('hex').toUpperCase(), timestamp: String(Date.now()) };
    let writes = 0;
    hooks.pauseAtNextWrite = () => {
      writes++;
      redis.pause();
    };
    let r: PushResult;
    try {
      r = await send(sent);
      expect([r.resultCode, writes]).toEqual(['000005', 1]);
      // past the push's deadline (KIT_DEADLINE_MS 1200) before Redis sees the write
      await new Promise((resolve) => setTimeout(resolve, 1500));
    } finally {
      hooks.pauseAtNextWrite = null;
      redis.resume();
    }
    expect(await waitFor(async () => (await ready()) === 200, 5000)).toBe(true);
    // whatever was queued during the pause has now reached Redis, and was skipped there
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await read(start)).toEqual({ events: [], next: start });
    // the same bytes again, as the marketplace retries
    const resend = (o: SendOverrides) =>
      call === 'newInstance' ? t.pusher.sendBasic(call, r.body, o) : t.pusher.send(call, r.body, o);
    return { start, retry: (overrides) => resend({ ...sent, ...overrides }) };
  }

  it('authSync: no event from the push answered 000005; its retry makes one user.added each, its repeat none', async () => {
    const { start, retry } = await pausedAtWrite('authSync', (o) =>
      t.pusher.authSync(authFields(tenantId, [user('ann'), user('bob')]), o),
    );
    // the marketplace's verbatim retry (the call consumed nothing, its nonce included)
    expect((await retry({})).resultCode).toBe('000000');
    const once = await read(start);
    expect(types(once.events)).toEqual(['user.added', 'user.added']);
    expect(once.events.map((e) => e.data.userName)).toEqual(['ann', 'bob']);
    // retried again, verbatim and under a new nonce: answered, and nothing more in the feed
    expect((await retry({})).resultCode).toBe('000000');
    expect((await retry({ nonce: randomBytes(32).toString('hex').toUpperCase() })).resultCode).toBe('000000');
    expect((await read(once.next)).events).toEqual([]);
  });

  it('tenantSync of a new tenant bound to a purchased instance: no event, then one tenant.created', async () => {
    const orderId = `CS${randomBytes(6).toString('hex').toUpperCase()}`;
    const bought = await t.pusher.newInstance({
      orderId,
      orderLineId: `${orderId}-1`,
      productId: 'P-1',
      expireTime: formatExpireTime(Date.UTC(2030, 0, 1)),
    });
    expect(bought.resultCode).toBe('000000');
    const instanceId = bought.answer!.instanceId as string;
    const id = newTenantId();
    // the tenant's record and the instance's links: two slots, one write
    const { start, retry } = await pausedAtWrite('tenantSync', (o) =>
      t.pusher.tenantSync(tenantFields(id, { instanceId, orderId }), o),
    );
    expect((await t.api(`/api/v1/tenants/${id}`)).status).toBe(404);
    expect((await retry({})).resultCode).toBe('000000');
    const once = await read(start);
    expect(types(once.events)).toEqual(['tenant.created']);
    expect(once.events[0]!.data).toMatchObject({ tenantId: id, instanceIds: [instanceId] });
    expect((await t.api(`/api/v1/instances/${instanceId}`)).body.tenantIds).toEqual([id]);
    expect((await retry({})).resultCode).toBe('000000');
    expect((await read(once.next)).events).toEqual([]);
  });

  it('allOrgSync: no event from the push answered 000005, then one departments.replaced', async () => {
    const list = [
      { orgCode: 'hq', orgName: '总部', parentCode: '' },
      { orgCode: 'rd', orgName: '研发', parentCode: 'hq' },
    ];
    const { start, retry } = await pausedAtWrite('allOrgSync', (o) =>
      t.pusher.allOrgSync(allOrgFields(tenantId, list), o),
    );
    expect((await t.api(`/api/v1/tenants/${tenantId}/departments`)).body.departments).toEqual([]);
    expect((await retry({})).resultCode).toBe('000000');
    const once = await read(start);
    expect(types(once.events)).toEqual(['departments.replaced']);
    expect((await retry({})).resultCode).toBe('000000');
    expect((await read(once.next)).events).toEqual([]);
  });

  it('newInstance: no event from the purchase answered 000005; its retry (a new businessId) makes one instance.created', async () => {
    const orderId = `CS${randomBytes(6).toString('hex').toUpperCase()}`;
    const purchase = {
      orderId,
      orderLineId: `${orderId}-1`,
      productId: 'P-1',
      expireTime: formatExpireTime(Date.UTC(2030, 0, 1)),
    };
    const { start } = await pausedAtWrite('newInstance', (o) => t.pusher.newInstance(purchase, o));
    // the marketplace retries a purchase under a new businessId: the order makes it the same
    const first = await t.pusher.newInstance(purchase);
    const again = await t.pusher.newInstance(purchase);
    expect([first.resultCode, again.resultCode]).toEqual(['000000', '000000']);
    expect(again.answer!.instanceId).toBe(first.answer!.instanceId);
    const { events } = await read(start);
    expect(types(events)).toEqual(['instance.created']);
    expect(events[0]!.data.instanceId).toBe(first.answer!.instanceId);
  });

  it('a push whose write landed but whose reply was lost: 000000 as the replay it is, one set of events, none from its retry', async () => {
    const { next: start } = await read();
    const sent = { nonce: randomBytes(32).toString('hex').toUpperCase(), timestamp: String(Date.now()) };
    hooks.loseNextReply = true;
    const r = await t.pusher.authSync(authFields(tenantId, [user('cid')]), sent);
    expect(hooks.loseNextReply).toBe(false);
    expect(r.resultCode).toBe('000000');
    expect((await t.pusher.send('authSync', r.body, sent)).resultCode).toBe('000000');
    expect(types((await read(start)).events)).toEqual(['user.added']);
  });

  it('a push refused for reusing a nonce makes no event', async () => {
    const sent = { nonce: randomBytes(32).toString('hex').toUpperCase(), timestamp: String(Date.now()) };
    expect((await t.pusher.authSync(authFields(tenantId, [user('dan')]), sent)).resultCode).toBe('000000');
    const { next: start } = await read();
    const reused = await t.pusher.authSync(authFields(tenantId, [user('eve')]), sent);
    expect(reused.resultCode).toBe('000001');
    expect(await read(start)).toEqual({ events: [], next: start });
    expect((await t.api(`/api/v1/tenants/${tenantId}/users/eve`)).status).toBe(404);
  });
});
