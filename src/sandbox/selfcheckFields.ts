/**
 * The fields the self-check's cases build their calls from, shared by the V2 cases (selfcheck.ts)
 * and the V1 ones (selfcheckV1.ts): the debug tenant's users, departments and instance.
 */
import type { Fields } from './pusher.js';
import { randomBytes } from 'node:crypto';
import type { CaseContext, Need, Outcome, SelfCheckCase } from './selfcheck.js';

/** Seller Center's debugging marks every call as a test. */
export const DEBUG = { testFlag: '1' };
export const OK = '000000';
export const DAY_MS = 24 * 3600 * 1000;

/** Debug data as Seller Center sends it: testFlag 1, instanceId and orderId empty. */
export const tenant = (c: CaseContext, extra: Fields = {}): Fields => ({
  instanceId: '',
  orderId: '',
  tenantId: c.tenantId,
  tenantCode: 'selfcheck',
  name: 'Relay self-check (debug data)',
  domainName: 'https://selfcheck.example.com',
  flag: 1,
  testFlag: 1,
  ...extra,
});

export const unknownInstanceId = () => `selfcheck-unknown-${randomBytes(8).toString('hex')}`;

/** What the cases that call the debug instance need: the purchase case `purchase`, accepted. */
export const hasInstance = (purchase: string, what = 'the purchase'): Need => ({
  case: purchase,
  why: (o: Outcome) =>
    `not tested: ${what} (newInstance) was not accepted (${o.result.got}), so there is no instance to call`,
});

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

/** What a purchase (newInstance, V2 or V1) must answer, and where the instance is kept. */
export const PURCHASE_ANSWER: Pick<SelfCheckCase, 'inspect' | 'keep'> = {
  inspect: (push) => {
    const id = push.answer?.instanceId;
    if (typeof id !== 'string' || !id)
      return {
        problem:
          'answered 000000 without an instanceId: KooGallery needs it to bind tenants and to send every later call',
      };
    if (id.length > 64) return { problem: `instanceId has ${id.length} characters; KooGallery allows 64` };
    return { note: `instanceId ${id}` };
  },
  keep: (push, c) => {
    c.made.instanceId = push.answer!.instanceId as string;
  },
};

/** A purchase resent with a new businessId must answer the instance of its order. */
export const SAME_INSTANCE: Pick<SelfCheckCase, 'inspect'> = {
  inspect: (push, c) =>
    push.answer?.instanceId === c.made.instanceId
      ? { note: `instanceId ${c.made.instanceId} again` }
      : {
          problem: `answered instanceId ${JSON.stringify(push.answer?.instanceId)}, not ${c.made.instanceId}: a purchase resent with a new businessId must answer the instance of its order (orderId + orderLineId), or the buyer gets two`,
        },
};
