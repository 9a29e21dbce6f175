/**
 * Instance gating on the tenant's side (contract §3b). Each tenant's slot keeps a copy of every
 * instance its record lists (status, expireTime, productId, rev) and a `gate` string derived from
 * them, so sign-in, authorize and the session API learn whether the tenant is blocked from the
 * reads they already make, and a freeze ends the tenant's sessions in the same write.
 *
 * The tenant record (tenantSync) decides which instances are the tenant's; the instance's links
 * (in the `{inst}` slot) are an index for reaching the tenants, kept a superset of the truth: a
 * bind adds the link before the tenant lists the instance, an unbind removes it after. A copy is
 * only ever replaced by one with a higher `rev` (the instance record's change counter), so copies
 * written by different calls, in any order, settle on the newest.
 */
import type { WriteOp } from '../store/store.js';
import { type InstanceCopy, parseJson, type TenantRecord } from './records.js';
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
  /** the tenant record as stored (tenantSync decides from it too) */
  rawTenant: string | null;
  /** the instances the tenant's record lists; empty when there is no record */
  listed: ReadonlySet<string>;
  copies: Map<string, InstanceCopy>;
  gate: string | null;
  /** per app with sessions; read only when the change may end them */
  sessions: { appId: string; users: SessionsByUser }[];
}

/**
 * `withSessions`: the change may end the tenant's sessions, so they are read too. Any change of
 * a copy can leave the tenant blocked (a renewal completing an earlier freeze, a bind of a frozen
 * instance), so with gating on every instance change reads them.
 */
export async function readTenantGate(
  ctx: MirrorContext,
  tenantId: string,
  withSessions: boolean,
): Promise<TenantGateReads> {
  const { store, keys } = ctx;
  const [version, rawTenant, raw, gate, appIds] = await Promise.all([
    store.get(keys.version(tenantId)),
    store.get(keys.tenant(tenantId)),
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
  const listed = new Set(parseJson<TenantRecord>(rawTenant)?.instanceIds ?? []);
  return { tenantId, version, rawTenant, listed, copies, gate, sessions };
}

/**
 * The tenant's share of a change: each entry of `changes` sets a copy (when its rev is newer)
 * or, as null, removes it; the gate follows from the copies of the instances `listed` (the
 * record's, after the change), and a tenant that ends up blocked loses its sessions (with gating
 * on). `extra` are the caller's own operations in the same slot, written first.
 */
export function tenantGatePlan(
  ctx: MirrorContext,
  reads: TenantGateReads,
  changes: ReadonlyMap<string, InstanceCopy | null>,
  extra: WriteOp[] = [],
  listed: ReadonlySet<string> = reads.listed,
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
  const gate = gateOf([...copies].filter(([id]) => listed.has(id)).map(([, c]) => c));
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

/**
 * An instance's change as it reaches one linked tenant: the copy when the tenant's record lists
 * the instance, nothing otherwise (a link left by an unbind, or a bind not yet written: that bind
 * reads the instance again after its own write, see tenants.ts).
 */
export function projectOnto(
  ctx: MirrorContext,
  reads: TenantGateReads,
  instanceId: string,
  copy: InstanceCopy,
): { write: SlotWrite; sessionsEnded: number } {
  if (reads.listed.has(instanceId)) return tenantGatePlan(ctx, reads, new Map([[instanceId, copy]]));
  return { write: { guards: [], ops: [] }, sessionsEnded: 0 };
}
