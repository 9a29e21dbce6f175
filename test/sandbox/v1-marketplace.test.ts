// The sandbox's own V1 marketplace code (src/sandbox/marketplace/v1.ts), checked against the
// document's vectors (kit-sync-and-signing.md §7.2, §7.3) and the JDK's output
// (test/fixtures/java/V1Vectors.java). Imports nothing from src/kit or src/crypto.
import { createDecipheriv } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import {
  bodySignature,
  checkBodySign,
  encryptContact,
  JavaSha1Prng,
  javaUrlEncode,
  v1AuthToken,
  v1ContactKey,
  v1Query,
  v1StringToSign,
} from '../../src/sandbox/marketplace/index.js';

interface Vectors {
  authToken: { note: string; key: string; params: [string, string][]; toSign: string; authToken: string }[];
  bodySign: { key: string; body: string; signature: string }[];
  sha1prng: { key: string; first70Hex: string; aes128Hex: string; aes256Hex: string }[];
  aes: { key: string; bits: 128 | 256; encryptType: '1' | '2'; plaintext: string; value: string }[];
}
const java = JSON.parse(
  readFileSync(new URL('../fixtures/v1-java-vectors.json', import.meta.url), 'utf8'),
) as Vectors;

describe('V1 authToken (§7.2)', () => {
  it('signs vector 1: the tenantSync body, numbers as their digits', () => {
    const body = {
      instanceId: 'huaiweitest123456',
      orderId: 'CS1906666666ABCDE',
      tenantId: '68cbc86abc2018ab880d92f36422fa0e',
      tenantCode: 'huawei',
      name: 'huaiweitest',
      domainName: 'https://example.tenantaccount.com',
      flag: 1,
      testFlag: 0,
      timeStamp: '20220413093539534',
    };
    expect(v1AuthToken('EXAMPLEACCESSKEY1234567890', body)).toBe(
      'fHLDCLN9sGvQrOTQizG5+sioFVgj7TXNLYkQ2lh9o8Q=',
    );
  });

  it('signs vector 2: the GET newInstance', () => {
    const params = {
      activity: 'newInstance',
      businessId: '61e834ba-7b97-4418-b8f7-e5345137278c',
      customerId: '68cbc86abc2018ab880d92f36422fa0e',
      expireTime: '20200727153156',
      orderId: 'CS1906666666ABCDE',
      productId: '00301-666666-0--0',
      testFlag: '1',
      timeStamp: '20200727073711903',
    };
    const token = v1AuthToken('xxxxxxx', params);
    expect(token).toBe('Gzbfjf9LHRBcI3bFVi++sLinCNOBF6qa7is1fvjEgYQ=');
    expect(v1Query(params, token)).toMatch(/&authToken=Gzbfjf9LHRBcI3bFVi%2B%2BsLinCNOBF6qa7is1fvjEgYQ%3D$/);
  });

  it.each(java.authToken.map((v) => [v.note, v] as const))('matches the JDK: %s', (_n, v) => {
    const params = Object.fromEntries(v.params);
    expect(v1StringToSign(params)).toBe(v.toSign);
    expect(v1AuthToken(v.key, params)).toBe(v.authToken);
  });

  it('never signs authToken itself, nor nulls', () => {
    expect(v1StringToSign({ b: 1, authToken: 'x', a: null, c: true })).toBe('b=1&c=true');
  });

  it("URL-encodes as Java's URLEncoder", () => {
    expect(javaUrlEncode('a b+c/d=e&f~g*h.i-j_k张')).toBe('a+b%2Bc%2Fd%3De%26f%7Eg*h.i-j_k%E5%BC%A0');
  });
});

describe('V1 Body-Sign (§7.3)', () => {
  it.each(java.bodySign.map((v) => [JSON.stringify(v.body), v] as const))(
    'matches the JDK for %s',
    (_b, v) => {
      expect(bodySignature(v.key, v.body)).toBe(v.signature);
      expect(checkBodySign(`sign_type="HMAC-SHA256", signature= "${v.signature}"`, v.key, v.body)).toBe(true);
    },
  );

  it('matches the document vector', () => {
    expect(bodySignature('EXAMPLEACCESSKEY1234567890', '{"resultCode":"000000","resultMsg":"Success"}')).toBe(
      'lSnrkSqeRmzgRM29V6Zi00o1qirjjsK6pzAZEPe7QZg=',
    );
  });
});

describe('V1 mobile and email encryption', () => {
  it.each(java.sha1prng.map((v) => [v.key, v] as const))('runs SHA1PRNG as the JDK for %s', (_k, v) => {
    expect(new JavaSha1Prng(Buffer.from(v.key, 'utf8')).nextBytes(70).toString('hex')).toBe(v.first70Hex);
    const prng = new JavaSha1Prng(Buffer.from(v.key, 'utf8'));
    expect(Buffer.concat([prng.nextBytes(20), prng.nextBytes(20)]).toString('hex')).toBe(
      v.first70Hex.slice(0, 80),
    );
    expect(v1ContactKey(v.key, '2').toString('hex')).toBe(v.aes128Hex);
    expect(v1ContactKey(v.key, '1').toString('hex')).toBe(v.aes256Hex);
  });

  it.each(java.aes.map((v, i) => [i, v.bits, v] as const))(
    'encrypts JDK vector %i (AES-%i) byte for byte',
    (_i, _b, v) => {
      expect(
        encryptContact(v.key, v.plaintext, { encryptType: v.encryptType, iv: v.value.slice(0, 16) }),
      ).toBe(v.value);
    },
  );

  it('makes a fresh 16-character IV each time, which decrypts back', () => {
    const a = encryptContact('k-0123456789', '13800138000');
    const b = encryptContact('k-0123456789', '13800138000');
    expect(a).not.toBe(b);
    expect(a).toMatch(/^[A-Za-z0-9]{16}[A-Za-z0-9+/]+={0,2}$/);
    const d = createDecipheriv('aes-256-cbc', v1ContactKey('k-0123456789'), Buffer.from(a.slice(0, 16)));
    expect(Buffer.concat([d.update(Buffer.from(a.slice(16), 'base64')), d.final()]).toString()).toBe(
      '13800138000',
    );
  });
});
