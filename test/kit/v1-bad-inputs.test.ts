// Bad V1 calls over real HTTP (kit-sync-and-signing.md §7; contract §8): each one is answered
// 200 + JSON + a valid Body-Sign (with the key of the path it reached) and the expected result
// code (000001 authentication, 000002 request), and changes nothing in the store.
import { createHmac, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  canonicalPayload,
  javaUrlEncode,
  kitSign,
  newNonce,
  v1AuthToken,
  v1StringToSign,
  type V1Value,
} from '../../src/sandbox/marketplace/index.js';
import type { Fields, PushResult, SendOverrides } from '../../src/sandbox/pusher.js';
import type { KitInterface } from '../../src/vocabulary.js';
import {
  allOrgFields,
  appFields,
  authFields,
  newTenantId,
  orgFields,
  tenantFields,
  user,
} from '../support/data.js';
import { BASIC_KEY, KIT_KEY, startRelay, V1_KEY, type TestRelay } from '../support/relay.js';

interface Ctx {
  t: TestRelay;
  /** a tenant with its app, users alice and bob, and departments, pushed by V1 */
  seed: string;
  /** a purchase bound to the seed, active */
  instanceId: string;
  /** a tenant id no push has named */
  fresh: string;
}

interface BadCase {
  name: string;
  /** the V1 route the case is about (kit interface or basic activity) */
  about: string;
  code: '000001' | '000002';
  msg: RegExp;
  send: (c: Ctx) => Promise<PushResult>;
}

const b64hmac = (key: string, data: string) => createHmac('sha256', key).update(data).digest('base64');
const params = (body: Fields) => body as Record<string, V1Value>;

/** A V1 kit push of `fields`, `edit` applied after the body is complete and before it is signed. */
const kit = (
  c: Ctx,
  iface: KitInterface,
  fields: Fields,
  o: SendOverrides = {},
  edit: (body: Fields) => Fields = (b) => b,
) => c.t.pusher.sendV1(iface, edit(c.t.pusher.v1KitBody(iface, fields)), o);

/** A V1 kit push whose token `token(body)` makes from the complete body. */
const kitSigned = (c: Ctx, iface: KitInterface, fields: Fields, token: (body: Fields) => string) => {
  const body = c.t.pusher.v1KitBody(iface, fields);
  return c.t.pusher.sendV1(iface, body, { sign: token(body) });
};

/** A V1 kit push signed correctly, then changed (`after`) on its way. */
const tampered = (c: Ctx, iface: KitInterface, fields: Fields, after: (body: Fields) => Fields) => {
  const body = c.t.pusher.v1KitBody(iface, fields);
  return c.t.pusher.sendV1(iface, after(body), { sign: v1AuthToken(V1_KEY, params(body)) });
};

/** A V1 basic call (GET unless told) of `fields`. */
const basic = (c: Ctx, activity: string, fields: Fields, o: SendOverrides = {}) =>
  c.t.pusher.v1Basic(activity, fields, o);

const basicSigned = (c: Ctx, activity: string, fields: Fields, token: (p: Fields) => string) => {
  const p = c.t.pusher.v1BasicParams(activity, fields);
  return c.t.pusher.sendV1Basic(activity, p, { sign: token(p) });
};

const users = (n: number) => Array.from({ length: n }, (_, i) => user(`bulk${i}`));

const cases: BadCase[] = [
  // ---- the token: 000001 ---------------------------------------------------------------------
  {
    name: 'a token made with the key alone, without the timeStamp',
    about: 'tenantSync',
    code: '000001',
    msg: /^authToken does not match the request/,
    send: (c) =>
      kitSigned(c, 'tenantSync', tenantFields(c.fresh), (b) => b64hmac(V1_KEY, v1StringToSign(params(b)))),
  },
  {
    name: 'a token over the parameters in the order sent, not sorted',
    about: 'authSync',
    code: '000001',
    msg: /^authToken does not match the request/,
    send: (c) =>
      kitSigned(c, 'authSync', authFields(c.seed, [user('mallory')]), (b) =>
        b64hmac(
          V1_KEY + String(b.timeStamp),
          Object.entries(b)
            .map(([k, v]) => `${k}=${String(v)}`)
            .join('&'),
        ),
      ),
  },
  {
    name: 'a GET token over the URL-encoded values left undecoded',
    about: 'newInstance',
    code: '000001',
    msg: /^authToken does not match the request/,
    send: (c) =>
      basicSigned(
        c,
        'newInstance',
        { orderId: 'CS-ENCODED', customerName: '张三 & 李四', businessId: randomUUID() },
        (p) =>
          v1AuthToken(
            V1_KEY,
            Object.fromEntries(Object.entries(p).map(([k, v]) => [k, javaUrlEncode(String(v))])) as Record<
              string,
              V1Value
            >,
          ),
      ),
  },
  {
    name: 'a GET token over the parameters in descending order',
    about: 'expireInstance',
    code: '000001',
    msg: /^authToken does not match the request/,
    send: (c) =>
      basicSigned(c, 'expireInstance', { instanceId: c.instanceId }, (p) =>
        b64hmac(
          V1_KEY + String(p.timeStamp),
          Object.entries(p)
            .map(([k, v]) => `${k}=${String(v)}`)
            .reverse()
            .join('&'),
        ),
      ),
  },
  {
    name: 'a GET token made with the key alone',
    about: 'releaseInstance',
    code: '000001',
    msg: /^authToken does not match the request/,
    send: (c) =>
      basicSigned(c, 'releaseInstance', { instanceId: c.instanceId }, (p) =>
        b64hmac(V1_KEY, v1StringToSign(params(p))),
      ),
  },
  {
    name: 'a missing authToken header',
    about: 'tenantSync',
    code: '000001',
    msg: /^authToken header is missing$/,
    send: (c) => kit(c, 'tenantSync', tenantFields(c.fresh), { headers: { authToken: undefined } }),
  },
  {
    name: 'an empty authToken header',
    about: 'singleOrgSync',
    code: '000001',
    msg: /^authToken header is missing$/,
    send: (c) => kit(c, 'singleOrgSync', orgFields(c.seed, '30000'), { sign: '' }),
  },
  {
    name: 'a token made with another key',
    about: 'applicationSync',
    code: '000001',
    msg: /check V1_ACCESS_KEY/,
    send: (c) =>
      kitSigned(c, 'applicationSync', appFields(c.fresh), (b) =>
        v1AuthToken('another-v1-key-00000', params(b)),
      ),
  },
  {
    name: 'a token made with the V2 kit key',
    about: 'allOrgSync',
    code: '000001',
    msg: /^authToken does not match the request/,
    send: (c) => kitSigned(c, 'allOrgSync', allOrgFields(c.seed, []), (b) => v1AuthToken(KIT_KEY, params(b))),
  },
  {
    name: 'a token in another case (Base64 is compared exactly)',
    about: 'tenantSync',
    code: '000001',
    msg: /^authToken does not match the request/,
    send: (c) =>
      kitSigned(c, 'tenantSync', tenantFields(c.fresh), (b) => v1AuthToken(V1_KEY, params(b)).toLowerCase()),
  },
  {
    name: 'a token as hex instead of Base64',
    about: 'tenantSync',
    code: '000001',
    msg: /^authToken does not match the request/,
    send: (c) =>
      kitSigned(c, 'tenantSync', tenantFields(c.fresh), (b) =>
        Buffer.from(v1AuthToken(V1_KEY, params(b)), 'base64').toString('hex'),
      ),
  },
  {
    name: 'a token over the raw JSON body instead of the parameters',
    about: 'authSync',
    code: '000001',
    msg: /^authToken does not match the request/,
    send: (c) =>
      kitSigned(c, 'authSync', authFields(c.seed, [user('mallory')]), (b) =>
        b64hmac(V1_KEY + String(b.timeStamp), JSON.stringify(b)),
      ),
  },
  {
    name: 'a body changed after signing (tenant renamed)',
    about: 'tenantSync',
    code: '000001',
    msg: /^authToken does not match the request/,
    send: (c) =>
      tampered(c, 'tenantSync', tenantFields(c.seed, { name: 'signed' }), (b) => ({
        ...b,
        name: 'tampered',
      })),
  },
  {
    name: 'a member added after signing',
    about: 'singleOrgSync',
    code: '000001',
    msg: /^authToken does not match the request/,
    send: (c) =>
      tampered(c, 'singleOrgSync', orgFields(c.seed, '10001', { flag: 2 }), (b) => ({
        ...b,
        parentCode: 'evil',
      })),
  },
  {
    name: 'a timeStamp changed after signing',
    about: 'tenantSync',
    code: '000001',
    msg: /^authToken does not match the request/,
    send: (c) =>
      tampered(c, 'tenantSync', tenantFields(c.fresh), (b) => ({
        ...b,
        timeStamp: c.t.pusher.nextSyncTime(),
      })),
  },
  {
    name: 'a GET for another instance than the one signed',
    about: 'expireInstance',
    code: '000001',
    msg: /^authToken does not match the request/,
    send: (c) => {
      const p = c.t.pusher.v1BasicParams('expireInstance', { instanceId: randomUUID() });
      return c.t.pusher.sendV1Basic(
        'expireInstance',
        { ...p, instanceId: c.instanceId },
        { sign: v1AuthToken(V1_KEY, params(p)) },
      );
    },
  },
  {
    name: 'a GET without authToken',
    about: 'expireInstance',
    code: '000001',
    msg: /^authToken parameter is missing$/,
    send: (c) => {
      const p = c.t.pusher.v1BasicParams('expireInstance', { instanceId: c.instanceId });
      return c.t.pusher.sendV1Basic('expireInstance', p, {
        query: Object.entries(p)
          .map(([k, v]) => `${k}=${javaUrlEncode(String(v))}`)
          .join('&'),
      });
    },
  },
  {
    name: 'a POST JSON basic call with a wrong authToken member',
    about: 'releaseInstance',
    code: '000001',
    msg: /^authToken does not match the request/,
    send: (c) => basic(c, 'releaseInstance', { instanceId: c.instanceId }, { method: 'POST', sign: 'AAAA' }),
  },
  // ---- V1 and V2 mixed up: 000001 -------------------------------------------------------------
  {
    name: 'a V2 kit push (x-sign) sent to the V1 path',
    about: 'tenantSync',
    code: '000001',
    msg: /^authToken header is missing: x-sign is the V2 scheme, whose pushes go to \/produceAPI\/v2\/\{interface\}$/,
    send: (c) => {
      const body = { ...tenantFields(c.fresh), timeStamp: c.t.pusher.nextSyncTime() };
      const nonce = newNonce();
      const timestamp = String(Date.now());
      return c.t.pusher.sendV1('tenantSync', body, {
        headers: {
          authToken: undefined,
          'x-sign': kitSign(KIT_KEY, nonce, timestamp, canonicalPayload(JSON.stringify(body))),
          'x-timestamp': timestamp,
          'x-nonce': nonce,
        },
      });
    },
  },
  {
    name: 'a V1 push (authToken) sent to the V2 path',
    about: 'tenantSync',
    code: '000001',
    msg: /^authToken is the V1 scheme: V1 pushes go to \/produceAPI\/\{interface\}/,
    send: (c) => {
      const body = c.t.pusher.v1KitBody('tenantSync', tenantFields(c.fresh));
      return c.t.pusher.send('tenantSync', body, {
        headers: {
          'x-sign': undefined,
          'x-timestamp': undefined,
          'x-nonce': undefined,
          authToken: v1AuthToken(V1_KEY, params(body)),
        },
      });
    },
  },
  {
    name: 'a V1 token (authToken) with V2 credentials in the query: taken as V2',
    about: 'expireInstance',
    code: '000002',
    msg: /^timestamp query parameter is missing$/,
    send: (c) => {
      const p = c.t.pusher.v1BasicParams('expireInstance', { instanceId: c.instanceId });
      const token = v1AuthToken(V1_KEY, params(p));
      // answered by the V2 basic route, with the basic key
      return c.t.pusher.basic(
        'updateInstanceStatus',
        { instanceId: c.instanceId, status: 'FREEZE' },
        {
          query: `signature=AB&authToken=${javaUrlEncode(token)}`,
        },
      );
    },
  },
  // ---- timeStamp: 000002 ----------------------------------------------------------------------
  {
    name: 'a missing timeStamp',
    about: 'tenantSync',
    code: '000002',
    msg: /^timeStamp is missing; V1 signs with the key followed by timeStamp$/,
    send: (c) => kit(c, 'tenantSync', tenantFields(c.fresh), {}, ({ timeStamp: _t, ...b }) => b),
  },
  {
    name: 'a blank timeStamp',
    about: 'authSync',
    code: '000002',
    msg: /^timeStamp is missing/,
    send: (c) =>
      kit(c, 'authSync', authFields(c.seed, [user('mallory')]), {}, (b) => ({ ...b, timeStamp: '   ' })),
  },
  {
    name: 'a timeStamp of 13 digits (epoch ms, the V2 form)',
    about: 'tenantSync',
    code: '000002',
    msg: /^timeStamp must be a real time as yyyyMMddHHmmssSSS \(UTC\+8\)$/,
    send: (c) => kit(c, 'tenantSync', tenantFields(c.fresh, { timeStamp: String(Date.now()) })),
  },
  {
    name: 'a timeStamp that is no real date (month 13)',
    about: 'singleOrgSync',
    code: '000002',
    msg: /^timeStamp must be a real time/,
    send: (c) => kit(c, 'singleOrgSync', orgFields(c.seed, '30000', { timeStamp: '20241301120000000' })),
  },
  {
    name: 'a GET without timeStamp',
    about: 'newInstance',
    code: '000002',
    msg: /^timeStamp is missing/,
    send: (c) => basic(c, 'newInstance', { orderId: 'CS-NOTIME', timeStamp: undefined }),
  },
  {
    name: 'a GET timeStamp in epoch ms',
    about: 'expireInstance',
    code: '000002',
    msg: /^timeStamp must be a real time as yyyyMMddHHmmssSSS \(UTC\)$/,
    send: (c) => basic(c, 'expireInstance', { instanceId: c.instanceId, timeStamp: String(Date.now()) }),
  },
  // ---- unreadable calls: 000002 ---------------------------------------------------------------
  {
    name: 'a body that is not JSON',
    about: 'tenantSync',
    code: '000002',
    msg: /^body is not valid JSON$/,
    send: (c) => kit(c, 'tenantSync', tenantFields(c.fresh), { rawBody: 'tenantId=x&flag=1' }),
  },
  {
    name: 'a body that is a JSON list',
    about: 'tenantSync',
    code: '000002',
    msg: /^body must be a JSON object$/,
    send: (c) => kit(c, 'tenantSync', tenantFields(c.fresh), { rawBody: '[1,2]' }),
  },
  {
    name: 'userList sent as a JSON list rather than a string',
    about: 'authSync',
    code: '000002',
    msg: /^userList must be a string: V1 sends lists and objects as JSON strings$/,
    send: (c) =>
      kit(c, 'authSync', authFields(c.seed, [user('mallory')]), {}, (b) => ({
        ...b,
        userList: [user('mallory')],
      })),
  },
  {
    name: 'Content-Type text/plain',
    about: 'tenantSync',
    code: '000002',
    msg: /^Content-Type must be application\/json$/,
    send: (c) => kit(c, 'tenantSync', tenantFields(c.fresh), { contentType: 'text/plain' }),
  },
  {
    name: 'more than 64 members, correctly signed',
    about: 'tenantSync',
    code: '000002',
    msg: /^more than 64 parameters$/,
    send: (c) =>
      kit(c, 'tenantSync', {
        ...tenantFields(c.fresh),
        ...Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`x${i}`, 'v'])),
      }),
  },
  {
    name: 'a GET with a repeated parameter',
    about: 'expireInstance',
    code: '000002',
    msg: /^parameter instanceId is repeated$/,
    send: (c) => {
      const p = c.t.pusher.v1BasicParams('expireInstance', { instanceId: c.instanceId });
      const token = v1AuthToken(V1_KEY, params(p));
      return c.t.pusher.sendV1Basic('expireInstance', p, {
        query: `activity=expireInstance&instanceId=${c.instanceId}&instanceId=other&timeStamp=${String(p.timeStamp)}&authToken=${javaUrlEncode(token)}`,
      });
    },
  },
  {
    name: 'a GET with a malformed %-escape',
    about: 'expireInstance',
    code: '000002',
    msg: /^the query string is not validly URL-encoded/,
    send: (c) =>
      basic(
        c,
        'expireInstance',
        { instanceId: c.instanceId },
        { query: 'activity=expireInstance&instanceId=%E5%BC&authToken=x' },
      ),
  },
  // ---- kit bodies: 000002 ---------------------------------------------------------------------
  {
    name: 'userList that is not valid JSON',
    about: 'authSync',
    code: '000002',
    msg: /^userList must be a JSON string holding a list of users; it is not valid JSON$/,
    send: (c) => kit(c, 'authSync', authFields(c.seed, '[{"userName":"mallory",'), {}),
  },
  {
    name: '501 users',
    about: 'authSync',
    code: '000002',
    msg: /^userList must hold at most 500 users$/,
    send: (c) => kit(c, 'authSync', authFields(c.fresh, users(501))),
  },
  {
    name: 'userList holding an object, not a list',
    about: 'authSync',
    code: '000002',
    msg: /^userList must be a list of users$/,
    send: (c) => kit(c, 'authSync', authFields(c.seed, JSON.stringify(user('mallory')))),
  },
  {
    name: 'an empty userList',
    about: 'authSync',
    code: '000002',
    msg: /^userList must hold at least one user$/,
    send: (c) => kit(c, 'authSync', authFields(c.seed, [])),
  },
  {
    name: 'a user with the role "boss"',
    about: 'authSync',
    code: '000002',
    msg: /^userList\.0\.role must be "user" or "admin"$/,
    send: (c) => kit(c, 'authSync', authFields(c.seed, [user('mallory', { role: 'boss' })])),
  },
  {
    name: 'a mobile encrypted with another key',
    about: 'authSync',
    code: '000002',
    msg: /^userList\.1\.mobile is encrypted \(IV \+ Base64\) but does not decrypt with V1_ACCESS_KEY/,
    send: (c) =>
      kit(c, 'authSync', authFields(c.seed, [user('alice'), user('mallory')]), {}, (b) => {
        const list = JSON.parse(String(b.userList)) as Fields[];
        list[1]!.mobile = 'AbCdEfGh12345678' + Buffer.alloc(16, 1).toString('base64');
        return { ...b, userList: JSON.stringify(list) };
      }),
  },
  {
    name: 'authSync flag 3 (V1 defines 0, 1 and 2)',
    about: 'authSync',
    code: '000002',
    msg: /^flag must be one of 0, 1, 2 \(V1\)$/,
    send: (c) => kit(c, 'authSync', authFields(c.seed, [{ userName: 'alice' }], { flag: 3 })),
  },
  {
    name: 'tenantSync flag 2 (V1 defines only 0 and 1)',
    about: 'tenantSync',
    code: '000002',
    msg: /^flag must be one of 0, 1 \(V1\)$/,
    send: (c) => kit(c, 'tenantSync', tenantFields(c.seed, { flag: 2, name: 'renamed' })),
  },
  {
    name: 'applicationSync flag 2',
    about: 'applicationSync',
    code: '000002',
    msg: /^flag must be one of 0, 1 \(V1\)$/,
    send: (c) => kit(c, 'applicationSync', appFields(c.seed, { flag: 2 })),
  },
  {
    name: 'a missing flag',
    about: 'singleOrgSync',
    code: '000002',
    msg: /^flag is required$/,
    send: (c) => kit(c, 'singleOrgSync', orgFields(c.seed, '30000', { flag: undefined })),
  },
  {
    name: 'testFlag 2',
    about: 'tenantSync',
    code: '000002',
    msg: /^testFlag must be one of 0, 1 \(V1\)$/,
    send: (c) => kit(c, 'tenantSync', tenantFields(c.fresh, { testFlag: 2 })),
  },
  {
    name: 'tenantSync without tenantId',
    about: 'tenantSync',
    code: '000002',
    msg: /^tenantId is required$/,
    send: (c) => kit(c, 'tenantSync', tenantFields(c.fresh, { tenantId: undefined })),
  },
  {
    name: 'a tenantSync add without domainName (blank: not signed, not read)',
    about: 'tenantSync',
    code: '000002',
    msg: /^domainName is required unless flag is 0/,
    send: (c) => kit(c, 'tenantSync', tenantFields(c.fresh, { domainName: '  ' })),
  },
  {
    name: 'applicationSync with a clientSecret in plain text',
    about: 'applicationSync',
    code: '000002',
    msg: /^clientSecret could not be decrypted/,
    send: (c) => kit(c, 'applicationSync', appFields(c.fresh, { clientSecretEncrypted: 'plain-secret' })),
  },
  {
    name: 'singleOrgSync without orgCode',
    about: 'singleOrgSync',
    code: '000002',
    msg: /^orgCode is required$/,
    send: (c) => kit(c, 'singleOrgSync', orgFields(c.seed, '30000', { orgCode: undefined })),
  },
  {
    name: 'allOrgSync without orgInfo',
    about: 'allOrgSync',
    code: '000002',
    msg: /^orgInfo is required$/,
    send: (c) => kit(c, 'allOrgSync', { instanceId: '', tenantId: c.seed }),
  },
  {
    name: 'allOrgSync orgInfo that is not JSON',
    about: 'allOrgSync',
    code: '000002',
    msg: /^orgInfo must be a JSON string holding a list of departments; it is not valid JSON$/,
    send: (c) => kit(c, 'allOrgSync', { ...allOrgFields(c.seed, []), orgInfoList: '[{orgCode:' }),
  },
  {
    name: 'allOrgSync with a department without orgCode',
    about: 'allOrgSync',
    code: '000002',
    msg: /^orgInfoList\.0\.orgCode is required$/,
    send: (c) => kit(c, 'allOrgSync', allOrgFields(c.seed, [{ orgName: 'no code' }])),
  },
  {
    name: 'an unknown V1 kit interface',
    about: 'fooSync',
    code: '000002',
    msg: /^unknown V1 kit interface; expected one of tenantSync/,
    send: (c) => kit(c, 'tenantSync', tenantFields(c.fresh), { path: '/produceAPI/fooSync' }),
  },
  // ---- basic calls: 000002 --------------------------------------------------------------------
  {
    name: 'a GET without activity',
    about: 'basic',
    code: '000002',
    msg: /^activity is required$/,
    send: (c) => basic(c, 'expireInstance', { activity: undefined, instanceId: c.instanceId }),
  },
  {
    name: 'the V2 activity updateInstanceStatus sent through V1',
    about: 'basic',
    code: '000002',
    msg: /^unknown V1 activity; expected one of newInstance, refreshInstance, expireInstance, releaseInstance, upgrade$/,
    send: (c) => basic(c, 'updateInstanceStatus', { instanceId: c.instanceId, status: 'FREEZE' }),
  },
  {
    name: 'queryInstance, which V1 does not have',
    about: 'basic',
    code: '000002',
    msg: /^unknown V1 activity/,
    send: (c) => basic(c, 'queryInstance', { instanceId: c.instanceId }),
  },
  {
    name: 'a newInstance without orderId',
    about: 'newInstance',
    code: '000002',
    msg: /^orderId is required$/,
    send: (c) => basic(c, 'newInstance', { customerId: c.fresh }),
  },
  {
    name: 'a refreshInstance without expireTime',
    about: 'refreshInstance',
    code: '000002',
    msg: /^expireTime is required$/,
    send: (c) => basic(c, 'refreshInstance', { instanceId: c.instanceId, orderId: 'CS-RENEW' }),
  },
  {
    name: 'a refreshInstance with an expireTime that is no time',
    about: 'refreshInstance',
    code: '000002',
    msg: /^expireTime must be a real UTC time/,
    send: (c) =>
      basic(
        c,
        'refreshInstance',
        { instanceId: c.instanceId, orderId: 'CS-RENEW', expireTime: '2027-01-01' },
        { method: 'POST' },
      ),
  },
  {
    name: 'an upgrade without instanceId',
    about: 'upgrade',
    code: '000002',
    msg: /^instanceId is required$/,
    send: (c) => basic(c, 'upgrade', { orderId: 'CS-UP', productId: 'P' }),
  },
  {
    name: 'a POST JSON basic call with a nested member',
    about: 'newInstance',
    code: '000002',
    msg: /^saasExtendParams must be a string/,
    send: (c) =>
      basic(c, 'newInstance', { orderId: 'CS-NESTED', saasExtendParams: { a: 1 } }, { method: 'POST' }),
  },
];

describe('bad V1 calls', () => {
  let t: TestRelay;
  let ctx: Omit<Ctx, 'fresh'>;
  beforeAll(async () => {
    t = await startRelay({ env: { V1_ACCESS_KEY: V1_KEY }, pusher: { v1Key: V1_KEY } });
    const seed = newTenantId();
    const bought = await t.pusher.v1Basic('newInstance', {
      orderId: `CS${seed.slice(0, 10)}`,
      businessId: randomUUID(),
    });
    const instanceId = bought.answer!.instanceId as string;
    for (const r of [
      bought,
      await t.pusher.v1Push('tenantSync', tenantFields(seed, { instanceId })),
      await t.pusher.v1Push('applicationSync', appFields(seed, { instanceId })),
      await t.pusher.v1Push('authSync', authFields(seed, [user('alice', { role: 'admin' }), user('bob')])),
      await t.pusher.v1Push(
        'allOrgSync',
        allOrgFields(seed, [
          { orgCode: '10000', orgName: '总部', parentCode: '' },
          { orgCode: '10001', orgName: '研发部', parentCode: '10000' },
        ]),
      ),
    ])
      expect(r.resultCode).toBe('000000');
    ctx = { t, seed, instanceId };
  });
  afterAll(() => t.close());

  it('has a table of at least 40 cases, every V1 kit interface and both codes among them', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
    for (const about of [
      'tenantSync',
      'applicationSync',
      'authSync',
      'singleOrgSync',
      'allOrgSync',
      'newInstance',
      'expireInstance',
    ])
      expect(cases.some((c) => c.about === about)).toBe(true);
    expect(new Set(cases.map((c) => c.code))).toEqual(new Set(['000001', '000002']));
  });

  it.each(cases)('$name -> $code', async (c) => {
    const fresh = newTenantId();
    // A case that failed earlier may have frozen the seed's instance: open it so only that case fails.
    if ((await t.api(`/api/v1/instances/${ctx.instanceId}`)).body.status !== 'active')
      await t.pusher.updateInstanceStatus({ instanceId: ctx.instanceId, status: 'UNFREEZE' });
    const before = await t.state();
    const r = await c.send({ ...ctx, fresh });
    expect(r.status).toBe(200);
    expect(r.contentType).toMatch(/^application\/json/);
    // signed with the key of the scheme whose path the call reached
    expect(r.bodySignValid).toBe(true);
    expect({ resultCode: r.resultCode, resultMsg: r.resultMsg }).toEqual({
      resultCode: c.code,
      resultMsg: expect.stringMatching(c.msg),
    });
    expect(r.resultMsg!.length).toBeLessThanOrEqual(255);
    expect(r.ok).toBe(false);
    expect(await t.state()).toEqual(before);
    expect((await t.api(`/api/v1/tenants/${fresh}`)).status).toBe(404);
    expect((await t.api(`/api/v1/tenants/${ctx.seed}`)).body).toMatchObject({ name: '华为测试企业' });
    expect((await t.api(`/api/v1/instances/${ctx.instanceId}`)).body).toMatchObject({ status: 'active' });
  });

  it('takes a blank member added to a signed call as absent: it is not signed, so it changes nothing', async () => {
    const body = t.pusher.v1KitBody('singleOrgSync', orgFields(ctx.seed, '20000', { parentCode: undefined }));
    const token = v1AuthToken(V1_KEY, params(body));
    const r = await t.pusher.sendV1(
      'singleOrgSync',
      { ...body, parentCode: ' \t', orgName: body.orgName },
      { sign: token },
    );
    expect([r.resultCode, r.bodySignValid]).toEqual(['000000', true]);
    const departments = (await t.api(`/api/v1/tenants/${ctx.seed}/departments`)).body.departments as Fields[];
    expect(departments.find((d) => d.orgCode === '20000')).toEqual({
      orgCode: '20000',
      orgName: '部门20000',
      parentCode: null,
    });
  });

  it('accepts a token that also signed the blank values (sellers\u2019 GET samples)', async () => {
    const p = t.pusher.v1BasicParams('refreshInstance', {
      instanceId: ctx.instanceId,
      orderId: `CS-BLANK-${randomUUID().slice(0, 8)}`,
      expireTime: '20300101000000',
      productId: '',
    });
    const withBlanks = Object.keys(p)
      .sort()
      .map((k) => `${k}=${String(p[k])}`)
      .join('&');
    const r = await t.pusher.sendV1Basic('refreshInstance', p, {
      sign: b64hmac(V1_KEY + String(p.timeStamp), withBlanks),
    });
    expect([r.resultCode, r.bodySignValid]).toEqual(['000000', true]);
    expect((await t.api(`/api/v1/instances/${ctx.instanceId}`)).body).toMatchObject({
      expireTime: '2030-01-01T00:00:00.000Z',
    });
  });

  it('accepts a GET whose Base64 "+" was left unencoded, in the token and in a value', async () => {
    const p = t.pusher.v1BasicParams('upgrade', {
      instanceId: ctx.instanceId,
      orderId: `CS+UP+${randomUUID().slice(0, 6)}`,
      productId: 'P+1',
    });
    const token = v1AuthToken(V1_KEY, params(p));
    const query = [...Object.entries(p).map(([k, v]) => `${k}=${String(v)}`), `authToken=${token}`].join('&');
    expect(query).toContain('+');
    const r = await t.pusher.sendV1Basic('upgrade', p, { query });
    expect([r.resultCode, r.bodySignValid]).toEqual(['000000', true]);
    expect((await t.api(`/api/v1/instances/${ctx.instanceId}`)).body).toMatchObject({ productId: 'P+1' });
  });

  it('answers V2 calls on the V2 routes as before, with the V2 keys', async () => {
    const id = newTenantId();
    const r = await t.pusher.tenantSync(tenantFields(id));
    expect([r.resultCode, r.bodySignValid]).toEqual(['000000', true]);
    const b = await t.pusher.queryInstance({ instanceId: ctx.instanceId });
    expect([b.resultCode, b.bodySignValid]).toEqual(['000000', true]);
    expect(BASIC_KEY).not.toBe(V1_KEY);
  });
});
