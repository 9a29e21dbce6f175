// The keys derived from SESSION_SECRET (src/crypto/sessionKeys.ts): one per use, every secret of
// the list deriving its own, and the assertion's fingerprint unrelated to any cookie signature.
import { createHmac } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import * as cookieSignature from 'cookie-signature';
import { deriveKey, deriveSessionKeys, SESSION_KEY_LABELS } from '../../src/crypto/sessionKeys.js';
import { SessionCookie } from '../../src/sso/sessionCookie.js';
import { sessionsWith } from '../support/sessions.js';

const FIRST = 'first-session-secret-000001';
const SECOND = 'second-session-secret-00002';
const SID = `{t:68cbc86abc2018ab880d92f36422fa0e}.${'A'.repeat(43)}`;

const bytes = (key: { export: () => Buffer }) => key.export().toString('hex');

describe('keys derived from SESSION_SECRET', () => {
  it('gives each use its own key, none of them the secret itself', () => {
    const k = deriveSessionKeys([FIRST]);
    const all = [k.sessionCookie[0], k.pendingCookie[0], k.sessionFingerprint].map(bytes);
    expect(new Set(all).size).toBe(3);
    expect(all).not.toContain(Buffer.from(FIRST).toString('hex'));
    expect(new Set(Object.values(SESSION_KEY_LABELS)).size).toBe(Object.keys(SESSION_KEY_LABELS).length);
  });

  it('derives keys from every secret in the list, in its order, the first for signing', () => {
    const k = deriveSessionKeys([FIRST, SECOND]);
    expect(k.sessionCookie.map(bytes)).toEqual([
      bytes(deriveKey(FIRST, 'sessionCookie')),
      bytes(deriveKey(SECOND, 'sessionCookie')),
    ]);
    expect(k.pendingCookie.map(bytes)).toEqual([
      bytes(deriveKey(FIRST, 'pendingCookie')),
      bytes(deriveKey(SECOND, 'pendingCookie')),
    ]);
    expect(bytes(k.sessionFingerprint)).toBe(bytes(deriveKey(FIRST, 'sessionFingerprint')));
    expect(() => deriveSessionKeys([])).toThrow('at least one session secret');
  });

  it('is HKDF-SHA256 with these labels: a change here signs everyone out on deploy', () => {
    // Pinned so a change to the derivation is a decision, not an accident (the value was checked
    // against an independent RFC 5869 implementation).
    expect(new SessionCookie('relay.sid', deriveSessionKeys([FIRST]).sessionCookie).sign(SID)).toBe(
      `s:${SID}.18tQxk8Akmj/CGH6Wp/xu8lWIeM9aAGOUTiYTPcMCrE`,
    );
  });
});

describe('the session cookie', () => {
  const cookie = new SessionCookie('relay.sid', deriveSessionKeys([FIRST, SECOND]).sessionCookie);

  it("signs as express-session does (cookie-signature's s:<sid>.<mac>) and reads its own values", () => {
    const key = deriveSessionKeys([FIRST]).sessionCookie[0];
    expect(cookie.sign(SID)).toBe(`s:${cookieSignature.sign(SID, key)}`);
    expect(cookie.unsign(cookie.sign(SID))).toBe(SID);
    expect(cookie.fromCookieHeader(`a=1; relay.sid=${encodeURIComponent(cookie.sign(SID))}`)).toBe(SID);
    expect(cookie.fromHeader(encodeURIComponent(cookie.sign(SID)))).toBe(SID);
    expect(cookie.fromHeader(SID)).toBe(SID);
  });

  it('takes a value signed with the second (rotated-out) secret', () => {
    const second = deriveSessionKeys([SECOND]).sessionCookie[0];
    expect(cookie.unsign(`s:${cookieSignature.sign(SID, second)}`)).toBe(SID);
  });

  it('refuses one signed with the raw secret (the old scheme) or with another use’s key', () => {
    const other = deriveSessionKeys([FIRST, SECOND]);
    const signers = [FIRST, SECOND, ...other.pendingCookie, other.sessionFingerprint];
    for (const key of signers) {
      const forged = `s:${cookieSignature.sign(SID, key)}`;
      expect(cookie.unsign(forged)).toBeNull();
      expect(cookie.fromCookieHeader(`relay.sid=${encodeURIComponent(forged)}`)).toBeNull();
      expect(cookie.fromHeader(forged)).toBeNull();
    }
    expect(cookie.unsign(SID)).toBeNull(); // not signed at all
  });

  it('is not interchangeable with the pending sign-in cookie', () => {
    const keys = deriveSessionKeys([FIRST]);
    // the session id signed as the pending cookie is signed, in the session cookie's format
    const pendingMac = createHmac('sha256', keys.pendingCookie[0]).update(SID).digest('base64');
    expect(cookie.unsign(`s:${SID}.${pendingMac.replace(/=+$/, '')}`)).toBeNull();
  });
});

describe("the assertion's sid fingerprint", () => {
  it('is not any cookie signature of the session, nor the old HMAC under the raw secret', () => {
    const fingerprint = sessionsWith([FIRST, SECOND]).fingerprint(SID);
    expect(fingerprint).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const keys = deriveSessionKeys([FIRST, SECOND]);
    const signers = [FIRST, SECOND, ...keys.sessionCookie, ...keys.pendingCookie];
    for (const key of signers) {
      const mac = createHmac('sha256', key).update(SID).digest('base64url');
      expect(mac.slice(0, 22)).not.toBe(fingerprint);
    }
    // and it is stable for a session, so a seller app can match assertions of one session
    expect(sessionsWith([FIRST]).fingerprint(SID)).toBe(fingerprint);
  });
});
