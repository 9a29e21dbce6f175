import { describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { DataKeyRing } from '../../src/crypto/dataKey.js';

describe('DATA_KEY sealing', () => {
  const k1 = randomBytes(32);
  const k2 = randomBytes(32);

  it('opens what it sealed, and the sealed form hides the plaintext', () => {
    const ring = new DataKeyRing([k1]);
    const sealed = ring.seal('s3cret', 'clientSecret|t|a');
    expect(sealed).not.toContain('s3cret');
    expect(sealed.startsWith(`v1.${ring.currentKeyId}.`)).toBe(true);
    expect(ring.open(sealed, 'clientSecret|t|a')).toBe('s3cret');
  });

  it('rotates: a new first key seals, an older key still opens', () => {
    const old = new DataKeyRing([k1]).seal('s3cret', 'ctx');
    const rotated = new DataKeyRing([k2, k1]);
    expect(rotated.open(old, 'ctx')).toBe('s3cret');
    expect(rotated.seal('x', 'ctx').split('.')[1]).toBe(new DataKeyRing([k2]).currentKeyId);
  });

  it('refuses another context, a removed key and a tampered value', () => {
    const ring = new DataKeyRing([k1]);
    const sealed = ring.seal('s3cret', 'clientSecret|t|a');
    expect(() => ring.open(sealed, 'clientSecret|t|b')).toThrow();
    expect(() => new DataKeyRing([k2]).open(sealed, 'clientSecret|t|a')).toThrow(/not configured/);
    const parts = sealed.split('.');
    const raw = Buffer.from(parts[2]!, 'base64url');
    raw[14] = raw[14]! ^ 1;
    expect(() =>
      ring.open([parts[0], parts[1], raw.toString('base64url')].join('.'), 'clientSecret|t|a'),
    ).toThrow();
  });

  it('requires 32-byte keys', () => {
    expect(() => DataKeyRing.fromBase64List(randomBytes(16).toString('base64'))).toThrow(/32 bytes/);
  });
});
