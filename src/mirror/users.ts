/** authSync (用户授权同步) applied to the mirror: the users authorized for an app. */
import type { AuthSync, SyncedUser } from '../kit/schemas.js';
import type { WriteOp } from '../store/store.js';
import { parseJson, type UserRecord } from './records.js';
import { endSessionsOps, readSessions, type SessionsByUser } from './sessionIndex.js';
import { lastChangeAt, transact, type MirrorContext, type SyncOutcome } from './transaction.js';

export function applyAuthSync(ctx: MirrorContext, push: AuthSync, notAfter: number): Promise<SyncOutcome> {
  const { store, keys } = ctx;
  const { tenantId: t, appId } = push;
  // A list naming a user twice: the later entry wins, as it would had they come one by one.
  const byName = new Map<string, SyncedUser>();
  for (const u of push.userList) byName.set(u.userName, u);
  const names = [...byName.keys()];
  // Users this push would take away from the app: their sessions end in the same write.
  const losing = names.filter((n) => push.flag === 0 || push.flag === 3 || byName.get(n)!.enable === false);

  return transact(
    ctx,
    t,
    notAfter,
    () =>
      Promise.all([
        store.hmGet(keys.users(t, appId), names),
        store.hmGet(keys.userTombs(t, appId), names),
        store.hGet(keys.meta(t), 'deletedAt'),
        losing.length ? readSessions(ctx, t, appId, losing) : Promise.resolve(new Map() as SessionsByUser),
      ]),
    ([rawUsers, tombs, deletedTenantAt, sessions]) => {
      const upserts: [string, string][] = [];
      const deletes: string[] = [];
      const revoked: string[] = [];
      let same = 0;
      names.forEach((name, i) => {
        const current = parseJson<UserRecord>(rawUsers[i]);
        if (push.at <= lastChangeAt(current?.at, current ? null : tombs[i], deletedTenantAt)) {
          same++;
          return;
        }
        if (push.flag === 0) {
          deletes.push(name);
          revoked.push(name);
          return;
        }
        const next = userRecord(push, byName.get(name)!, current);
        upserts.push([name, JSON.stringify(next)]);
        if (!next.authorized || !next.enable) revoked.push(name);
      });
      if (upserts.length === 0 && deletes.length === 0)
        return { ops: [], result: { changed: 0, unchanged: same, sessionsEnded: 0 } };

      const ops: WriteOp[] = [{ op: 'sadd', key: keys.userApps(t), members: [appId] }];
      if (upserts.length) {
        ops.push({ op: 'hset', key: keys.users(t, appId), entries: upserts });
        ops.push({ op: 'hdel', key: keys.userTombs(t, appId), fields: upserts.map(([n]) => n) });
      }
      if (deletes.length) {
        ops.push({ op: 'hdel', key: keys.users(t, appId), fields: deletes });
        ops.push({
          op: 'hset',
          key: keys.userTombs(t, appId),
          entries: deletes.map((n) => [n, String(push.at)]),
        });
      }
      const end = endSessionsOps(ctx, t, appId, sessions, revoked);
      ops.push(...end.ops);
      return {
        ops,
        result: { changed: upserts.length + deletes.length, unchanged: same, sessionsEnded: end.ended },
      };
    },
  );
}

function userRecord(push: AuthSync, u: SyncedUser, current: UserRecord | null): UserRecord {
  // flag 3 (取消授权) keeps the user and may carry only the identifier: fill from what we had.
  const base = push.flag === 3 ? current : null;
  const pick = <K extends keyof SyncedUser & keyof UserRecord>(k: K) => (u[k] ?? base?.[k]) as UserRecord[K];
  const record: UserRecord = {
    tenantId: push.tenantId,
    appId: push.appId,
    userName: u.userName,
    name: pick('name') ?? '',
    orgCode: pick('orgCode') ?? '',
    position: pick('position'),
    employeeCode: pick('employeeCode'),
    employeeType: pick('employeeType'),
    role: pick('role') ?? 'user',
    enable: pick('enable') ?? true,
    mobile: pick('mobile'),
    email: pick('email'),
    workPlace: pick('workPlace'),
    entryDate: pick('entryDate'),
    extension: pick('extension'),
    authorized: push.flag !== 3,
    instanceId: push.instanceId,
    testFlag: push.testFlag,
    currentSyncTime: push.currentSyncTime,
    at: push.at,
  };
  for (const k of Object.keys(record) as (keyof UserRecord)[]) if (record[k] === undefined) delete record[k];
  return record;
}
