/**
 * What the tests and the benchmarks share: the relay's keys and environment, the seller's RSA
 * keys of test/fixtures, and push fields shaped like the marketplace's. Nothing here imports a
 * test framework or src/, so bench/ compiles and loads it (tsconfig.bench.json), from source as
 * well as compiled.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The path of a file of test/fixtures (compiled, `bench/compiled.mjs` links the directory beside it). */
export const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
export const SELLER_PRIVATE_KEY = fixture('seller-rsa-3072.pem');
export const SELLER_PUBLIC_KEY = readFileSync(fixture('seller-rsa-3072.pub.pem'), 'utf8');
export const OTHER_PUBLIC_KEY = readFileSync(fixture('other-rsa-3072.pub.pem'), 'utf8');

export const KIT_KEY = 'test-kit-access-key-5f1c9a';
export const BASIC_KEY = 'test-basic-access-key-93ad07';
/** The V1 key (V1_ACCESS_KEY): set only by the tests of the V1 interfaces. */
export const V1_KEY = 'test-v1-access-key-7c20e4';
export const APP_ID = 'app-test-0001';
export const API_KEY = 'seller-api-key-test-0000000001';
export const DATA_KEY = Buffer.alloc(32, 7).toString('base64');

/** The environment a relay is configured from (src/config.ts reads it), with these keys. */
export function relayEnv(
  overrides: Record<string, string | undefined> = {},
): Record<string, string | undefined> {
  return {
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    KOO_APP_ID: APP_ID,
    KIT_ACCESS_KEY: KIT_KEY,
    BASIC_ACCESS_KEY: BASIC_KEY,
    RSA_PRIVATE_KEY_FILE: SELLER_PRIVATE_KEY,
    SESSION_SECRET: 'test-session-secret-0123456789',
    DATA_KEY,
    SELLER_API_KEYS: API_KEY,
    // The sandbox's identity servers are plain http on loopback.
    ALLOW_INSECURE_IDP: 'true',
    ...overrides,
  };
}

export const newTenantId = () => randomBytes(16).toString('hex');

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
