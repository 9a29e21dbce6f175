/**
 * Webhooks (contract §5b): every event of the feed POSTed to WEBHOOK_URL as its JSON, signed per
 * the Standard Webhooks spec by the `standardwebhooks` library (headers `webhook-id`, the event
 * id, so receivers can drop the duplicates that at-least-once delivery allows; `webhook-timestamp`
 * and `webhook-signature`).
 *
 * One replica delivers at a time: it holds a lease in the store, renewed while it runs; a replica
 * that dies loses it after `leaseMs` and another takes over. Events go out in feed order, each
 * retried with exponential backoff and jitter (at most `maxBackoffMs` apart) until the receiver
 * answers 2xx, for as long as the feed keeps the event (EVENTS_RETENTION_HOURS, at least 24 h
 * with webhooks). Where delivery stands is one cursor in the store, advanced only by the lease
 * holder after a 2xx, so a takeover resends at most the event that was in flight.
 */
import { randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import type { Logger } from '../ops/log.js';
import type { Metrics } from '../ops/metrics.js';
import type { Keys } from '../store/keys.js';
import type { Store } from '../store/store.js';
import { CursorExpiredError, type Feed, type RelayEventView } from './feed.js';

export interface WebhookOptions {
  store: Store;
  keys: Keys;
  feed: Feed;
  url: URL;
  /** `whsec_…` */
  secret: string;
  metrics: Metrics;
  logger: Logger;
  now?: () => number;
  /** How long a lease lasts without renewal: the longest a dead replica holds up delivery. */
  leaseMs?: number;
  /** Deadline of one POST. */
  timeoutMs?: number;
  /** First retry after about this long, then doubling… */
  baseBackoffMs?: number;
  /** …up to this. */
  maxBackoffMs?: number;
  /** How long the deliverer waits for new events before it looks at its lease again. */
  idleWaitMs?: number;
  /** EVENTS_RETENTION_HOURS in ms: an event older than this is given up (counted `expired`). */
  retentionMs: number;
}

export type DeliveryOutcome = 'delivered' | 'failed' | 'expired';

export class WebhookDelivery {
  private readonly owner = randomUUID();
  private readonly signer: Webhook;
  private readonly leaseMs: number;
  private readonly timeoutMs: number;
  private readonly baseBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly idleWaitMs: number;
  private readonly retentionMs: number;
  private readonly now: () => number;
  private running: Promise<void> | null = null;
  /** Aborted by stop(): ends waits and the POST in flight. */
  private stopping = new AbortController();
  private holding = false;
  private renewTimer: NodeJS.Timeout | undefined;

  constructor(private readonly o: WebhookOptions) {
    this.signer = new Webhook(o.secret);
    this.leaseMs = o.leaseMs ?? 15_000;
    this.timeoutMs = o.timeoutMs ?? 10_000;
    this.baseBackoffMs = o.baseBackoffMs ?? 1000;
    this.maxBackoffMs = o.maxBackoffMs ?? 3_600_000;
    this.idleWaitMs = o.idleWaitMs ?? 5000;
    this.retentionMs = o.retentionMs;
    this.now = o.now ?? Date.now;
  }

  /** Whether this replica holds the lease now (tests, logs). */
  get delivering(): boolean {
    return this.holding;
  }

  start(): void {
    if (this.running) return;
    this.stopping = new AbortController();
    this.running = this.run();
  }

  /** Ends delivery, leaves the event in flight to the next holder, and hands the lease back. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.running;
    this.running = null;
    clearInterval(this.renewTimer);
    if (this.holding) {
      this.holding = false;
      const { store, keys } = this.o;
      await store
        .apply([{ op: 'del', key: keys.webhookLease() }], {
          guards: [{ key: keys.webhookLease(), equals: this.owner }],
        })
        .catch(() => undefined);
    }
  }

  private get stopped(): boolean {
    return this.stopping.signal.aborted;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        if (!(await this.takeLease())) {
          await this.pause(this.leaseMs / 3);
          continue;
        }
        if (!(await this.deliverSome())) await this.waitForEvents();
      } catch (error) {
        this.o.logger.warn({ err: { message: (error as Error).message } }, 'webhook delivery interrupted');
        await this.pause(1000);
      }
    }
  }

  /** Takes the lease when free, or renews our own; keeps renewing it while held. */
  private async takeLease(): Promise<boolean> {
    if (this.holding) return true;
    const { store, keys } = this.o;
    const outcome = await store.apply(
      [{ op: 'set', key: keys.webhookLease(), value: this.owner, ttlMs: this.leaseMs }],
      { guards: [{ key: keys.webhookLease(), equals: null }] },
    );
    if (outcome !== 'applied') return false;
    this.holding = true;
    this.o.logger.info('webhook delivery: this replica holds the lease');
    clearInterval(this.renewTimer);
    this.renewTimer = setInterval(() => void this.renew(), this.leaseMs / 3);
    this.renewTimer.unref();
    return true;
  }

  private async renew(): Promise<void> {
    const { store, keys } = this.o;
    try {
      const outcome = await store.apply(
        [{ op: 'set', key: keys.webhookLease(), value: this.owner, ttlMs: this.leaseMs }],
        { guards: [{ key: keys.webhookLease(), equals: this.owner }] },
      );
      if (outcome === 'applied') return;
    } catch {
      // The store is away: the lease may lapse; the guarded cursor write says whether it did.
      return;
    }
    this.holding = false;
    clearInterval(this.renewTimer);
    this.o.logger.warn('webhook delivery: the lease was lost to another replica');
  }

  /** Delivers what follows the cursor; false when there was nothing. */
  private async deliverSome(): Promise<boolean> {
    const { store, keys, feed, metrics } = this.o;
    const cursor = (await store.get(keys.webhookCursor())) ?? undefined;
    let page;
    try {
      page = await feed.read({ after: cursor, limit: 50 });
    } catch (error) {
      if (!(error instanceof CursorExpiredError)) throw error;
      // Undelivered events outlived the retention: say so loudly, and go on from the oldest kept.
      this.o.logger.error({ cursor }, 'webhook delivery: events expired before they could be delivered');
      metrics.webhookDeliveries.inc({ outcome: 'expired' });
      await this.advance(cursor ?? null, (await store.get(keys.eventsTrimmed())) ?? '0-0');
      return true;
    }
    if (page.events.length === 0) {
      metrics.webhookOldestUndelivered.set(0);
      return false;
    }
    let at = cursor ?? null;
    for (const event of page.events) {
      if (!(await this.deliver(event))) return true;
      if (!(await this.advance(at, event.id))) return true;
      at = event.id;
    }
    return true;
  }

  /** Moves the cursor from `from` to `to`, only while this replica holds the lease. */
  private async advance(from: string | null, to: string): Promise<boolean> {
    const { store, keys } = this.o;
    const outcome = await store.apply([{ op: 'set', key: keys.webhookCursor(), value: to }], {
      guards: [
        { key: keys.webhookLease(), equals: this.owner },
        { key: keys.webhookCursor(), equals: from },
      ],
    });
    if (outcome !== 'applied') {
      this.holding = false;
      clearInterval(this.renewTimer);
    }
    return outcome === 'applied';
  }

  /**
   * POSTs one event until a 2xx, or until it is older than the retention (then given up); false
   * when stopped or the lease was lost meanwhile.
   */
  private async deliver(event: RelayEventView): Promise<boolean> {
    const { metrics, logger } = this.o;
    const payload = JSON.stringify(event);
    for (let attempt = 0; !this.stopped && this.holding; attempt++) {
      const status = await this.post(event.id, payload);
      if (status !== null && status >= 200 && status < 300) {
        metrics.webhookDeliveries.inc({ outcome: 'delivered' });
        return true;
      }
      metrics.webhookDeliveries.inc({ outcome: 'failed' });
      const age = this.now() - Date.parse(event.occurredAt);
      metrics.webhookOldestUndelivered.set(Math.max(0, age / 1000));
      if (age > this.retentionMs) {
        // Refused for as long as the feed keeps events: given up, so the ones after it go out.
        logger.error({ eventId: event.id, status }, 'webhook delivery: event given up after the retention');
        metrics.webhookDeliveries.inc({ outcome: 'expired' });
        return true;
      }
      const delay = this.backoff(attempt);
      logger.warn(
        { eventId: event.id, attempt: attempt + 1, status, retryInMs: delay },
        'webhook delivery failed',
      );
      await this.pause(delay);
    }
    return false;
  }

  /** Full jitter over an exponential ceiling: retries from many relays of many sellers spread out. */
  backoff(attempt: number): number {
    const ceiling = Math.min(this.maxBackoffMs, this.baseBackoffMs * 2 ** Math.min(attempt, 30));
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
  }

  /** The receiver's status, or null when it could not be reached in time. */
  private async post(id: string, payload: string): Promise<number | null> {
    // Signed at the real time, whatever clock the relay runs on: receivers check it against theirs.
    const signedAt = new Date();
    const headers = {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(signedAt.getTime() / 1000)),
      'webhook-signature': this.signer.sign(id, signedAt, payload),
    };
    try {
      const res = await fetch(this.o.url, {
        method: 'POST',
        headers,
        body: payload,
        redirect: 'manual',
        signal: AbortSignal.any([this.stopping.signal, AbortSignal.timeout(this.timeoutMs)]),
      });
      // The body is not read: only the status counts.
      await res.body?.cancel().catch(() => undefined);
      return res.status;
    } catch {
      return null;
    }
  }

  private async waitForEvents(): Promise<void> {
    const cursor = (await this.o.store.get(this.o.keys.webhookCursor())) ?? '0-0';
    await this.o.feed.wait(cursor, this.idleWaitMs, this.stopping.signal);
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopped) return resolve();
      const done = () => {
        clearTimeout(timer);
        this.stopping.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.stopping.signal.addEventListener('abort', done);
    });
  }
}
