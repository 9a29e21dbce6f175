/**
 * Change-feed benchmarks (`BENCH_ONLY=feed`), on the relay built in this process on Redis:
 *   - cost: a mixed push (tenantSync, authSync of 5 users, singleOrgSync) applied by the mirror
 *     with the change feed and without it (a Mirror given no EventLog: no events, and authSync
 *     skips the read of the current users that only the feed needs), interleaved round by round;
 *     the extra p50 is also given against the whole push over HTTP;
 *   - append rate: events appended per second while 8 clients push a mixed load over HTTP;
 *   - long-poll latency: push answered → event received by a client already waiting;
 *   - webhook throughput: events delivered per second to a local receiver answering 204.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { EventLog } from '../src/feed/eventLog.js';
import { WebhookDelivery } from '../src/feed/webhooks.js';
import { authSyncSchema, singleOrgSyncSchema, tenantSyncSchema } from '../src/kit/schemas.js';
import { Mirror } from '../src/mirror/mirror.js';
import { createLogger } from '../src/ops/log.js';
import { formatSyncTime } from '../src/sandbox/marketplace/index.js';
import { authFields, newTenantId, orgFields, tenantFields, user } from '../test/support/fixtures.js';
import { log, startInProcessRelay, stats, type InProcessRelay, type Stats } from './common.js';

export interface FeedResults {
  /** mirror apply of one mixed push (3 writes), ms */
  withEvents: Stats;
  withoutEvents: Stats;
  /** the whole push over HTTP, client-observed, for scale */
  pushOverHttp: Stats;
  appendPerSecond: number;
  longPoll: Stats;
  webhookPerSecond: number;
}

const SECRET = `whsec_${Buffer.alloc(32, 5).toString('base64')}`;

export async function runFeedBenchmark(o: {
  prefix: string;
  rounds: number;
  seconds: number;
}): Promise<FeedResults> {
  const r = await startInProcessRelay(`${o.prefix}feed:`);
  try {
    const cost = await applyCost(r, o.rounds);
    const appendPerSecond = await appendRate(r, o.seconds);
    const longPoll = await longPollLatency(r, Math.max(20, Math.round(o.rounds / 2)));
    const webhookPerSecond = await webhookThroughput(r, o.rounds * 10);
    return { ...cost, appendPerSecond, longPoll, webhookPerSecond };
  } finally {
    await r.close();
  }
}

/** The three pushes of one mixed round, parsed as the pipeline would hand them to the mirror. */
function mixedPushes(tenantId: string, at: number) {
  const timeStamp = formatSyncTime(at);
  return {
    tenant: tenantSyncSchema.parse({ ...tenantFields(tenantId), timeStamp }),
    auth: authSyncSchema.parse({
      ...authFields(tenantId, JSON.stringify([1, 2, 3, 4, 5].map((i) => user(`u${i}`, { name: `n${at}` })))),
      timeStamp,
      currentSyncTime: timeStamp,
    }),
    org: singleOrgSyncSchema.parse({ ...orgFields(tenantId, 'd1', { orgName: `n${at}` }), timeStamp }),
  };
}

async function applyCost(r: InProcessRelay, rounds: number) {
  const { store, keys } = { store: r.store, keys: r.relay.keys };
  const events = new EventLog({ store, keys, now: Date.now, sessionRef: (sid) => sid });
  const mirrors = {
    with: new Mirror(store, keys, true, { events }),
    without: new Mirror(store, keys, true),
  };
  const tenants = { with: newTenantId(), without: newTenantId() };
  const samples: Record<'with' | 'without', number[]> = { with: [], without: [] };
  const http: number[] = [];
  let at = Date.now() - 3_600_000;
  const warmup = Math.min(20, Math.round(rounds / 5));
  for (let round = 0; round < warmup + rounds; round++) {
    for (const which of round % 2 ? (['with', 'without'] as const) : (['without', 'with'] as const)) {
      const p = mixedPushes(tenants[which], (at += 10));
      const m = mirrors[which];
      const deadline = Date.now() + 5000;
      const t0 = performance.now();
      await m.tenantSync(p.tenant, deadline);
      await m.authSync(p.auth, deadline);
      await m.singleOrgSync(p.org, deadline);
      if (round >= warmup) samples[which].push(performance.now() - t0);
    }
    if (round >= warmup && round % 4 === 0) {
      const id = newTenantId();
      const t0 = performance.now();
      await r.pusher.tenantSync(tenantFields(id));
      await r.pusher.authSync(
        authFields(
          id,
          [1, 2, 3, 4, 5].map((i) => user(`u${i}`)),
        ),
      );
      await r.pusher.singleOrgSync(orgFields(id, 'd1'));
      http.push(performance.now() - t0);
    }
  }
  return {
    withEvents: stats(samples.with),
    withoutEvents: stats(samples.without),
    pushOverHttp: stats(http),
  };
}

async function feedLength(r: InProcessRelay): Promise<number> {
  let n = 0;
  for (let after: string | null = null; ;) {
    const batch = await r.store.xRange(r.relay.keys.events(), after, 1000);
    if (!batch.length) return n;
    n += batch.length;
    after = batch.at(-1)!.id;
  }
}

async function appendRate(r: InProcessRelay, seconds: number): Promise<number> {
  const before = await feedLength(r);
  const until = Date.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 8 }, async (_, c) => {
      for (let i = 0; Date.now() < until; i++) {
        const id = newTenantId();
        await r.pusher.tenantSync(tenantFields(id));
        await r.pusher.authSync(authFields(id, [user(`a${c}`), user(`b${i}`)]));
        await r.pusher.singleOrgSync(orgFields(id, `d${i}`));
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  return Math.round((await feedLength(r)) - before) / elapsed;
}

async function longPollLatency(r: InProcessRelay, samples: number): Promise<Stats> {
  const api = (path: string) =>
    fetch(`${r.url}/api/v1${path}`, { headers: { authorization: `Bearer ${r.config.sellerApiKeys[0]}` } });
  let cursor = '';
  for (;;) {
    const page = (await (await api(`/events?limit=500${cursor ? `&after=${cursor}` : ''}`)).json()) as {
      events: unknown[];
      next: string;
    };
    cursor = page.next;
    if (!page.events.length) break;
  }
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const waiting = api(`/events?after=${cursor}&wait=10`).then(async (res) => {
      const received = performance.now();
      return { received, page: (await res.json()) as { events: unknown[]; next: string } };
    });
    // let the request reach its wait
    for (let k = 0; k < 200 && r.relay.feed.waiting === 0; k++)
      await new Promise((res) => setTimeout(res, 2));
    await r.pusher.tenantSync(tenantFields(newTenantId()));
    const answered = performance.now();
    const { received, page } = await waiting;
    if (page.events.length !== 1) throw new Error(`the waiting client got ${page.events.length} events`);
    times.push(Math.max(0, received - answered));
    cursor = page.next;
  }
  return stats(times);
}

async function webhookThroughput(r: InProcessRelay, events: number): Promise<number> {
  // a backlog to deliver: one event per tenantSync
  for (let i = 0; i < events; i++) await r.pusher.tenantSync(tenantFields(newTenantId()));
  let received = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received++;
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const total = await feedLength(r);
  const delivery = new WebhookDelivery({
    store: r.store,
    keys: r.relay.keys,
    feed: r.relay.feed,
    url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`),
    secret: SECRET,
    metrics: r.relay.metrics,
    logger: createLogger('silent'),
    retentionMs: r.config.events.retentionMs,
  });
  const started = performance.now();
  delivery.start();
  while (received < total) await new Promise((res) => setTimeout(res, 5));
  const seconds = (performance.now() - started) / 1000;
  await delivery.stop();
  server.closeAllConnections();
  await new Promise((res) => server.close(res));
  log(`webhooks: ${received} events in ${seconds.toFixed(2)} s`);
  return Math.round(received / seconds);
}

export function feedTable(f: FeedResults): string {
  const fmt = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(2));
  const extra = f.withEvents.p50 - f.withoutEvents.p50;
  return [
    '| Change feed | n | p50 | p95 |',
    '| --- | ---: | ---: | ---: |',
    `| mixed push applied with events (3 writes), ms | ${f.withEvents.n} | ${fmt(f.withEvents.p50)} | ${fmt(f.withEvents.p95)} |`,
    `| the same without events, ms | ${f.withoutEvents.n} | ${fmt(f.withoutEvents.p50)} | ${fmt(f.withoutEvents.p95)} |`,
    `| **extra cost of events** (target ≤ 10 % at p50) | | **${fmt(extra)} ms = ${Math.round((extra / f.withoutEvents.p50) * 100)} % of the apply, ${Math.round((extra / f.pushOverHttp.p50) * 100)} % of the push over HTTP** | |`,
    `| the same push over HTTP, client-observed, ms | ${f.pushOverHttp.n} | ${fmt(f.pushOverHttp.p50)} | ${fmt(f.pushOverHttp.p95)} |`,
    `| long poll: push answered → event received, ms | ${f.longPoll.n} | ${fmt(f.longPoll.p50)} | ${fmt(f.longPoll.p95)} |`,
    `| events appended per second (8 clients pushing a mixed load) | | ${Math.round(f.appendPerSecond)} | |`,
    `| webhook deliveries per second (one receiver answering 204) | | ${f.webhookPerSecond} | |`,
  ].join('\n');
}
