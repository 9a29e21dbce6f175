/** applicationSync (应用同步) applied to the mirror: per (tenant, app) OAuth client credentials. */
import type { ApplicationSync } from '../kit/schemas.js';
import { parseJson, publicApp, type AppRecord } from './records.js';
import { endSessionsOps, readSessions, type SessionsByUser } from './sessionIndex.js';
import {
  afterUnbind,
  changed,
  eventOps,
  lastChangeAt,
  transact,
  unchanged,
  withInstance,
  type MirrorContext,
  type SyncOutcome,
} from './transaction.js';

/** `sealedSecret` is the decrypted client secret already sealed with DATA_KEY (null on delete). */
export function applyApplicationSync(
  ctx: MirrorContext,
  push: ApplicationSync,
  sealedSecret: string | null,
  notAfter: number,
): Promise<SyncOutcome> {
  const { store, keys } = ctx;
  const { tenantId: t, appId } = push;
  return transact(
    ctx,
    t,
    notAfter,
    () =>
      Promise.all([
        store.hGet(keys.apps(t), appId),
        store.hGet(keys.appTombs(t), appId),
        store.hGet(keys.meta(t), 'deletedAt'),
        push.flag === 0 ? readSessions(ctx, t, appId) : Promise.resolve(new Map() as SessionsByUser),
      ]),
    ([rawApp, deletedAppAt, deletedTenantAt, sessions]) => {
      const current = parseJson<AppRecord>(rawApp);
      if (push.at <= lastChangeAt(current?.at, current ? null : deletedAppAt, deletedTenantAt))
        return unchanged();

      if (push.flag === 0) {
        const unbound = afterUnbind(current, push);
        if (unbound) {
          return {
            ops: [
              { op: 'hset', key: keys.apps(t), entries: [[appId, JSON.stringify(unbound)]] },
              ...eventOps(ctx, { tenantId: t }, 'app.credentials_updated', t, publicApp(unbound)),
            ],
            result: changed(),
          };
        }
        // Without its client the app cannot renew tokens or sign anyone in: its sessions end.
        const end = endSessionsOps(ctx, t, appId, sessions);
        return {
          ops: [
            { op: 'hdel', key: keys.apps(t), fields: [appId] },
            { op: 'hset', key: keys.appTombs(t), entries: [[appId, String(push.at)]] },
            // only an app the mirror held is reported deleted; the tombstone alone is bookkeeping
            ...(current ? eventOps(ctx, { tenantId: t }, 'app.deleted', t, { tenantId: t, appId }) : []),
            ...end.ops,
          ],
          result: changed(1, end.ended),
        };
      }

      const next: AppRecord = {
        tenantId: t,
        appId,
        clientId: push.clientId,
        clientSecretSealed: sealedSecret!,
        testFlag: push.testFlag,
        instanceIds: withInstance(current?.instanceIds, push.instanceId),
        timeStamp: push.timeStamp,
        at: push.at,
      };
      return {
        ops: [
          { op: 'hset', key: keys.apps(t), entries: [[appId, JSON.stringify(next)]] },
          { op: 'hdel', key: keys.appTombs(t), fields: [appId] },
          ...eventOps(ctx, { tenantId: t }, 'app.credentials_updated', t, publicApp(next)),
        ],
        result: changed(),
      };
    },
  );
}
