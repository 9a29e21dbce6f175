/**
 * Instance gating on the tenant's side (contract §3b). Each tenant's slot keeps a copy of every
 * instance bound to it (status, expireTime, productId, rev) and a `gate` string derived from
 * them, so sign-in, authorize and the session API learn whether the tenant is blocked from the
 * reads they already make, and a freeze ends the tenant's sessions in the same write.
 *
 * A copy is only ever replaced by one with a higher `rev` (the instance record's change
 * counter), so copies written by different calls, in any order, settle on the newest.
 */
import type { WriteOp } from '../store/store.js';
import { type InstanceCopy, parseJson } from './records.js';
import { endSessionsOps, readSessions, type SessionsByUser } from './sessionIndex.js';
import { tenantWrite, type MirrorContext, type SlotWrite } from './transaction.js';

export type GateReason = 'instance_frozen' | 'instance_released';

/** Blocked when at least one instance is known and none is active; frozen wins over released. */
export function gateOf(copies: Iterable<InstanceCopy>): GateReason | null {
  let known = false;
  let frozen = false;
  for (const c of copies) {
    if (c.status === 'active') return null;
    known = true;
    if (c.status === 'frozen') frozen = true;
  }
  if (!known) return null;
  return frozen ? 'instance_frozen' : 'instance_released';
}

export function isGateReason(value: string | null | undefined): value is GateReason {
  return value === 'instance_frozen' || value === 'instance_released';
}

/** What a change to a tenant's instances needs to know of the tenant's slot. */
export interface TenantGateReads {
  tenantId: string;
  version: string | null;
  copies: Map<string, InstanceCopy>;
  gate: string | null;
  /** per app with sessions; read only when the change may block the tenant */
  sessions: { appId: string; users: SessionsByUser }[];
}

/** `withSessions`: the change may end the tenant's sessions, so they are read too. */
export async function readTenantGate(
  ctx: MirrorContext,
  tenantId: string,
  withSessions: boolean,
): Promise<TenantGateReads> {
  const { store, keys } = ctx;
  const [version, raw, gate, appIds] = await Promise.all([
    store.get(keys.version(tenantId)),
    store.hGetAll(keys.tenantInstances(tenantId)),
    store.get(keys.gate(tenantId)),
    // Sessions exist only for users an authSync brought in, whose apps are listed here.
    withSessions ? store.sMembers(keys.userApps(tenantId)) : Promise.resolve([] as string[]),
  ]);
  const sessions = await Promise.all(
    appIds.map(async (appId) => ({ appId, users: await readSessions(ctx, tenantId, appId) })),
  );
  const copies = new Map<string, InstanceCopy>();
  for (const [id, value] of Object.entries(raw)) copies.set(id, parseJson<InstanceCopy>(value)!);
  return { tenantId, version, copies, gate, sessions };
}

/**
 * The tenant's share of a change: each entry of `changes` sets a copy (when its rev is newer)
 * or, as null, removes it; the gate follows, and a tenant that ends up blocked loses its
 * sessions (with gating on). `extra` are the caller's own operations in the same slot.
 */
export function tenantGatePlan(
  ctx: MirrorContext,
  reads: TenantGateReads,
  changes: ReadonlyMap<string, InstanceCopy | null>,
  extra: WriteOp[] = [],
): { write: SlotWrite; sessionsEnded: number; gate: GateReason | null } {
  const { keys } = ctx;
  const t = reads.tenantId;
  const copies = new Map(reads.copies);
  const ops: WriteOp[] = [...extra];
  const set: [string, string][] = [];
  const removed: string[] = [];
  for (const [id, copy] of changes) {
    const current = copies.get(id);
    if (copy === null) {
      if (current) {
        copies.delete(id);
        removed.push(id);
      }
    } else if (!current || copy.rev > current.rev) {
      copies.set(id, copy);
      set.push([id, JSON.stringify(copy)]);
    }
  }
  ops.push(
    { op: 'hset', key: keys.tenantInstances(t), entries: set },
    { op: 'hdel', key: keys.tenantInstances(t), fields: removed },
  );
  const gate = gateOf(copies.values());
  if (gate !== (reads.gate ?? null))
    ops.push(gate ? { op: 'set', key: keys.gate(t), value: gate } : { op: 'del', key: keys.gate(t) });
  let sessionsEnded = 0;
  if (gate && ctx.gating !== false) {
    for (const { appId, users } of reads.sessions) {
      const end = endSessionsOps(ctx, t, appId, users);
      ops.push(...end.ops);
      sessionsEnded += end.ended;
    }
  }
  const changed =
    set.length > 0 ||
    removed.length > 0 ||
    sessionsEnded > 0 ||
    extra.length > 0 ||
    gate !== (reads.gate ?? null);
  const write = tenantWrite(ctx, t, reads.version, changed ? ops : []);
  return { write: { ...write, sessionsEnded }, sessionsEnded, gate };
}
