/** authSync (用户授权同步) applied to the mirror: the users authorized for an app. */
import type { AuthSync, SyncedUser } from '../kit/schemas.js';
import type { WriteOp } from '../store/store.js';
import type { EventType } from '../vocabulary.js';
import { JsonText } from '../feed/eventLog.js';
import { encodeUser, parseJson, type UserRecord } from './records.js';
import { endSessionsOps, readSessions, type SessionsByUser } from './sessionIndex.js';
import { eventOps, lastChangeAt, transact, type MirrorContext, type SyncOutcome } from './transaction.js';

const utf8 = new TextDecoder();

/**
 * What happened to a user, as the change feed says it; the loss of access wins over other
 * changes. The record held before is decoded only when the new one lacks access.
 */
function userEvent(held: boolean, current: () => UserRecord | null, next: UserRecord): EventType {
  if (!held) return 'user.added';
  if (!next.authorized && current()!.authorized) return 'user.deauthorized';
  if (!next.enable && current()!.enable) return 'user.disabled';
  return 'user.updated';
}

export function applyAuthSync(ctx: MirrorContext, push: AuthSync, notAfter: number): Promise<SyncOutcome> {
  const { store, keys } = ctx;
  const { tenantId: t, appId } = push;
  // A list naming a user twice: the later entry wins, as it would had they come one by one.
  const byName = new Map<string, SyncedUser>();
  for (const u of push.userList) byName.set(u.userName, u);
  const names = [...byName.keys()];
  // Users this push would take away from the app: their sessions end in the same write.
  const losing = names.filter((n) => push.flag === 0 || push.flag === 3 || byName.get(n)!.enable === false);

  const newestField = `usersAt:${appId}`;

  return transact(
    ctx,
    t,
    notAfter,
    async () => {
      // The current records are read all the same where there is a change feed (it tells an
      // added user from an updated one, and names what a user lost): with the times, not after.
      const [[deletedTenantAt, newestAt], records, sessions] = await Promise.all([
        store.hmGet(keys.meta(t), ['deletedAt', newestField]),
        ctx.events ? store.hmGetBytes(keys.users(t, appId), names) : null,
        losing.length ? readSessions(ctx, t, appId, losing) : (new Map() as SessionsByUser),
      ]);
      // Pushes arrive in order almost always: when this one is newer than every change this app's
      // users have seen, no per-user time can beat it, and the tombstones need not be read.
      const inOrder = push.flag !== 3 && push.at > lastChangeAt(newestAt, deletedTenantAt);
      const [rawUsers, tombs] = inOrder
        ? [records, null]
        : await Promise.all([
            records ?? store.hmGetBytes(keys.users(t, appId), names),
            store.hmGet(keys.userTombs(t, appId), names),
          ]);
      return { deletedTenantAt, newestAt, rawUsers, tombs, sessions };
    },
    ({ deletedTenantAt, newestAt, rawUsers, tombs, sessions }) => {
      const upserts: [string, string][] = [];
      const deletes: string[] = [];
      const revoked: string[] = [];
      const events: WriteOp[] = [];
      let same = 0;
      names.forEach((name, i) => {
        // Read as bytes, decoded only where a rule needs more than whether the user is held: most
        // pushes grant access in order, and 500 users' records cost more to decode than to write.
        const raw = rawUsers?.[i];
        const held = !!raw?.length;
        let decoded: UserRecord | null | undefined;
        const current = () =>
          decoded === undefined
            ? (decoded = held ? parseJson<UserRecord>(utf8.decode(raw!)) : null)
            : decoded;
        if (tombs && push.at <= lastChangeAt(current()?.at, held ? null : tombs[i], deletedTenantAt)) {
          same++;
          return;
        }
        if (push.flag === 0) {
          deletes.push(name);
          revoked.push(name);
          // a user the mirror did not hold is only remembered (tombstone), not reported
          if (held)
            events.push(
              ...eventOps(ctx, { tenantId: t }, 'user.removed', t, { tenantId: t, appId, userName: name }),
            );
          return;
        }
        const next = userRecord(push, byName.get(name)!, push.flag === 3 ? current() : null);
        const { record, shown } = encodeUser(next);
        upserts.push([name, record]);
        events.push(
          ...eventOps(ctx, { tenantId: t }, userEvent(held, current, next), t, new JsonText(shown)),
        );
        if (!next.authorized || !next.enable) revoked.push(name);
      });
      if (upserts.length === 0 && deletes.length === 0)
        return { ops: [], result: { changed: 0, unchanged: same, sessionsEnded: 0 } };

      // A tombstone is consulted only while its user is absent, so an upsert leaves it in place.
      const ops: WriteOp[] = [
        { op: 'sadd', key: keys.userApps(t), members: [appId] },
        {
          op: 'hset',
          key: keys.meta(t),
          entries: [[newestField, String(Math.max(push.at, lastChangeAt(newestAt)))]],
        },
        { op: 'hset', key: keys.users(t, appId), entries: upserts },
        { op: 'hdel', key: keys.users(t, appId), fields: deletes },
        { op: 'hset', key: keys.userTombs(t, appId), entries: deletes.map((n) => [n, String(push.at)]) },
        ...events,
      ];
      const end = endSessionsOps(ctx, t, appId, sessions, revoked);
      ops.push(...end.ops);
      return {
        ops,
        result: { changed: upserts.length + deletes.length, unchanged: same, sessionsEnded: end.ended },
      };
    },
  );
}

/** `base`: for flag 3 (取消授权), which keeps the user and may carry only the identifier, what we had. */
function userRecord(push: AuthSync, u: SyncedUser, base: UserRecord | null): UserRecord {
  const record: Omit<UserRecord, 'at'> & { at?: number } = {
    tenantId: push.tenantId,
    appId: push.appId,
    userName: u.userName,
    name: u.name ?? base?.name ?? '',
    orgCode: u.orgCode ?? base?.orgCode ?? '',
    role: u.role ?? base?.role ?? 'user',
    enable: u.enable ?? base?.enable ?? true,
    authorized: push.flag !== 3,
    instanceId: push.instanceId,
    testFlag: push.testFlag,
    currentSyncTime: push.currentSyncTime,
  };
  // Optional fields only when present (assigning undefined would cost JSON.stringify time).
  for (const k of OPTIONAL_USER_FIELDS) {
    const v = u[k] ?? base?.[k];
    if (v !== undefined) (record as unknown as Record<string, unknown>)[k] = v;
  }
  // Last, so the record prints as its event's data plus `at` (records.ts encodeUser).
  record.at = push.at;
  return record as UserRecord;
}

/** The authSync user fields a record holds only when the marketplace sent them. */
export const OPTIONAL_USER_FIELDS = [
  'position',
  'employeeCode',
  'employeeType',
  'mobile',
  'email',
  'workPlace',
  'entryDate',
  'extension',
] as const;
