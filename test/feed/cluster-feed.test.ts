// The change feed on a real 3-master Redis Cluster: events written to each slot's outbox with
// their change are moved to the feed's one stream. Two relays push concurrently for tenants on
// every master while a reader follows the cursor: it sees every event exactly once, no gap and
// no repeat, each tenant's in push order; a relay that died between a write and its move leaves
// an outbox that the sweep moves.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RedisStore } from '../../src/store/redis/store.js';
import { authFields, newTenantId, tenantFields, user } from '../support/data.js';
import { RedisCluster } from '../support/redis.js';
import { startRelay, type TestRelay } from '../support/relay.js';

RedisCluster.requireTools();

interface Event {
  id: string;
  type: string;
  tenantId: string;
  data: Record<string, unknown>;
}

describe('change feed on a Redis Cluster', () => {
  let cluster: RedisCluster;
  const stores: RedisStore[] = [];
  let a: TestRelay;
  let b: TestRelay;

  const clusterStore = async () => {
    const store = RedisStore.connect({ clusterNodes: cluster.nodes });
    await store.ready(10_000);
    stores.push(store);
    return store;
  };

  beforeAll(async () => {
    cluster = await RedisCluster.prepare();
    await cluster.startNodes();
    await cluster.create();
    a = await startRelay({ store: await clusterStore() });
    b = await startRelay({ store: await clusterStore(), prefix: a.prefix });
  }, 60_000);
  afterAll(async () => {
    await b?.close();
    await a?.close();
    for (const s of stores) await s.close();
    await cluster?.stop();
  });

  const page = async (t: TestRelay, after: string | undefined, wait = 0) => {
    const res = await t.api(`/api/v1/events?limit=5&wait=${wait}${after ? `&after=${after}` : ''}`);
    expect(res.status).toBe(200);
    return res.body as { events: Event[]; next: string };
  };

  /** The cursor after the last event now in the feed. */
  const tail = async () => {
    let cursor: string | undefined;
    for (;;) {
      const p = await page(a, cursor);
      cursor = p.next;
      if (!p.events.length) return cursor;
    }
  };

  it('serves every event once, in one order, while two relays push for tenants on every master', async () => {
    const tenants = Array.from({ length: 12 }, () => newTenantId());
    const USERS = 6;
    const expected = tenants.length * (1 + USERS);
    const start = await tail();

    // the reader follows the cursor while the pushes run, alternating between the relays
    const seen: Event[] = [];
    let reading = true;
    const reader = (async () => {
      let cursor = start;
      for (let i = 0; reading || seen.length < expected; i++) {
        const p = await page(i % 2 ? a : b, cursor, 0.2);
        seen.push(...p.events);
        cursor = p.next;
        if (!reading && i > 10_000) break;
      }
    })();

    await Promise.all(
      tenants.map(async (tenantId, i) => {
        const t = i % 2 ? a : b;
        expect((await t.pusher.tenantSync(tenantFields(tenantId))).resultCode).toBe('000000');
        for (let u = 0; u < USERS; u++) {
          const r = await (u % 2 ? a : b).pusher.authSync(authFields(tenantId, [user(`u${u}`)], { flag: 2 }));
          expect(r.resultCode).toBe('000000');
        }
      }),
    );
    reading = false;
    await reader;

    // no gap, no repeat: what the reader saw is the whole feed as it now reads
    const ids = seen.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    const all: Event[] = [];
    for (let cursor = start; ;) {
      const p = await page(a, cursor);
      if (!p.events.length) break;
      all.push(...p.events);
      cursor = p.next;
    }
    expect(ids).toEqual(all.map((e) => e.id));
    expect(seen).toHaveLength(expected);
    // each tenant's events in the order its pushes were answered
    for (const tenantId of tenants) {
      const mine = seen.filter((e) => e.tenantId === tenantId);
      expect(mine.map((e) => (e.type === 'user.added' ? e.data.userName : e.type))).toEqual([
        'tenant.created',
        ...Array.from({ length: USERS }, (_, u) => `u${u}`),
      ]);
    }
    // the outboxes were emptied into the stream
    const outboxes = await stores[0]!.sMembers(a.relay.keys.outboxes());
    expect(outboxes.length).toBeGreaterThan(0);
    for (const key of outboxes) expect(await stores[0]!.xRange(key, null, 10)).toEqual([]);
  }, 60_000);

  it('moves what a relay left in an outbox when it stopped between a write and its move', async () => {
    const tenantId = newTenantId();
    const keys = a.relay.keys;
    const outbox = keys.tenantOutbox(tenantId);
    const event = {
      type: 'tenant.created',
      occurredAt: new Date().toISOString(),
      tenantId,
      data: { tenantId, left: 'behind' },
    };
    // the write landed (outbox listed, event in it) but its relay died before moving it
    const raw = stores[0]!;
    await raw.apply([{ op: 'sadd', key: keys.outboxes(), members: [outbox] }]);
    await raw.apply([{ op: 'xadd', key: outbox, value: JSON.stringify(event) }]);
    const before = await tail();
    expect((await page(a, before)).events).toEqual([]);
    // another relay's sweep (run when it starts, then every 30 s) moves it
    b.relay.workers.start();
    try {
      for (let i = 0; i < 100 && !(await page(a, before)).events.length; i++)
        await new Promise((r) => setTimeout(r, 50));
    } finally {
      await b.relay.workers.stop();
    }
    const moved = (await page(a, before)).events;
    expect(moved).toEqual([expect.objectContaining({ type: 'tenant.created', tenantId, data: event.data })]);
  });
});
