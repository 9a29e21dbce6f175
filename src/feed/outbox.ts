/**
 * The change feed on a Redis Cluster. A write stays in one slot, so the events of a change are
 * appended to that slot's outbox in the change's own write (eventLog.ts); this moves them to the
 * feed's one stream right after, where every reader finds them in one order.
 *
 * A move appends a run of an outbox's entries to the stream and records the last one moved, in
 * one write in the `{events}` slot guarded by the previous record: two movers (two replicas, or a
 * write and the sweep) never move an entry twice, and each outbox's entries reach the stream in
 * their own order, so a tenant's events keep theirs. Moved entries are then trimmed from the
 * outbox (an emptied outbox stays, as an empty stream). Every outbox ever written is listed
 * (`Keys.outboxes`), so the periodic sweep moves what a relay that stopped between the write and
 * the move left behind. While the `{events}` slot cannot be reached, writes go on: their events
 * wait in the outboxes and reach the feed once it is back (a relay that stops meanwhile leaves
 * them to the next change of that outbox's tenant).
 *
 * Where one write spans slots (a single server, the embedded store) events go straight to the
 * stream and none of this runs.
 */
import type { Keys } from '../store/keys.js';
import type { ApplyOptions, Store, WriteOp } from '../store/store.js';
import { formatStreamId, nextStreamId, parseStreamId } from '../store/streamIds.js';

/** Entries moved per write: small enough for one script call, large enough for a burst. */
const BATCH = 200;

export interface OutboxesOptions {
  store: Store;
  keys: Keys;
  /** A move that failed is retried by the next write to that outbox, or by the sweep. */
  onError: (error: unknown) => void;
}

export class Outboxes {
  /** Outboxes this process has listed in `Keys.outboxes`. */
  private readonly listed = new Set<string>();
  private readonly moving = new Map<string, Promise<void>>();
  /** Outboxes written to while being moved: moved once more after. */
  private readonly again = new Set<string>();
  /** Outboxes written to while `{events}` could not be reached: listed and moved by `retry`. */
  private readonly pending = new Set<string>();

  constructor(private readonly o: OutboxesOptions) {}

  /**
   * The store the relay writes through: a write that appends to an outbox lists the outbox first
   * (once per process) and moves it once written.
   */
  wrap(store: Store): Store {
    const stream = this.o.keys.events();
    const apply = async (ops: readonly WriteOp[], options?: ApplyOptions) => {
      let outboxes: Set<string> | undefined;
      for (const op of ops) if (op.op === 'xadd' && op.key !== stream) (outboxes ??= new Set()).add(op.key);
      if (!outboxes) return store.apply(ops, options);
      // Listed first, so a relay that stops right after the write leaves its events to the
      // sweep; but never at the cost of the write: where `{events}` cannot be reached, the
      // write goes on and the outbox is listed (and moved) once it can (`retry`).
      await this.list([...outboxes]).catch((error: unknown) => {
        for (const key of outboxes!) this.pending.add(key);
        this.o.onError(error);
      });
      const outcome = await store.apply(ops, options);
      if (outcome === 'applied') for (const key of outboxes) this.move(key);
      return outcome;
    };
    // Each method bound once: a bind per call cost every store read a function to collect.
    const bound = new Map<PropertyKey, unknown>();
    return new Proxy(store, {
      get(target, prop) {
        if (prop === 'apply') return apply;
        const known = bound.get(prop);
        if (known !== undefined) return known;
        const value = Reflect.get(target, prop, target) as unknown;
        if (typeof value !== 'function') return value;
        const method = (value as (...a: unknown[]) => unknown).bind(target);
        bound.set(prop, method);
        return method;
      },
    });
  }

  private async list(outboxes: string[]): Promise<void> {
    const fresh = outboxes.filter((k) => !this.listed.has(k));
    if (fresh.length === 0) return;
    await this.o.store.apply([{ op: 'sadd', key: this.o.keys.outboxes(), members: fresh }]);
    for (const k of fresh) this.listed.add(k);
  }

  /** Moves `outbox` in the background; a write during a move makes one more. */
  move(outbox: string): void {
    if (this.moving.has(outbox)) {
      this.again.add(outbox);
      return;
    }
    const run = (async () => {
      try {
        do {
          this.again.delete(outbox);
          await this.moveNow(outbox);
        } while (this.again.has(outbox));
      } catch (error) {
        this.o.onError(error);
      } finally {
        this.moving.delete(outbox);
      }
    })();
    this.moving.set(outbox, run);
  }

  /** Moves everything `outbox` holds to the stream, in order. */
  async moveNow(outbox: string): Promise<void> {
    const { store, keys } = this.o;
    for (;;) {
      const mark = await store.hGet(keys.outboxMoved(), outbox);
      const entries = await store.xRange(outbox, mark, BATCH);
      if (entries.length === 0) return;
      const last = entries.at(-1)!.id;
      const outcome = await store.apply(
        [
          ...entries.map((e): WriteOp => ({ op: 'xadd', key: keys.events(), value: e.value })),
          { op: 'hset', key: keys.outboxMoved(), entries: [[outbox, last]] },
        ],
        { guards: [{ key: keys.outboxMoved(), field: outbox, equals: mark }] },
      );
      // Moved here or by another mover meanwhile: what is moved can go from the outbox.
      if (outcome === 'applied')
        await store.apply([
          { op: 'xtrim', key: outbox, minId: formatStreamId(nextStreamId(parseStreamId(last)!)) },
        ]);
    }
  }

  /** Lists and moves the outboxes written while `{events}` could not be reached. */
  async retry(): Promise<void> {
    if (this.pending.size === 0) return;
    const keys = [...this.pending];
    await this.list(keys);
    for (const key of keys) {
      this.pending.delete(key);
      await this.moveNow(key);
    }
  }

  /** Moves every listed outbox (what a stopped relay left unmoved). */
  async sweep(): Promise<void> {
    const all = await this.o.store.sMembers(this.o.keys.outboxes());
    // One outbox whose master is down does not hold up the others.
    for (const key of all) await this.moveNow(key).catch((error: unknown) => this.o.onError(error));
  }

  /** Resolves once the moves under way have ended (shutdown, tests). */
  async idle(): Promise<void> {
    while (this.moving.size) await Promise.all(this.moving.values());
  }
}
