/**
 * The keys made from SESSION_SECRET (contract §2), one per use, derived here and nowhere else:
 * config.ts derives them once at start and everything downstream is handed only the derived
 * keys, never the secret. Each use has its own HKDF-SHA256 label, so a value signed for one use
 * (a pending sign-in cookie, say) never verifies as another (a session cookie), and the
 * assertion's `sid` fingerprint, which leaves the relay in every assertion, says nothing about
 * the cookie's signing key.
 *
 * Rotation: every secret of the comma-separated list derives its own keys, in the list's order;
 * the first secret's keys sign and all of them verify.
 *
 * Changing a label or the derivation changes every key: on the deploy that does it, every
 * session cookie and pending sign-in is refused once and everyone signs in again. The first
 * deploy of this derivation (cookies were signed with the raw secret before) does exactly that.
 */
import { createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';

/** HKDF `info` labels, one per use of SESSION_SECRET; the version is bumped only on purpose. */
export const SESSION_KEY_LABELS = {
  sessionCookie: 'koogallery-relay/session-cookie/v1',
  pendingCookie: 'koogallery-relay/pending-sign-in-cookie/v1',
  sessionFingerprint: 'koogallery-relay/assertion-sid-fingerprint/v1',
} as const;

export type SessionKeyUse = keyof typeof SESSION_KEY_LABELS;

/** Keys for one use, one per configured secret: the first signs, all verify. */
export type KeyRing = readonly [KeyObject, ...KeyObject[]];

export interface SessionKeys {
  /** express-session's cookie signature (sessionCookie.ts) */
  sessionCookie: KeyRing;
  /** the pending sign-in cookie /sso/login sets (signedValue.ts) */
  pendingCookie: KeyRing;
  /**
   * The assertion's `sid` claim: only ever computed, never verified, so only the first secret's
   * key is kept; a rotation changes fingerprints, as it did before.
   */
  sessionFingerprint: KeyObject;
}

/** The secret is the only secret input and the labels separate the uses, so no salt (RFC 5869 §3.1). */
const NO_SALT = Buffer.alloc(0);

/** One use's key from one secret: 32 bytes, the size of an HMAC-SHA256 output. */
export function deriveKey(secret: string, use: SessionKeyUse): KeyObject {
  return createSecretKey(Buffer.from(hkdfSync('sha256', secret, NO_SALT, SESSION_KEY_LABELS[use], 32)));
}

export function deriveSessionKeys(secrets: readonly string[]): SessionKeys {
  if (secrets.length === 0) throw new Error('at least one session secret is required');
  const ring = (use: SessionKeyUse) =>
    secrets.map((secret) => deriveKey(secret, use)) as [KeyObject, ...KeyObject[]];
  return {
    sessionCookie: ring('sessionCookie'),
    pendingCookie: ring('pendingCookie'),
    sessionFingerprint: deriveKey(secrets[0]!, 'sessionFingerprint'),
  };
}
