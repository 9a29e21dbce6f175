/**
 * Small HMAC-signed values for cookies we set ourselves (the pending-login cookie), under the
 * pending-cookie keys derived from SESSION_SECRET (crypto/sessionKeys.ts): the first signs and
 * all verify, so secrets rotate as the session cookie's do, and no other use's key verifies here.
 */
import { createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { KeyRing } from '../crypto/sessionKeys.js';

const mac = (key: KeyObject, payload: string) =>
  createHmac('sha256', key).update(payload).digest('base64url');

export function signValue(value: unknown, keys: KeyRing): string {
  const payload = Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
  return `${payload}.${mac(keys[0], payload)}`;
}

export function unsignValue<T>(signed: string | undefined, keys: KeyRing): T | null {
  if (!signed) return null;
  const dot = signed.lastIndexOf('.');
  if (dot < 1) return null;
  const payload = signed.slice(0, dot);
  const given = Buffer.from(signed.slice(dot + 1));
  const ok = keys.some((key) => {
    const expected = Buffer.from(mac(key, payload));
    return expected.length === given.length && timingSafeEqual(expected, given);
  });
  if (!ok) return null;
  try {
    return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as T;
  } catch {
    return null;
  }
}
