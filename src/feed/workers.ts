/**
 * The change feed's background work in each relay process: trimming what is older than the
 * retention, sweeping outboxes on a Redis Cluster (outbox.ts), and webhook delivery (one replica
 * at a time, webhooks.ts). Started by the server once it listens, stopped before the store closes.
 */
import type { Logger } from '../ops/log.js';
import type { Store } from '../store/store.js';
import type { Feed } from './feed.js';
import type { Outboxes } from './outbox.js';
import type { WebhookDelivery } from './webhooks.js';

const TRIM_EVERY_MS = 60_000;
const SWEEP_EVERY_MS = 30_000;
const RETRY_EVERY_MS = 2000;

export class FeedWorkers {
  private timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly o: {
      store: Store;
      feed: Feed;
      outboxes: Outboxes;
      webhooks: WebhookDelivery | null;
      logger: Logger;
    },
  ) {}

  start(): void {
    if (this.timers.length) return;
    const every = (ms: number, what: string, work: () => Promise<unknown>) => {
      const run = () =>
        void work().catch((error: unknown) =>
          this.o.logger.warn({ err: { message: (error as Error).message } }, `${what} failed; retried later`),
        );
      run();
      const timer = setInterval(run, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(TRIM_EVERY_MS, 'trimming the change feed', () => this.o.feed.trim());
    every(SWEEP_EVERY_MS, 'moving outboxes to the change feed', async () => {
      // Only a store that writes slot by slot (a cluster) fills outboxes.
      if (!this.o.store.atomicAcrossSlots) await this.o.outboxes.sweep();
    });
    every(RETRY_EVERY_MS, 'moving outboxes written while the feed was unreachable', () =>
      this.o.outboxes.retry(),
    );
    this.o.webhooks?.start();
  }

  async stop(): Promise<void> {
    // Long polls answer now (with what they have), so the server's drain does not wait for them.
    this.o.feed.release();
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.o.webhooks?.stop();
    await this.o.outboxes.idle();
  }
}
