/**
 * What the mirror keeps, as stored (JSON in Redis) and as the read API shows it.
 * `at` is the epoch ms of the push's `timeStamp` (users: `currentSyncTime`) that last changed
 * the record; a push no newer than that is acknowledged and ignored.
 */
import { DecodeCache } from '../store/decodeCache.js';

export interface TenantRecord {
  tenantId: string;
  tenantCode: string;
  name: string;
  domainName: string;
  testFlag: 0 | 1;
  instanceIds: string[];
  orderIds: string[];
  /** per instance, the sync time of the push that last bound or unbound it (tenants.ts) */
  instanceAt?: Record<string, number>;
  timeStamp: string;
  at: number;
}

export interface AppRecord {
  tenantId: string;
  appId: string;
  clientId: string;
  /** Sealed with DATA_KEY (crypto/dataKey.ts); never leaves the relay. */
  clientSecretSealed: string;
  testFlag: 0 | 1;
  instanceIds: string[];
  timeStamp: string;
  at: number;
}

export interface UserRecord {
  tenantId: string;
  appId: string;
  userName: string;
  name: string;
  orgCode: string;
  position?: string;
  employeeCode?: string;
  employeeType?: number;
  role: 'user' | 'admin';
  enable: boolean;
  mobile?: string;
  email?: string;
  workPlace?: string;
  entryDate?: string;
  extension?: Record<string, unknown>;
  /** false after authSync flag 3 (authorization cancelled) */
  authorized: boolean;
  instanceId: string;
  testFlag: 0 | 1;
  currentSyncTime: string;
  at: number;
}

export interface OrgRecord {
  orgCode: string;
  orgName: string;
  parentCode: string | null;
  at: number;
}

/** What a sealed client secret is bound to: opening it for another tenant or app fails. */
export function clientSecretContext(tenantId: string, appId: string): string {
  return `clientSecret|${tenantId}|${appId}`;
}

export function publicTenant(t: TenantRecord) {
  return {
    tenantId: t.tenantId,
    tenantCode: t.tenantCode,
    name: t.name,
    domainName: t.domainName,
    testFlag: t.testFlag,
    instanceIds: t.instanceIds,
  };
}

/** An app credential as events show it: never its secret. */
export function publicApp(a: AppRecord) {
  return {
    tenantId: a.tenantId,
    appId: a.appId,
    clientId: a.clientId,
    testFlag: a.testFlag,
    instanceIds: a.instanceIds,
  };
}

export function publicUser(u: UserRecord) {
  const { at: _at, ...shown } = u;
  return shown;
}

/**
 * A user record's stored text, and the text of what events show of it (`publicUser`): one
 * JSON.stringify for both. A record whose `at` comes last (mirror/users.ts builds them so) prints
 * as the shown user with `,"at":…` before its closing brace; any other is printed twice.
 */
export function encodeUser(u: UserRecord): { record: string; shown: string } {
  const record = JSON.stringify(u);
  const tail = `,"at":${u.at}}`;
  return record.endsWith(tail)
    ? { record, shown: `${record.slice(0, -tail.length)}}` }
    : { record, shown: JSON.stringify(publicUser(u)) };
}

export function publicOrg(o: OrgRecord) {
  return { orgCode: o.orgCode, orgName: o.orgName, parentCode: o.parentCode };
}

/** Stored department: the orgCode is the hash field, so it is not repeated in the value. */
export function encodeOrg(o: OrgRecord): string {
  // Built by hand: a full list encodes tens of thousands; the strings still go through JSON.stringify.
  return `{"orgName":${JSON.stringify(o.orgName)},"parentCode":${o.parentCode === null ? 'null' : JSON.stringify(o.parentCode)},"at":${o.at}}`;
}

export function decodeOrg(orgCode: string, raw: string): OrgRecord {
  return { orgCode, ...(JSON.parse(raw) as Omit<OrgRecord, 'orgCode'>) };
}

export function parseJson<T>(raw: string | null | undefined): T | null {
  return raw ? (JSON.parse(raw) as T) : null;
}

const decoded = new DecodeCache<unknown>((text) => JSON.parse(text));

/**
 * parseJson for the reads on every seller app request (GET /api/v1/session, POST
 * /api/v1/authorize): a text decodes once, to a frozen value its readers share (DecodeCache).
 */
export function parseFrozen<T>(raw: string | null | undefined): T | null {
  return raw ? (decoded.get(raw) as T) : null;
}

import type { InstanceActivity, InstanceStatus } from '../vocabulary.js';
export type { InstanceActivity, InstanceStatus };

/** One applied change of an instance; `at` is the epoch ms the marketplace signed the call at. */
export interface InstanceChange {
  activity: InstanceActivity;
  at: number;
  orderId?: string;
  orderLineId?: string;
  scene?: string;
  status?: InstanceStatus;
  expireTime?: string | null;
  productId?: string;
}

/** An instance (a purchase) as the basic interfaces made it (contract §3b). */
export interface InstanceRecord {
  instanceId: string;
  /** the purchase order; renewals and upgrades are in `history` */
  orderId: string;
  orderLineId: string;
  productId: string;
  status: InstanceStatus;
  /** ISO 8601 UTC, null when the marketplace gave none (pay-per-use) */
  expireTime: string | null;
  testFlag: 0 | 1;
  createdAt: number;
  updatedAt: number;
  /** Bumped by every change; a tenant's copy (gate.ts) is replaced only by a higher one. */
  rev: number;
  /** Signed time of the last change of each aspect, so a late older call does not undo a newer one. */
  statusAt: number;
  expireAt: number;
  productAt: number;
  /** Keys of the orders already applied (newest last), so a repeated renewal or upgrade is a no-op. */
  orders: string[];
  /** The newest changes, oldest first (at most INSTANCE_HISTORY_LIMIT). */
  history: InstanceChange[];
}

/** What a tenant's slot keeps of each of its instances: enough to gate and to list them. */
export interface InstanceCopy {
  status: InstanceStatus;
  expireTime: string | null;
  productId: string;
  rev: number;
}

export const instanceCopy = (r: InstanceRecord): InstanceCopy => ({
  status: r.status,
  expireTime: r.expireTime,
  productId: r.productId,
  rev: r.rev,
});

/** Orders are told apart by orderId and orderLineId together; JSON keeps the pair unambiguous. */
export const orderKey = (orderId: string, orderLineId: string) => JSON.stringify([orderId, orderLineId]);

const iso = (ms: number) => new Date(ms).toISOString();

export function publicInstance(r: InstanceRecord, tenantIds: string[]) {
  return {
    instanceId: r.instanceId,
    orderId: r.orderId,
    orderLineId: r.orderLineId,
    productId: r.productId,
    status: r.status,
    expireTime: r.expireTime,
    testFlag: r.testFlag,
    tenantIds,
    createdAt: iso(r.createdAt),
    updatedAt: iso(r.updatedAt),
    history: r.history.map((c) => ({ ...c, at: iso(c.at) })),
  };
}

export function publicInstanceCopy(instanceId: string, c: InstanceCopy) {
  return { instanceId, status: c.status, expireTime: c.expireTime, productId: c.productId };
}
