/**
 * tenantSync (企业同步) applied to the mirror. It also binds the tenant to the push's instance:
 * the instance's links (in the `{inst}` slot) gain the tenant, and the tenant's slot gains a
 * copy of the instance (gate.ts), so the instance's later changes reach the tenant.
 */
import type { TenantSync } from '../kit/schemas.js';
import type { Guard, WriteOp } from '../store/store.js';
import { readTenantGate, tenantGatePlan, type TenantGateReads } from './gate.js';
import { endSessionsOps } from './sessionIndex.js';
import {
  instanceCopy,
  parseJson,
  type InstanceCopy,
  type InstanceRecord,
  type TenantRecord,
} from './records.js';
import {
  afterUnbind,
  changed,
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
  /** per instance the push may bind or unbind: its links and (when binding) its record */
  instances: { id: string; rawLinks: string | null; raw: string | null }[];
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
      // Only a delete needs to know the tenant's apps and their sessions.
      const none: Record<string, string> = {};
      const [rawTenant, deletedAt, userApps, apps, gate] = await Promise.all([
        store.get(keys.tenant(t)),
        store.hGet(keys.meta(t), 'deletedAt'),
        deleting ? store.sMembers(keys.userApps(t)) : [],
        deleting ? store.hGetAll(keys.apps(t)) : none,
        // A delete ends every session; an unbinding may block the tenant, which ends them too.
        readTenantGate(ctx, t, deleting),
      ]);
      // A delete may unbind every instance of the tenant; an add or change binds the push's one.
      const ids = deleting
        ? [...new Set([...(parseJson<TenantRecord>(rawTenant)?.instanceIds ?? []), ...gate.copies.keys()])]
        : push.instanceId
          ? [push.instanceId]
          : [];
      const instances = await Promise.all(
        ids.map(async (id) => {
          const [rawLinks, raw] = await Promise.all([
            store.hGet(keys.instanceLinks(), id),
            deleting ? null : store.hGet(keys.instances(), id),
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
    ({ rawTenant, deletedAt, appIds, gate, instances }) => {
      const current = parseJson<TenantRecord>(rawTenant);
      if (push.at <= lastChangeAt(current?.at, deletedAt)) return { writes: [], result: unchanged().result };

      if (push.flag === 0) {
        // Another order may still bind this enterprise: then only this instance goes.
        const unbound = afterUnbind(current, push);
        if (unbound) {
          const instance = instances.find((i) => i.id === push.instanceId);
          const tenantSide = tenantGatePlan(ctx, gate, new Map([[push.instanceId, null]]), [
            { op: 'set', key: keys.tenant(t), value: JSON.stringify(unbound) },
          ]);
          return {
            writes: [links(ctx, t, instance ? [instance] : [], 'remove'), tenantSide.write],
            result: changed(1, tenantSide.sessionsEnded),
          };
        }
        let ended = 0;
        const ops = deleteTenantOps(ctx, t, push.at, appIds);
        for (const { appId, users } of gate.sessions) {
          const end = endSessionsOps(ctx, t, appId, users);
          ops.push(...end.ops);
          ended += end.ended;
        }
        return {
          writes: [
            links(ctx, t, instances, 'remove'),
            { ...tenantWrite(ctx, t, gate.version, ops), sessionsEnded: ended },
          ],
          result: changed(1, ended),
        };
      }

      const next: TenantRecord = {
        tenantId: t,
        // flag 2 may change only the name and the domain (§3.1)
        tenantCode: push.flag === 2 && current ? current.tenantCode : push.tenantCode,
        name: push.name,
        domainName: push.domainName,
        testFlag: push.testFlag,
        instanceIds: withInstance(current?.instanceIds, push.instanceId),
        orderIds: withInstance(current?.orderIds, push.orderId),
        timeStamp: push.timeStamp,
        at: push.at,
      };
      const copies = new Map<string, InstanceCopy>();
      for (const i of instances) {
        const record = parseJson<InstanceRecord>(i.raw);
        // A purchase not seen (yet) leaves no copy: an unknown instance never blocks.
        if (record) copies.set(i.id, instanceCopy(record));
      }
      const tenantSide = tenantGatePlan(ctx, gate, copies, [
        { op: 'set', key: keys.tenant(t), value: JSON.stringify(next) },
      ]);
      // Binding is conditional on the record the copy was taken from. Once bound, a change of
      // the instance projects onto this tenant itself, bumping its version, so a copy planned
      // from an older record fails its guard and is planned again.
      const bind = links(ctx, t, instances, 'add', (id, raw) => [
        { key: keys.instances(), field: id, equals: raw },
      ]);
      return { writes: [bind, tenantSide.write], result: changed(1, tenantSide.sessionsEnded) };
    },
    (first, sessionsEnded) => ({ ...first, sessionsEnded }),
  );
}

/** The `{inst}` slot's share: the tenant added to or removed from each instance's links. */
function links(
  ctx: MirrorContext,
  tenantId: string,
  instances: { id: string; rawLinks: string | null; raw?: string | null }[],
  change: 'add' | 'remove',
  alsoGuard: (id: string, raw: string | null) => Guard[] = () => [],
): SlotWrite {
  const { keys } = ctx;
  const set: [string, string][] = [];
  const removed: string[] = [];
  const guards: Guard[] = [];
  for (const { id, rawLinks, raw } of instances) {
    const current = parseJson<string[]>(rawLinks) ?? [];
    const has = current.includes(tenantId);
    if (change === 'add' ? has : !has) continue;
    const next = change === 'add' ? [...current, tenantId] : current.filter((x) => x !== tenantId);
    guards.push({ key: keys.instanceLinks(), field: id, equals: rawLinks }, ...alsoGuard(id, raw ?? null));
    if (next.length) set.push([id, JSON.stringify(next)]);
    else removed.push(id);
  }
  const ops: WriteOp[] = [];
  if (set.length) ops.push({ op: 'hset', key: keys.instanceLinks(), entries: set });
  if (removed.length) ops.push({ op: 'hdel', key: keys.instanceLinks(), fields: removed });
  return { guards, ops };
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
