/**
 * Authentication of a kit push (§2.2), in the order of the Huawei sample: timestamp and nonce
 * present (000002), timestamp in the window (000002), signature (000001). The nonce is
 * remembered afterwards, by the router, only for pushes whose signature holds.
 */
import { KitRefusal, ResultCode } from './resultCodes.js';
import { canonicalPayload, kitSign, signaturesMatch } from './signature.js';
import { checkHeaderTimestamp } from './timestamp.js';

export interface KitHeaders {
  sign?: string;
  timestamp?: string;
  nonce?: string;
}

const NONCE = /^[\x21-\x7e]{1,128}$/;

export function verifyKitRequest(
  accessKey: string,
  headers: KitHeaders,
  body: Record<string, unknown>,
  nowMs: number,
  windowMs: number,
): void {
  const ts = checkHeaderTimestamp(headers.timestamp, nowMs, windowMs);
  if (!ts.ok) throw new KitRefusal(ResultCode.invalidRequest, ts.reason);
  if (!headers.nonce) throw new KitRefusal(ResultCode.invalidRequest, 'x-nonce header is missing');
  if (!NONCE.test(headers.nonce))
    throw new KitRefusal(ResultCode.invalidRequest, 'x-nonce must be 1 to 128 printable ASCII characters');
  if (!headers.sign) throw new KitRefusal(ResultCode.authFailed, 'x-sign header is missing');
  const expected = kitSign(accessKey, headers.nonce, headers.timestamp!, canonicalPayload(body));
  if (!signaturesMatch(expected, headers.sign))
    throw new KitRefusal(
      ResultCode.authFailed,
      'x-sign does not match the request (check the kit access key)',
    );
}
