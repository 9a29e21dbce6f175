/**
 * What the mirror keeps, as stored (JSON in Redis) and as the read API shows it.
 * `at` is the epoch ms of the push's `timeStamp` (users: `currentSyncTime`) that last changed
 * the record; a push no newer than that is acknowledged and ignored.
 */
export interface TenantRecord {
  tenantId: string;
  tenantCode: string;
  name: string;
  domainName: string;
  testFlag: 0 | 1;
  instanceIds: string[];
  orderIds: string[];
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

export function publicUser(u: UserRecord) {
  const { at: _at, ...shown } = u;
  return shown;
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
