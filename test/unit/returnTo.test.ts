// returnTo (contract §4): kept only as a same-origin relative path. An open-redirect corpus that
// must be refused, and legitimate paths that must come back exactly, re-serialized.
import { describe, expect, it } from '@jest/globals';
import { safeReturnTo } from '../../src/sso/returnTo.js';

const ORIGIN = 'https://isv.example.com';

/**
 * What every non-null answer must satisfy, whatever the input: a browser reading it as a
 * `Location` stays on the relay's origin, and it is a path with exactly one leading slash
 * (never `//host`, never `/\host`), free of anything a URL parser would strip or rewrite.
 */
function expectSameOriginPath(result: string): void {
  expect(new URL(result, ORIGIN).origin).toBe(ORIGIN);
  expect(result).toMatch(/^\/(?![/\\])/);
  // eslint-disable-next-line no-control-regex -- control characters are what is checked for
  expect(result).not.toMatch(/[\u0000-\u0020\u007f-\u009f\\]/);
  // Only ASCII comes back: look-alikes and non-Latin text are percent-encoded.
  expect(result).toMatch(/^[\x21-\x7e]+$/);
}

describe('safeReturnTo refuses open redirects', () => {
  // Each one is, or becomes in some browser or URL parser, a way off the relay's origin.
  const refused: [string, unknown][] = [
    // protocol-relative and absolute
    ['protocol-relative', '//evil.com'],
    ['triple slash', '///evil.com'],
    ['protocol-relative with userinfo naming our host', '//evil.com@isv.example.com'],
    ['protocol-relative to our own host', '//isv.example.com'],
    ['absolute https', 'https://evil.com'],
    ['scheme without slashes', 'https:evil.com'],
    ['absolute URL naming our host as userinfo', 'https://isv.example.com@evil.com'],
    ['look-alike host', 'http://isv.example.com.evil.com'],
    ['javascript:', 'javascript:alert(1)'],
    ['javascript: mixed case', 'JaVaScRiPt:alert(1)'],
    ['data:', 'data:text/html,<script>alert(1)</script>'],
    // backslashes (browsers read `\` as `/` in special URLs)
    ['slash backslash', '/\\evil.com'],
    ['slash double backslash', '/\\\\evil.com'],
    ['double backslash', '\\\\evil.com'],
    ['backslash slash', '\\/evil.com'],
    ['slash backslash slash', '/\\/evil.com'],
    // encoded slashes and backslashes
    ['encoded //', '/%2F%2Fevil.com'],
    ['encoded / lower case', '/%2f/evil.com'],
    ['encoded / upper case', '/%2F/evil.com'],
    ['encoded backslash', '/%5Cevil.com'],
    ['encoded double backslash', '/%5C%5Cevil.com'],
    ['encoded slash backslash', '/%2F%5Cevil.com'],
    ['encoded // without a leading slash', '%2F%2Fevil.com'],
    // characters URL parsers strip: tab, LF, CR, and the rest of C0/C1
    ['encoded tab', '/%09/evil.com'],
    ['tab', '/\t/evil.com'],
    ['newline', '/\n/evil.com'],
    ['carriage return', '/\r/evil.com'],
    ['vertical tab', '/\u000b/evil.com'],
    ['form feed', '/\f/evil.com'],
    ['DEL', '/\u007f/evil.com'],
    ['C1 NEL', '/\u0085/evil.com'],
    ['leading tab', '\t//evil.com'],
    ['leading newline', '\n//evil.com'],
    ['leading space (stripped by URL parsers)', ' //evil.com'],
    ['NUL', '/\u0000/evil.com'],
    ['encoded NUL', '/%00/evil.com'],
    ['encoded CR', '/%0d/evil.com'],
    ['encoded DEL', '/%7f/evil.com'],
    ['encoded C1 NEL', '/%C2%85/evil.com'],
    ['header injection', '/%0d%0aSet-Cookie:%20x=1'],
    // dot segments that a URL parser resolves into a protocol-relative path
    ['dot then //', '/.//evil.com'],
    ['two dots then //', '/..//evil.com'],
    ['two dot segments then //', '/././/evil.com'],
    ['segment, dot-dot, //', '/a/..//evil.com'],
    ['two segments, two dot-dots, //', '/a/b/../..//evil.com'],
    ['encoded dot then //', '/%2e//evil.com'],
    ['encoded dot-dot then //', '/%2E%2E//evil.com'],
    ['half-encoded dot-dot then //', '/.%2e//evil.com'],
    ['segment, encoded dot-dot, //', '/a/%2e%2e//evil.com'],
    ['encoded dot-dots then //', '/%2e%2e/%2e%2e//evil.com'],
    // dot segments that resolve into an encoded // (found by test/properties/return-to.test.ts)
    ['dot then encoded //', '/./%2F/evil.com'],
    ['encoded dot-dot then encoded //', '/%2e%2e/%2f/evil.com'],
    ['segment, dot-dot, encoded //', '/a/../%2F%2Fevil.com'],
    // not a path at all
    ['relative dot path', './evil.com'],
    ['relative dot-dot path', '../evil.com'],
    ['bare host', 'evil.com'],
    // back into the relay's own sign-in routes: a loop
    ['sign-in route', '/sso/login'],
    ['sign-in route carrying another returnTo', '/sso/login?returnTo=%2F%2Fevil.com'],
    ['sign-in route, other case (Express routes are case-insensitive)', '/SSO/login'],
    ['callback route', '/sso/callback?code=x&tenant=y'],
    ['sign-out route', '/sso/logout'],
    // malformed percent-encoding
    ['truncated escape', '/%'],
    ['truncated UTF-8 escape', '/%E0%A4%A'],
    // not a usable value
    ['empty string', ''],
    ['3000 characters', `/${'a'.repeat(2999)}`],
    ['number', 42],
    ['array', ['/reports']],
    ['object', { path: '/reports' }],
    ['null', null],
    ['undefined', undefined],
    ['boolean', true],
  ];

  it('has a corpus of at least 40 payloads', () => {
    expect(refused.length).toBeGreaterThanOrEqual(40);
    expect(new Set(refused.map(([, v]) => JSON.stringify(v))).size).toBe(refused.length);
  });

  it.each(refused)('refuses %s: %j', (_name, value) => {
    const result = safeReturnTo(value, ORIGIN);
    // Checked first: if a payload gets through, say how bad the answer is.
    if (result !== null) expectSameOriginPath(result);
    expect(result).toBeNull();
  });
});

describe('safeReturnTo keeps same-origin paths, re-serialized', () => {
  const kept: [string, string][] = [
    ['/', '/'],
    ['/reports?year=2026#q3', '/reports?year=2026#q3'],
    ['/a/b/c', '/a/b/c'],
    ['/a/b/', '/a/b/'],
    ['/path%20with%20space', '/path%20with%20space'],
    ['/中文路径', '/%E4%B8%AD%E6%96%87%E8%B7%AF%E5%BE%84'],
    ['/%E4%B8%AD', '/%E4%B8%AD'],
    ['/?next=%2F%2Fx', '/?next=%2F%2Fx'],
    ['/x?y=//evil.com', '/x?y=//evil.com'],
    ['/a?b=c&d=e', '/a?b=c&d=e'],
    ['/a#frag', '/a#frag'],
    ['/#//evil.com', '/#//evil.com'],
    ['/a;b', '/a;b'],
    ['/@evil.com', '/@evil.com'],
    ['/evil.com', '/evil.com'],
    // dot segments that stay on the origin are resolved
    ['/a/../b', '/b'],
    ['/a/./b', '/a/b'],
    ['/../../evil.com', '/evil.com'],
    // an encoded slash inside a segment stays encoded: one segment, same origin
    ['/.%2F%2Fevil.com', '/.%2F%2Fevil.com'],
    // a space is an ordinary path character: percent-encoded, the path stays on our origin
    ['/ /evil.com', '/%20/evil.com'],
    ['/a b', '/a%20b'],
    // the longest accepted value
    [`/${'a'.repeat(2047)}`, `/${'a'.repeat(2047)}`],
  ];

  it('has at least 10 legitimate paths', () => {
    expect(kept.length).toBeGreaterThanOrEqual(10);
  });

  it.each(kept)('keeps %j as %j', (value, expected) => {
    const result = safeReturnTo(value, ORIGIN);
    expect(result).toBe(expected);
    expectSameOriginPath(result!);
    // stable: what it answers is itself a value it keeps unchanged
    expect(safeReturnTo(result, ORIGIN)).toBe(result);
  });

  // Unicode look-alikes of / and \ are not refused outright: non-ASCII paths are legitimate
  // (see /中文路径), and the answer is percent-encoded, so no browser can read the character
  // as a separator. What matters is that nothing raw comes back and the origin holds.
  it.each([
    ['/／evil.com', '/%EF%BC%8Fevil.com'], // fullwidth solidus
    ['/∕evil.com', '/%E2%88%95evil.com'], // division slash
    ['/⁄evil.com', '/%E2%81%84evil.com'], // fraction slash
    ['/＼evil.com', '/%EF%BC%BCevil.com'], // fullwidth reverse solidus
    ['/\u3000/evil.com', '/%E3%80%80/evil.com'], // ideographic space
    ['/\u2028/evil.com', '/%E2%80%A8/evil.com'], // line separator
  ])('neutralises the look-alike %j as %j', (value, expected) => {
    const result = safeReturnTo(value, ORIGIN);
    expect(result).toBe(expected);
    expectSameOriginPath(result!);
  });

  it('is bounded by the relay origin it is given, not a fixed one', () => {
    expect(safeReturnTo('/a?b#c', 'http://127.0.0.1:3000')).toBe('/a?b#c');
    expect(safeReturnTo('//127.0.0.1:3000/a', 'http://127.0.0.1:3000')).toBeNull();
  });
});
