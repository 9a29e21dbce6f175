/**
 * Small HMAC-signed values for cookies we set ourselves (the pending-login cookie), verified
 * against every SESSION_SECRET so secrets can rotate like express-session's.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

const mac = (secret: string, payload: string) =>
  createHmac('sha256', secret).update(payload).digest('base64url');

export function signValue(value: unknown, secrets: readonly string[]): string {
  const payload = Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
  return `${payload}.${mac(secrets[0]!, payload)}`;
}

export function unsignValue<T>(signed: string | undefined, secrets: readonly string[]): T | null {
  if (!signed) return null;
  const dot = signed.lastIndexOf('.');
  if (dot < 1) return null;
  const payload = signed.slice(0, dot);
  const given = Buffer.from(signed.slice(dot + 1));
  const ok = secrets.some((s) => {
    const expected = Buffer.from(mac(s, payload));
    return expected.length === given.length && timingSafeEqual(expected, given);
  });
  if (!ok) return null;
  try {
    return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as T;
  } catch {
    return null;
  }
}
