/**
 * tenantSync (企业同步) applied to the mirror.
 *
 * A push also binds (flag 1, 2) or unbinds (flag 0) the enterprise and the push's instance
 * (多实例绑定: several orders may bind one enterprise). The tenant record decides which instances
 * are the tenant's, each bound or unbound in the order of its own pushes (`instanceAt`), apart
 * from the order of the name and domain changes, so a late bind of one instance is not lost to
 * a newer push about another. The instance's links in the `{inst}` slot follow the record and
 * stay a superset of it: a bind writes the link first, an unbind or a delete the record first
 * (see mirror/gate.ts), and every push heals the links of the instances it names.
 */
import type { TenantSync } from '../kit/schemas.js';
import type { Guard, WriteOp } from '../store/store.js';
import { readTenantGate, tenantGatePlan, type TenantGateReads } from './gate.js';
import { endSessionsOps } from './sessionIndex.js';
import {
  instanceCopy,
  parseJson,
  publicTenant,
  type InstanceCopy,
  type InstanceRecord,
  type TenantRecord,
} from './records.js';
import {
  changed,
  eventOps,
  lastChangeAt,
  tenantWrite,
  transactSlots,
  unchanged,
  withInstance,
  type MirrorContext,
  type SlotWrite,
  type SyncOutcome,
} from './transaction.js';

interface Reads {
  rawTenant: string | null;
  deletedAt: string | null;
  /** apps whose users hashes go with the tenant on a delete */
  appIds: string[];
  gate: TenantGateReads;
  /** each instance the push may bind or unbind: its links and its record */
  instances: { id: string; rawLinks: string | null; raw: string | null }[];
}

/** When the binding of `instanceId` was last decided; records from before `instanceAt` use their own time. */
function boundAt(record: TenantRecord | null, instanceId: string): number {
  const at = record?.instanceAt?.[instanceId];
  if (at !== undefined) return at;
  return record?.instanceIds.includes(instanceId) ? record.at : -Infinity;
}

export function applyTenantSync(
  ctx: MirrorContext,
  push: TenantSync,
  notAfter: number,
): Promise<SyncOutcome> {
  const { store, keys } = ctx;
  const t = push.tenantId;
  const deleting = push.flag === 0;
  return transactSlots(
    ctx,
    notAfter,
    async (): Promise<Reads> => {
      const none: Record<string, string> = {};
      const [deletedAt, userApps, apps, gate] = await Promise.all([
        store.hGet(keys.meta(t), 'deletedAt'),
        // Only a delete needs to know the tenant's apps.
        deleting ? store.sMembers(keys.userApps(t)) : [],
        deleting ? store.hGetAll(keys.apps(t)) : none,
        // A delete ends every session; binding or unbinding an instance may block the tenant,
        // which ends them too. A push naming no instance leaves the gate as it is.
        readTenantGate(ctx, t, deleting || (ctx.gating !== false && push.instanceId !== '')),
      ]);
      const { rawTenant } = gate;
      const current = parseJson<TenantRecord>(rawTenant);
      // A delete may unbind every instance of the tenant; other pushes name one.
      const ids = new Set(push.instanceId ? [push.instanceId] : []);
      if (deleting && !push.instanceId) for (const id of current?.instanceIds ?? []) ids.add(id);
      if (deleting) for (const id of gate.copies.keys()) ids.add(id);
      const instances = await Promise.all(
        [...ids].map(async (id) => {
          const [rawLinks, raw] = await Promise.all([
            store.hGet(keys.instanceLinks(), id),
            store.hGet(keys.instances(), id),
          ]);
          return { id, rawLinks, raw };
        }),
      );
      return {
        rawTenant,
        deletedAt,
        appIds: [...new Set([...userApps, ...Object.keys(apps)])],
        gate,
        instances,
      };
    },
    (reads) => plan(ctx, push, reads),
    // A bind reads the instance before writing the tenant: look once more after the last write.
    { settle: (first, sessionsEnded) => ({ ...first, sessionsEnded }), confirm: true },
  );
}

function plan(
  ctx: MirrorContext,
  push: TenantSync,
  reads: Reads,
): { writes: SlotWrite[]; result: SyncOutcome } {
  const { keys } = ctx;
  const t = push.tenantId;
  const { rawTenant, deletedAt, gate, instances } = reads;
  const current = parseJson<TenantRecord>(rawTenant);
  const I = push.instanceId;
  const recordNewer = push.at > lastChangeAt(current?.at, deletedAt);
  const bindingNewer = I !== '' && push.at > Math.max(boundAt(current, I), lastChangeAt(deletedAt));

  // The tenant after the push: deleted (null), changed, or as it is.
  let next: TenantRecord | null = current;
  let deleted = false;
  if (push.flag === 0) {
    const remaining = current?.instanceIds.filter((id) => id !== I) ?? [];
    if (!I || (bindingNewer && remaining.length === 0)) {
      // A debug delete, or the last instance going: the whole tenant goes, unless a newer push
      // about the tenant itself came since.
      if (recordNewer) [next, deleted] = [null, true];
      else if (I && bindingNewer && current) next = unbind(current, I, push.at);
    } else if (bindingNewer && current) next = unbind(current, I, push.at);
  } else if (recordNewer || bindingNewer) {
    const base: TenantRecord | null = recordNewer
      ? {
          tenantId: t,
          // flag 2 may change only the name and the domain (§3.1)
          tenantCode: push.flag === 2 && current ? current.tenantCode : push.tenantCode,
          name: push.name,
          domainName: push.domainName,
          testFlag: push.testFlag,
          instanceIds: current?.instanceIds ?? [],
          orderIds: current?.orderIds ?? [],
          ...(current?.instanceAt ? { instanceAt: current.instanceAt } : {}),
          timeStamp: push.timeStamp,
          at: push.at,
        }
      : current;
    next = base && {
      ...base,
      orderIds: withInstance(base.orderIds, push.orderId),
      ...(bindingNewer
        ? {
            instanceIds: withInstance(base.instanceIds, I),
            instanceAt: { ...base.instanceAt, [I]: push.at },
          }
        : {}),
    };
  }

  const listed = new Set(next?.instanceIds ?? []);
  // The links of the instances the push names follow the record after it.
  const links = healLinks(ctx, t, instances, listed);
  if (next === current && !deleted) return { writes: [links.write], result: unchanged().result };

  if (deleted) {
    let ended = 0;
    const ops = deleteTenantOps(ctx, t, push.at, reads.appIds);
    // Everything of the tenant goes with it (apps, users, departments): one event says so.
    ops.push(...eventOps(ctx, { tenantId: t }, 'tenant.deleted', t, { tenantId: t }));
    for (const { appId, users } of gate.sessions) {
      const end = endSessionsOps(ctx, t, appId, users);
      ops.push(...end.ops);
      ended += end.ended;
    }
    // The record first: a link left behind by a failure in between reaches a tenant that no
    // longer lists the instance, which changes nothing.
    return {
      writes: [{ ...tenantWrite(ctx, t, gate.version, ops), sessionsEnded: ended }, links.write],
      result: changed(1, ended),
    };
  }

  const copies = new Map<string, InstanceCopy | null>();
  for (const i of instances) {
    if (!listed.has(i.id)) copies.set(i.id, null);
    else {
      const record = parseJson<InstanceRecord>(i.raw);
      // A purchase not seen (yet) leaves no copy: an unknown instance never blocks.
      if (record) copies.set(i.id, instanceCopy(record));
    }
  }
  const tenantSide = tenantGatePlan(
    ctx,
    gate,
    copies,
    [
      { op: 'set', key: keys.tenant(t), value: JSON.stringify(next) },
      ...eventOps(
        ctx,
        { tenantId: t },
        current ? 'tenant.updated' : 'tenant.created',
        t,
        publicTenant(next!),
      ),
    ],
    listed,
  );
  // Binding: the link first, so the instance's next change reaches the tenant; unbinding: the
  // record first, so no change reaches a tenant that still lists the instance without a link.
  const writes = links.adding ? [links.write, tenantSide.write] : [tenantSide.write, links.write];
  return { writes, result: changed(1, tenantSide.sessionsEnded) };
}

function unbind(current: TenantRecord, instanceId: string, at: number): TenantRecord {
  return {
    ...current,
    instanceIds: current.instanceIds.filter((id) => id !== instanceId),
    instanceAt: { ...current.instanceAt, [instanceId]: at },
  };
}

/**
 * The `{inst}` slot's share: each named instance's links made to hold the tenant exactly when the
 * tenant lists it. In one apply with the tenant's write, conditional on the instance records the
 * copies were taken from.
 */
function healLinks(
  ctx: MirrorContext,
  tenantId: string,
  instances: { id: string; rawLinks: string | null; raw: string | null }[],
  listed: ReadonlySet<string>,
): { write: SlotWrite; adding: boolean } {
  const { keys } = ctx;
  const set: [string, string][] = [];
  const removed: string[] = [];
  const guards: Guard[] = [];
  let adding = false;
  for (const { id, rawLinks, raw } of instances) {
    const current = parseJson<string[]>(rawLinks) ?? [];
    const want = listed.has(id);
    if (want === current.includes(tenantId)) continue;
    adding ||= want;
    const next = want ? [...current, tenantId] : current.filter((x) => x !== tenantId);
    guards.push(
      { key: keys.instanceLinks(), field: id, equals: rawLinks },
      { key: keys.instances(), field: id, equals: raw },
    );
    if (next.length) set.push([id, JSON.stringify(next)]);
    else removed.push(id);
  }
  const ops: WriteOp[] = [];
  if (set.length) ops.push({ op: 'hset', key: keys.instanceLinks(), entries: set });
  if (removed.length) ops.push({ op: 'hdel', key: keys.instanceLinks(), fields: removed });
  return { write: { guards, ops }, adding };
}

/** Everything of the tenant goes; only the time of the deletion stays, to refuse older pushes. */
function deleteTenantOps(
  { keys }: MirrorContext,
  t: string,
  at: number,
  appIds: readonly string[],
): WriteOp[] {
  const ops: WriteOp[] = [
    keys.tenant(t),
    keys.apps(t),
    keys.appTombs(t),
    keys.orgs(t),
    keys.orgTombs(t),
    keys.userApps(t),
    keys.meta(t),
    keys.tenantInstances(t),
    keys.gate(t),
  ].map((key) => ({ op: 'del', key }));
  for (const appId of appIds) {
    ops.push({ op: 'del', key: keys.users(t, appId) }, { op: 'del', key: keys.userTombs(t, appId) });
  }
  ops.push({ op: 'hset', key: keys.meta(t), entries: [['deletedAt', String(at)]] });
  return ops;
}
