import { describe, expect, it } from '@jest/globals';
import { constants, createPrivateKey, createPublicKey, publicEncrypt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { decryptClientSecret, OAEP_VARIANTS, oaepDecrypt, oaepVariant } from '../../src/crypto/oaep.js';
// Ciphertexts come from the sandbox's encoder, written apart from the relay's decoder.
import { oaepEncryptBytes, type OaepVariantId } from '../../src/sandbox/marketplace/index.js';
import { fixture } from '../support/relay.js';

const privateKey = createPrivateKey(readFileSync(fixture('seller-rsa-3072.pem')));
const publicKey = createPublicKey(privateKey);
const otherPublic = createPublicKey(readFileSync(fixture('other-rsa-3072.pub.pem')));
const secret = 'Sandbox-Client-Secret-密钥-01';

describe('RSA-OAEP variants (§2.5, UNCONFIRMED parameters)', () => {
  it.each(OAEP_VARIANTS.map((v) => v.id))('round-trips %s and reports it', (id) => {
    const cipher = oaepEncryptBytes(Buffer.from(secret), publicKey, id as OaepVariantId);
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

  it('accepts hex and Base64 with line breaks', () => {
    const cipher = oaepEncryptBytes(Buffer.from(secret), publicKey, 'sha1-mgf1sha1');
    expect(decryptClientSecret(privateKey, cipher.toString('hex'))).toMatchObject({
      plaintext: secret,
      encoding: 'hex',
    });
    const wrapped = cipher.toString('base64').replace(/(.{64})/g, '$1\n');
    expect(decryptClientSecret(privateKey, wrapped)?.plaintext).toBe(secret);
  });

  it('refuses a secret encrypted for another key, a tampered block, and text that is no ciphertext', () => {
    const foreign = oaepEncryptBytes(Buffer.from(secret), otherPublic, 'sha256-mgf1sha1');
    expect(decryptClientSecret(privateKey, foreign.toString('base64'))).toBeNull();
    const tampered = oaepEncryptBytes(Buffer.from(secret), publicKey, 'sha256-mgf1sha1');
    tampered[200] = tampered[200]! ^ 1;
    expect(decryptClientSecret(privateKey, tampered.toString('base64'))).toBeNull();
    expect(decryptClientSecret(privateKey, 'plain-text-secret')).toBeNull();
    expect(decryptClientSecret(privateKey, '')).toBeNull();
  });

  it('does not mistake one variant for another', () => {
    const cipher = oaepEncryptBytes(Buffer.from(secret), publicKey, 'sha256-mgf1sha1');
    expect(oaepDecrypt(privateKey, cipher, oaepVariant('sha256-mgf1sha256'))).toBeNull();
    expect(oaepDecrypt(privateKey, cipher, oaepVariant('sha1-mgf1sha1'))).toBeNull();
  });
});
