import { describe, expect, it } from '@jest/globals';
import { constants, createPrivateKey, createPublicKey, privateDecrypt, publicEncrypt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  decryptClientSecret,
  OAEP_VARIANTS,
  oaepDecrypt,
  oaepEncrypt,
  oaepVariant,
} from '../../src/crypto/oaep.js';
import { fixture } from '../support/relay.js';

const privateKey = createPrivateKey(readFileSync(fixture('seller-rsa-3072.pem')));
const publicKey = createPublicKey(privateKey);
const otherPublic = createPublicKey(readFileSync(fixture('other-rsa-3072.pub.pem')));
const secret = 'Sandbox-Client-Secret-密钥-01';

describe('RSA-OAEP variants (§2.5, UNCONFIRMED parameters)', () => {
  it.each(OAEP_VARIANTS.map((v) => v.id))('round-trips %s and reports it', (id) => {
    const cipher = oaepEncrypt(publicKey, Buffer.from(secret), oaepVariant(id));
    expect(cipher).toHaveLength(384);
    expect(decryptClientSecret(privateKey, cipher.toString('base64'))).toEqual({
      plaintext: secret,
      variant: id,
      encoding: 'base64',
    });
  });

  it('reads what Node itself encrypts with OAEP SHA-256 and SHA-1', () => {
    for (const [oaepHash, id] of [
      ['sha256', 'sha256-mgf1sha256'],
      ['sha1', 'sha1-mgf1sha1'],
    ] as const) {
      const cipher = publicEncrypt(
        { key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash },
        Buffer.from(secret),
      );
      expect(decryptClientSecret(privateKey, cipher.toString('base64'))?.variant).toBe(id);
    }
  });

  it('produces what Node itself decrypts for the variants it can express', () => {
    for (const [oaepHash, id] of [
      ['sha256', 'sha256-mgf1sha256'],
      ['sha1', 'sha1-mgf1sha1'],
    ] as const) {
      const cipher = oaepEncrypt(publicKey, Buffer.from(secret), oaepVariant(id));
      const plain = privateDecrypt(
        { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash },
        cipher,
      );
      expect(plain.toString('utf8')).toBe(secret);
    }
  });

  it('accepts hex and Base64 with line breaks', () => {
    const cipher = oaepEncrypt(publicKey, Buffer.from(secret), oaepVariant('sha1-mgf1sha1'));
    expect(decryptClientSecret(privateKey, cipher.toString('hex'))).toMatchObject({
      plaintext: secret,
      encoding: 'hex',
    });
    const wrapped = cipher.toString('base64').replace(/(.{64})/g, '$1\n');
    expect(decryptClientSecret(privateKey, wrapped)?.plaintext).toBe(secret);
  });

  it('refuses a secret encrypted for another key, a tampered block, and text that is no ciphertext', () => {
    const foreign = oaepEncrypt(otherPublic, Buffer.from(secret), oaepVariant('sha256-mgf1sha1'));
    expect(decryptClientSecret(privateKey, foreign.toString('base64'))).toBeNull();
    const tampered = oaepEncrypt(publicKey, Buffer.from(secret), oaepVariant('sha256-mgf1sha1'));
    tampered[200] = tampered[200]! ^ 1;
    expect(decryptClientSecret(privateKey, tampered.toString('base64'))).toBeNull();
    expect(decryptClientSecret(privateKey, 'plain-text-secret')).toBeNull();
    expect(decryptClientSecret(privateKey, '')).toBeNull();
  });

  it('does not mistake one variant for another', () => {
    const cipher = oaepEncrypt(publicKey, Buffer.from(secret), oaepVariant('sha256-mgf1sha1'));
    expect(oaepDecrypt(privateKey, cipher, oaepVariant('sha256-mgf1sha256'))).toBeNull();
    expect(oaepDecrypt(privateKey, cipher, oaepVariant('sha1-mgf1sha1'))).toBeNull();
  });
});
