// Long polls of the change feed (contract §5b, `wait`): a waiting request answers with an event
// pushed during its wait, and many waiting requests share one blocking read per process instead
// of holding a Redis connection each (a private redis-server, so its client count is ours alone).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createClient } from 'redis';
import { RedisStore } from '../../src/store/redis/store.js';
import { newTenantId, tenantFields } from '../support/data.js';
import { RedisProcess } from '../support/redis.js';
import { startRelay, type TestRelay } from '../support/relay.js';

describe('long polls of the change feed', () => {
  let redis: RedisProcess;
  let store: RedisStore;
  let t: TestRelay;
  const clients = async () => {
    const c = createClient({ url: redis.url });
    await c.connect();
    try {
      // this connection itself counts: one less
      return Number(/connected_clients:(\d+)/.exec(await c.info('clients'))![1]) - 1;
    } finally {
      await c.quit();
    }
  };
  const tail = async () => {
    let cursor = '';
    for (;;) {
      const res = await t.api(`/api/v1/events?limit=500${cursor ? `&after=${cursor}` : ''}`);
      cursor = res.body.next;
      if (!res.body.events.length) return cursor;
    }
  };

  beforeAll(async () => {
    redis = await RedisProcess.start();
    store = RedisStore.connect({ url: redis.url });
    await store.ready();
    t = await startRelay({ store });
  });
  afterAll(async () => {
    await t?.close();
    await store?.close();
    await redis?.stop();
  });

  it('answers a waiting request with the event pushed during its wait', async () => {
    const after = await tail();
    const tenantId = newTenantId();
    const started = Date.now();
    const waiting = t.api(`/api/v1/events?after=${after}&wait=20`);
    setTimeout(() => void t.pusher.tenantSync(tenantFields(tenantId)), 200);
    const res = await waiting;
    expect(res.status).toBe(200);
    expect(res.body.events).toEqual([expect.objectContaining({ type: 'tenant.created', tenantId })]);
    // well before the 20 s were up (the latency itself is measured by `npm run bench`)
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('survives a wait from a position that is no stream id (it ends at once)', async () => {
    // a watcher comparing such a position used to throw outside its catch: an unhandled rejection,
    // which ends a Node process
    const unhandled: unknown[] = [];
    const note = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', note);
    try {
      const started = Date.now();
      await t.relay.feed.wait('9999999999999999-0', 5000);
      await t.relay.feed.wait('not-an-id', 5000);
      await new Promise((r) => setTimeout(r, 50));
      expect(unhandled).toEqual([]);
      expect(Date.now() - started).toBeLessThan(4000);
    } finally {
      process.off('unhandledRejection', note);
    }
    expect(t.relay.feed.waiting).toBe(0);
    const res = await t.api('/api/v1/events?wait=0.2');
    expect(res.status).toBe(200);
  });

  it('answers an empty page when the time is up', async () => {
    const after = await tail();
    const res = await t.api(`/api/v1/events?after=${after}&wait=0.3`);
    expect(res.body).toEqual({ events: [], next: after });
  });

  it('holds 200 waiting requests on one blocking connection, and answers them all with the next event', async () => {
    const after = await tail();
    const idle = await clients();
    // `then` sends each request now (supertest sends on first use)
    const waiting = Array.from({ length: 200 }, () =>
      t.api(`/api/v1/events?after=${after}&wait=25`).then((r) => r),
    );
    // every request is in, waiting
    for (let i = 0; i < 200 && t.relay.feed.waiting < 200; i++) await new Promise((r) => setTimeout(r, 25));
    expect(t.relay.feed.waiting).toBe(200);
    // at most the one blocking connection more than before the waits
    expect(await clients()).toBeLessThanOrEqual(idle + 1);
    const tenantId = newTenantId();
    await t.pusher.tenantSync(tenantFields(tenantId));
    const answers = await Promise.all(waiting);
    for (const res of answers)
      expect(res.body.events).toEqual([expect.objectContaining({ type: 'tenant.created', tenantId })]);
    expect(t.relay.feed.waiting).toBe(0);
  }, 30_000);

  it('ends every wait at once on shutdown, so draining does not wait for long polls', async () => {
    const other = await startRelay({ store, prefix: t.prefix });
    const after = await tail();
    const started = Date.now();
    const waiting = other.api(`/api/v1/events?after=${after}&wait=25`).then((r) => r);
    for (let i = 0; i < 200 && other.relay.feed.waiting < 1; i++) await new Promise((r) => setTimeout(r, 10));
    await other.relay.workers.stop();
    const res = await waiting;
    expect(res.body).toEqual({ events: [], next: after });
    expect(Date.now() - started).toBeLessThan(10_000);
    await other.close();
  });
});
