/**
 * Optimistic transactions: read, decide in TypeScript, then write everything in one guarded
 * `apply`. Business rules therefore live once, here in TypeScript, and both stores only need to
 * execute a guarded batch.
 */
import type { EventLog, EventSlot, JsonText } from '../feed/eventLog.js';
import type { Keys } from '../store/keys.js';
import type { EventType } from '../vocabulary.js';
import {
  CrossSlotError,
  StoreUnavailableError,
  type Guard,
  type Store,
  type WriteOp,
} from '../store/store.js';

export interface MirrorContext {
  store: Store;
  keys: Keys;
  /** INSTANCE_GATING: a blocked tenant's sessions end in the write that blocks it. */
  gating?: boolean;
  /** Writes that must land with this call's change, in the same atomic write (Claim). */
  claim?: Claim | null;
  /** The change feed: each change appends its events in its own write (feed/eventLog.ts). */
  events?: EventLog | undefined;
}

/**
 * The operation appending one event to the write of its change; none where the context keeps no
 * feed (unit tests of the mirror alone).
 */
export function eventOps(
  ctx: MirrorContext,
  slot: EventSlot,
  type: EventType,
  tenantId: string | null,
  data: object | JsonText,
): WriteOp[] {
  return ctx.events ? [ctx.events.append(slot, type, tenantId, data)] : [];
}

/**
 * Writes that belong to a call rather than to the data: the marketplace call's nonce claim
 * (kit/replay.ts), so that a call which changed nothing has consumed nothing. Joined to the
 * change's atomic apply where one apply may span every slot; where it may not (Redis Cluster),
 * the claim's owner writes it right after the change.
 */
export interface Claim {
  readonly guards: readonly Guard[];
  readonly ops: readonly WriteOp[];
  /** set once the claim is in the store, or found there from an identical call */
  written: boolean;
  /** After a conflict: throws when another call has taken the claim. */
  recheck(): Promise<void>;
  /**
   * The call's writes wait for this many replicas before it is answered (REDIS_WAIT_REPLICAS;
   * ApplyOptions.waitReplicas): set for marketplace calls, whose answer KooGallery takes as done.
   */
  readonly waitReplicas?: { count: number; timeoutMs: number };
}

export interface Plan<T> {
  ops: WriteOp[];
  result: T;
}

/** One slot's share of a write: the guards it is conditional on and its operations. */
export interface SlotWrite {
  guards: Guard[];
  ops: WriteOp[];
  /** browser sessions these operations end, so a result counts only what was written */
  sessionsEnded?: number;
}

export interface SlotsPlan<T> {
  /** In the order they must happen on a Redis Cluster: the source of truth first. */
  writes: SlotWrite[];
  result: T;
}

/**
 * A lost write (a conflict) means another write to the same records landed, so retrying always
 * makes progress, and a push that arrives with N others for its tenant may lose N times. The
 * call's deadline (`notAfter`, which every apply enforces) is what bounds the retries; this cap
 * only stops a loop that could not otherwise end. It was 8, which answered 000005 to pushes that
 * merely arrived with 15 others for one tenant.
 */
const MAX_ATTEMPTS = 1000;

/**
 * Optimistic transaction over one or several slots: read, plan, write everything guarded.
 *
 * Where the store can write several slots in one atomic step (the embedded store, a single Redis
 * server), the whole plan is one `apply`. On a Redis Cluster it cannot: the writes are applied
 * slot by slot, the first one first, and after each the state is read and planned again, so
 * every later slot's write is decided from a state that already holds the earlier ones. Plans
 * are derived from state alone, so a slot already written plans nothing the second time. With
 * `confirm`, the plan is read once more after the last write, for plans that read other slots
 * than they write (a change there in the meantime is then caught up with).
 *
 * A write interrupted between slots (the store failed, the deadline passed) leaves the earlier
 * slots written; plans put the slot whose early write is harmless first (mirror/gate.ts), and the
 * next call touching the same records completes it.
 *
 * The result is the first applied plan's; with `settle`, its session count is replaced by the
 * sessions the applied writes really ended (later rounds only finish what the first began).
 */
export async function transactSlots<R, T>(
  ctx: MirrorContext,
  notAfter: number,
  read: () => Promise<R>,
  plan: (reads: R) => SlotsPlan<T>,
  options: { settle?: (first: T, sessionsEnded: number) => T; confirm?: boolean } = {},
): Promise<T> {
  let first: T | undefined;
  let ended = 0;
  const done = (result: T) => (options.settle ? options.settle(result, ended) : result);
  for (let conflicts = 0; conflicts < MAX_ATTEMPTS;) {
    const planned = plan(await read());
    const writes = planned.writes.filter((w) => w.ops.length > 0);
    if (writes.length === 0) return first === undefined ? planned.result : done(first);
    const together = ctx.store.atomicAcrossSlots || (writes.length === 1 && !options.confirm);
    const step = together ? writes : writes.slice(0, 1);
    const claim = ctx.store.atomicAcrossSlots && ctx.claim && !ctx.claim.written ? ctx.claim : null;
    let outcome;
    try {
      outcome = await ctx.store.apply(
        claim ? [...step.flatMap((w) => w.ops), ...claim.ops] : step.flatMap((w) => w.ops),
        {
          guards: claim ? [...step.flatMap((w) => w.guards), ...claim.guards] : step.flatMap((w) => w.guards),
          notAfter,
          ...(ctx.claim?.waitReplicas ? { waitReplicas: ctx.claim.waitReplicas } : {}),
        },
      );
    } catch (error) {
      // A store that turned out not to write across slots (a proxy in front of a cluster) has
      // said so and changed nothing: plan again, slot by slot.
      if (error instanceof CrossSlotError && step.length > 1) continue;
      throw error;
    }
    if (outcome !== 'applied') {
      conflicts++;
      // Perhaps a call with the same nonce got there first: refused, or (identical) done.
      if (claim) await claim.recheck();
      continue;
    }
    if (claim) claim.written = true;
    for (const w of step) ended += w.sessionsEnded ?? 0;
    first ??= planned.result;
    if (together) return done(first);
  }
  throw new StoreUnavailableError(`the data kept changing during ${MAX_ATTEMPTS} attempts to write it`);
}

/** A write to one tenant's slot, guarded by the tenant's version and bumping it. */
export function tenantWrite(
  ctx: MirrorContext,
  tenantId: string,
  version: string | null,
  ops: WriteOp[],
): SlotWrite {
  const key = ctx.keys.version(tenantId);
  return { guards: [{ key, equals: version }], ops: ops.length ? [...ops, { op: 'incr', key }] : [] };
}

/**
 * Optimistic transaction over one tenant: read, decide in TypeScript, then write everything in
 * one atomic `apply` guarded by the tenant's version counter. A concurrent writer bumps the
 * version, our guard fails, and we decide again from fresh reads. The version is read first and
 * `read` runs after it has been issued, so every read observes a state at least as new as that
 * version. `read` may take several rounds (it can read what the first round named).
 */
export function transact<R, T>(
  ctx: MirrorContext,
  tenantId: string,
  notAfter: number,
  read: () => Promise<R>,
  plan: (reads: R) => Plan<T>,
): Promise<T> {
  return transactSlots(
    ctx,
    notAfter,
    () => Promise.all([ctx.store.get(ctx.keys.version(tenantId)), read()]),
    ([version, reads]) => {
      const { ops, result } = plan(reads);
      return { writes: [tenantWrite(ctx, tenantId, version, ops)], result };
    },
  );
}

export interface SyncOutcome {
  /** records created, changed or deleted */
  changed: number;
  /** records left alone: repeats and pushes older than what the mirror holds */
  unchanged: number;
  /** browser sessions ended in the same write (removed, disabled or de-authorized users) */
  sessionsEnded: number;
}

export const unchanged = (count = 1): Plan<SyncOutcome> => ({
  ops: [],
  result: { changed: 0, unchanged: count, sessionsEnded: 0 },
});

/** Time of the newest change that an incoming push must beat; deletions count through tombstones. */
export function lastChangeAt(...times: (number | string | null | undefined)[]): number {
  let newest = -Infinity;
  for (const t of times) {
    if (t === null || t === undefined) continue;
    const n = Number(t);
    if (Number.isFinite(n) && n > newest) newest = n;
  }
  return newest;
}

/**
 * A delete naming one of several instances that bind a record (支持多实例绑定) unbinds only that
 * one: the record updated, or null when it goes (its last instance, or a debug delete with none).
 */
export function afterUnbind<R extends { instanceIds: string[]; timeStamp: string; at: number }>(
  current: R | null,
  push: { instanceId: string; timeStamp: string; at: number },
): R | null {
  if (!current || !push.instanceId) return null;
  const remaining = current.instanceIds.filter((i) => i !== push.instanceId);
  return remaining.length
    ? { ...current, instanceIds: remaining, timeStamp: push.timeStamp, at: push.at }
    : null;
}

export const changed = (count = 1, sessionsEnded = 0): SyncOutcome => ({
  changed: count,
  unchanged: 0,
  sessionsEnded,
});

export function withInstance(current: readonly string[] | undefined, instanceId: string): string[] {
  const all = new Set(current ?? []);
  if (instanceId) all.add(instanceId);
  return [...all];
}
