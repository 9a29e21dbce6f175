/**
 * Reading the change feed (contract §5b): pages of events after a cursor, filtered, and a long
 * poll that waits for the next event without holding a Redis connection per waiting request.
 *
 * The cursor is the id of the last event examined in the feed's one stream (`Keys.events`), so
 * reading from `next` never skips or repeats an event: ids only grow, every event is appended to
 * that stream exactly once (directly, or from its slot's outbox on a cluster: outbox.ts), and a
 * filtered read still advances `next` past what it examined.
 *
 * Retention: `trim` removes the events older than EVENTS_RETENTION_HOURS from the head of the
 * stream, after recording the newest id it removes (`Keys.eventsTrimmed`). A cursor before that
 * id may have missed events and is answered 410; a reader that had read up to it has not.
 */
import { RelayError } from '../errors.js';
import type { Keys } from '../store/keys.js';
import type { Store, StreamEntry, WriteOp } from '../store/store.js';
import { compareStreamIds, formatStreamId, nextStreamId, parseStreamId } from '../store/streamIds.js';
import type { EventType } from '../vocabulary.js';
import type { StoredEvent } from './eventLog.js';

/** An event as the API lists it and a webhook delivers it. */
export interface RelayEventView extends StoredEvent {
  id: string;
}

export interface FeedQuery {
  after?: string | undefined;
  limit: number;
  types?: readonly EventType[] | undefined;
  tenantId?: string | undefined;
}

export interface FeedPage {
  events: RelayEventView[];
  next: string;
}

/** The cursor names a place in the feed that is no longer kept. */
export class CursorExpiredError extends RelayError {
  constructor() {
    super('cursor_expired', 'events after this cursor are no longer kept', {
      status: 410,
      publicMessage:
        'Events after `after` are no longer kept (older than EVENTS_RETENTION_HOURS): read again the records you keep from the mirror, then the feed from its oldest kept event (a read without `after`).',
    });
  }
}

/** A filtered read examines at most this many events before answering with what it found. */
const SCAN_BUDGET = 5000;
/** How long one blocking read of the watcher lasts before it looks at its waiters again. */
const WATCH_BLOCK_MS = 5000;

export interface FeedOptions {
  store: Store;
  keys: Keys;
  now: () => number;
  /** EVENTS_RETENTION_HOURS, in ms */
  retentionMs: number;
}

interface Waiter {
  /** the waiting reader's `next`: anything after it is news to it */
  position: string;
  wake: () => void;
}

export class Feed {
  private readonly waiters = new Set<Waiter>();
  private watching = false;
  /** Set on shutdown: long polls answer at once, so draining does not wait for them. */
  private released = false;

  constructor(private readonly o: FeedOptions) {}

  async read(q: FeedQuery): Promise<FeedPage> {
    const { store, keys } = this.o;
    const key = keys.events();
    const after = q.after ?? null;
    // Issued together (one round trip), the range first: a trim that ran before the range was
    // read has written its mark before this GET reads it, so a cursor it overtook is caught.
    const [first, trimmed] = await Promise.all([
      store.xRange(key, after, Math.min(q.limit * 4, 500)),
      store.get(keys.eventsTrimmed()),
    ]);
    if (after !== null && trimmed !== null && before(after, trimmed)) throw new CursorExpiredError();
    const matches = matcher(q);
    const events: RelayEventView[] = [];
    // Nothing read and no cursor given: from where the trimmed part ends, or the beginning.
    let next = after ?? (first.length ? null : (trimmed ?? '0-0'));
    let batch: StreamEntry[] = first;
    let examined = 0;
    for (;;) {
      for (const entry of batch) {
        examined++;
        next = entry.id;
        const event = { id: entry.id, ...(JSON.parse(entry.value) as StoredEvent) };
        if (matches(event)) events.push(event);
        if (events.length >= q.limit) return { events, next: entry.id };
      }
      if (batch.length === 0 || examined >= SCAN_BUDGET) break;
      const [more, mark] = await Promise.all([store.xRange(key, next, 500), store.get(keys.eventsTrimmed())]);
      // Trimmed past what this read examined while it read: nothing after `next` is lost only if
      // the trim stopped before it.
      if (next !== null && mark !== null && before(next, mark)) throw new CursorExpiredError();
      batch = more;
    }
    return { events, next: next ?? '0-0' };
  }

  /**
   * Resolves when the feed may hold something after `position` (or `ms` passed, or `signal`
   * aborted): the caller reads again. One watcher per process serves every waiter with one
   * blocking read at a time, on the store's connection for blocking reads.
   */
  wait(position: string, ms: number, signal?: AbortSignal): Promise<void> {
    if (this.released || signal?.aborted || !parseStreamId(position)) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.waiters.delete(waiter);
        resolve();
      };
      const waiter: Waiter = { position, wake: done };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done);
      this.waiters.add(waiter);
      // Registered first, then checked: an event appended in between is seen either by this
      // check or by the watcher, whose block starts at or before this position.
      void this.o.store
        .xRange(this.o.keys.events(), position, 1)
        .then((found) => (found.length ? done() : this.watch()))
        .catch(() => this.watch())
        // watch() handles its own failures; this is the last line of defence of a void chain
        .catch(() => done());
    });
  }

  /**
   * Removes the events older than the retention from the head of the stream, having recorded
   * the newest of them, so cursors before it expire and cursors at it do not. Safe to run on
   * every replica at once: each step only ever moves the mark and the head forwards.
   */
  async trim(): Promise<number> {
    const { store, keys, now, retentionMs } = this.o;
    const threshold = Math.max(0, now() - retentionMs);
    let newest: string | null = null;
    let count = 0;
    for (let after: string | null = null; ;) {
      const batch = await store.xRange(keys.events(), after, 1000);
      const old = batch.filter((e) => parseStreamId(e.id)![0] < threshold);
      if (old.length) newest = old.at(-1)!.id;
      count += old.length;
      if (old.length < batch.length || batch.length === 0) break;
      after = batch.at(-1)!.id;
    }
    if (newest === null) return 0;
    const mark = await store.get(keys.eventsTrimmed());
    const ops: WriteOp[] = [
      { op: 'xtrim', key: keys.events(), minId: formatStreamId(nextStreamId(parseStreamId(newest)!)) },
    ];
    if (mark === null || before(mark, newest))
      ops.unshift({ op: 'set', key: keys.eventsTrimmed(), value: newest });
    // One write: a reader never sees the head gone without the mark that says so.
    await store.apply(ops, { guards: [{ key: keys.eventsTrimmed(), equals: mark }] });
    return count;
  }

  /** Ends every wait now and any later one at once (shutdown). */
  release(): void {
    this.released = true;
    for (const w of [...this.waiters]) w.wake();
  }

  /** Whether `release` was called: a long poll should answer now. */
  get closing(): boolean {
    return this.released;
  }

  /** Waiters now (for the metrics and tests). */
  get waiting(): number {
    return this.waiters.size;
  }

  private async watch(): Promise<void> {
    if (this.watching) return;
    this.watching = true;
    try {
      while (this.waiters.size > 0) {
        let woke: boolean;
        try {
          let from = [...this.waiters][0]!.position;
          for (const w of this.waiters) if (before(w.position, from)) from = w.position;
          woke = await this.o.store.waitStream(this.o.keys.events(), from, WATCH_BLOCK_MS);
        } catch {
          // The store is away: waiters time out on their own, or are woken once it is back.
          await new Promise((r) => setTimeout(r, 250));
          continue;
        }
        // Every waiter reads again: a filtered reader finds nothing and waits from further on.
        if (woke) for (const w of [...this.waiters]) w.wake();
      }
    } finally {
      this.watching = false;
    }
  }
}

/** Whether stream id `a` comes before `b`. */
function before(a: string, b: string): boolean {
  return compareStreamIds(parseStreamId(a)!, parseStreamId(b)!) < 0;
}

function matcher(q: FeedQuery): (e: RelayEventView) => boolean {
  const types = q.types?.length ? new Set<string>(q.types) : null;
  const tenantId = q.tenantId;
  return (e) => {
    if (types && !types.has(e.type)) return false;
    if (tenantId === undefined || e.tenantId === tenantId) return true;
    const bound = (e.data as { tenantIds?: unknown }).tenantIds;
    return Array.isArray(bound) && bound.includes(tenantId);
  };
}
