/** Push fields shaped like the marketplace's, with identifiers unique to each test. */
import { randomBytes } from 'node:crypto';
import { formatSyncTime } from '../../src/kit/timestamp.js';
import { APP_ID } from './relay.js';

export const newTenantId = () => randomBytes(16).toString('hex');

/** A sync time `ms` after a fixed recent base, for pushes whose order a test controls. */
const base = Date.now() - 3_600_000;
export const at = (ms: number) => formatSyncTime(base + ms);

export function tenantFields(tenantId: string, extra: Record<string, unknown> = {}) {
  return {
    instanceId: `inst-${tenantId.slice(0, 8)}`,
    orderId: `CS${tenantId.slice(0, 10).toUpperCase()}`,
    tenantId,
    tenantCode: `code-${tenantId.slice(0, 6)}`,
    name: '华为测试企业',
    domainName: `https://${tenantId.slice(0, 8)}.idp.example.com`,
    flag: 1,
    testFlag: 0,
    ...extra,
  };
}

export function appFields(tenantId: string, extra: Record<string, unknown> = {}) {
  return {
    instanceId: `inst-${tenantId.slice(0, 8)}`,
    tenantId,
    appId: APP_ID,
    clientId: `client-${tenantId.slice(0, 8)}`,
    clientSecret: `secret-${tenantId.slice(0, 8)}`,
    flag: 1,
    testFlag: 0,
    ...extra,
  };
}

export function user(userName: string, extra: Record<string, unknown> = {}) {
  return { userName, name: `用户 ${userName}`, orgCode: '10000', role: 'user', enable: 'true', ...extra };
}

export function authFields(tenantId: string, userList: unknown, extra: Record<string, unknown> = {}) {
  return {
    instanceId: `inst-${tenantId.slice(0, 8)}`,
    tenantId,
    appId: APP_ID,
    userList,
    flag: 1,
    testFlag: 0,
    ...extra,
  };
}

export function orgFields(tenantId: string, orgCode: string, extra: Record<string, unknown> = {}) {
  return {
    instanceId: `inst-${tenantId.slice(0, 8)}`,
    tenantId,
    orgCode,
    orgName: `部门${orgCode}`,
    parentCode: '',
    flag: 1,
    testFlag: 0,
    ...extra,
  };
}

export function allOrgFields(tenantId: string, orgInfoList: unknown, extra: Record<string, unknown> = {}) {
  return { instanceId: `inst-${tenantId.slice(0, 8)}`, tenantId, orgInfoList, testFlag: 0, ...extra };
}
