/**
 * The marketplace's signatures, written from the protocol document alone (independent of the
 * relay's src/kit and src/crypto, so that a misreading shared by both sides cannot hide):
 *
 * - §2.2 kit `x-sign`:      HEX(HMAC(ak, ak + nonce + timestamp + payload))
 * - §2.3 basic `signature`: HEX(HMAC(ak, ak + nonce + timestamp + hex(HMAC(ak, payload))))
 * - §7.3 V1 `Body-Sign`:    Base64(HMAC(key, exact body bytes))
 *
 * All HMACs are HMAC-SHA256. The marketplace sends upper-case hex (§8.1), which catches sellers
 * that compare case-sensitively.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * A Java String's `getBytes(StandardCharsets.UTF_8)`: like UTF-8 everywhere except that an
 * unpaired surrogate becomes `?` (0x3F), where Node's encoder writes U+FFFD. The reference code
 * signs Java Strings, and Jackson passes `\uD800` escapes through as lone surrogates.
 */
export function javaUtf8(s: string): Buffer {
  if (!/[\uD800-\uDFFF]/.test(s)) return Buffer.from(s, 'utf8');
  let fixed = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        fixed += s[i]! + s[i + 1]!;
        i++;
        continue;
      }
      fixed += '?';
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      fixed += '?';
    } else {
      fixed += s[i]!;
    }
  }
  return Buffer.from(fixed, 'utf8');
}

function hmac(key: string, data: string | Uint8Array): Buffer {
  return createHmac('sha256', javaUtf8(key))
    .update(typeof data === 'string' ? javaUtf8(data) : data)
    .digest();
}

/**
 * §2.2 `x-sign` for a kit call. `payload` is the canonical RequestPayload (see jackson.ts), not
 * the body bytes; `timestamp` is the raw `x-timestamp` header value (epoch milliseconds).
 */
export function kitSign(
  accessKey: string,
  nonce: string,
  timestamp: string | number,
  payload: string,
): string {
  return hmac(accessKey, accessKey + nonce + String(timestamp) + payload)
    .toString('hex')
    .toUpperCase();
}

/**
 * §2.3 `signature` query parameter for a basic interface call: the payload's own HMAC goes in as
 * LOWER-case hex, the outer one comes out upper-case.
 */
export function basicSign(
  accessKey: string,
  nonce: string,
  timestamp: string | number,
  payload: string,
): string {
  const inner = basicInnerHex(accessKey, payload);
  return hmac(accessKey, accessKey + nonce + String(timestamp) + inner)
    .toString('hex')
    .toUpperCase();
}

/** The inner, lower-case hex HMAC of §2.3, exposed for diagnostics and tests. */
export function basicInnerHex(accessKey: string, payload: string): string {
  return hmac(accessKey, payload).toString('hex');
}

/** §8.1: 32 random bytes as 64 upper-case hex characters, as in the marketplace's examples. */
export function newNonce(): string {
  return randomBytes(32).toString('hex').toUpperCase();
}

/**
 * §7.3 V1 response signature: Base64(HMAC-SHA256(key = Key alone, data = exact body bytes)).
 * Strings are taken as their UTF-8 bytes; pass the bytes themselves when they are at hand.
 */
export function bodySignature(key: string, bytes: string | Uint8Array): string {
  return hmac(key, typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes).toString('base64');
}

/**
 * The `Body-Sign` header as the marketplace parses it: both values in double quotes (without
 * them the marketplace cannot parse the header), optional blanks after the comma and before the
 * signature's quote (Huawei's samples write `, signature= "…"`, other sellers `,signature="…"`).
 */
const BODY_SIGN = /^[ \t]*sign_type="HMAC-SHA256",[ \t]*signature=[ \t]*"([A-Za-z0-9+/]*={0,2})"[ \t]*$/;

/** Whether a V1 response's `Body-Sign` header signs `bodyBytes` with `key`. */
export function checkBodySign(
  headerValue: string | undefined,
  key: string,
  bodyBytes: string | Uint8Array,
): boolean {
  if (headerValue === undefined) return false;
  const m = BODY_SIGN.exec(headerValue);
  if (!m) return false;
  const got = Buffer.from(m[1]!, 'latin1');
  const want = Buffer.from(bodySignature(key, bodyBytes), 'latin1');
  return got.length === want.length && timingSafeEqual(got, want);
}

/** The header value a V1 seller is expected to send, in Huawei's sample layout. */
export function bodySignHeader(key: string, bytes: string | Uint8Array): string {
  return `sign_type="HMAC-SHA256", signature= "${bodySignature(key, bytes)}"`;
}
