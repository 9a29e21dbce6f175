/**
 * singleOrgSync (部门增量同步) and allOrgSync (部门全量同步) applied to the mirror.
 *
 * A full sync replaces the tenant's department set in one atomic write. A department changed by
 * an incremental push newer than the full sync keeps that newer state; `newestSingleAt` lets the
 * common case (no such push) skip reading the whole current set.
 */
import type { AllOrgSync, SingleOrgSync } from '../kit/schemas.js';
import type { WriteOp } from '../store/store.js';
import { decodeOrg, encodeOrg, type OrgRecord } from './records.js';
import { lastChangeAt, transact, unchanged, type MirrorContext, type SyncOutcome } from './transaction.js';

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
        ],
        result: { changed: 1, unchanged: 0, sessionsEnded: 0 },
      };
    },
  );
}

export async function applyAllOrgSync(
  ctx: MirrorContext,
  push: AllOrgSync,
  notAfter: number,
): Promise<SyncOutcome> {
  const { store, keys } = ctx;
  const t = push.tenantId;
  const meta = await store.hmGet(keys.meta(t), ['deletedAt', 'fullOrgSyncAt', 'newestSingleAt']);
  // Only when an incremental push is newer than this list do we need the current set.
  const needCurrent = lastChangeAt(meta[2]) > push.at;
  return transact(
    ctx,
    t,
    notAfter,
    () =>
      Promise.all([
        store.hmGet(keys.meta(t), ['deletedAt', 'fullOrgSyncAt', 'newestSingleAt']),
        needCurrent ? store.hGetAll(keys.orgs(t)) : Promise.resolve({} as Record<string, string>),
        needCurrent ? store.hGetAll(keys.orgTombs(t)) : Promise.resolve({} as Record<string, string>),
      ]),
    ([[deletedTenantAt, fullAt, newestSingleAt], currentRaw, tombs]) => {
      if (push.at <= lastChangeAt(fullAt, deletedTenantAt)) return unchanged(push.orgInfoList.length || 1);
      if (lastChangeAt(newestSingleAt) > push.at && !needCurrent) {
        // An incremental push landed between our two reads; decide again with the full picture.
        throw new RetryWithCurrentSet();
      }
      const next = new Map<string, string>();
      for (const o of push.orgInfoList) {
        next.set(
          o.orgCode,
          encodeOrg({ orgCode: o.orgCode, orgName: o.orgName, parentCode: o.parentCode, at: push.at }),
        );
      }
      const keptTombs: [string, string][] = [];
      if (needCurrent) {
        for (const [code, raw] of Object.entries(currentRaw)) {
          if (decodeOrg(code, raw).at > push.at) next.set(code, raw);
        }
        for (const [code, at] of Object.entries(tombs)) {
          if (Number(at) > push.at) {
            next.delete(code);
            keptTombs.push([code, at]);
          }
        }
      }
      return {
        ops: [
          { op: 'del', key: keys.orgs(t) },
          { op: 'hset', key: keys.orgs(t), entries: [...next] },
          // Older deletions are now implied by the full list's time.
          { op: 'del', key: keys.orgTombs(t) },
          { op: 'hset', key: keys.orgTombs(t), entries: keptTombs },
          { op: 'hset', key: keys.meta(t), entries: [['fullOrgSyncAt', String(push.at)]] },
        ],
        result: { changed: push.orgInfoList.length, unchanged: 0, sessionsEnded: 0 },
      };
    },
  ).catch((error: unknown) => {
    if (error instanceof RetryWithCurrentSet) return applyAllOrgSync(ctx, push, notAfter);
    throw error;
  });
}

class RetryWithCurrentSet extends Error {}
