/**
 * Optimistic transactions over one tenant: read, decide in TypeScript, then write everything in
 * one atomic `apply` guarded by the tenant's version counter. A concurrent writer bumps the
 * version, our guard fails, and we decide again from fresh reads. Business rules therefore live
 * once, here in TypeScript, and both stores only need to execute a guarded batch.
 */
import type { Keys } from '../store/keys.js';
import { StoreUnavailableError, type Store, type WriteOp } from '../store/store.js';

export interface MirrorContext {
  store: Store;
  keys: Keys;
}

export interface Plan<T> {
  ops: WriteOp[];
  result: T;
}

const MAX_ATTEMPTS = 8;

/**
 * The version is read first and `read` runs after it has been issued, so every read observes a
 * state at least as new as that version; if anything was written since, the guard fails and
 * we start over. `read` may take several rounds (it can read what the first round named).
 */
export async function transact<R, T>(
  ctx: MirrorContext,
  tenantId: string,
  notAfter: number,
  read: () => Promise<R>,
  plan: (reads: R) => Plan<T>,
): Promise<T> {
  const versionKey = ctx.keys.version(tenantId);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const [version, reads] = await Promise.all([ctx.store.get(versionKey), read()]);
    const { ops, result } = plan(reads);
    if (ops.length === 0) return result;
    const outcome = await ctx.store.apply([...ops, { op: 'incr', key: versionKey }], {
      guards: [{ key: versionKey, equals: version }],
      notAfter,
    });
    if (outcome === 'applied') return result;
  }
  throw new StoreUnavailableError(`tenant data kept changing during ${MAX_ATTEMPTS} attempts to write it`);
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
