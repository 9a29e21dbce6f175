/**
 * The marketplace side's model of the reference Java code behind the kit signature (spec §2.2):
 *
 *   Map map = objectMapper.readValue(body, Map.class);      // Jackson 2.17, default features
 *   TreeMap sorted = new TreeMap<>(map); drop null values;  // top level only
 *   String payload = objectMapper.writeValueAsString(sorted);
 *
 * Written on purpose without looking at the relay's own canonicaliser (src/kit, src/crypto): a
 * misreading shared by both sides would pass every test, so the sandbox models Java itself.
 *
 * The model is a small Java-like value tree. JavaScript objects cannot stand in for
 * LinkedHashMap (they hoist integer-like keys such as "10" to the front), nor can JavaScript
 * numbers stand in for Integer/Long/BigInteger/Double (which print differently), so the body is
 * parsed from its text into that tree and printed the way Jackson prints each Java type.
 */

/** A value as Jackson's untyped deserialisation leaves it in Java. */
export type JavaValue =
  | { readonly kind: 'null' }
  | { readonly kind: 'boolean'; readonly value: boolean }
  /** Integer, Long or BigInteger: all print every digit, so one arbitrary-precision kind is enough. */
  | { readonly kind: 'integer'; readonly value: bigint }
  | { readonly kind: 'double'; readonly value: number }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'array'; readonly items: JavaValue[] }
  /** LinkedHashMap: JS Map has the same insertion-order and re-put semantics. */
  | { readonly kind: 'object'; readonly entries: Map<string, JavaValue> };

/**
 * Jackson 2.15+ StreamReadConstraints defaults. The reference code runs on 2.17, so a body
 * beyond these limits makes the Java side throw rather than sign; the model throws too.
 */
export const JACKSON_LIMITS = {
  maxNestingDepth: 1000,
  /** Digits of an integer, or int + fraction + exponent digits of a floating-point literal. */
  maxNumberLength: 1000,
  maxStringLength: 20_000_000,
  maxNameLength: 50_000,
} as const;

export class JacksonParseError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} (at offset ${offset})`);
    this.name = 'JacksonParseError';
  }
}

const HEX = '0123456789ABCDEF';

/**
 * Parses JSON text the way Jackson does with default features: strict RFC 8259 grammar (no
 * comments, single quotes, trailing commas, leading zeros, `+1`, `.5`, NaN/Infinity literals,
 * raw control characters in strings, or `\x` escapes other than the JSON ones).
 *
 * One deliberate difference: Jackson's `readValue` ignores anything after the first complete
 * value (FAIL_ON_TRAILING_TOKENS is off by default); this model rejects it, because a body with
 * trailing garbage is something the sandbox should never produce or sign.
 */
export function parseJavaTree(text: string): JavaValue {
  const parser = new Parser(text);
  parser.skipWhitespace();
  if (parser.atEnd()) throw new JacksonParseError('No content to map due to end-of-input', 0);
  const value = parser.parseValue(0);
  parser.skipWhitespace();
  if (!parser.atEnd()) throw new JacksonParseError('Unexpected content after the JSON value', parser.pos);
  return value;
}

class Parser {
  pos = 0;
  constructor(private readonly text: string) {}

  atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  private fail(message: string, at = this.pos): never {
    throw new JacksonParseError(message, at);
  }

  /** JSON whitespace only: Jackson rejects other control characters (and NBSP/BOM) between tokens. */
  skipWhitespace(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) this.pos++;
      else break;
    }
  }

  parseValue(depth: number): JavaValue {
    const t = this.text;
    const c = t[this.pos];
    switch (c) {
      case '{':
        return this.parseObject(depth + 1);
      case '[':
        return this.parseArray(depth + 1);
      case '"':
        return { kind: 'string', value: this.parseString(JACKSON_LIMITS.maxStringLength) };
      case 't':
        return this.literal('true', { kind: 'boolean', value: true });
      case 'f':
        return this.literal('false', { kind: 'boolean', value: false });
      case 'n':
        return this.literal('null', { kind: 'null' });
      case undefined:
        return this.fail('Unexpected end-of-input: expected a value');
      default:
        if (c === '-' || (c >= '0' && c <= '9')) return this.parseNumber();
        return this.fail(`Unexpected character ${describeChar(c)}: expected a JSON value`);
    }
  }

  private literal(word: string, value: JavaValue): JavaValue {
    if (!this.text.startsWith(word, this.pos)) this.fail(`Unrecognized token: expected '${word}'`);
    this.pos += word.length;
    // Jackson reports `truex` / `nullable` as one unrecognised token rather than `true` + junk.
    const next = this.text[this.pos];
    if (next !== undefined && /[A-Za-z0-9_$]/.test(next)) this.fail(`Unrecognized token starting '${word}'`);
    return value;
  }

  private checkDepth(depth: number): void {
    if (depth > JACKSON_LIMITS.maxNestingDepth)
      this.fail(`Document nesting depth (${depth}) exceeds the maximum allowed (1000)`);
  }

  private parseObject(depth: number): JavaValue {
    this.checkDepth(depth);
    this.pos++; // '{'
    const entries = new Map<string, JavaValue>();
    this.skipWhitespace();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return { kind: 'object', entries };
    }
    for (;;) {
      this.skipWhitespace();
      if (this.text[this.pos] !== '"')
        this.fail(
          this.text[this.pos] === '}'
            ? "Unexpected character '}': trailing comma in an object"
            : `Unexpected character ${describeChar(this.text[this.pos])}: expected a double-quoted field name`,
        );
      const key = this.parseString(JACKSON_LIMITS.maxNameLength);
      this.skipWhitespace();
      if (this.text[this.pos] !== ':')
        this.fail(`Unexpected character ${describeChar(this.text[this.pos])}: expected ':'`);
      this.pos++;
      this.skipWhitespace();
      const value = this.parseValue(depth);
      // LinkedHashMap.put: a repeated key keeps its first position and takes the last value.
      entries.set(key, value);
      this.skipWhitespace();
      const sep = this.text[this.pos];
      if (sep === ',') {
        this.pos++;
        continue;
      }
      if (sep === '}') {
        this.pos++;
        return { kind: 'object', entries };
      }
      this.fail(`Unexpected character ${describeChar(sep)}: expected ',' or '}'`);
    }
  }

  private parseArray(depth: number): JavaValue {
    this.checkDepth(depth);
    this.pos++; // '['
    const items: JavaValue[] = [];
    this.skipWhitespace();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return { kind: 'array', items };
    }
    for (;;) {
      this.skipWhitespace();
      if (this.text[this.pos] === ']') this.fail("Unexpected character ']': trailing comma in an array");
      items.push(this.parseValue(depth));
      this.skipWhitespace();
      const sep = this.text[this.pos];
      if (sep === ',') {
        this.pos++;
        continue;
      }
      if (sep === ']') {
        this.pos++;
        return { kind: 'array', items };
      }
      this.fail(`Unexpected character ${describeChar(sep)}: expected ',' or ']'`);
    }
  }

  private parseString(maxLength: number): string {
    const t = this.text;
    const start = this.pos;
    this.pos++; // opening quote
    let out = '';
    let runStart = this.pos;
    for (;;) {
      if (this.pos >= t.length) this.fail('Unexpected end-of-input in a string', start);
      const c = t.charCodeAt(this.pos);
      if (c === 0x22) {
        out += t.slice(runStart, this.pos);
        this.pos++;
        break;
      }
      if (c < 0x20) this.fail(`Illegal unquoted character (CTRL-CHAR, code ${c}) in a string`);
      if (c !== 0x5c) {
        this.pos++;
        continue;
      }
      out += t.slice(runStart, this.pos);
      const e = t[this.pos + 1];
      this.pos += 2;
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out += e;
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          const hex = t.slice(this.pos, this.pos + 4);
          if (!/^[0-9A-Fa-f]{4}$/.test(hex)) this.fail('Invalid \\u escape: expected 4 hex digits');
          // Lone surrogates are accepted, as in Java: a String is just UTF-16 code units.
          out += String.fromCharCode(parseInt(hex, 16));
          this.pos += 4;
          break;
        }
        case undefined:
          return this.fail('Unexpected end-of-input in a string escape', start);
        default:
          return this.fail(`Unrecognized character escape ${describeChar(e)}`, this.pos - 1);
      }
      runStart = this.pos;
    }
    if (out.length > maxLength)
      this.fail(`String value length exceeds the maximum allowed (${maxLength})`, start);
    return out;
  }

  private parseNumber(): JavaValue {
    const t = this.text;
    const start = this.pos;
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(t.slice(start, start + 4096 + 16));
    if (!m) {
      if (t[start] === '-' && t[start + 1] === 'I') this.fail('Non-standard token -Infinity');
      return this.fail('Invalid numeric value: expected a digit');
    }
    const literal = m[0];
    // A regex window keeps huge inputs cheap; longer literals are rejected below anyway.
    if (literal.length >= 4096) return this.fail('Number value length exceeds the maximum allowed (1000)');
    const next = t[start + literal.length];
    if (m[1] === '0' && next !== undefined && next >= '0' && next <= '9')
      this.fail('Invalid numeric value: Leading zeroes not allowed');
    if (next === '.') this.fail('Unexpected character: decimal point not followed by a digit');
    if (next === 'e' || next === 'E')
      this.fail('Unexpected character: exponent indicator not followed by a digit');
    if (next !== undefined && /[A-Za-z0-9_$]/.test(next)) this.fail('Unrecognized token after a number');
    this.pos += literal.length;
    const intDigits = m[1]!.length;
    if (m[2] === undefined && m[3] === undefined) {
      if (intDigits > JACKSON_LIMITS.maxNumberLength)
        this.fail(`Number value length (${intDigits}) exceeds the maximum allowed (1000)`, start);
      // Integer/Long/BigInteger alike print all digits; `-0` becomes int 0 and prints `0`.
      return { kind: 'integer', value: BigInt(literal) };
    }
    const fracDigits = m[2] ? m[2].length - 1 : 0;
    const expDigits = m[3] ? m[3].replace(/^[eE][+-]?/, '').length : 0;
    if (intDigits + fracDigits + expDigits > JACKSON_LIMITS.maxNumberLength)
      this.fail('Number value length exceeds the maximum allowed (1000)', start);
    // Double.parseDouble and Number() are both correctly rounded (round-half-even), overflow to
    // ±Infinity and underflow to ±0.0 alike.
    return { kind: 'double', value: Number(literal) };
  }
}

function describeChar(c: string | undefined): string {
  if (c === undefined) return 'end-of-input';
  const code = c.charCodeAt(0);
  return code < 0x20 || code > 0x7e ? `(code ${code})` : `'${c}'`;
}

// ---------------------------------------------------------------------------------------------
// Printing

/**
 * A Java string literal as Jackson's WriterBasedJsonGenerator writes it with default features:
 * `"` and `\` escaped, `\b \t \n \f \r` in short form, other C0 controls as `\u00XX` with
 * UPPER-case hex, and everything else raw (DEL, `/`, `<`, U+2028, non-ASCII, lone surrogates).
 */
export function jacksonQuote(s: string): string {
  let out = '"';
  let runStart = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c !== 0x22 && c !== 0x5c) continue;
    out += s.slice(runStart, i);
    runStart = i + 1;
    switch (c) {
      case 0x22:
        out += '\\"';
        break;
      case 0x5c:
        out += '\\\\';
        break;
      case 0x08:
        out += '\\b';
        break;
      case 0x09:
        out += '\\t';
        break;
      case 0x0a:
        out += '\\n';
        break;
      case 0x0c:
        out += '\\f';
        break;
      case 0x0d:
        out += '\\r';
        break;
      default:
        out += '\\u00' + HEX[c >> 4] + HEX[c & 0xf];
    }
  }
  return out + s.slice(runStart) + '"';
}

/**
 * Java's `Double.toString(double)` as specified from JDK 19 on (Raffaello Giulietti's shortest
 * decimal): among the decimals that round to `d`, take those of minimal length m (of length 1 or 2
 * when m is 1), then the one closest to `d`, ties to an even last digit. Rendered as plain decimal
 * for 1e-3 <= |d| < 1e7 (`100.0`, `0.001`) and as `d.dddE±n` otherwise (`1.0E21`, `1.0E-5`).
 */
export function javaDoubleToString(d: number): string {
  if (Number.isNaN(d)) return 'NaN';
  if (d === Infinity) return 'Infinity';
  if (d === -Infinity) return '-Infinity';
  if (d === 0) return Object.is(d, -0) ? '-0.0' : '0.0';
  const sign = d < 0 ? '-' : '';
  const x = Math.abs(d);
  let { digits, exp } = shortestDecimal(x);
  if (digits.length === 1) ({ digits, exp } = closestOfLengthOneOrTwo(x, digits, exp));
  return sign + renderJavaDecimal(digits, exp);
}

/**
 * The shortest decimal that rounds to x. ECMAScript's Number::toString picks the shortest digit
 * string and, among those, the closest (V8 implements exactly that), which is the same choice as
 * Java's for every length >= 2. Returns significand digits and the exponent of the first digit.
 */
function shortestDecimal(x: number): { digits: string; exp: number } {
  const s = String(x);
  const [mantissa = '', expPart] = s.split('e');
  let exp = expPart === undefined ? 0 : Number(expPart);
  const [intPart = '', fracPart = ''] = mantissa.split('.');
  let all = intPart + fracPart;
  // Position of the decimal point relative to `all`'s first digit.
  exp += intPart.length - 1;
  const lead = all.length - all.replace(/^0+/, '').length;
  all = all.slice(lead);
  exp -= lead;
  return { digits: all.replace(/0+$/, '') || '0', exp };
}

/**
 * Java's exception to "shortest": when a single digit suffices it still compares with the
 * two-digit decimals that round to x and keeps the closest (so Double.MIN_VALUE, 4.94e-324, prints
 * as 4.9E-324 where ECMAScript says 5e-324). Only coarse subnormals are affected.
 */
function closestOfLengthOneOrTwo(x: number, digits: string, exp: number): { digits: string; exp: number } {
  const exact = exactBinary(x);
  type Candidate = { c: bigint; q: number };
  const candidates: Candidate[] = [{ c: BigInt(digits), q: exp }];
  // x lies in [10^exp, 10^(exp+1)) or, when the one-digit decimal rounded up, just below 10^exp:
  // the grids 10^(exp-1) and 10^(exp-2) hold every closest decimal of length <= 2 on either side.
  for (const q of [exp - 1, exp - 2]) {
    const [lo, hi] = bracket(exact, q);
    candidates.push({ c: lo, q }, { c: hi, q });
  }
  let best: Candidate | undefined;
  let bestDist: Rational | undefined;
  for (const cand of candidates) {
    const norm = normaliseDecimal(cand.c, cand.q);
    if (norm.c === 0n || norm.c.toString().length > 2) continue;
    if (Number(`${norm.c}e${norm.q}`) !== x) continue; // not in R: does not round to x
    const dist = absDiff(decimalRational(norm.c, norm.q), exact);
    const cmp = bestDist === undefined ? -1 : compareRational(dist, bestDist);
    if (cmp < 0 || (cmp === 0 && best !== undefined && norm.c % 2n === 0n && best.c % 2n !== 0n)) {
      best = norm;
      bestDist = dist;
    }
  }
  if (best === undefined) return { digits, exp };
  const s = best.c.toString();
  return { digits: s, exp: best.q + s.length - 1 };
}

type Rational = { num: bigint; den: bigint };

function exactBinary(x: number): Rational {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const biased = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & ((1n << 52n) - 1n);
  const significand = biased === 0 ? fraction : fraction | (1n << 52n);
  const e2 = (biased === 0 ? 1 : biased) - 1075;
  return e2 >= 0 ? { num: significand << BigInt(e2), den: 1n } : { num: significand, den: 1n << BigInt(-e2) };
}

function decimalRational(c: bigint, q: number): Rational {
  return q >= 0 ? { num: c * 10n ** BigInt(q), den: 1n } : { num: c, den: 10n ** BigInt(-q) };
}

/** floor and ceil of x / 10^q. */
function bracket(x: Rational, q: number): [bigint, bigint] {
  const scaled =
    q >= 0 ? { num: x.num, den: x.den * 10n ** BigInt(q) } : { num: x.num * 10n ** BigInt(-q), den: x.den };
  const lo = scaled.num / scaled.den;
  return [lo, lo * scaled.den === scaled.num ? lo : lo + 1n];
}

function normaliseDecimal(c: bigint, q: number): { c: bigint; q: number } {
  while (c !== 0n && c % 10n === 0n) {
    c /= 10n;
    q++;
  }
  return { c, q };
}

function absDiff(a: Rational, b: Rational): Rational {
  const num = a.num * b.den - b.num * a.den;
  return { num: num < 0n ? -num : num, den: a.den * b.den };
}

function compareRational(a: Rational, b: Rational): number {
  const l = a.num * b.den;
  const r = b.num * a.den;
  return l < r ? -1 : l > r ? 1 : 0;
}

/** Java's layout of a decimal `0.digits × 10^(exp+1)`, digits without trailing zeros. */
function renderJavaDecimal(digits: string, exp: number): string {
  if (exp >= -3 && exp < 7) {
    if (exp < 0) return '0.' + '0'.repeat(-exp - 1) + digits;
    const intLen = exp + 1;
    const intPart =
      digits.length > intLen ? digits.slice(0, intLen) : digits + '0'.repeat(intLen - digits.length);
    return intPart + '.' + (digits.slice(intLen) || '0');
  }
  return digits[0] + '.' + (digits.slice(1) || '0') + 'E' + exp;
}

/** Jackson's `writeValueAsString` of a Java value, compact. */
export function writeJava(value: JavaValue): string {
  switch (value.kind) {
    case 'null':
      return 'null';
    case 'boolean':
      return value.value ? 'true' : 'false';
    case 'integer':
      return value.value.toString();
    case 'double':
      // WRITE_NAN_AS_STRINGS (on by default): non-finite doubles are written as quoted strings.
      return Number.isFinite(value.value)
        ? javaDoubleToString(value.value)
        : jacksonQuote(String(value.value));
    case 'string':
      return jacksonQuote(value.value);
    case 'array':
      return '[' + value.items.map(writeJava).join(',') + ']';
    case 'object': {
      const parts: string[] = [];
      for (const [k, v] of value.entries) parts.push(jacksonQuote(k) + ':' + writeJava(v));
      return '{' + parts.join(',') + '}';
    }
  }
}

/** Java's `String.compareTo`: UTF-16 code units, not code points and not locale collation. */
export function compareJavaStrings(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a.charCodeAt(i) - b.charCodeAt(i);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/**
 * The kit signature's RequestPayload (§2.2) built from the body text exactly as the reference
 * Java code builds it: top-level keys in TreeMap order, top-level nulls dropped, nested values kept
 * in arrival order, everything printed in Jackson's form.
 */
export function canonicalPayload(bodyText: string): string {
  let tree: JavaValue;
  try {
    tree = parseJavaTree(bodyText);
  } catch (err) {
    if (err instanceof JacksonParseError)
      throw new Error(`canonicalPayload: invalid JSON body: ${err.message}`);
    throw err;
  }
  if (tree.kind !== 'object')
    throw new Error(
      `canonicalPayload: the body must be a JSON object, got ${tree.kind === 'null' ? 'null' : tree.kind}`,
    );
  const keys = [...tree.entries.keys()].sort(compareJavaStrings);
  const sorted = new Map<string, JavaValue>();
  for (const k of keys) {
    const v = tree.entries.get(k)!;
    if (v.kind !== 'null') sorted.set(k, v);
  }
  return writeJava({ kind: 'object', entries: sorted });
}

/**
 * The older form `JSON.parse` + sorted top-level keys + `JSON.stringify`, which §2.2 lets a
 * verifier accept as well. It differs from Jackson's on integer-like nested keys, control
 * character hex case, and number formatting; the sandbox can sign with it to exercise that path.
 */
export function legacyCanonicalPayload(body: object): string {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new Error('legacyCanonicalPayload: the body must be a plain object');
  const source = body as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(source).sort()) {
    const v = source[k];
    if (v !== null && v !== undefined) out[k] = v;
  }
  return JSON.stringify(out);
}
