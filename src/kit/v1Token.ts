/**
 * The V1 scheme's request token (kit-sync-and-signing.md §7.2). Pure functions, tested against the
 * document's two vectors and vectors printed by the JDK (test/fixtures/v1-java-vectors.json); the
 * sandbox signs with its own implementation (sandbox/marketplace/v1.ts).
 *
 *   toSign    = "k1=v1&k2=v2&…": every parameter but authToken, sorted by name (Java's
 *               String.compareTo: UTF-16 code units), blank values skipped, query values
 *               URL-decoded first
 *   authToken = Base64(HMAC-SHA256(key = V1 key + timeStamp, data = toSign))
 *
 * compared exactly (case matters in Base64) and in constant time.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The parameter that carries the token; it never signs itself. */
export const AUTH_TOKEN = 'authToken';

/**
 * Java's `Character.isWhitespace`: the Unicode space, line and paragraph separators except the
 * non-breaking ones (U+00A0, U+2007, U+202F), and U+0009–U+000D, U+001C–U+001F.
 */
const JAVA_WHITESPACE =
  // eslint-disable-next-line no-control-regex -- Java counts these control characters as whitespace
  /^[\t\n\u000b\f\r\u001c-\u001f \u1680\u2000-\u2006\u2008-\u200a\u2028\u2029\u205f\u3000]*$/;

/** commons-lang `StringUtils.isBlank`, which the reference code skips values with. */
export function isBlank(value: string | null | undefined): boolean {
  return value === null || value === undefined || JAVA_WHITESPACE.test(value);
}

export type V1Params = readonly (readonly [string, string])[];

/**
 * The signed string of `params` (names unique). `keepBlank`: the variant of sellers' GET samples,
 * which sign blank values too; the reference code skips them.
 */
export function v1SignedString(params: V1Params, options: { keepBlank?: boolean } = {}): string {
  return params
    .filter(([name, value]) => name !== AUTH_TOKEN && (options.keepBlank || !isBlank(value)))
    .map(([name, value]) => [name, value] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

/** authToken = Base64(HMAC-SHA256(key + timeStamp, toSign)). */
export function v1AuthToken(key: string, timeStamp: string, toSign: string): string {
  return createHmac('sha256', Buffer.from(key + timeStamp, 'utf8'))
    .update(toSign, 'utf8')
    .digest('base64');
}

/** Exact and constant-time (the reference code compares with `equals`). */
export function v1TokensMatch(expected: string, received: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(received, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * A query string's parameters, URL-decoded as a servlet's `getParameterMap` decodes them:
 * `%XX` as UTF-8, and `+` as a space unless `plus` is `literal` (a marketplace that left a
 * Base64 `+` unencoded). Returns null when a `%` escape is malformed or not UTF-8.
 */
export function decodeQuery(raw: string, plus: 'space' | 'literal' = 'space'): [string, string][] | null {
  const out: [string, string][] = [];
  for (const part of raw.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const [name, value] = eq < 0 ? [part, ''] : [part.slice(0, eq), part.slice(eq + 1)];
    const n = decodeComponent(name, plus);
    const v = decodeComponent(value, plus);
    if (n === null || v === null) return null;
    out.push([n, v]);
  }
  return out;
}

function decodeComponent(text: string, plus: 'space' | 'literal'): string | null {
  try {
    return decodeURIComponent(plus === 'space' ? text.replace(/\+/g, ' ') : text);
  } catch {
    return null;
  }
}
