/**
 * The V1 cases of the deployment self-check (`npm run selfcheck -- --v1`): what Seller Center's
 * interface debugging sends a V1 product (kit-sync-and-signing.md §7; contract §8), with the
 * `authToken` scheme and the V1 key, judged as KooGallery judges V1 answers: `Body-Sign` is
 * mandatory (§7.3). Debug data only: a fresh tenant with `testFlag` 1 and empty ids, deleted at
 * the end, and a debug purchase released at the end. One table, in the order it runs, as
 * selfcheck.ts's V2 table; the runner is the same.
 */
import { createHmac, randomBytes } from 'node:crypto';
import {
  formatExpireTime,
  newOrderId,
  v1AuthToken,
  v1StringToSign,
  type V1Value,
} from './marketplace/index.js';
import type { Fields } from './pusher.js';
import type { CaseContext, SelfCheckCase } from './selfcheck.js';
import {
  auth as v2Auth,
  DAY_MS,
  DEBUG,
  hasInstance,
  OK,
  org,
  PURCHASE_ANSWER,
  SAME_INSTANCE,
  tenant,
  theInstance,
  unknownInstanceId,
} from './selfcheckFields.js';

const V1_CALL = { kind: 'v1' } as const;
/** V1 basic calls carry testFlag as a string; kit bodies as a number. */

const V1_AUTH_ADD =
  'V1 authSync add (flag 1): userList as a JSON string, mobile and email encrypted (AES-256)';
const V1_PURCHASE =
  'V1 newInstance (GET): a new purchase (testFlag "1", a fresh order) answers an instanceId';

const USERS = [
  {
    userName: 'selfcheck.admin',
    name: '自检管理员',
    orgCode: 'sc-100',
    role: 'admin',
    enable: 'true',
    mobile: '13800138000',
    email: 'selfcheck.admin@example.com',
    extension: { entryDate: '2024-1-2', employeeType: '1', workPlace: '深圳' },
  },
  { userName: 'selfcheck.user', name: '自检用户', orgCode: 'sc-110', role: 'user', enable: 'false' },
] as const;
/** The V2 cases' fields, with V1's users (their `extension`). */
const auth = (c: CaseContext, flag: number, userList: unknown = USERS): Fields => v2Auth(c, flag, userList);
const HAS_INSTANCE = hasInstance(V1_PURCHASE, 'the V1 purchase');
const v1Key = (c: CaseContext) => c.v1Key!;

/**
 * The V1 cases: kit pushes first (the credential's tenantSync, applicationSync, allOrgSync; the
 * test account's authSync; department edits), the authToken refusals, the basic calls with
 * GET, then the cleanup.
 */
export const V1_SELF_CHECK_CASES: readonly SelfCheckCase[] = [
  {
    name: 'V1 tenantSync add: debug data (flag 1, testFlag 1, instanceId and orderId empty)',
    expected: OK,
    ...V1_CALL,
    send: (c) => c.p.v1Push('tenantSync', tenant(c, { name: 'Relay self-check V1 (debug data)' })),
    gate: (attempt, c) =>
      !attempt.push
        ? 'the relay did not answer the first request, so nothing else was sent (and nothing needs cleaning up)'
        : attempt.push.status === 404 || attempt.push.status === 405
          ? `no V1 kit route at ${c.url.replace(/\/+$/, '')}/produceAPI/… (HTTP ${attempt.push.status}), so nothing else was sent; the relay serves V1 only with V1_ACCESS_KEY set (or fix --url)`
          : undefined,
  },
  {
    name: 'V1 tenantSync add again (V1 has no modify: flag 1 replaces the name)',
    expected: OK,
    ...V1_CALL,
    send: (c) => c.p.v1Push('tenantSync', tenant(c, { name: 'Relay self-check V1 (renamed)' })),
  },
  {
    name: 'V1 applicationSync add: clientSecret RSA-OAEP encrypted',
    expected: OK,
    ...V1_CALL,
    hint: (push) =>
      /clientSecret|decrypt/i.test(push.resultMsg ?? '')
        ? "the relay could not decrypt clientSecret: the public key given here is not the half of the relay's RSA private key"
        : undefined,
    send: (c) =>
      c.p.v1Push('applicationSync', {
        instanceId: '',
        tenantId: c.tenantId,
        appId: c.appId,
        clientId: c.clientId,
        clientSecret: c.clientSecret,
        flag: 1,
        testFlag: 1,
      }),
  },
  {
    name: 'V1 allOrgSync: orgInfo as a JSON string of {orgCode, name, parentCode}',
    expected: OK,
    ...V1_CALL,
    send: (c) =>
      c.p.v1Push('allOrgSync', {
        instanceId: '',
        tenantId: c.tenantId,
        orgInfoList: [
          { orgCode: 'sc-100', orgName: '自检产品部', parentCode: '' },
          { orgCode: 'sc-110', orgName: '自检开发部', parentCode: 'sc-100' },
        ],
        testFlag: 1,
      }),
  },
  { name: V1_AUTH_ADD, expected: OK, ...V1_CALL, send: (c) => c.p.v1Push('authSync', auth(c, 1)) },
  {
    // V1 has no nonce: the marketplace's repeat is the very same call, token and all.
    name: 'V1 authSync repeated delivery: the byte-identical call again',
    expected: OK,
    ...V1_CALL,
    send: (c) => {
      const added = c.answer(V1_AUTH_ADD);
      return added ? c.p.sendV1('authSync', added.body) : c.p.v1Push('authSync', auth(c, 1));
    },
  },
  {
    name: 'V1 authSync modify (flag 2): mobile and email encrypted with AES-128 (encryptType 2)',
    expected: OK,
    ...V1_CALL,
    send: (c) => {
      const body = c.p.v1KitBody(
        'authSync',
        auth(c, 2, [{ ...USERS[0], name: '自检管理员（改）', mobile: undefined, email: undefined }]),
      );
      const list = JSON.parse(String(body.userList)) as Fields[];
      list[0] = {
        ...list[0],
        mobile: c.p.v1Contact('13900139000', '2'),
        email: c.p.v1Contact('sc@example.com', '2'),
      };
      return c.p.sendV1('authSync', { ...body, userList: JSON.stringify(list) });
    },
  },
  {
    name: 'V1 authSync delete (flag 0)',
    expected: OK,
    ...V1_CALL,
    send: (c) => c.p.v1Push('authSync', auth(c, 0)),
  },
  {
    name: 'V1 singleOrgSync add (flag 1)',
    expected: OK,
    ...V1_CALL,
    send: (c) => c.p.v1Push('singleOrgSync', org(c, { flag: 1 })),
  },
  {
    name: 'V1 singleOrgSync modify (flag 2): renamed and moved',
    expected: OK,
    ...V1_CALL,
    send: (c) =>
      c.p.v1Push('singleOrgSync', org(c, { orgName: '自检质量部', parentCode: 'sc-110', flag: 2 })),
  },
  {
    name: 'V1 singleOrgSync delete (flag 0)',
    expected: OK,
    ...V1_CALL,
    send: (c) => c.p.v1Push('singleOrgSync', org(c, { flag: 0 })),
  },

  // The authToken: what the relay must refuse.
  {
    name: 'V1 bad authToken (right shape, wrong value)',
    expected: '000001',
    ...V1_CALL,
    acceptedMeans:
      'the relay accepted a V1 push with a wrong authToken: anyone who knows the address can write to the mirror',
    send: (c) =>
      c.p.v1Push('tenantSync', tenant(c, { name: 'bad token' }), {
        sign: randomBytes(32).toString('base64'),
      }),
  },
  {
    name: 'V1 missing authToken header',
    expected: '000001',
    ...V1_CALL,
    acceptedMeans: 'the relay accepted a V1 push without authToken: the token is not enforced',
    send: (c) =>
      c.p.v1Push('tenantSync', tenant(c, { name: 'no token' }), { headers: { authToken: undefined } }),
  },
  {
    name: 'V1 authToken keyed with the key alone, without timeStamp',
    expected: '000001',
    ...V1_CALL,
    acceptedMeans:
      'the relay accepted a token keyed without timeStamp: the V1 token key is the Key followed by timeStamp (§7.2)',
    send: (c) => {
      const body = c.p.v1KitBody('tenantSync', tenant(c, { name: 'key alone' }));
      const sign = createHmac('sha256', v1Key(c))
        .update(v1StringToSign(body as Record<string, V1Value>))
        .digest('base64');
      return c.p.sendV1('tenantSync', body, { sign });
    },
  },

  // The basic calls, with GET as V1 sends them.
  {
    name: V1_PURCHASE,
    expected: OK,
    ...V1_CALL,
    send: (c) => {
      c.made.purchase = {
        orderId: newOrderId(),
        productId: 'selfcheck-product',
        expireTime: formatExpireTime(c.now() + 30 * DAY_MS),
        mobilePhone: '13800138000',
        email: 'buyer@example.com',
        ...DEBUG,
      };
      return c.p.v1Basic('newInstance', c.made.purchase);
    },
    ...PURCHASE_ANSWER,
  },
  {
    name: 'V1 newInstance retry: the same order with a new businessId answers the same instanceId',
    expected: OK,
    ...V1_CALL,
    needs: [HAS_INSTANCE],
    send: (c) => c.p.v1Basic('newInstance', { ...c.made.purchase!, businessId: undefined }),
    ...SAME_INSTANCE,
  },
  {
    name: 'V1 refreshInstance: a later expireTime under a new order',
    expected: OK,
    ...V1_CALL,
    needs: [HAS_INSTANCE],
    send: (c) =>
      c.p.v1Basic(
        'refreshInstance',
        theInstance(c, { orderId: newOrderId(), expireTime: formatExpireTime(c.now() + 395 * DAY_MS) }),
      ),
  },
  {
    name: 'V1 expireInstance (the subscription expired: a freeze)',
    expected: OK,
    ...V1_CALL,
    needs: [HAS_INSTANCE],
    send: (c) => c.p.v1Basic('expireInstance', theInstance(c)),
  },
  {
    name: 'V1 refreshInstance after the expiry (renewed: the instance opens again)',
    expected: OK,
    ...V1_CALL,
    needs: [HAS_INSTANCE],
    send: (c) =>
      c.p.v1Basic(
        'refreshInstance',
        theInstance(c, { orderId: newOrderId(), expireTime: formatExpireTime(c.now() + 760 * DAY_MS) }),
      ),
  },
  {
    name: 'V1 upgrade: a new order, another product',
    expected: OK,
    ...V1_CALL,
    needs: [HAS_INSTANCE],
    send: (c) =>
      c.p.v1Basic('upgrade', theInstance(c, { orderId: newOrderId(), productId: 'selfcheck-product-pro' })),
  },
  {
    name: 'V1 refreshInstance of an unknown instance',
    expected: '000003',
    ...V1_CALL,
    acceptedMeans:
      'the relay answered 000000 for an instance it never created: KooGallery would take the renewal as applied',
    send: (c) =>
      c.p.v1Basic('refreshInstance', {
        instanceId: unknownInstanceId(),
        orderId: newOrderId(),
        expireTime: formatExpireTime(c.now() + DAY_MS),
        ...DEBUG,
      }),
  },
  {
    name: 'V1 basic call (GET) with a wrong authToken',
    expected: '000001',
    ...V1_CALL,
    acceptedMeans: 'the relay accepted a V1 basic call with a wrong authToken',
    send: (c) =>
      c.p.v1Basic(
        'expireInstance',
        { instanceId: c.made.instanceId ?? unknownInstanceId(), ...DEBUG },
        { sign: v1AuthToken('not-the-v1-key', { a: '1' }) },
      ),
  },

  // Cleanup, whatever happened above.
  {
    name: 'V1 releaseInstance (the end of the debug instance)',
    expected: OK,
    ...V1_CALL,
    needs: [HAS_INSTANCE],
    cleanup: true,
    send: (c) => c.p.v1Basic('releaseInstance', theInstance(c)),
  },
  {
    name: 'V1 releaseInstance again (idempotent)',
    expected: OK,
    ...V1_CALL,
    needs: [HAS_INSTANCE],
    cleanup: true,
    send: (c) => c.p.v1Basic('releaseInstance', theInstance(c)),
  },
  {
    name: 'V1 cleanup: applicationSync delete (flag 0)',
    expected: OK,
    ...V1_CALL,
    cleanup: true,
    send: (c) =>
      c.p.v1Push('applicationSync', {
        instanceId: '',
        tenantId: c.tenantId,
        appId: c.appId,
        flag: 0,
        testFlag: 1,
      }),
  },
  {
    name: 'V1 cleanup: tenantSync delete (flag 0)',
    expected: OK,
    ...V1_CALL,
    cleanup: true,
    send: (c) => c.p.v1Push('tenantSync', tenant(c, { flag: 0 })),
  },
];
