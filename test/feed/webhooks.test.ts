// Webhooks (contract §5b): every event POSTed to WEBHOOK_URL, signed per the Standard Webhooks
// spec (verified here with the `standardwebhooks` library itself, not the relay's code), retried
// with backoff until a 2xx, at least once, by one replica at a time with a lease a dead replica loses.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Webhook } from 'standardwebhooks';
import { RelayEvent } from '../../src/api/contract.js';
import { WebhookDelivery } from '../../src/feed/webhooks.js';
import { createLogger } from '../../src/ops/log.js';
import { newTenantId, tenantFields, authFields, user } from '../support/data.js';
import { connectRedisStore } from '../support/redis.js';
import { startRelay, type TestRelay } from '../support/relay.js';

const SECRET = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;

interface Received {
  id: string;
  body: { id: string; type: string; tenantId: string };
  verified: boolean;
}

/** A receiver that verifies each delivery with the library and answers what `answer` says. */
async function receiver(answer: (n: number, req: IncomingMessage) => number | 'hang') {
  const received: Received[] = [];
  let n = 0;
  const verifier = new Webhook(SECRET);
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let verified = false;
      try {
        verifier.verify(raw, req.headers as Record<string, string>);
        verified = true;
      } catch {
        verified = false;
      }
      received.push({ id: String(req.headers['webhook-id']), body: JSON.parse(raw), verified });
      const status = answer(n++, req);
      if (status === 'hang') return; // never answers: the sender's deadline or death ends it
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  return {
    url,
    received,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(r));
    },
  };
}

const until = async (what: () => boolean | Promise<boolean>, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!(await what())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('webhooks', () => {
  let t: TestRelay;
  const stops: (() => Promise<unknown>)[] = [];
  beforeAll(async () => {
    t = await startRelay({ store: 'redis' });
  });
  afterEach(async () => {
    while (stops.length) await stops.pop()!();
  });
  afterAll(() => t.close());

  const delivery = (url: string, extra: Partial<ConstructorParameters<typeof WebhookDelivery>[0]> = {}) => {
    const d = new WebhookDelivery({
      store: t.store,
      keys: t.relay.keys,
      feed: t.relay.feed,
      url: new URL(url),
      secret: SECRET,
      metrics: t.relay.metrics,
      logger: createLogger('silent'),
      retentionMs: t.config.events.retentionMs,
      leaseMs: 600,
      baseBackoffMs: 20,
      maxBackoffMs: 200,
      idleWaitMs: 200,
      ...extra,
    });
    stops.push(() => d.stop());
    return d;
  };
  const reset = () =>
    t.store.apply([
      { op: 'del', key: t.relay.keys.webhookCursor() },
      { op: 'del', key: t.relay.keys.webhookLease() },
    ]);

  it('delivers each event, signed, in order, to a receiver that fails 5 times first', async () => {
    await reset();
    const r = await receiver((n) => (n < 5 ? 500 : 204));
    stops.push(r.close);
    const tenantId = newTenantId();
    await t.pusher.tenantSync(tenantFields(tenantId));
    await t.pusher.authSync(authFields(tenantId, [user('ann'), user('bob')]));
    const feed = await t.relay.feed.read({ limit: 500 });
    delivery(r.url).start();
    await until(
      () => new Set(r.received.filter((x) => x.verified).map((x) => x.id)).size === feed.events.length,
    );
    // the first event was tried 6 times, the same id each time; then each once
    expect(r.received.slice(0, 6).map((x) => x.id)).toEqual(Array(6).fill(feed.events[0]!.id));
    expect(r.received.every((x) => x.verified)).toBe(true);
    const delivered = [...new Map(r.received.map((x) => [x.id, x.body])).values()];
    expect(delivered).toEqual(feed.events);
    // each body is the contract's Event, as the OpenAPI document's webhook says
    for (const body of delivered) expect(RelayEvent.safeParse(body).error).toBeUndefined();
    // the cursor says where delivery stands: moved once the receiver's 2xx is back, so just
    // after the receiver counted the last event it may still be on the one before
    const cursor = () => t.store.get(t.relay.keys.webhookCursor());
    await until(async () => (await cursor()) === feed.events.at(-1)!.id).catch(() => undefined);
    expect(await cursor()).toBe(feed.events.at(-1)!.id);
    const metrics = await t.relay.metrics.registry.getSingleMetricAsString('relay_webhook_deliveries_total');
    expect(metrics).toMatch(/outcome="failed"} [5-9]/);
    // a new event is delivered as it comes
    await t.pusher.authSync(authFields(tenantId, [user('cy')], { flag: 2 }));
    await until(() =>
      r.received.some((x) => x.body.type === 'user.added' && JSON.stringify(x.body).includes('"cy"')),
    );
  });

  it('gives up an event refused for longer than the retention, and delivers the ones after it', async () => {
    await reset();
    const tenantId = newTenantId();
    await t.pusher.tenantSync(tenantFields(tenantId));
    await t.pusher.authSync(authFields(tenantId, [user('ann')]));
    const feed = await t.relay.feed.read({ limit: 500 });
    const refused = feed.events.find((e) => e.type === 'tenant.created' && e.tenantId === tenantId)!;
    // the receiver refuses that one event for good
    const r = await receiver((_n, req) => (req.headers['webhook-id'] === refused.id ? 400 : 204));
    stops.push(r.close);
    const before = await t.relay.metrics.registry.getSingleMetricAsString('relay_webhook_deliveries_total');
    const expiredBefore = Number(/outcome="expired"} (\d+)/.exec(before)?.[1] ?? 0);
    // a retention far shorter than the test: the event is older than it at its first refusal
    delivery(r.url, { retentionMs: 1 }).start();
    const last = feed.events.at(-1)!.id;
    await until(() => r.received.some((x) => x.id === last));
    const after = await t.relay.metrics.registry.getSingleMetricAsString('relay_webhook_deliveries_total');
    expect(Number(/outcome="expired"} (\d+)/.exec(after)?.[1])).toBeGreaterThan(expiredBefore);
    // refused once (no endless retries), and everything after it delivered
    expect(r.received.filter((x) => x.id === refused.id)).toHaveLength(1);
  });

  it('refuses a tampered body, as a receiver verifying with the library would', async () => {
    const signer = new Webhook(SECRET);
    const body = JSON.stringify({ id: '1-0', type: 'tenant.created' });
    const when = new Date();
    const headers = {
      'webhook-id': '1-0',
      'webhook-timestamp': String(Math.floor(when.getTime() / 1000)),
      'webhook-signature': signer.sign('1-0', when, body),
    };
    expect(() => signer.verify(body, headers)).not.toThrow();
    expect(() => signer.verify(body.replace('created', 'deleted'), headers)).toThrow();
  });

  it('is delivered by one replica at a time; a dead one loses the lease and another resends the event in flight', async () => {
    await reset();
    const r = await receiver((n) => (n === 0 ? 'hang' : 200));
    stops.push(r.close);
    await t.pusher.tenantSync(tenantFields(newTenantId()));
    // replica A on a connection of its own, so it can die alone
    const storeA = await connectRedisStore();
    const a = new WebhookDelivery({
      store: storeA,
      keys: t.relay.keys,
      feed: t.relay.feed,
      url: new URL(r.url),
      secret: SECRET,
      metrics: t.relay.metrics,
      logger: createLogger('silent'),
      retentionMs: t.config.events.retentionMs,
      leaseMs: 600,
      timeoutMs: 60_000,
      baseBackoffMs: 20,
      maxBackoffMs: 200,
    });
    stops.push(() => a.stop());
    a.start();
    await until(() => r.received.length === 1);
    const b = delivery(r.url);
    b.start();
    // A holds the lease while its POST hangs: B delivers nothing
    await new Promise((res) => setTimeout(res, 1000));
    expect(r.received).toHaveLength(1);
    expect(a.delivering).toBe(true);
    expect(b.delivering).toBe(false);
    // A dies: its connection goes, its lease lapses, B takes over and resends the same event
    await storeA.close();
    await until(() => r.received.length >= 2);
    expect(r.received[1]!.id).toBe(r.received[0]!.id);
    expect(b.delivering).toBe(true);
  });

  it('runs in the relay with WEBHOOK_URL set, started and stopped with the server', async () => {
    const r = await receiver(() => 200);
    stops.push(r.close);
    const relay = await startRelay({ store: 'memory', env: { WEBHOOK_URL: r.url, WEBHOOK_SECRET: SECRET } });
    stops.push(() => relay.close());
    const tenantId = newTenantId();
    await relay.pusher.tenantSync(tenantFields(tenantId));
    relay.relay.workers.start();
    stops.push(() => relay.relay.workers.stop());
    await until(() => r.received.length === 1);
    expect(r.received[0]).toMatchObject({ verified: true, body: { type: 'tenant.created', tenantId } });
  });
});
