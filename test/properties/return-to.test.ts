// returnTo (src/sso/returnTo.ts, contract §4): whatever it accepts is a same-origin relative path
// (one leading slash, never `//` or `/\`, no scheme, no control characters, printable ASCII only)
// that a browser resolves against the public origin to that origin; plain paths come back as
// they were; and what comes back is accepted again unchanged.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { safeReturnTo } from '../../src/sso/returnTo.js';

const ORIGINS = ['https://isv.example.com', 'http://localhost:3000', 'https://app.example.cn:8443'];
const origin = fc.constantFrom(...ORIGINS);

/** Pieces open redirects are made of, in every spelling browsers and URL parsers forgive. */
const PIECES = [
  '/',
  '//',
  '\\',
  '/\\',
  '%2F',
  '%2f',
  '%5C',
  '%5c',
  '%252F',
  '.',
  '..',
  '%2E',
  '%2e%2e',
  './',
  '../',
  'evil.com',
  'isv.example.com',
  'localhost:3000',
  '@',
  ':',
  '?',
  '#',
  '&',
  '=',
  'https:',
  'http://',
  'javascript:',
  'JaVaScRiPt:',
  'data:',
  'sso',
  'SSO',
  'sso/',
  '%73so',
  '\t',
  '\n',
  '\r',
  '\u0000',
  '\u000b',
  '\u007f',
  '\u0085',
  '\u00a0',
  '%00',
  '%09',
  '%0A',
  '%',
  '%G0',
  ' ',
  '\u3002',
  '\uff0f',
  '\uff3c',
  '\ufe68',
  '\u2044',
  '\u2215',
  'é',
  '中文',
  '\ud800',
  '😀',
  'a',
  'app',
  'dashboard',
];

const candidate = fc.oneof(
  { weight: 3, arbitrary: fc.array(fc.constantFrom(...PIECES), { maxLength: 8 }).map((p) => p.join('')) },
  {
    weight: 3,
    arbitrary: fc
      .array(fc.constantFrom(...PIECES), { minLength: 1, maxLength: 8 })
      .map((p) => `/${p.join('')}`),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
  { weight: 1, arbitrary: fc.webUrl({ withQueryParameters: true, withFragments: true }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 30 }).map((s) => `/${s}`) },
);

/** What every accepted value must be, whatever was given. */
function expectSameOriginPath(result: string, base: string): void {
  expect(result).toMatch(/^\/(?![/\\])/);
  expect(result).toMatch(/^[\x21-\x7e]+$/); // printable ASCII: no controls, spaces or look-alikes
  expect(result).not.toMatch(/\\/);
  expect(result).not.toMatch(/^[a-zA-Z][a-zA-Z0-9+.-]*:/);
  const url = new URL(result, base);
  expect(url.origin).toBe(new URL(base).origin);
  expect(url.pathname.startsWith('//')).toBe(false);
  // Resolved against the origin with a path too, as a browser resolves a Location on any page.
  expect(new URL(result, `${base}/deep/page?q=1#f`).origin).toBe(new URL(base).origin);
  // Never back into the sign-in routes, whatever the case.
  expect(url.pathname.toLowerCase().startsWith('/sso/')).toBe(false);
}

describe('safeReturnTo', () => {
  it('accepts only same-origin relative paths, and accepts what it returns unchanged', () => {
    let accepted = 0;
    fc.assert(
      fc.property(candidate, origin, (value, base) => {
        const result = safeReturnTo(value, base);
        if (result === null) return;
        accepted++;
        expectSameOriginPath(result, base);
        expect(safeReturnTo(result, base)).toBe(result);
      }),
      { numRuns: 20_000 },
    );
    expect(accepted).toBeGreaterThan(1000);
  });

  it('keeps plain paths with a query and a fragment exactly as given', () => {
    const segment = fc.string({
      unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_~'),
      minLength: 1,
      maxLength: 12,
    });
    const plain = fc
      .tuple(
        fc.array(segment, { minLength: 1, maxLength: 5 }),
        fc.boolean(),
        fc.option(fc.array(fc.tuple(segment, segment), { minLength: 1, maxLength: 3 }), { nil: undefined }),
        fc.option(segment, { nil: undefined }),
      )
      .filter(([segments]) => segments[0]!.toLowerCase() !== 'sso')
      .map(
        ([segments, slash, query, hash]) =>
          `/${segments.join('/')}${slash ? '/' : ''}` +
          (query ? `?${query.map(([k, v]) => `${k}=${v}`).join('&')}` : '') +
          (hash ? `#${hash}` : ''),
      );
    fc.assert(
      fc.property(plain, origin, (value, base) => {
        expect(safeReturnTo(value, base)).toBe(value);
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses anything that is not a string, or is longer than 2048 characters', () => {
    fc.assert(
      fc.property(fc.anything(), origin, (value, base) => {
        fc.pre(typeof value !== 'string');
        expect(safeReturnTo(value, base)).toBeNull();
      }),
      { numRuns: 500 },
    );
    expect(safeReturnTo(`/${'a'.repeat(2048)}`, ORIGINS[0]!)).toBeNull();
  });
});
