/**
 * The fields the self-check's cases build their calls from, shared by the V2 cases (selfcheck.ts)
 * and the V1 ones (selfcheckV1.ts): the debug tenant's users, departments and instance.
 */
import type { Fields } from './pusher.js';
import type { CaseContext } from './selfcheck.js';

/** Seller Center's debugging marks every call as a test. */
export const DEBUG = { testFlag: '1' };

export const USERS = [
  {
    userName: 'selfcheck.admin',
    name: '自检管理员',
    orgCode: 'sc-100',
    role: 'admin',
    enable: 'true',
    email: 'selfcheck.admin@example.com',
  },
  { userName: 'selfcheck.user', name: '自检用户', orgCode: 'sc-110', role: 'user', enable: 'false' },
] as const;
export const auth = (c: CaseContext, flag: number, userList: unknown = USERS): Fields => ({
  instanceId: '',
  tenantId: c.tenantId,
  appId: c.appId,
  userList,
  flag,
  testFlag: 1,
});
export const org = (c: CaseContext, extra: Fields): Fields => ({
  instanceId: '',
  tenantId: c.tenantId,
  orgCode: 'sc-120',
  orgName: '自检测试部',
  parentCode: 'sc-100',
  testFlag: 1,
  ...extra,
});
/** A basic call's fields for the debug instance (cases that send it need the purchase). */
export const theInstance = (c: CaseContext, extra: Fields = {}): Fields => ({
  instanceId: c.made.instanceId,
  ...extra,
  ...DEBUG,
});
