/**
 * The marketplace half of the sandbox: builds, signs and encrypts kit pushes the way KooGallery
 * does (kit-sync-and-signing.md §8), and checks the answer the way it does.
 *
 * Deliberately like production, so a relay that is only right by accident fails here: keys in
 * document order (not sorted), upper-case hex signature and nonce, `timeStamp` in UTC+8, the
 * client secret RSA-OAEP-encrypted with a selectable variant (default SHA-256 + MGF1-SHA-1,
 * the one naive decryptors miss), Base64.
 */
import { createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { oaepEncrypt, oaepVariant } from '../crypto/oaep.js';
import { bodySignature, canonicalPayload, kitSign, parseBodySignHeader } from '../kit/signature.js';
import { formatSyncTime } from '../kit/timestamp.js';
import type { KitInterface } from '../kit/schemas.js';

export interface PusherOptions {
  /** The registered production address, e.g. https://isv.example.com/isv/produce */
  productionAddress: string;
  kitAccessKey: string;
  /** The public key uploaded with the app credential (SPKI PEM, or its Base64 body as pasted in Seller Center). */
  publicKey?: KeyObject | string;
  oaep?: string;
  ciphertextEncoding?: 'base64' | 'hex';
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
  /** Bytes sent instead of the JSON of the body (the signature is still over the body). */
  rawBody?: string | Buffer;
  contentType?: string;
}

export type Fields = Record<string, unknown>;

export class Pusher {
  private readonly now: () => number;
  private readonly fetch: typeof fetch;
  private readonly publicKey?: KeyObject;
  private lastSyncAt = 0;

  constructor(private readonly options: PusherOptions) {
    this.now = options.now ?? Date.now;
    this.fetch = options.fetch ?? fetch;
    if (options.publicKey) this.publicKey = toPublicKey(options.publicKey);
  }

  /**
   * A `timeStamp` for the next push: now in UTC+8, strictly after the previous one this pusher
   * made, so pushes sent within one millisecond still have an order.
   */
  nextSyncTime(): string {
    this.lastSyncAt = Math.max(this.now(), this.lastSyncAt + 1);
    return formatSyncTime(this.lastSyncAt);
  }

  encryptSecret(plaintext: string, variant = this.options.oaep ?? 'sha256-mgf1sha1'): string {
    if (!this.publicKey) throw new Error('a public key is needed to encrypt clientSecret');
    const bytes = oaepEncrypt(this.publicKey, Buffer.from(plaintext, 'utf8'), oaepVariant(variant));
    return this.options.ciphertextEncoding === 'hex' ? bytes.toString('hex') : bytes.toString('base64');
  }

  tenantSync(f: Fields, overrides?: SendOverrides) {
    return this.send(
      'tenantSync',
      inOrder(
        f,
        [
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
        this,
      ),
      overrides,
    );
  }

  /** `clientSecret` is given in plaintext and encrypted here, unless `clientSecretEncrypted` is given. */
  applicationSync(f: Fields, overrides?: SendOverrides) {
    const { clientSecretEncrypted, ...rest } = f;
    const encrypted =
      clientSecretEncrypted ??
      (typeof rest.clientSecret === 'string' && rest.clientSecret
        ? this.encryptSecret(rest.clientSecret)
        : rest.clientSecret);
    return this.send(
      'applicationSync',
      inOrder(
        { ...rest, clientSecret: encrypted },
        ['instanceId', 'tenantId', 'appId', 'clientId', 'clientSecret', 'flag', 'testFlag', 'timeStamp'],
        this,
      ),
      overrides,
    );
  }

  authSync(f: Fields, overrides?: SendOverrides) {
    const ordered = inOrder(
      f,
      ['instanceId', 'tenantId', 'appId', 'userList', 'currentSyncTime', 'flag', 'testFlag', 'timeStamp'],
      this,
    );
    return this.send('authSync', ordered, overrides);
  }

  singleOrgSync(f: Fields, overrides?: SendOverrides) {
    return this.send(
      'singleOrgSync',
      inOrder(
        f,
        ['instanceId', 'tenantId', 'orgCode', 'orgName', 'parentCode', 'flag', 'testFlag', 'timeStamp'],
        this,
      ),
      overrides,
    );
  }

  allOrgSync(f: Fields, overrides?: SendOverrides) {
    return this.send(
      'allOrgSync',
      inOrder(f, ['instanceId', 'tenantId', 'orgInfoList', 'testFlag', 'timeStamp'], this),
      overrides,
    );
  }

  push(iface: KitInterface, f: Fields, overrides?: SendOverrides): Promise<PushResult> {
    return this[iface](f, overrides);
  }

  /** Signs and sends a body exactly as given (key order kept). */
  async send(iface: string, body: Fields, overrides: SendOverrides = {}): Promise<PushResult> {
    const nonce = overrides.nonce ?? randomBytes(32).toString('hex').toUpperCase();
    const timestamp = overrides.timestamp ?? String(this.now());
    const sign =
      overrides.sign ?? kitSign(this.options.kitAccessKey, nonce, timestamp, canonicalPayload(body));
    const headers: Record<string, string> = {
      'Content-Type': overrides.contentType ?? 'application/json',
      'x-sign': sign,
      'x-timestamp': timestamp,
      'x-nonce': nonce,
    };
    for (const [k, v] of Object.entries(overrides.headers ?? {})) {
      for (const existing of Object.keys(headers))
        if (existing.toLowerCase() === k.toLowerCase()) delete headers[existing];
      if (v !== undefined) headers[k] = v;
    }
    const url = `${this.options.productionAddress.replace(/\/+$/, '')}/produceAPI/v2/${iface}`;
    const started = performance.now();
    const payload = overrides.rawBody ?? JSON.stringify(body);
    const response = await this.fetch(url, {
      method: 'POST',
      headers,
      body: typeof payload === 'string' ? payload : new Uint8Array(payload),
      signal: AbortSignal.timeout(this.options.timeoutMs ?? 5000),
    });
    const bytes = Buffer.from(await response.arrayBuffer());
    const ms = performance.now() - started;
    return judge(iface, response, bytes, this.options.kitAccessKey, ms, body);
  }
}

/** What the marketplace checks of an answer (§8.6): 200, JSON, a six-digit resultCode, 000000. */
function judge(
  iface: string,
  response: Response,
  bytes: Buffer,
  key: string,
  ms: number,
  body: Fields,
): PushResult {
  const contentType = response.headers.get('content-type');
  const parsed = parseAnswer(bytes);
  const header = response.headers.get('body-sign');
  const bodySign = header ? parseBodySignHeader(header) : null;
  const bodySignValid = header
    ? !!bodySign && bodySign.signType === 'HMAC-SHA256' && bodySign.signature === bodySignature(key, bytes)
    : null;
  const resultCode = typeof parsed?.resultCode === 'string' ? parsed.resultCode : null;
  const resultMsg = typeof parsed?.resultMsg === 'string' ? parsed.resultMsg : null;
  let problem: string | undefined;
  if (response.status !== 200) problem = `HTTP ${response.status} (the marketplace needs 200)`;
  else if (!contentType?.toLowerCase().startsWith('application/json'))
    problem = `Content-Type ${contentType ?? 'missing'} (needs application/json)`;
  else if (!parsed) problem = 'the answer is not JSON';
  else if (!resultCode || !/^\d{6}$/.test(resultCode)) problem = 'resultCode is missing or not six digits';
  else if (resultCode !== '000000') problem = `resultCode ${resultCode}: ${resultMsg ?? ''}`;
  else if (bodySignValid === false) problem = 'Body-Sign does not match the answer bytes';
  return {
    interface: iface,
    status: response.status,
    contentType,
    resultCode,
    resultMsg,
    bodySignValid,
    ok: problem === undefined,
    ...(problem ? { problem } : {}),
    ms,
    body,
  };
}

function parseAnswer(bytes: Buffer): { resultCode?: unknown; resultMsg?: unknown } | null {
  try {
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    return value && typeof value === 'object'
      ? (value as { resultCode?: unknown; resultMsg?: unknown })
      : null;
  } catch {
    return null;
  }
}

/** Document order first, then any extra fields; fills timeStamp/currentSyncTime/testFlag like the marketplace. */
function inOrder(fields: Fields, order: readonly string[], pusher: Pusher): Fields {
  const f: Fields = { ...fields };
  if (!('testFlag' in f)) f.testFlag = 0;
  if (order.includes('timeStamp') && !('timeStamp' in f)) f.timeStamp = pusher.nextSyncTime();
  if (order.includes('currentSyncTime') && !('currentSyncTime' in f)) f.currentSyncTime = f.timeStamp;
  const out: Fields = {};
  for (const k of order) if (k in f && f[k] !== undefined) out[k] = f[k];
  for (const [k, v] of Object.entries(f)) if (!(k in out) && v !== undefined) out[k] = v;
  return out;
}

/** Accepts an SPKI PEM or the bare Base64 body that Seller Center asks for ("去掉前后注释"). */
export function toPublicKey(key: KeyObject | string): KeyObject {
  if (typeof key !== 'string') return key.type === 'private' ? createPublicKey(key) : key;
  const text = key.trim();
  if (text.includes('BEGIN')) return createPublicKey(text);
  return createPublicKey({
    key: Buffer.from(text.replace(/\s+/g, ''), 'base64'),
    format: 'der',
    type: 'spki',
  });
}
