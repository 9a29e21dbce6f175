/** tenantSync (企业同步) applied to the mirror. */
import type { TenantSync } from '../kit/schemas.js';
import type { WriteOp } from '../store/store.js';
import { parseJson, type TenantRecord } from './records.js';
import { endSessionsOps, readSessions } from './sessionIndex.js';
import {
  afterUnbind,
  changed,
  lastChangeAt,
  transact,
  unchanged,
  withInstance,
  type MirrorContext,
  type SyncOutcome,
} from './transaction.js';

export function applyTenantSync(
  ctx: MirrorContext,
  push: TenantSync,
  notAfter: number,
): Promise<SyncOutcome> {
  const { store, keys } = ctx;
  const t = push.tenantId;
  return transact(
    ctx,
    t,
    notAfter,
    async () => {
      const deleting = push.flag === 0;
      // Only a delete needs to know the tenant's apps and their sessions.
      const none: Record<string, string> = {};
      const [rawTenant, deletedAt, userApps, apps] = await Promise.all([
        store.get(keys.tenant(t)),
        store.hGet(keys.meta(t), 'deletedAt'),
        deleting ? store.sMembers(keys.userApps(t)) : [],
        deleting ? store.hGetAll(keys.apps(t)) : none,
      ]);
      const appIds = [...new Set([...userApps, ...Object.keys(apps)])];
      const sessions = deleting ? await Promise.all(appIds.map((a) => readSessions(ctx, t, a))) : [];
      return { rawTenant, deletedAt, appIds, sessions };
    },
    ({ rawTenant, deletedAt, appIds, sessions }) => {
      const current = parseJson<TenantRecord>(rawTenant);
      if (push.at <= lastChangeAt(current?.at, deletedAt)) return unchanged();

      if (push.flag === 0) {
        // Another order may still bind this enterprise: then only this instance goes.
        const unbound = afterUnbind(current, push);
        if (unbound)
          return {
            ops: [{ op: 'set', key: keys.tenant(t), value: JSON.stringify(unbound) }],
            result: changed(),
          };
        const ends = appIds.map((a, i) => endSessionsOps(ctx, t, a, sessions[i]!));
        return {
          ops: [...deleteTenantOps(ctx, t, push.at, appIds), ...ends.flatMap((e) => e.ops)],
          result: changed(
            1,
            ends.reduce((n, e) => n + e.ended, 0),
          ),
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
      return { ops: [{ op: 'set', key: keys.tenant(t), value: JSON.stringify(next) }], result: changed() };
    },
  );
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
  ].map((key) => ({ op: 'del', key }));
  for (const appId of appIds) {
    ops.push({ op: 'del', key: keys.users(t, appId) }, { op: 'del', key: keys.userTombs(t, appId) });
  }
  ops.push({ op: 'hset', key: keys.meta(t), entries: [['deletedAt', String(at)]] });
  return ops;
}
