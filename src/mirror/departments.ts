/**
 * singleOrgSync (部门增量同步) and allOrgSync (部门全量同步) applied to the mirror.
 *
 * A full sync replaces the tenant's department set in one atomic write. A department changed by
 * an incremental push newer than the full sync keeps that newer state; `newestSingleAt` lets the
 * common case (no such push) skip reading the whole current set.
 */
import { randomBytes } from 'node:crypto';
import type { AllOrgSync, SingleOrgSync } from '../kit/schemas.js';
import type { WriteOp } from '../store/store.js';
import { decodeOrg, encodeOrg, publicOrg, type OrgRecord } from './records.js';
import {
  eventOps,
  lastChangeAt,
  transact,
  unchanged,
  type MirrorContext,
  type Plan,
  type SyncOutcome,
} from './transaction.js';

export function applySingleOrgSync(
  ctx: MirrorContext,
  push: SingleOrgSync,
  notAfter: number,
): Promise<SyncOutcome> {
  const { store, keys } = ctx;
  const t = push.tenantId;
  return transact(
    ctx,
    t,
    notAfter,
    () =>
      Promise.all([
        store.hGet(keys.orgs(t), push.orgCode),
        store.hGet(keys.orgTombs(t), push.orgCode),
        store.hmGet(keys.meta(t), ['deletedAt', 'fullOrgSyncAt', 'newestSingleAt']),
      ]),
    ([raw, deletedAt, [deletedTenantAt, fullAt, newestSingleAt]]) => {
      const current = raw ? decodeOrg(push.orgCode, raw) : null;
      // An absent department was last decided by its deletion or by the last full list.
      const last = current ? current.at : lastChangeAt(deletedAt, fullAt, deletedTenantAt);
      if (push.at <= last) return unchanged();
      const meta: WriteOp = {
        op: 'hset',
        key: keys.meta(t),
        entries: [['newestSingleAt', String(Math.max(push.at, lastChangeAt(newestSingleAt)))]],
      };
      if (push.flag === 0) {
        return {
          ops: [
            { op: 'hdel', key: keys.orgs(t), fields: [push.orgCode] },
            { op: 'hset', key: keys.orgTombs(t), entries: [[push.orgCode, String(push.at)]] },
            meta,
            // a department the mirror did not hold is only remembered (tombstone), not reported
            ...(current
              ? eventOps(ctx, { tenantId: t }, 'department.deleted', t, { orgCode: push.orgCode })
              : []),
          ],
          result: { changed: 1, unchanged: 0, sessionsEnded: 0 },
        };
      }
      const next: OrgRecord = {
        orgCode: push.orgCode,
        orgName: push.orgName,
        parentCode: push.parentCode,
        at: push.at,
      };
      return {
        ops: [
          { op: 'hset', key: keys.orgs(t), entries: [[push.orgCode, encodeOrg(next)]] },
          { op: 'hdel', key: keys.orgTombs(t), fields: [push.orgCode] },
          meta,
          ...eventOps(
            ctx,
            { tenantId: t },
            current ? 'department.updated' : 'department.created',
            t,
            publicOrg(next),
          ),
        ],
        result: { changed: 1, unchanged: 0, sessionsEnded: 0 },
      };
    },
  );
}

type Department = AllOrgSync['orgInfoList'][number];

/** The order departments are listed and reported in: by orgCode, as strings compare. */
export function compareOrgCodes(a: { orgCode: string }, b: { orgCode: string }): number {
  return a.orgCode < b.orgCode ? -1 : a.orgCode > b.orgCode ? 1 : 0;
}

/**
 * The departments ordered by orgCode, each code once: of several entries with one code the last
 * wins, as it would writing them to the hash in turn. A list already in order (each code greater
 * than the one before) is returned as it is, without a copy.
 */
export function byOrgCode(list: readonly Department[]): readonly Department[] {
  let ordered = true;
  for (let i = 1; i < list.length && ordered; i++) ordered = list[i - 1]!.orgCode < list[i]!.orgCode;
  if (ordered) return list;
  // sort is stable: of equal codes the later entry stays later, and is the one kept
  const sorted = [...list].sort(compareOrgCodes);
  return sorted.filter((o, i) => i + 1 === sorted.length || sorted[i + 1]!.orgCode !== o.orgCode);
}

export async function applyAllOrgSync(
  ctx: MirrorContext,
  push: AllOrgSync,
  notAfter: number,
): Promise<SyncOutcome> {
  const { store, keys } = ctx;
  const t = push.tenantId;
  const [deletedAt, fullAt] = await store.hmGet(keys.meta(t), ['deletedAt', 'fullOrgSyncAt']);
  if (push.at <= lastChangeAt(fullAt, deletedAt)) return unchanged(push.orgInfoList.length || 1).result;

  // The list is written aside first, then moved over the current set by the guarded write: one
  // step for readers, without passing tens of thousands of fields through one script call.
  const staging = keys.orgsStaging(t, randomBytes(6).toString('hex'));
  const listed = byOrgCode(push.orgInfoList);
  await store.stage(
    staging,
    listed.map((o) => [
      o.orgCode,
      encodeOrg({ orgCode: o.orgCode, orgName: o.orgName, parentCode: o.parentCode, at: push.at }),
    ]),
    Math.max(notAfter - Date.now(), 0) + 60_000,
  );

  let applied = false;
  try {
    const outcome = await transact(
      ctx,
      t,
      notAfter,
      async () => {
        const [deletedTenantAt, fullOrgSyncAt, newestSingleAt] = await store.hmGet(keys.meta(t), [
          'deletedAt',
          'fullOrgSyncAt',
          'newestSingleAt',
        ]);
        // Only an incremental push newer than this list makes the current set matter.
        const newer = lastChangeAt(newestSingleAt) > push.at;
        const none: Record<string, string> = {};
        const [current, tombs] = await Promise.all([
          newer ? store.hGetAll(keys.orgs(t)) : none,
          newer ? store.hGetAll(keys.orgTombs(t)) : none,
        ]);
        return { deletedTenantAt, fullOrgSyncAt, current, tombs };
      },
      ({ deletedTenantAt, fullOrgSyncAt, current, tombs }): Plan<SyncOutcome> => {
        if (push.at <= lastChangeAt(fullOrgSyncAt, deletedTenantAt))
          return unchanged(push.orgInfoList.length || 1);
        // Departments changed by a newer incremental push keep that state.
        const kept: [string, string][] = [];
        for (const [code, raw] of Object.entries(current))
          if (decodeOrg(code, raw).at > push.at) kept.push([code, raw]);
        const keptTombs = Object.entries(tombs).filter(([, at]) => Number(at) > push.at);
        const removed = new Set(keptTombs.map(([code]) => code));
        // The whole set after the write, for the feed: the list, less the newer deletions, with
        // the newer changes. Usually there are none, and the list is that set as it stands.
        const departments =
          kept.length === 0 && removed.size === 0
            ? listed
            : byOrgCode([
                ...listed.filter((o) => !removed.has(o.orgCode)),
                ...kept.map(([code, raw]) => publicOrg(decodeOrg(code, raw))),
              ]);
        return {
          ops: [
            { op: 'move', key: staging, to: keys.orgs(t) },
            { op: 'hset', key: keys.orgs(t), entries: kept },
            {
              op: 'hdel',
              key: keys.orgs(t),
              fields: listed.filter((o) => removed.has(o.orgCode)).map((o) => o.orgCode),
            },
            // Older deletions are now implied by the full list's time.
            { op: 'del', key: keys.orgTombs(t) },
            { op: 'hset', key: keys.orgTombs(t), entries: keptTombs },
            { op: 'hset', key: keys.meta(t), entries: [['fullOrgSyncAt', String(push.at)]] },
            ...eventOps(ctx, { tenantId: t }, 'departments.replaced', t, { departments }),
          ],
          result: { changed: push.orgInfoList.length, unchanged: 0, sessionsEnded: 0 },
        };
      },
    );
    applied = outcome.changed > 0;
    return outcome;
  } finally {
    if (!applied) await store.apply([{ op: 'del', key: staging }]).catch(() => undefined);
  }
}
