// Reading the relay's cookies: the session cookie (`s:<sid>.<signature>`, cookie-signature under
// the session-cookie keys, src/sso/sessionCookie.ts) and the signed values of the pending sign-in
// cookie (src/sso/signedValue.ts). Values made independently here (with cookie-signature itself,
// and with the format written out) are read back; any tampering is refused; keys rotate (the first
// signs, all verify) and one use's key never verifies another's.
import { createHmac, type KeyObject } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import * as cookieSignature from 'cookie-signature';
import fc from 'fast-check';
import { deriveSessionKeys, type KeyRing } from '../../src/crypto/sessionKeys.js';
import { SessionCookie } from '../../src/sso/sessionCookie.js';
import { signValue, unsignValue } from '../../src/sso/signedValue.js';

const RUNS = 1000;
const NAME = 'relay.sid';

const secret = fc.string({ unit: 'grapheme', minLength: 16, maxLength: 40 });
/** Two different secrets: the current one and an older one still accepted during a rotation. */
const twoSecrets = fc.uniqueArray(secret, { minLength: 2, maxLength: 2 }) as fc.Arbitrary<[string, string]>;

/** Session ids as the relay makes them carry a tenant tag; any text is tried. */
const sid = fc.oneof(
  fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
  fc.stringMatching(/^\{t:[a-f0-9]{8}\}[A-Za-z0-9_-]{32}$/),
  fc.string({ unit: fc.constantFrom(...'ab.:%=+/s'), minLength: 1, maxLength: 12 }),
);

/** One edit of a string: a character replaced, inserted or removed, the end cut or extended. */
const edit = fc.oneof(
  fc.record({
    kind: fc.constantFrom('replace', 'insert'),
    at: fc.nat(),
    char: fc.oneof(
      fc.constantFrom(...'.=+/-_:%sSaA0 '),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
    ),
  }),
  fc.record({ kind: fc.constantFrom('remove', 'cut'), at: fc.nat(), char: fc.constant('') }),
  fc.record({
    kind: fc.constant('append'),
    at: fc.constant(0),
    char: fc.string({ minLength: 1, maxLength: 4 }),
  }),
);

function applyEdit(value: string, e: { kind: string; at: number; char: string }): string {
  const i = e.at % (value.length + 1);
  switch (e.kind) {
    case 'replace':
      return value.slice(0, i) + e.char + value.slice(i + 1);
    case 'insert':
      return value.slice(0, i) + e.char + value.slice(i);
    case 'remove':
      return value.slice(0, i) + value.slice(i + 1);
    case 'cut':
      return value.slice(0, i);
    default:
      return value + e.char;
  }
}

/** What express-session sets, made with cookie-signature directly. */
const sessionCookieValue = (id: string, key: KeyObject) => `s:${cookieSignature.sign(id, key)}`;

/** A signed value written from its format: base64url(JSON) "." base64url(HMAC-SHA256(key, that)). */
function signedValueText(value: unknown, key: KeyObject): string {
  const payload = Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
  return `${payload}.${createHmac('sha256', key).update(payload).digest('base64url')}`;
}

const cookieHeader = (value: string, before: string, after: string) =>
  [before, `${NAME}=${encodeURIComponent(value)}`, after].filter(Boolean).join('; ');
// the long one makes a header too long to be remembered (SessionCookie.fromCookieHeader)
const otherCookies = fc.constantFrom(
  '',
  'theme=dark',
  'a=1; b=2',
  `${NAME}x=1`,
  'relay.pending=abc',
  `long=${'x'.repeat(1100)}`,
);

describe('the session cookie', () => {
  it('reads the id of every cookie express-session signs, from the value and from a Cookie header', () => {
    fc.assert(
      fc.property(secret, sid, otherCookies, otherCookies, (s, id, before, after) => {
        const keys = deriveSessionKeys([s]).sessionCookie;
        const cookie = new SessionCookie(NAME, keys);
        const value = sessionCookieValue(id, keys[0]);
        expect(cookie.sign(id)).toBe(value);
        expect(cookie.unsign(value)).toBe(id);
        expect(cookie.fromCookieHeader(cookieHeader(value, before, after))).toBe(id);
        expect(cookie.fromHeader(encodeURIComponent(value))).toBe(id);
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses any tampered cookie, wherever it is read', () => {
    fc.assert(
      fc.property(secret, sid, edit, otherCookies, (s, id, e, before) => {
        const keys = deriveSessionKeys([s]).sessionCookie;
        const cookie = new SessionCookie(NAME, keys);
        const value = sessionCookieValue(id, keys[0]);
        // known good first: the caches must not help a forgery
        expect(cookie.unsign(value)).toBe(id);
        expect(cookie.fromCookieHeader(cookieHeader(value, before, ''))).toBe(id);
        const tampered = applyEdit(value, e);
        fc.pre(tampered !== value && tampered.isWellFormed());
        expect(cookie.unsign(tampered)).toBeNull();
        expect(cookie.fromCookieHeader(cookieHeader(tampered, before, ''))).toBeNull();
        // X-Session-Id is a header: surrounding blanks are not part of it (HTTP strips them too)
        if (tampered.startsWith('s:') && tampered.trim() !== value)
          expect(cookie.fromHeader(tampered)).toBeNull();
      }),
      { numRuns: RUNS },
    );
  });

  it('verifies with every key of a rotation, and with no other secret or use', () => {
    fc.assert(
      fc.property(twoSecrets, sid, ([current, old], id) => {
        const oldKeys = deriveSessionKeys([old]);
        const value = sessionCookieValue(id, oldKeys.sessionCookie[0]);
        expect(new SessionCookie(NAME, deriveSessionKeys([current, old]).sessionCookie).unsign(value)).toBe(
          id,
        );
        expect(new SessionCookie(NAME, deriveSessionKeys([current]).sessionCookie).unsign(value)).toBeNull();
        // a value signed with the pending cookie's key of the same secret is not a session cookie
        const pending = sessionCookieValue(id, oldKeys.pendingCookie[0]);
        expect(new SessionCookie(NAME, oldKeys.sessionCookie).unsign(pending)).toBeNull();
      }),
      { numRuns: 300 },
    );
  });
});

describe('signed values (the pending sign-in cookie)', () => {
  const ring = (secrets: string[]): KeyRing => deriveSessionKeys(secrets).pendingCookie;

  it('round-trip any JSON value, and read values written from the format', () => {
    fc.assert(
      fc.property(secret, fc.jsonValue(), (s, value) => {
        const keys = ring([s]);
        const expected = JSON.parse(JSON.stringify(value)) as unknown;
        expect(unsignValue(signValue(value, keys), keys)).toEqual(expected);
        expect(signValue(value, keys)).toBe(signedValueText(value, keys[0]));
        expect(unsignValue(signedValueText(value, keys[0]), keys)).toEqual(expected);
      }),
      { numRuns: RUNS },
    );
  });

  it('refuse any tampering', () => {
    fc.assert(
      fc.property(secret, fc.jsonValue({ maxDepth: 2 }), edit, (s, value, e) => {
        const keys = ring([s]);
        const signed = signValue(value, keys);
        const tampered = applyEdit(signed, e);
        fc.pre(tampered !== signed);
        expect(unsignValue(tampered, keys)).toBeNull();
      }),
      { numRuns: RUNS },
    );
  });

  it('verify with every key of a rotation, and with no other secret or use', () => {
    fc.assert(
      fc.property(twoSecrets, fc.jsonValue({ maxDepth: 2 }), ([current, old], value) => {
        const expected = JSON.parse(JSON.stringify(value)) as unknown;
        const signed = signValue(value, ring([old]));
        expect(unsignValue(signed, ring([current, old]))).toEqual(expected);
        expect(unsignValue(signed, ring([current]))).toBeNull();
        expect(unsignValue(signed, deriveSessionKeys([old]).sessionCookie)).toBeNull();
      }),
      { numRuns: 300 },
    );
  });

  it('never throw on garbage', () => {
    fc.assert(
      fc.property(secret, fc.oneof(fc.string({ unit: 'binary' }), fc.base64String()), (s, garbage) => {
        expect(unsignValue(garbage, ring([s]))).toBeNull();
        expect(unsignValue(`${garbage}.${garbage}`, ring([s]))).toBeNull();
      }),
      { numRuns: RUNS },
    );
  });
});
