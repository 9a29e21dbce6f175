/**
 * What the property tests (test/properties/) share: JSON bodies generated as text, so they hold
 * what a JavaScript object cannot (repeated names, integer literals past 2^53, `1.0`, escapes in
 * either hex case, lone surrogates, any spacing); one-byte mutations; and the relay's verdict on a
 * signed call, as public behaviour (a result code), so the properties survive a change of where
 * the relay checks what.
 */
import fc from 'fast-check';
import { KitRefusal } from '../../src/kit/resultCodes.js';
import { checkCredentials, checkSignedBody, type Scheme, type SignedCall } from '../../src/kit/verify.js';
import { canonicalPayload, javaUtf8, legacyCanonicalPayload } from '../../src/sandbox/marketplace/index.js';

// ---- JSON as text ---------------------------------------------------------------------------

/** JSON whitespace, mostly none. */
export const space = fc.constantFrom('', '', '', '', ' ', '\n', '\t', '\r\n  ');

/** One code point, biased towards what escaping and Jackson's printing treat specially. */
const codePoint = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }) },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      ...['"', '\\', '/', '\b', '\f', '\n', '\r', '\t', '\u0000', '\u0001', '\u001f', '\u007f'],
      ...[
        '\u0085',
        '\u2028',
        '\u2029',
        '\ufeff',
        '中',
        '張',
        '😀',
        '?',
        '\ud800',
        '\udbff',
        '\udc00',
        '\udfff',
      ],
    ),
  },
);

const SHORT: Record<string, string> = {
  '"': '\\"',
  '\\': '\\\\',
  '/': '\\/',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};

const unicodeEscape = (unit: number, upper: boolean) => {
  const hex = unit.toString(16).padStart(4, '0');
  return `\\u${upper ? hex.toUpperCase() : hex}`;
};

/**
 * A code point written in one of the ways JSON allows, as UTF-8 can carry it: `style` 0 raw or
 * short escape, 1 raw or `\u` escape, 2 short or `\u` escape, 3 upper-case `\u` escape.
 */
function writeCodePoint(cp: string, style: number): string {
  const c = cp.charCodeAt(0);
  const lone = cp.length === 1 && c >= 0xd800 && c <= 0xdfff;
  const mustEscape = c < 0x20 || cp === '"' || cp === '\\' || lone;
  if (style <= 1 && !mustEscape) return cp;
  if ((style === 0 || style === 2) && SHORT[cp] !== undefined) return SHORT[cp]!;
  let out = '';
  for (let i = 0; i < cp.length; i++) out += unicodeEscape(cp.charCodeAt(i), style === 3);
  return out;
}

/** A JSON string literal: any code points, each written raw or escaped. */
export const stringText = fc
  .array(fc.tuple(codePoint, fc.nat(3)), { maxLength: 12 })
  .map((cps) => `"${cps.map(([cp, style]) => writeCodePoint(cp, style)).join('')}"`);

/** A member name: often from a small pool (so names repeat), sometimes anything. */
export const nameText = fc.oneof(
  {
    weight: 2,
    arbitrary: fc
      .constantFrom('a', 'b', 'B', '_', '10', '2', '-1', 'flag', 'tenantId', '中', '__proto__', '')
      .map((n) => JSON.stringify(n)),
  },
  { weight: 1, arbitrary: stringText },
);

const digits = (minLength: number, maxLength: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789'), minLength, maxLength });

/** A JSON number literal: integers of any length, decimals, exponents of either case and sign, -0. */
export const numberText = fc
  .tuple(
    fc.boolean(),
    fc.oneof(
      fc.constant('0'),
      fc.tuple(fc.constantFrom(...'123456789'), digits(0, 24)).map(([a, b]) => a + b),
    ),
    fc.option(digits(1, 20), { nil: undefined }),
    fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), digits(1, 3)), {
      nil: undefined,
    }),
  )
  .map(
    ([negative, int, fraction, exponent]) =>
      `${negative ? '-' : ''}${int}${fraction === undefined ? '' : `.${fraction}`}${exponent ? exponent.join('') : ''}`,
  );

const literalText = fc.constantFrom('true', 'false', 'null');

const jsonTexts = fc.letrec<{ value: string; object: string; array: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', maxDepth: 4 },
    stringText,
    numberText,
    literalText,
    tie('object'),
    tie('array'),
  ),
  array: fc
    .tuple(space, fc.array(fc.tuple(tie('value'), space, space), { maxLength: 4 }))
    .map(([open, items]) => `[${open}${items.map(([v, a, b]) => `${a}${v}${b}`).join(',')}]`),
  object: fc
    .tuple(space, fc.array(fc.tuple(nameText, space, space, tie('value'), space), { maxLength: 5 }))
    .map(
      ([open, members]) => `{${open}${members.map(([n, a, b, v, c]) => `${a}${n}${b}:${c}${v}`).join(',')}}`,
    ),
}));

/** Any JSON value as text. */
export const jsonValueText = jsonTexts.value;

/** A JSON object body as text, with repeated names, top-level nulls, and any spacing. */
export const jsonObjectText = fc
  .tuple(
    space,
    fc.array(fc.tuple(space, nameText, space, space, jsonValueText, space), { maxLength: 8 }),
    space,
  )
  .map(
    ([before, members, after]) =>
      `${before}{${members.map(([a, n, b, c, v, d]) => `${a}${n}${b}:${c}${v}${d}`).join(',')}}${after}`,
  );

// ---- mutations ------------------------------------------------------------------------------

/**
 * A change of exactly one byte: the byte at `index % length` xor-ed with 1..255, often with 0x20
 * (letter case, space), 0x01 (the next digit or letter) or 0x80 (into or out of a UTF-8 sequence).
 */
export const oneByteChange = fc.record({
  index: fc.nat(),
  flip: fc.oneof(fc.constantFrom(0x20, 0x01, 0x80), fc.integer({ min: 1, max: 255 })),
});

export function changeOneByte(bytes: Buffer, change: { index: number; flip: number }): Buffer {
  const out = Buffer.from(bytes);
  const i = change.index % out.length;
  out[i] = out[i]! ^ change.flip;
  return out;
}

/** A header or query value with one character replaced by another of 0x00..0xFF. */
export function changeOneChar(value: string, change: { index: number; flip: number }): string {
  const i = change.index % value.length;
  return value.slice(0, i) + String.fromCharCode(value.charCodeAt(i) ^ change.flip) + value.slice(i + 1);
}

/**
 * Whether body `bytes` sign as `payload` does, judged by the sandbox's model of the marketplace:
 * the same Jackson payload bytes (Java's UTF-8, lone surrogates as '?'), or the older form (§2.2).
 */
export function signsTheSame(bytes: Buffer, payload: string): boolean {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return false;
  }
  const want = javaUtf8(payload);
  try {
    if (javaUtf8(canonicalPayload(text)).equals(want)) return true;
    const parsed: unknown = JSON.parse(text);
    return (
      typeof parsed === 'object' &&
      parsed !== null &&
      !Array.isArray(parsed) &&
      javaUtf8(legacyCanonicalPayload(parsed)).equals(want)
    );
  } catch {
    return false; // not a body the marketplace could have signed
  }
}

// ---- the relay's verdict ----------------------------------------------------------------------

/**
 * What the relay answers a signed call with these credentials and body bytes, up to its
 * signature check, by the pipeline's own inline check (credentials, then the body's bytes):
 * 000000 when it holds, otherwise the result code it refuses with.
 */
export function verdict(scheme: Scheme, call: SignedCall, bytes: Buffer, nowMs: number): string {
  try {
    checkCredentials(scheme, call, nowMs, 60_000);
    checkSignedBody(scheme, call, bytes);
    return '000000';
  } catch (error) {
    if (error instanceof KitRefusal) return error.resultCode;
    throw error;
  }
}
