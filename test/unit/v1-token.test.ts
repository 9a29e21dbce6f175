// The V1 scheme on the relay's side (kit-sync-and-signing.md §7.2, §7.3): the document's vectors
// and vectors printed by the JDK itself (test/fixtures/java/V1Vectors.java).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { javaSha1Prng, readV1Field, v1AesKey } from '../../src/crypto/v1Aes.js';
import { bodySignature, bodySignHeader } from '../../src/kit/signature.js';
import {
  decodeQuery,
  isBlank,
  v1AuthToken,
  v1SignedString,
  v1TokensMatch,
  type V1Params,
} from '../../src/kit/v1Token.js';

interface Vectors {
  authToken: { note: string; key: string; params: [string, string][]; toSign: string; authToken: string }[];
  bodySign: { key: string; body: string; signature: string }[];
  sha1prng: { key: string; first70Hex: string; aes128Hex: string; aes256Hex: string }[];
  aes: { key: string; bits: 128 | 256; plaintext: string; value: string }[];
}
const java = JSON.parse(
  readFileSync(new URL('../fixtures/v1-java-vectors.json', import.meta.url), 'utf8'),
) as Vectors;

const tokenOf = (key: string, params: V1Params) =>
  v1AuthToken(key, params.find(([n]) => n === 'timeStamp')?.[1] ?? '', v1SignedString(params));

// §7.2, vector 1: the tenantSync body of §2.2 with the example key.
const TENANT_SYNC: V1Params = [
  ['instanceId', 'huaiweitest123456'],
  ['orderId', 'CS1906666666ABCDE'],
  ['tenantId', '68cbc86abc2018ab880d92f36422fa0e'],
  ['tenantCode', 'huawei'],
  ['name', 'huaiweitest'],
  ['domainName', 'https://example.tenantaccount.com'],
  ['flag', '1'],
  ['testFlag', '0'],
  ['timeStamp', '20220413093539534'],
];
// §7.2, vector 2: a GET newInstance with key "xxxxxxx".
const NEW_INSTANCE_QUERY =
  'activity=newInstance&businessId=61e834ba-7b97-4418-b8f7-e5345137278c&customerId=68cbc86abc2018ab880d92f36422fa0e&expireTime=20200727153156&orderId=CS1906666666ABCDE&productId=00301-666666-0--0&testFlag=1&timeStamp=20200727073711903&authToken=Gzbfjf9LHRBcI3bFVi%2B%2BsLinCNOBF6qa7is1fvjEgYQ%3D';

describe('authToken (§7.2)', () => {
  it('matches vector 1: the tenantSync body with the example key', () => {
    expect(v1SignedString(TENANT_SYNC)).toBe(
      'domainName=https://example.tenantaccount.com&flag=1&instanceId=huaiweitest123456&name=huaiweitest&orderId=CS1906666666ABCDE&tenantCode=huawei&tenantId=68cbc86abc2018ab880d92f36422fa0e&testFlag=0&timeStamp=20220413093539534',
    );
    expect(tokenOf('EXAMPLEACCESSKEY1234567890', TENANT_SYNC)).toBe(
      'fHLDCLN9sGvQrOTQizG5+sioFVgj7TXNLYkQ2lh9o8Q=',
    );
  });

  it('matches vector 2: a GET newInstance, decoded from its query string, authToken left out', () => {
    const params = decodeQuery(NEW_INSTANCE_QUERY)!;
    expect(params.find(([n]) => n === 'authToken')?.[1]).toBe('Gzbfjf9LHRBcI3bFVi++sLinCNOBF6qa7is1fvjEgYQ=');
    expect(tokenOf('xxxxxxx', params)).toBe('Gzbfjf9LHRBcI3bFVi++sLinCNOBF6qa7is1fvjEgYQ=');
  });

  it.each(java.authToken.map((v) => [v.note, v] as const))('matches the JDK: %s', (_note, v) => {
    expect(v1SignedString(v.params)).toBe(v.toSign);
    expect(tokenOf(v.key, v.params)).toBe(v.authToken);
  });

  it('is keyed with the key and the timeStamp: the key alone gives another token', () => {
    const toSign = v1SignedString(TENANT_SYNC);
    expect(v1AuthToken('EXAMPLEACCESSKEY1234567890', '', toSign)).not.toBe(
      'fHLDCLN9sGvQrOTQizG5+sioFVgj7TXNLYkQ2lh9o8Q=',
    );
  });

  it('depends on the order: the parameters in the order sent give another token', () => {
    const unsorted = TENANT_SYNC.map(([k, v]) => `${k}=${v}`).join('&');
    expect(v1AuthToken('EXAMPLEACCESSKEY1234567890', '20220413093539534', unsorted)).not.toBe(
      'fHLDCLN9sGvQrOTQizG5+sioFVgj7TXNLYkQ2lh9o8Q=',
    );
  });

  it('signs decoded values: the still-encoded query gives another token', () => {
    const raw = NEW_INSTANCE_QUERY.split('&').map((p) => p.split('=') as [string, string]);
    const encoded: V1Params = [...raw, ['customerName', '%E5%BC%A0%E4%B8%89']];
    const decoded: V1Params = [...raw, ['customerName', '张三']];
    expect(tokenOf('xxxxxxx', encoded)).not.toBe(tokenOf('xxxxxxx', decoded));
    expect(decodeQuery('customerName=%E5%BC%A0%E4%B8%89+%2B1&x=a%3Db%26c')).toEqual([
      ['customerName', '张三 +1'],
      ['x', 'a=b&c'],
    ]);
    expect(decodeQuery('x=a+b', 'literal')).toEqual([['x', 'a+b']]);
    expect(decodeQuery('x=%E5%BC')).toBeNull();
    expect(decodeQuery('x=%zz')).toBeNull();
  });

  it('skips blank values as StringUtils.isBlank does, unless asked to keep them', () => {
    expect(
      v1SignedString([
        ['b', '2'],
        ['a', ''],
        ['c', ' \t'],
        ['d', '\u00a0'],
      ]),
    ).toBe('b=2&d=\u00a0');
    expect(
      v1SignedString(
        [
          ['b', '2'],
          ['a', ''],
        ],
        { keepBlank: true },
      ),
    ).toBe('a=&b=2');
    for (const v of ['', ' ', '\t\n\r\f\u000b', '\u001c\u001f', '\u3000\u2028', null, undefined])
      expect(isBlank(v)).toBe(true);
    for (const v of ['x', '\u00a0', '\u2007', '\u202f', '0']) expect(isBlank(v)).toBe(false);
  });

  it('compares exactly: Base64 is case-sensitive', () => {
    const token = 'fHLDCLN9sGvQrOTQizG5+sioFVgj7TXNLYkQ2lh9o8Q=';
    expect(v1TokensMatch(token, token)).toBe(true);
    expect(v1TokensMatch(token, token.toLowerCase())).toBe(false);
    expect(v1TokensMatch(token, token.slice(0, -1))).toBe(false);
    expect(v1TokensMatch(token, '')).toBe(false);
  });
});

describe('Body-Sign (§7.3)', () => {
  it('matches the document vector with the key alone', () => {
    const body = '{"resultCode":"000000","resultMsg":"Success"}';
    expect(bodySignature('EXAMPLEACCESSKEY1234567890', body)).toBe(
      'lSnrkSqeRmzgRM29V6Zi00o1qirjjsK6pzAZEPe7QZg=',
    );
    expect(bodySignHeader('EXAMPLEACCESSKEY1234567890', body)).toBe(
      'sign_type="HMAC-SHA256", signature= "lSnrkSqeRmzgRM29V6Zi00o1qirjjsK6pzAZEPe7QZg="',
    );
  });

  it.each(java.bodySign.map((v) => [JSON.stringify(v.body), v] as const))(
    'matches the JDK over the exact bytes of %s',
    (_b, v) => {
      expect(bodySignature(v.key, v.body)).toBe(v.signature);
    },
  );
});

describe('encrypted mobile and email (V1 AES)', () => {
  it.each(java.sha1prng.map((v) => [v.key, v] as const))(
    'derives the keys Java derives from %s (SHA1PRNG)',
    (_k, v) => {
      expect(javaSha1Prng(Buffer.from(v.key, 'utf8'), 70).toString('hex')).toBe(v.first70Hex);
      expect(v1AesKey(v.key, 128).toString('hex')).toBe(v.aes128Hex);
      expect(v1AesKey(v.key, 256).toString('hex')).toBe(v.aes256Hex);
    },
  );

  it.each(java.aes.map((v, i) => [i, v.bits, v] as const))(
    'decrypts JDK ciphertext %i (AES-%i)',
    (_i, bits, v) => {
      expect(readV1Field(v.key, v.value)).toEqual({ kind: 'decrypted', value: v.plaintext, bits });
    },
  );

  it('takes a "+" turned into a space by URL decoding back', () => {
    const v = java.aes.find((a) => a.value.slice(16).includes('+'))!;
    expect(readV1Field(v.key, v.value.replace(/\+/g, ' '))).toMatchObject({ value: v.plaintext });
  });

  it('keeps plain values, and says so when an encrypted-looking value opens with neither key', () => {
    for (const plain of ['13800138000', '+86 138-0013-8000', 'alice@example.com', '张三@例子.中国', ''])
      expect(readV1Field('any-key', plain)).toEqual({ kind: 'plain', value: plain });
    const v = java.aes[0]!;
    expect(readV1Field('another-v1-key-000', v.value)).toEqual({ kind: 'undecryptable' });
  });
});
