// The relay's RequestPayload against the ground truth: the vectors of kit-sync-and-signing.md
// §2.2 ("must equal Jackson's output byte for byte") and §2.3, and Jackson itself
// (test/fixtures/jackson-vectors.json, generated with real Jackson; see test/fixtures/java).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { canonicalPayload, javaDouble, legacyCanonicalPayload } from '../../src/kit/canonical.js';
import { basicSign } from '../../src/kit/signature.js';
import {
  javaUtf8,
  canonicalPayload as marketplacePayload,
  basicSign as marketplaceBasicSign,
  kitSign as marketplaceKitSign,
  newNonce,
} from '../../src/sandbox/marketplace/index.js';
import {
  basicScheme,
  checkCredentials,
  checkSignedBody,
  kitScheme,
  type Scheme,
  type SignedCall,
} from '../../src/kit/verify.js';

/** The pipeline's inline check: credentials, then the body's bytes; the signed time. */
const verify = (scheme: Scheme, call: SignedCall, text: string, now: number) => {
  const signedAt = checkCredentials(scheme, call, now, 60_000);
  checkSignedBody(scheme, call, Buffer.from(text, 'utf8'));
  return signedAt;
};
import { fixture } from '../support/relay.js';

const JACKSON_VECTORS: [string, string][] = [
  [
    '{"tenantId":"t1","userList":[{"userName":"u","extension":{"b":1,"10":2,"a":3,"2":4}}],"flag":1}',
    '{"flag":1,"tenantId":"t1","userList":[{"userName":"u","extension":{"b":1,"10":2,"a":3,"2":4}}]}',
  ],
  [
    '{"tenantId":"t1","name":"ctrl\\u0001\\u001f char","flag":1}',
    '{"flag":1,"name":"ctrl\\u0001\\u001F char","tenantId":"t1"}',
  ],
  ['{"B":1,"a":2,"_":3,"Z":4,"中":5,"10":6,"9":7}', '{"10":6,"9":7,"B":1,"Z":4,"_":3,"a":2,"中":5}'],
  [
    '{"tenantId":"t1","amount":1.0,"big":12345678901234567890,"f":0.1,"e":1e21,"n":-0,"flag":1}',
    '{"amount":1.0,"big":12345678901234567890,"e":1.0E21,"f":0.1,"flag":1,"n":0,"tenantId":"t1"}',
  ],
  [
    '{"tenantId":"t1","name":"tab\\there\\nnewline \\"quote\\" back\\\\slash </script> /slash","flag":1}',
    '{"flag":1,"name":"tab\\there\\nnewline \\"quote\\" back\\\\slash </script> /slash","tenantId":"t1"}',
  ],
];

describe("canonical payload: the document's Jackson vectors (§2.2)", () => {
  it.each(JACKSON_VECTORS)('%s', (body, payload) => {
    expect(canonicalPayload(body)).toBe(payload);
  });

  it('differs from the old JSON.stringify form exactly where the document says', () => {
    // The reason for building the payload from text: JavaScript objects reorder and reprint.
    const differing = JACKSON_VECTORS.filter(
      ([body, payload]) => legacyCanonicalPayload(JSON.parse(body)) !== payload,
    );
    expect(differing.map(([b]) => b.slice(0, 40))).toHaveLength(4);
  });

  it('keeps a repeated nested name at its first position with its last value, and the last top-level value', () => {
    expect(canonicalPayload('{"b":{"x":1,"y":2,"x":3},"a":1,"a":2}')).toBe('{"a":2,"b":{"x":3,"y":2}}');
  });

  it('keeps first positions and last values in large nested objects, and for names written with escapes', () => {
    const keys = Array.from({ length: 12 }, (_, i) => `"k${i}":${i}`).join(',');
    expect(canonicalPayload(`{"x":{${keys},"k3":33,"k11":1111}}`)).toBe(
      `{"x":{${keys.replace('"k3":3', '"k3":33').replace('"k11":11', '"k11":1111')}}}`,
    );
    expect(canonicalPayload('{"x":{"a":1,"\\u0062":2,"b":3}}')).toBe('{"x":{"a":1,"b":3}}');
  });

  it('reprints escapes Jackson does not use and drops whitespace', () => {
    expect(canonicalPayload('{ "a" : "\\u00e9\\/\\u0041" , "b" : [ 1 , { } , [ ] ] }')).toBe(
      '{"a":"é/A","b":[1,{},[]]}',
    );
  });

  it('drops null members at the top level only', () => {
    expect(canonicalPayload('{"z":null,"a":{"n":null},"l":[null]}')).toBe('{"a":{"n":null},"l":[null]}');
  });

  it('refuses nesting deeper than Jackson reads (1000 levels), without exhausting the stack', () => {
    const nested = (n: number) => `{"a":${'['.repeat(n - 1)}${']'.repeat(n - 1)}}`;
    expect(canonicalPayload(nested(1000))).toBe(nested(1000));
    expect(() => canonicalPayload(nested(1001))).toThrow('nests deeper than 1000 levels');
    expect(() => canonicalPayload(`{"a":${'['.repeat(100_000)}`)).toThrow(SyntaxError);
  });

  it('refuses what Jackson refuses', () => {
    for (const bad of [
      '[]',
      '{"a":01}',
      "{'a':1}",
      '{"a":1,}',
      '{"a":NaN}',
      '{"a":"x\u0001"}',
      '{"a":1} x',
      '{a:1}',
    ])
      expect(() => canonicalPayload(bad)).toThrow(SyntaxError);
  });
});

describe("Java's Double.toString", () => {
  it.each([
    [1, '1.0'],
    [0.1, '0.1'],
    [1e21, '1.0E21'],
    [1e7, '1.0E7'],
    [9999999, '9999999.0'],
    [0.001, '0.001'],
    [0.0001, '1.0E-4'],
    [-0, '-0.0'],
    [123.456, '123.456'],
    [1.5e300, '1.5E300'],
    [5e-324, '4.9E-324'],
    [1.7976931348623157e308, '1.7976931348623157E308'],
    [Infinity, '"Infinity"'],
  ])('%p prints as %s', (value, printed) => {
    expect(javaDouble(value)).toBe(printed);
  });
});

interface Vector {
  body: string;
  canonical?: string;
  /** Jackson refused the body */
  rejected?: boolean;
  /** JDK 17 prints these doubles with extra digits; the JDK 19+ form is canonicalJdk19 */
  jdk17Only?: boolean;
  canonicalJdk19?: string;
  sandboxRejects?: boolean;
}

describe('canonical payload: vectors printed by real Jackson', () => {
  const vectors = JSON.parse(readFileSync(fixture('jackson-vectors.json'), 'utf8')) as Vector[];
  // The relay, like JSON.parse, also refuses what follows the object; Jackson ignores it.
  const printed = vectors.filter((v) => !v.rejected && !v.sandboxRejects);

  it('has a substantial set', () => {
    expect(printed.length).toBeGreaterThanOrEqual(60);
    expect(vectors.length - printed.length).toBeGreaterThanOrEqual(20);
  });

  // Compared as the bytes the HMAC sees: Java's getBytes(UTF_8) turns a lone surrogate into '?'.
  it.each(printed.map((v) => [v.body, v.jdk17Only ? v.canonicalJdk19! : v.canonical!]))(
    '%s',
    (body, canonical) => {
      expect(Buffer.from(canonicalPayload(body), 'utf8').toString('hex')).toBe(
        javaUtf8(canonical).toString('hex'),
      );
    },
  );

  it.each(vectors.filter((v) => v.rejected || v.sandboxRejects).map((v) => [v.body]))(
    'refuses %s as Jackson does',
    (body) => {
      expect(() => canonicalPayload(body)).toThrow(SyntaxError);
    },
  );
});

describe("canonical payload: the relay and the sandbox's independent marketplace agree", () => {
  // Any JSON object body, written with arbitrary spacing: both sides must build the same payload.
  const body = fc.dictionary(fc.string({ unit: 'binary', maxLength: 6 }), fc.jsonValue({ maxDepth: 3 }), {
    maxKeys: 8,
  });

  it('for any body', () => {
    fc.assert(
      fc.property(body, fc.boolean(), (value, pretty) => {
        const text = JSON.stringify(value, null, pretty ? 2 : undefined);
        expect(canonicalPayload(text)).toBe(marketplacePayload(text));
      }),
      { numRuns: 500 },
    );
  });

  it('for bodies with integer-like keys, long integers, decimals and control characters', () => {
    const key = fc.oneof(fc.constantFrom('10', '2', '0', '-1', 'a', 'B', '中'), fc.string({ maxLength: 3 }));
    const leaf = fc.oneof(
      fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map((n) => n.toString()),
      fc
        .double({ noNaN: true, noDefaultInfinity: true })
        .map((d) => (/[.e]/.test(String(d)) ? String(d) : `${d}.0`)),
      fc.string({ unit: 'binary', maxLength: 5 }).map((s) => JSON.stringify(s)),
    );
    const nested = fc.dictionary(key, leaf, { maxKeys: 6 }).map(
      (o) =>
        `{${Object.entries(o)
          .map(([k, v]) => `${JSON.stringify(k)}:${v}`)
          .join(',')}}`,
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(key, fc.oneof(leaf, nested)), { maxLength: 6 }), (members) => {
        const text = `{${members.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
        expect(canonicalPayload(text)).toBe(marketplacePayload(text));
      }),
      { numRuns: 500 },
    );
  });
});

describe('basic signature (§2.3)', () => {
  it('matches the vector', () => {
    const body =
      '{"activity":"newInstance","businessId":"87b94795-0603-4e24-8ae5-69420d60e3c8","orderId":"CS2211181819B4LVS","orderLineId":"CS2211181819B4LVS-000001","testFlag":"1"}';
    expect(
      basicSign(
        'EXAMPLEACCESSKEY1234567890',
        '50D83FDECAED6CCD8EF597F2A577950527928BA287D04E6036E92B2806FD17DA',
        '1680508066618',
        canonicalPayload(body),
      ),
    ).toBe('6937FB780EDD0F53C61FFFDF7CAF0EA6EA6B979F8D619511826B7C88D5684F88');
  });
});

describe('any body the marketplace signs, the relay verifies', () => {
  const now = Date.now();
  const key = 'property-access-key';
  const body = fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 10 });

  it.each([
    ['kit', kitScheme(key), marketplaceKitSign],
    ['basic', basicScheme(key), marketplaceBasicSign],
  ] as const)('%s signature', (_name, scheme, sign) => {
    fc.assert(
      fc.property(body, fc.boolean(), (value, pretty) => {
        const text = JSON.stringify(value, null, pretty ? 1 : undefined);
        const nonce = newNonce();
        const timestamp = String(now);
        const signature = sign(key, nonce, timestamp, marketplacePayload(text));
        const parsed = JSON.parse(text) as Record<string, unknown>;
        expect(verify(scheme, { sign: signature, timestamp, nonce }, text, now)).toBe(now);
        // and the same signature does not cover another body
        const other = JSON.stringify({ ...parsed, extra: 'x' });
        expect(() => verify(scheme, { sign: signature, timestamp, nonce }, other, now)).toThrow(
          /does not match/,
        );
      }),
      { numRuns: 300 },
    );
  });
});
