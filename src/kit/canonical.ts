/**
 * The signed RequestPayload (kit-sync-and-signing.md §2.2), byte for byte as the marketplace's
 * reference code builds it: Jackson parses the body into a `Map<String,Object>`, a `TreeMap`
 * sorts the top level, top-level nulls go, and Jackson prints the rest compactly.
 *
 * It is built from the body's text, not from a JavaScript object, because a JavaScript object
 * cannot hold what Jackson keeps: nested objects keep the order their keys arrived in (JavaScript
 * moves integer-like keys first), integer literals keep every digit, decimal literals print as
 * Java's `Double.toString`, and control characters escape as upper-case `\u001F`.
 *
 * One pass over the text: nested values are re-printed as they are read, so a large body
 * (allOrgSync) costs no tree of objects.
 */

/** The older form (`JSON.parse`, sort, `JSON.stringify`), accepted too: it is also fixed by the body and the key. */
export function legacyCanonicalPayload(body: Record<string, unknown>): string {
  // A null-prototype object keeps a "__proto__" member as data, as Java's TreeMap would.
  const sorted = Object.create(null) as Record<string, unknown>;
  for (const key of Object.keys(body).sort()) {
    const value = body[key];
    if (value !== null && value !== undefined) sorted[key] = value;
  }
  return JSON.stringify(sorted);
}

/** The RequestPayload of a JSON object body; throws SyntaxError when the text is not one. */
export function canonicalPayload(text: string): string {
  const reader = new Reader(text);
  reader.space();
  if (reader.peek() !== 0x7b) reader.fail('a JSON object');
  // TreeMap: the last value of a repeated key wins; position is decided by sorting.
  const members = new Map<string, { key: string; value: string }>();
  let count = 0;
  reader.members((name, printedName) => {
    // Refused before any sorting: no interface has more than a few dozen members.
    if (++count > MAX_TOP_LEVEL_MEMBERS)
      throw new SyntaxError(`has more than ${MAX_TOP_LEVEL_MEMBERS} top-level members`);
    const start = reader.pos;
    const value = reader.value() ?? text.slice(start, reader.pos);
    members.set(name, { key: printedName, value });
  });
  reader.space();
  if (reader.pos !== text.length) reader.fail('the end of the body');
  // Default sort compares UTF-16 code units, as Java's String.compareTo does.
  const names = [...members.keys()].sort();
  let out = '{';
  for (const name of names) {
    const m = members.get(name)!;
    if (m.value === 'null') continue;
    if (out.length > 1) out += ',';
    out += m.key + ':' + m.value;
  }
  return out + '}';
}

/** More top-level members than any interface has (the largest has about 20): not signed. */
export const MAX_TOP_LEVEL_MEMBERS = 64;

/** Jackson's default StreamReadConstraints.maxNestingDepth: deeper bodies are not signed. */
export const MAX_NESTING_DEPTH = 1000;

/**
 * Reads values and prints them as Jackson would. A nested value whose text is already in that
 * form (compact, integer numbers, escapes Jackson also writes, no repeated names) is most of any
 * real body: `value()` then returns null and the caller takes the text's own slice, so nothing is
 * rebuilt character by character.
 */
class Reader {
  pos = 0;
  private depth = 0;
  constructor(private readonly text: string) {}

  /** Containers nest through recursion: bounded, so a hostile body cannot exhaust the stack. */
  private enter(): void {
    if (++this.depth > MAX_NESTING_DEPTH)
      throw new SyntaxError(`nests deeper than ${MAX_NESTING_DEPTH} levels`);
  }

  fail(expected: string): never {
    throw new SyntaxError(`expected ${expected} at position ${this.pos}`);
  }

  peek(): number {
    return this.text.charCodeAt(this.pos);
  }

  /** Skips whitespace; true when there was some (the text is then not in Jackson's form). */
  space(): boolean {
    const t = this.text;
    const from = this.pos;
    let c = t.charCodeAt(this.pos);
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = t.charCodeAt(++this.pos);
    return this.pos !== from;
  }

  /**
   * Reads `{…}` at the current position, calling `member` with each name (decoded, and as
   * Jackson prints it) once positioned at its value. True when the object's own text (not its
   * values') is in Jackson's form.
   */
  members(member: (name: string, printedName: string) => void): boolean {
    this.enter();
    this.pos++; // '{'
    let clean = !this.space();
    if (this.peek() === 0x7d) {
      this.pos++;
      this.depth--;
      return clean;
    }
    for (;;) {
      if (this.peek() !== 0x22) this.fail('a member name');
      const at = this.pos;
      const decoded = this.string();
      const name = decoded ?? this.text.slice(at + 1, this.pos - 1);
      const printed = decoded === null ? this.text.slice(at, this.pos) : printString(decoded);
      if (decoded !== null) clean = false;
      if (this.space()) clean = false;
      if (this.peek() !== 0x3a) this.fail("':'");
      this.pos++;
      if (this.space()) clean = false;
      member(name, printed);
      if (this.space()) clean = false;
      const c = this.peek();
      this.pos++;
      if (c === 0x7d) {
        this.depth--;
        return clean;
      }
      if (c !== 0x2c) {
        this.pos--;
        this.fail("',' or '}'");
      }
      if (this.space()) clean = false;
    }
  }

  /** A value as Jackson prints it, or null when its text already is that (see the class). */
  value(): string | null {
    const c = this.peek();
    if (c === 0x22) {
      const decoded = this.string();
      return decoded === null ? null : printString(decoded);
    }
    if (c === 0x7b) return this.nestedObject();
    if (c === 0x5b) return this.array();
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    for (const word of ['true', 'false', 'null'])
      if (this.text.startsWith(word, this.pos)) {
        this.pos += word.length;
        return null;
      }
    return this.fail('a JSON value');
  }

  /**
   * LinkedHashMap: a repeated name keeps its first position and takes its last value. Written as
   * one loop over a flat record of positions (six slots per member), because a full department
   * list holds tens of thousands of these small objects: no closure, no string for a name that
   * needs none, nothing rebuilt unless the object is not already in Jackson's form. (It repeats
   * the loop of `members()`, which the top level uses: sharing one loop cost 40 % more on a
   * 10,000-department list, measured.)
   */
  private nestedObject(): string | null {
    const t = this.text;
    this.enter();
    this.pos++; // '{'
    let clean = !this.space();
    if (this.peek() === 0x7d) {
      this.pos++;
      this.depth--;
      return clean ? null : '{}';
    }
    // per member: name start, name end (quotes included), decoded name or null, value start, value end, value or null
    const m: (number | string | null)[] = [];
    let byName: Map<string, number> | null = null;
    for (;;) {
      if (this.peek() !== 0x22) this.fail('a member name');
      const ks = this.pos;
      const decoded = this.string();
      const ke = this.pos;
      if (decoded !== null) clean = false;
      if (this.space()) clean = false;
      if (this.peek() !== 0x3a) this.fail("':'");
      this.pos++;
      if (this.space()) clean = false;
      const vs = this.pos;
      const value = this.value();
      const ve = this.pos;
      if (value !== null) clean = false;
      // A repeated name: small objects compare in place, large ones through a map (no quadratic cost).
      let at = -1;
      const count = m.length / 6;
      if (count > 8) {
        byName ??= new Map(Array.from({ length: count }, (_, i) => [this.nameAt(m, i), i]));
        at = byName.get(decoded ?? t.slice(ks + 1, ke - 1)) ?? -1;
      } else for (let i = 0; i < count && at < 0; i++) if (this.sameName(m, i, ks, ke, decoded)) at = i;
      if (at >= 0) {
        clean = false;
        m[at * 6 + 3] = vs;
        m[at * 6 + 4] = ve;
        m[at * 6 + 5] = value;
      } else {
        byName?.set(decoded ?? t.slice(ks + 1, ke - 1), count);
        m.push(ks, ke, decoded, vs, ve, value);
      }
      if (this.space()) clean = false;
      const c = this.peek();
      this.pos++;
      if (c === 0x7d) break;
      if (c !== 0x2c) {
        this.pos--;
        this.fail("',' or '}'");
      }
      if (this.space()) clean = false;
    }
    this.depth--;
    if (clean) return null;
    let out = '{';
    for (let i = 0; i < m.length; i += 6) {
      const decoded = m[i + 2] as string | null;
      const name = decoded === null ? t.slice(m[i] as number, m[i + 1] as number) : printString(decoded);
      const value = (m[i + 5] as string | null) ?? t.slice(m[i + 3] as number, m[i + 4] as number);
      out += (i ? ',' : '') + name + ':' + value;
    }
    return out + '}';
  }

  private nameAt(m: (number | string | null)[], i: number): string {
    return (
      (m[i * 6 + 2] as string | null) ??
      this.text.slice((m[i * 6] as number) + 1, (m[i * 6 + 1] as number) - 1)
    );
  }

  /** Whether member `i` has the name at [ks, ke) (`decoded` when it has escapes), without slicing plain names. */
  private sameName(
    m: (number | string | null)[],
    i: number,
    ks: number,
    ke: number,
    decoded: string | null,
  ): boolean {
    const other = m[i * 6 + 2] as string | null;
    if (decoded !== null || other !== null)
      return this.nameAt(m, i) === (decoded ?? this.text.slice(ks + 1, ke - 1));
    const os = m[i * 6] as number;
    const oe = m[i * 6 + 1] as number;
    if (oe - os !== ke - ks) return false;
    const t = this.text;
    for (let j = 1; j < ke - ks - 1; j++) if (t.charCodeAt(os + j) !== t.charCodeAt(ks + j)) return false;
    return true;
  }

  private array(): string | null {
    this.enter();
    this.pos++; // '['
    let clean = !this.space();
    if (this.peek() === 0x5d) {
      this.pos++;
      this.depth--;
      return clean ? null : '[]';
    }
    const items: string[] = [];
    for (;;) {
      const from = this.pos;
      const value = this.value();
      if (value !== null) clean = false;
      items.push(value ?? this.text.slice(from, this.pos));
      if (this.space()) clean = false;
      const c = this.peek();
      this.pos++;
      if (c === 0x5d) {
        this.depth--;
        return clean ? null : '[' + items.join(',') + ']';
      }
      if (c !== 0x2c) {
        this.pos--;
        this.fail("',' or ']'");
      }
      if (this.space()) clean = false;
    }
  }

  private number(): string | null {
    const t = this.text;
    const start = this.pos;
    let i = start;
    if (t.charCodeAt(i) === 0x2d) i++;
    const digits = (from: number) => {
      let j = from;
      while (t.charCodeAt(j) >= 0x30 && t.charCodeAt(j) <= 0x39) j++;
      return j;
    };
    const intEnd = digits(i);
    if (intEnd === i || (t.charCodeAt(i) === 0x30 && intEnd > i + 1)) {
      this.pos = i;
      this.fail('a number without leading zeros');
    }
    i = intEnd;
    let floating = false;
    if (t.charCodeAt(i) === 0x2e) {
      const end = digits(i + 1);
      if (end === i + 1) {
        this.pos = i + 1;
        this.fail('digits after the decimal point');
      }
      i = end;
      floating = true;
    }
    if ((t.charCodeAt(i) | 0x20) === 0x65) {
      i++;
      if (t.charCodeAt(i) === 0x2b || t.charCodeAt(i) === 0x2d) i++;
      const end = digits(i);
      if (end === i) {
        this.pos = i;
        this.fail('exponent digits');
      }
      i = end;
      floating = true;
    }
    this.pos = i;
    // An integer literal becomes Integer, Long or BigInteger: every digit printed, -0 is 0.
    if (!floating)
      return i - start === 2 && t.charCodeAt(start) === 0x2d && t.charCodeAt(start + 1) === 0x30 ? '0' : null;
    return javaDouble(Number(t.slice(start, i)));
  }

  /**
   * A string at the current position (its opening quote): null when its text is already Jackson's
   * (no escapes, no surrogates to look at), otherwise its decoded value.
   */
  string(): string | null {
    const t = this.text;
    const start = this.pos; // at the opening quote
    let i = start + 1;
    for (;;) {
      const c = t.charCodeAt(i);
      if (c === 0x22) {
        this.pos = i + 1;
        return null;
      }
      // Escapes, control characters, the end of the text, and surrogates (a lone one prints as '?').
      if (c === 0x5c || c < 0x20 || Number.isNaN(c) || (c >= 0xd800 && c <= 0xdfff)) break;
      i++;
    }
    let decoded = t.slice(start + 1, i);
    for (;;) {
      const c = t.charCodeAt(i);
      if (Number.isNaN(c)) {
        this.pos = i;
        this.fail('the end of a string');
      }
      if (c < 0x20) {
        this.pos = i;
        this.fail('an escaped control character');
      }
      if (c === 0x22) break;
      if (c !== 0x5c) {
        decoded += t[i];
        i++;
        continue;
      }
      const e = t[i + 1];
      const simple = e === undefined ? undefined : ESCAPED[e];
      if (simple !== undefined) {
        decoded += simple;
        i += 2;
      } else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(t.slice(i + 2, i + 6))) {
        decoded += String.fromCharCode(parseInt(t.slice(i + 2, i + 6), 16));
        i += 6;
      } else {
        this.pos = i;
        this.fail('a valid escape');
      }
    }
    this.pos = i + 1;
    return decoded;
  }
}

const ESCAPED: Record<string, string> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

const SHORT: Record<number, string> = { 8: '\\b', 9: '\\t', 10: '\\n', 12: '\\f', 13: '\\r' };

/**
 * Jackson's string: `"` and `\` escaped, \b \t \n \f \r short, other control characters as
 * upper-case \u00XX, everything else raw. A lone surrogate (only reachable through a \uD8xx
 * escape) becomes '?', which is what Java's `getBytes(UTF_8)` makes of it before the HMAC.
 */
function printString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c < 0x20) out += SHORT[c] ?? '\\u00' + c.toString(16).toUpperCase().padStart(2, '0');
    else if (c >= 0xd800 && c <= 0xdfff) {
      const next = s.charCodeAt(i + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        out += s[i]! + s[i + 1]!;
        i++;
      } else out += '?';
    } else out += s[i];
  }
  return out + '"';
}

/**
 * Java's `Double.toString` (JDK 19+: the shortest decimal that rounds to the double; when that
 * has one digit, the closer of the one- and two-digit candidates), in Java's layout: plain
 * between 10^-3 and 10^7, otherwise `d.dddE±n`; always a digit after the point. Jackson quotes
 * the non-finite values by default.
 */
export function javaDouble(x: number): string {
  if (Number.isNaN(x)) return '"NaN"';
  if (!Number.isFinite(x)) return x > 0 ? '"Infinity"' : '"-Infinity"';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  const abs = Math.abs(x);
  let [mantissa, exp] = abs.toExponential().split('e') as [string, string];
  if (mantissa.length === 1) {
    const [two, twoExp] = abs.toExponential(1).split('e') as [string, string];
    if (Number(`${two}e${twoExp}`) === abs && !two.endsWith('0')) [mantissa, exp] = [two, twoExp];
  }
  const digits = mantissa.replace('.', '');
  const e = Number(exp);
  if (abs >= 1e-3 && abs < 1e7) {
    if (e >= 0) {
      const whole = digits.slice(0, e + 1).padEnd(e + 1, '0');
      return `${sign}${whole}.${digits.slice(e + 1) || '0'}`;
    }
    return `${sign}0.${'0'.repeat(-e - 1)}${digits}`;
  }
  return `${sign}${digits[0]}.${digits.slice(1) || '0'}E${e}`;
}
