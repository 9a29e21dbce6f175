/**
 * KooGallery's signing rules (kit-sync-and-signing.md §2.2, §2.3, §7.3). Pure functions, tested
 * against the document's vectors. The relay verifies with them; the sandbox has its own
 * implementation (sandbox/marketplace), so a misreading shared by both cannot pass the tests.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

function hmacSha256(key: string, data: string): Buffer {
  return createHmac('sha256', Buffer.from(key, 'utf8')).update(data, 'utf8').digest();
}

/** x-sign = HEX(HMAC_SHA256(accessKey, accessKey + nonce + timestamp + RequestPayload)), upper-case as the marketplace sends it. */
export function kitSign(accessKey: string, nonce: string, timestamp: string, payload: string): string {
  return hmacSha256(accessKey, accessKey + nonce + timestamp + payload)
    .toString('hex')
    .toUpperCase();
}

/**
 * Basic-interface `signature` (§2.3): the payload is HMAC'ed first and its lower-case hex
 * digest takes the payload's place: HEX(HMAC(key, key + nonce + timestamp + hex(HMAC(key, payload)))).
 */
export function basicSign(accessKey: string, nonce: string, timestamp: string, payload: string): string {
  const inner = hmacSha256(accessKey, payload).toString('hex');
  return hmacSha256(accessKey, accessKey + nonce + timestamp + inner)
    .toString('hex')
    .toUpperCase();
}

/** Case-insensitive, constant-time comparison of two hex signatures (the sample uses equalsIgnoreCase). */
export function signaturesMatch(expectedHex: string, receivedHex: string): boolean {
  const a = Buffer.from(expectedHex.toUpperCase(), 'utf8');
  const b = Buffer.from(receivedHex.toUpperCase(), 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Body-Sign signature: BASE64(HMAC_SHA256(key, exact response bytes)) (§7.3). */
export function bodySignature(key: string, body: Buffer | string): string {
  return createHmac('sha256', Buffer.from(key, 'utf8'))
    .update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body)
    .digest('base64');
}

/** The header value in the form of Huawei's own samples, quotes required by the marketplace's parser. */
export function bodySignHeader(key: string, body: Buffer | string): string {
  return `sign_type="HMAC-SHA256", signature= "${bodySignature(key, body)}"`;
}
