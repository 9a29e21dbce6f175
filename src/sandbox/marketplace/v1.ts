/**
 * The marketplace's V1 scheme (kit-sync-and-signing.md §7), written from the document and the
 * JDK's behaviour only, independently of the relay's src/kit/v1Token.ts and src/crypto/v1Aes.ts:
 *
 * - §7.2 `authToken` = Base64(HMAC-SHA256(Key + timeStamp, "k=v&…")) over every parameter but
 *   authToken, in Java TreeMap order, blank values left out; GET parameters are sent
 *   URL-encoded as Java's `URLEncoder` encodes them, and signed as they were before encoding.
 * - §7.3 `Body-Sign` is in signing.ts (`bodySignature`, `checkBodySign`).
 * - mobile numbers and e-mail addresses: a 16-character random IV, then
 *   Base64(AES/CBC/PKCS5Padding) under the key `KeyGenerator("AES").init(bits, SHA1PRNG(Key))`
 *   makes (`encryptType` "1": 256 bits, "2": 128 bits).
 */
import { createCipheriv, createHash, createHmac, randomInt } from 'node:crypto';
import { javaUtf8 } from './signing.js';

/** A V1 parameter value as the marketplace holds it before `toString()`. */
export type V1Value = string | number | boolean | null | undefined;

/** StringUtils.isBlank over Character.isWhitespace. */
function blank(value: string): boolean {
  for (const ch of value) {
    const c = ch.codePointAt(0)!;
    const javaSpace =
      (c >= 0x09 && c <= 0x0d) ||
      (c >= 0x1c && c <= 0x20) ||
      c === 0x1680 ||
      (c >= 0x2000 && c <= 0x200a && c !== 0x2007) ||
      c === 0x2028 ||
      c === 0x2029 ||
      c === 0x205f ||
      c === 0x3000;
    if (!javaSpace) return false;
  }
  return true;
}

/** Java's `String.compareTo`: by UTF-16 code unit. */
function javaCompare(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a.charCodeAt(i) - b.charCodeAt(i);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** The string §7.2 signs: `name=value` pairs in TreeMap order, `&`-joined, blank values skipped. */
export function v1StringToSign(params: Record<string, V1Value>): string {
  const pairs: string[] = [];
  for (const name of Object.keys(params).sort(javaCompare)) {
    if (name === 'authToken') continue;
    const v = params[name];
    if (v === null || v === undefined) continue;
    const text = String(v);
    if (blank(text)) continue;
    pairs.push(`${name}=${text}`);
  }
  return pairs.join('&');
}

/** §7.2: the token for `params`, keyed with Key + their own `timeStamp`. */
export function v1AuthToken(key: string, params: Record<string, V1Value>): string {
  const timeStamp =
    params.timeStamp === undefined || params.timeStamp === null ? '' : String(params.timeStamp);
  return createHmac('sha256', javaUtf8(key + timeStamp))
    .update(javaUtf8(v1StringToSign(params)))
    .digest('base64');
}

/**
 * Java's `URLEncoder.encode(value, UTF_8)`: letters, digits and `.-*_` stay, a space becomes `+`,
 * every other byte of the UTF-8 form becomes `%XX` (upper-case).
 */
export function javaUrlEncode(value: string): string {
  let out = '';
  for (const byte of javaUtf8(value)) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9.\-*_]/.test(c)) out += c;
    else if (byte === 0x20) out += '+';
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The query string of a V1 GET: every non-null parameter, then `authToken`, all URL-encoded. */
export function v1Query(params: Record<string, V1Value>, authToken: string): string {
  const pairs = Object.entries(params)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `${javaUrlEncode(k)}=${javaUrlEncode(String(v))}`);
  pairs.push(`authToken=${javaUrlEncode(authToken)}`);
  return pairs.join('&');
}

/**
 * `SecureRandom.getInstance("SHA1PRNG")` seeded once with `seed`, as
 * sun.security.provider.SecureRandom runs it: the state is SHA-1 of the seed; each 20-byte block
 * is SHA-1 of the state, then the state becomes state + block + 1, added byte by byte from the
 * first byte with Java's signed bytes (the carry is the sum shifted right by 8, arithmetically),
 * and its first byte is incremented if no byte changed.
 */
export class JavaSha1Prng {
  private readonly state: number[];

  constructor(seed: Uint8Array) {
    this.state = [...createHash('sha1').update(seed).digest()].map(signed);
  }

  nextBytes(count: number): Buffer {
    const chunks: Buffer[] = [];
    let have = 0;
    while (have < count) {
      const block = createHash('sha1')
        .update(Uint8Array.from(this.state.map((b) => b & 0xff)))
        .digest();
      chunks.push(block);
      have += block.length;
      let last = 1;
      let same = true;
      for (let i = 0; i < this.state.length; i++) {
        const sum = this.state[i]! + signed(block[i]!) + last;
        const next = signed(sum & 0xff);
        if (next !== this.state[i]) same = false;
        this.state[i] = next;
        last = Math.floor(sum / 256);
      }
      if (same) this.state[0] = signed((this.state[0]! + 1) & 0xff);
    }
    return Buffer.concat(chunks).subarray(0, count);
  }
}

const signed = (byte: number) => (byte > 127 ? byte - 256 : byte);

export type EncryptType = '1' | '2';

/** The AES key of `encryptType` ("1": AES-256, "2": AES-128) for the V1 Key. */
export function v1ContactKey(key: string, encryptType: EncryptType = '1'): Buffer {
  return new JavaSha1Prng(javaUtf8(key)).nextBytes(encryptType === '1' ? 32 : 16);
}

const IV_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A mobile number or e-mail address as the marketplace sends it in V1: IV + Base64(AES-CBC). */
export function encryptContact(
  key: string,
  plaintext: string,
  options: { encryptType?: EncryptType; iv?: string } = {},
): string {
  const iv = options.iv ?? Array.from({ length: 16 }, () => IV_CHARS[randomInt(IV_CHARS.length)]).join('');
  if (!/^[A-Za-z0-9]{16}$/.test(iv)) throw new Error('the IV is 16 letters or digits');
  const aesKey = v1ContactKey(key, options.encryptType ?? '1');
  const cipher = createCipheriv(
    aesKey.length === 32 ? 'aes-256-cbc' : 'aes-128-cbc',
    aesKey,
    Buffer.from(iv),
  );
  return iv + Buffer.concat([cipher.update(javaUtf8(plaintext)), cipher.final()]).toString('base64');
}
