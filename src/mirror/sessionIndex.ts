/**
 * Ending browser sessions as part of a mirror write. Sessions live in their tenant's slot
 * (sso/sessions.ts), so the users' revocation and the sessions' end are one atomic write:
 * once a push that removes, disables or de-authorizes a user is answered, that user has no
 * session left anywhere.
 */
import type { WriteOp } from '../store/store.js';
import type { MirrorContext } from './transaction.js';

/** userName -> session ids, for some users of an app, or for all of them. */
export type SessionsByUser = Map<string, string[]>;

/**
 * The live sessions of the users: ids of sessions that have since expired stay in the index
 * until it is rewritten, and ending them would report (session.ended) what already ended.
 */
export async function readSessions(
  { store, keys }: MirrorContext,
  tenantId: string,
  appId: string,
  userNames?: readonly string[],
): Promise<SessionsByUser> {
  const names = userNames ?? (await store.sMembers(keys.sessionUsers(tenantId, appId)));
  const sids = await Promise.all(
    names.map(async (n) => {
      const indexed = await store.sMembers(keys.userSessions(tenantId, appId, n));
      const ttls = await Promise.all(indexed.map((sid) => store.pTtl(keys.session(sid))));
      return indexed.filter((_, i) => ttls[i] !== -2);
    }),
  );
  return new Map(names.map((n, i) => [n, sids[i]!]));
}

/** Ends the users' sessions: records, index entries (expired ones with them) and a session.ended each. */
export function endSessionsOps(
  ctx: MirrorContext,
  tenantId: string,
  appId: string,
  sessions: SessionsByUser,
  userNames: readonly string[] = [...sessions.keys()],
): { ops: WriteOp[]; ended: number } {
  const { keys } = ctx;
  const ops: WriteOp[] = [];
  let ended = 0;
  for (const name of userNames) {
    const sids = sessions.get(name) ?? [];
    for (const sid of sids) ops.push({ op: 'del', key: keys.session(sid) });
    if (ctx.events)
      for (const sid of sids)
        ops.push(ctx.events.session(sid, { tenantId, appId, userName: name }, 'revoked'));
    ended += sids.length;
    if (sessions.has(name)) ops.push({ op: 'del', key: keys.userSessions(tenantId, appId, name) });
  }
  if (userNames.length) ops.push({ op: 'srem', key: keys.sessionUsers(tenantId, appId), members: userNames });
  return { ops, ended };
}
