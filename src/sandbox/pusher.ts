/**
 * The marketplace half of the sandbox: builds, signs and encrypts the calls KooGallery makes to
 * a seller's production address (kit-sync-and-signing.md §8), and checks each answer the way it
 * does. Signing and encryption come from `./marketplace`, the sandbox's own implementation,
 * never from the relay's code.
 *
 * Deliberately like production, so a relay that is only right by accident fails here: keys in
 * document order (not sorted), upper-case hex signatures and nonces, `timeStamp` in UTC+8, the
 * client secret RSA-OAEP-encrypted with a selectable variant (default SHA-256 + MGF1-SHA-1, the
 * one naive decryptors miss), Base64; basic calls with string values only, signed with a basic
 * key of their own, and a new `businessId` on every `newInstance`, retries included.
 */
import { randomUUID, type KeyObject } from 'node:crypto';
import {
  basicSign,
  canonicalPayload,
  checkBodySign,
  encryptClientSecret,
  encryptContact,
  formatExpireTime,
  formatSyncTime,
  kitSign,
  legacyCanonicalPayload,
  DEFAULT_OAEP_VARIANT,
  loadSellerPublicKey,
  newNonce,
  v1AuthToken,
  v1Query,
  type EncryptType,
  type OaepVariantId,
  type V1Value,
} from './marketplace/index.js';

// The protocol's names of its calls (kit §3, basic §4): words the relay and the sandbox share.
import type { BasicActivity, KitInterface, V1Activity } from '../vocabulary.js';

export interface PusherOptions {
  /** The registered production address, e.g. https://isv.example.com/isv/produce */
  productionAddress: string;
  kitAccessKey: string;
  /** The key bound to the basic interfaces; Seller Center requires it to differ from the kit key. */
  basicAccessKey?: string;
  /** The V1 "Key值" (§7.2): signs V1 calls' authToken and their answers' Body-Sign. */
  v1Key?: string;
  /** How V1 users' mobile and email are sent: encrypted with AES-256 ("1", default), AES-128 ("2"), or plain. */
  v1Contacts?: EncryptType | 'plain';
  /** The public key uploaded with the app credential (SPKI PEM, or its Base64 body as pasted in Seller Center). */
  publicKey?: KeyObject | string;
  oaep?: string;
  ciphertextEncoding?: 'base64' | 'hex';
  /** `jackson` (the reference code's payload, default) or `legacy` (JSON.stringify), §2.2. */
  signing?: 'jackson' | 'legacy';
  /** 5 s as in production, 20 s as the Seller Center debug tool. */
  timeoutMs?: number;
  now?: () => number;
  fetch?: typeof fetch;
}

export interface PushResult {
  interface: string;
  status: number;
  contentType: string | null;
  resultCode: string | null;
  resultMsg: string | null;
  /** the whole answer, for members beyond the result (instanceId, info) */
  answer: Record<string, unknown> | null;
  /** null when the relay sent no Body-Sign header */
  bodySignValid: boolean | null;
  /** What KooGallery would conclude, and why when it is a failure. */
  ok: boolean;
  problem?: string;
  ms: number;
  body: Record<string, unknown>;
}

/** Low-level overrides for tests that send what the marketplace never would. */
export interface SendOverrides {
  headers?: Record<string, string | undefined>;
  nonce?: string;
  timestamp?: string;
  sign?: string;
  /** Sign with this key instead of the one the call belongs to (kit/basic mix-ups). */
  key?: string;
  /** Bytes sent instead of the JSON of the body (the signature is still over the body). */
  rawBody?: string | Buffer;
  contentType?: string;
  /** Basic calls: the query string sent instead of `signature=…&timestamp=…&nonce=…`. */
  query?: string;
  /** The URL path after the production address instead of the call's own. */
  path?: string;
  /** V1 basic calls: GET with the parameters in the query (the default), or POST with them as JSON. */
  method?: 'GET' | 'POST';
}

export type Fields = Record<string, unknown>;

const KIT_ORDER: Record<KitInterface, readonly string[]> = {
  tenantSync: [
    'instanceId',
    'orderId',
    'tenantId',
    'tenantCode',
    'name',
    'domainName',
    'flag',
    'testFlag',
    'timeStamp',
  ],
  applicationSync: [
    'instanceId',
    'tenantId',
    'appId',
    'clientId',
    'clientSecret',
    'flag',
    'testFlag',
    'timeStamp',
  ],
  authSync: [
    'instanceId',
    'tenantId',
    'appId',
    'userList',
    'currentSyncTime',
    'flag',
    'testFlag',
    'timeStamp',
  ],
  singleOrgSync: [
    'instanceId',
    'tenantId',
    'orgCode',
    'orgName',
    'parentCode',
    'flag',
    'testFlag',
    'timeStamp',
  ],
  allOrgSync: ['instanceId', 'tenantId', 'orgInfoList', 'testFlag', 'timeStamp'],
};

/** V1 kit bodies (§7.1): lists as JSON strings, allOrgSync's as `orgInfo`, no `currentSyncTime`. */
const V1_KIT_ORDER: Record<KitInterface, readonly string[]> = {
  ...KIT_ORDER,
  authSync: ['instanceId', 'tenantId', 'appId', 'userList', 'flag', 'testFlag', 'timeStamp'],
  allOrgSync: ['instanceId', 'tenantId', 'orgInfo', 'testFlag', 'timeStamp'],
};

/** The V1 basic activities' parameters, in the order of sellers' samples. */
const V1_BASIC_ORDER: Record<V1Activity, readonly string[]> = {
  newInstance: [
    'activity',
    'businessId',
    'customerId',
    'customerName',
    'userId',
    'userName',
    'mobilePhone',
    'email',
    'expireTime',
    'orderId',
    'productId',
    'skuCode',
    'trialFlag',
    'testFlag',
    'timeStamp',
  ],
  refreshInstance: [
    'activity',
    'instanceId',
    'orderId',
    'productId',
    'expireTime',
    'trialToFormal',
    'testFlag',
    'timeStamp',
  ],
  expireInstance: ['activity', 'instanceId', 'testFlag', 'timeStamp'],
  releaseInstance: ['activity', 'instanceId', 'testFlag', 'timeStamp'],
  upgrade: ['activity', 'instanceId', 'orderId', 'productId', 'skuCode', 'testFlag', 'timeStamp'],
};

/** Document order of each activity's fields (§4), the marketplace's own order. */
const BASIC_ORDER: Record<BasicActivity, readonly string[]> = {
  newInstance: ['activity', 'businessId', 'orderId', 'orderLineId', 'productId', 'expireTime', 'testFlag'],
  queryInstance: ['activity', 'instanceId', 'testFlag'],
  refreshInstance: [
    'activity',
    'instanceId',
    'orderId',
    'orderLineId',
    'productId',
    'scene',
    'expireTime',
    'testFlag',
  ],
  updateInstanceStatus: ['activity', 'instanceId', 'status', 'testFlag'],
  releaseInstance: ['activity', 'instanceId', 'orderId', 'orderLineId', 'testFlag'],
  upgradeInstance: ['activity', 'instanceId', 'orderId', 'orderLineId', 'productId', 'testFlag'],
};

export class Pusher {
  private readonly now: () => number;
  private readonly fetch: typeof fetch;
  private readonly publicKey?: KeyObject;
  private lastSyncAt = 0;

  constructor(readonly options: PusherOptions) {
    this.now = options.now ?? Date.now;
    this.fetch = options.fetch ?? fetch;
    if (options.publicKey) this.publicKey = loadSellerPublicKey(options.publicKey);
  }

  /**
   * A `timeStamp` for the next push: now in UTC+8, strictly after the previous one this pusher
   * made, so pushes sent within one millisecond still have an order.
   */
  nextSyncTime(): string {
    this.lastSyncAt = Math.max(this.now(), this.lastSyncAt + 1);
    return formatSyncTime(this.lastSyncAt);
  }

  encryptSecret(plaintext: string, variant = this.options.oaep ?? DEFAULT_OAEP_VARIANT): string {
    if (!this.publicKey) throw new Error('a public key is needed to encrypt clientSecret');
    return encryptClientSecret(plaintext, this.publicKey, {
      variant: variant as OaepVariantId,
      encoding: this.options.ciphertextEncoding ?? 'base64',
    });
  }

  tenantSync(f: Fields, overrides?: SendOverrides) {
    return this.send('tenantSync', this.kitBody('tenantSync', f), overrides);
  }

  /** `clientSecret` is given in plaintext and encrypted here, unless `clientSecretEncrypted` is given. */
  applicationSync(f: Fields, overrides?: SendOverrides) {
    return this.send(
      'applicationSync',
      this.kitBody('applicationSync', this.withSecretEncrypted(f)),
      overrides,
    );
  }

  /** `clientSecret` encrypted, unless `clientSecretEncrypted` gives the ciphertext to send. */
  private withSecretEncrypted(f: Fields): Fields {
    const { clientSecretEncrypted, ...rest } = f;
    const encrypted =
      clientSecretEncrypted ??
      (typeof rest.clientSecret === 'string' && rest.clientSecret
        ? this.encryptSecret(rest.clientSecret)
        : rest.clientSecret);
    return { ...rest, clientSecret: encrypted };
  }

  authSync(f: Fields, overrides?: SendOverrides) {
    return this.send('authSync', this.kitBody('authSync', f), overrides);
  }

  singleOrgSync(f: Fields, overrides?: SendOverrides) {
    return this.send('singleOrgSync', this.kitBody('singleOrgSync', f), overrides);
  }

  allOrgSync(f: Fields, overrides?: SendOverrides) {
    return this.send('allOrgSync', this.kitBody('allOrgSync', f), overrides);
  }

  push(iface: KitInterface, f: Fields, overrides?: SendOverrides): Promise<PushResult> {
    return this[iface](f, overrides);
  }

  /** A purchase: `businessId` is new on every call, as on every marketplace retry. */
  newInstance(f: Fields, overrides?: SendOverrides) {
    return this.basic('newInstance', { businessId: randomUUID(), ...f }, overrides);
  }

  queryInstance(f: Fields, overrides?: SendOverrides) {
    return this.basic('queryInstance', f, overrides);
  }

  refreshInstance(f: Fields, overrides?: SendOverrides) {
    return this.basic('refreshInstance', f, overrides);
  }

  updateInstanceStatus(f: Fields, overrides?: SendOverrides) {
    return this.basic('updateInstanceStatus', f, overrides);
  }

  releaseInstance(f: Fields, overrides?: SendOverrides) {
    return this.basic('releaseInstance', f, overrides);
  }

  upgradeInstance(f: Fields, overrides?: SendOverrides) {
    return this.basic('upgradeInstance', f, overrides);
  }

  /** A basic call: `activity` set, values in document order, `testFlag` "0" unless given. */
  basic(activity: BasicActivity | string, f: Fields, overrides?: SendOverrides): Promise<PushResult> {
    return this.sendBasic(activity, this.basicBody(activity, f), overrides);
  }

  /** The body of a basic call as the marketplace orders it (document order, then the rest). */
  basicBody(activity: BasicActivity | string, f: Fields): Fields {
    const order = BASIC_ORDER[activity as BasicActivity] ?? ['activity'];
    return inOrder({ activity, testFlag: '0', ...f }, order);
  }

  /** Document order first, then any extra fields; fills timeStamp/currentSyncTime/testFlag like the marketplace. */
  private kitBody(iface: KitInterface, fields: Fields): Fields {
    const f: Fields = { ...fields };
    const order = KIT_ORDER[iface];
    if (!('testFlag' in f)) f.testFlag = 0;
    if (order.includes('timeStamp') && !('timeStamp' in f)) f.timeStamp = this.nextSyncTime();
    if (order.includes('currentSyncTime') && !('currentSyncTime' in f)) f.currentSyncTime = f.timeStamp;
    return inOrder(f, order);
  }

  private payload(body: Fields): string {
    const text = JSON.stringify(body);
    return this.options.signing === 'legacy' ? legacyCanonicalPayload(body) : canonicalPayload(text);
  }

  /** Signs a kit body exactly as given (key order kept) and sends it with the `x-` headers. */
  async send(iface: string, body: Fields, overrides: SendOverrides = {}): Promise<PushResult> {
    const nonce = overrides.nonce ?? newNonce();
    const timestamp = overrides.timestamp ?? String(this.now());
    const key = overrides.key ?? this.options.kitAccessKey;
    const sign = overrides.sign ?? kitSign(key, nonce, timestamp, this.payload(body));
    const headers: Record<string, string> = { 'x-sign': sign, 'x-timestamp': timestamp, 'x-nonce': nonce };
    const path = overrides.path ?? `/produceAPI/v2/${iface}`;
    return this.post(iface, `${this.base()}${path}`, body, headers, this.options.kitAccessKey, overrides);
  }

  /** Signs a basic body and sends it with `signature`, `timestamp` and `nonce` in the query. */
  async sendBasic(activity: string, body: Fields, overrides: SendOverrides = {}): Promise<PushResult> {
    const basicKey = this.options.basicAccessKey;
    if (!basicKey) throw new Error('a basic access key is needed for the basic interfaces');
    const nonce = overrides.nonce ?? newNonce();
    const timestamp = overrides.timestamp ?? String(this.now());
    const signature =
      overrides.sign ?? basicSign(overrides.key ?? basicKey, nonce, timestamp, this.payload(body));
    const query = overrides.query ?? new URLSearchParams({ signature, timestamp, nonce }).toString();
    const url = `${this.base()}${overrides.path ?? ''}${query ? `?${query}` : ''}`;
    return this.post(activity, url, body, {}, basicKey, overrides);
  }

  /** The V1 key; V1 calls need one. */
  private v1Key(): string {
    if (!this.options.v1Key) throw new Error('a V1 key is needed for the V1 interfaces');
    return this.options.v1Key;
  }

  /**
   * The body of a V1 kit push as the marketplace sends it (§7.1): document order, numbers for
   * `flag`/`testFlag`, `timeStamp` in UTC+8, `clientSecret` RSA-OAEP-encrypted as in V2; `userList` given as a list is sent as a JSON string,
   * its users' `mobile` and `email` encrypted (option `v1Contacts`); `orgInfoList` given as a
   * list of `{orgCode, orgName, parentCode}` is sent as `orgInfo`, a JSON string with `name`.
   */
  v1KitBody(iface: KitInterface, fields: Fields): Fields {
    const f: Fields = iface === 'applicationSync' ? this.withSecretEncrypted(fields) : { ...fields };
    if (!('testFlag' in f)) f.testFlag = 0;
    if (!('timeStamp' in f)) f.timeStamp = this.nextSyncTime();
    if (iface === 'authSync' && Array.isArray(f.userList))
      f.userList = JSON.stringify(f.userList.map((u) => this.v1User(u)));
    if (iface === 'allOrgSync' && 'orgInfoList' in f) {
      const list = f.orgInfoList;
      delete f.orgInfoList;
      f.orgInfo = Array.isArray(list)
        ? JSON.stringify(
            list.map((o: Record<string, unknown>) => {
              const { orgName, ...rest } = o;
              return { orgCode: rest.orgCode, name: orgName ?? rest.name, parentCode: rest.parentCode };
            }),
          )
        : list;
    }
    return inOrder(f, V1_KIT_ORDER[iface]);
  }

  /** A mobile number or e-mail address encrypted as V1 sends it (`encryptType` "1": AES-256, "2": AES-128). */
  v1Contact(plaintext: string, encryptType: EncryptType = '1'): string {
    return encryptContact(this.v1Key(), plaintext, { encryptType });
  }

  private v1User(u: unknown): unknown {
    const mode = this.options.v1Contacts ?? '1';
    if (mode === 'plain' || !u || typeof u !== 'object') return u;
    const user = { ...(u as Record<string, unknown>) };
    for (const field of ['mobile', 'email'])
      if (typeof user[field] === 'string' && user[field])
        user[field] = encryptContact(this.v1Key(), user[field] as string, { encryptType: mode });
    return user;
  }

  /** A V1 kit push: the body of `v1KitBody`, its authToken in a header, to /produceAPI/{interface}. */
  v1Push(iface: KitInterface, fields: Fields, overrides: SendOverrides = {}): Promise<PushResult> {
    return this.sendV1(iface, this.v1KitBody(iface, fields), overrides);
  }

  /** Signs a V1 kit body exactly as given and sends it. */
  async sendV1(iface: string, body: Fields, overrides: SendOverrides = {}): Promise<PushResult> {
    const key = this.v1Key();
    const token = overrides.sign ?? v1AuthToken(overrides.key ?? key, body as Record<string, V1Value>);
    const path = overrides.path ?? `/produceAPI/${iface}`;
    return this.post(`v1.${iface}`, `${this.base()}${path}`, body, { authToken: token }, key, overrides, {
      v1: true,
    });
  }

  /**
   * The parameters of a V1 basic call (strings, sample order), with `activity`, `testFlag` "0"
   * unless given, `timeStamp` now in UTC (§6) and, for newInstance, a fresh `businessId` and the
   * buyer's mobile and email encrypted (`v1Contacts`).
   */
  v1BasicParams(activity: V1Activity | string, f: Fields): Fields {
    const params: Fields = { activity, testFlag: '0', timeStamp: formatExpireTime(this.now(), 17), ...f };
    if (activity === 'newInstance') {
      params.businessId ??= randomUUID();
      const mode = this.options.v1Contacts ?? '1';
      if (mode !== 'plain')
        for (const field of ['mobilePhone', 'email'])
          if (typeof params[field] === 'string' && params[field])
            params[field] = encryptContact(this.v1Key(), params[field] as string, { encryptType: mode });
    }
    return inOrder(params, V1_BASIC_ORDER[activity as V1Activity] ?? ['activity']);
  }

  /** A V1 basic call: GET with the signed parameters in the query, or POST with them as JSON. */
  v1Basic(activity: V1Activity | string, f: Fields, overrides: SendOverrides = {}): Promise<PushResult> {
    return this.sendV1Basic(activity, this.v1BasicParams(activity, f), overrides);
  }

  /** Signs V1 basic parameters exactly as given and sends them. */
  async sendV1Basic(activity: string, params: Fields, overrides: SendOverrides = {}): Promise<PushResult> {
    const key = this.v1Key();
    const token = overrides.sign ?? v1AuthToken(overrides.key ?? key, params as Record<string, V1Value>);
    const path = overrides.path ?? '';
    const name = `v1.${activity}`;
    if ((overrides.method ?? 'GET') === 'POST') {
      const url = `${this.base()}${path}${overrides.query ? `?${overrides.query}` : ''}`;
      return this.post(name, url, { ...params, authToken: token }, {}, key, overrides, { v1: true });
    }
    const query = overrides.query ?? v1Query(params as Record<string, V1Value>, token);
    return this.post(name, `${this.base()}${path}?${query}`, params, {}, key, overrides, {
      v1: true,
      get: true,
    });
  }

  private base(): string {
    return this.options.productionAddress.replace(/\/+$/, '');
  }

  private async post(
    iface: string,
    url: string,
    body: Fields,
    signing: Record<string, string>,
    answerKey: string,
    overrides: SendOverrides,
    mode: { v1?: boolean; get?: boolean } = {},
  ): Promise<PushResult> {
    const headers: Record<string, string> = {
      ...(mode.get && !overrides.contentType
        ? {}
        : { 'Content-Type': overrides.contentType ?? 'application/json' }),
      ...signing,
    };
    for (const [k, v] of Object.entries(overrides.headers ?? {})) {
      for (const existing of Object.keys(headers))
        if (existing.toLowerCase() === k.toLowerCase()) delete headers[existing];
      if (v !== undefined) headers[k] = v;
    }
    const started = performance.now();
    const payload = mode.get ? overrides.rawBody : (overrides.rawBody ?? JSON.stringify(body));
    const response = await this.fetch(url, {
      method: mode.get ? 'GET' : 'POST',
      headers,
      ...(payload === undefined
        ? {}
        : { body: typeof payload === 'string' ? payload : new Uint8Array(payload) }),
      signal: AbortSignal.timeout(this.options.timeoutMs ?? 5000),
    });
    const bytes = Buffer.from(await response.arrayBuffer());
    const ms = performance.now() - started;
    return judge(iface, response, bytes, answerKey, ms, body, mode.v1 === true);
  }
}

/**
 * What the marketplace checks of an answer (§8.6): 200, JSON, a six-digit resultCode, 000000;
 * for V1 (`v1`) a Body-Sign too, which it requires (§7.3).
 */
function judge(
  iface: string,
  response: Response,
  bytes: Buffer,
  key: string,
  ms: number,
  body: Fields,
  v1: boolean,
): PushResult {
  const contentType = response.headers.get('content-type');
  const answer = parseAnswer(bytes);
  const header = response.headers.get('body-sign');
  const bodySignValid = header === null ? null : checkBodySign(header, key, bytes);
  const resultCode = typeof answer?.resultCode === 'string' ? answer.resultCode : null;
  const resultMsg = typeof answer?.resultMsg === 'string' ? answer.resultMsg : null;
  const isNewInstance = iface === 'newInstance' || iface === 'v1.newInstance';
  let problem: string | undefined;
  if (response.status !== 200) problem = `HTTP ${response.status} (the marketplace needs 200)`;
  else if (!contentType?.toLowerCase().startsWith('application/json'))
    problem = `Content-Type ${contentType ?? 'missing'} (needs application/json)`;
  else if (!answer) problem = 'the answer is not JSON';
  else if (!resultCode || !/^\d{6}$/.test(resultCode)) problem = 'resultCode is missing or not six digits';
  else if (resultCode !== '000000' && !(isNewInstance && resultCode === '000004'))
    problem = `resultCode ${resultCode}: ${resultMsg ?? ''}`;
  else if (bodySignValid === false) problem = 'Body-Sign does not match the answer bytes';
  else if (v1 && bodySignValid === null)
    problem = 'http header->bodySign is empty (V1 answers must carry Body-Sign)';
  else if (isNewInstance && resultCode === '000000' && typeof answer.instanceId !== 'string')
    problem = 'newInstance answered 000000 without an instanceId';
  return {
    interface: iface,
    status: response.status,
    contentType,
    resultCode,
    resultMsg,
    answer,
    bodySignValid,
    ok: problem === undefined,
    ...(problem ? { problem } : {}),
    ms,
    body,
  };
}

function parseAnswer(bytes: Buffer): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    return value && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

/** Document order first, then any extra fields. */
function inOrder(f: Fields, order: readonly string[]): Fields {
  const out: Fields = {};
  for (const k of order) if (k in f && f[k] !== undefined) out[k] = f[k];
  for (const [k, v] of Object.entries(f)) if (!(k in out) && v !== undefined) out[k] = v;
  return out;
}
