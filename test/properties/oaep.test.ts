// The clientSecret of applicationSync (kit-sync-and-signing.md §2.5): whatever the sandbox's
// marketplace encrypts, with each OAEP variant it offers (SHA-256 with MGF1-SHA-1 or -SHA-256,
// SHA-1) and either encoding (Base64, hex), the relay decrypts to the plaintext and names the
// variant and encoding; anything else, garbage or a changed ciphertext, gives null, never throws.
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { decryptClientSecret } from '../../src/crypto/oaep.js';
import {
  encryptClientSecret,
  OAEP_VARIANT_IDS,
  oaepEncryptBytes,
} from '../../src/sandbox/marketplace/index.js';
import { fixture, OTHER_PUBLIC_KEY } from '../support/relay.js';

// RSA-3072 private operations cost about 2 ms each and a decryption tries up to three variants.
const RUNS = 150;

const privateKey = createPrivateKey(readFileSync(fixture('seller-rsa-3072.pem')));
const publicKey = createPublicKey(privateKey);

const variant = fc.constantFrom(...OAEP_VARIANT_IDS);
const encoding = fc.constantFrom('base64' as const, 'hex' as const);

/** Secrets as typed in Seller Center and beyond: any text that fits a SHA-256 OAEP block (318 bytes). */
const plaintext = fc
  .oneof(
    fc.string({ unit: 'grapheme', maxLength: 60 }),
    fc.string({ unit: 'binary', maxLength: 60 }),
    fc.string({ minLength: 200, maxLength: 318 }),
    fc.constantFrom('', ' ', '\ufeffBOM first', 'Sandbox-Client-Secret-密钥-01', '\u0000'),
  )
  .filter((s) => Buffer.byteLength(s, 'utf8') <= 318);

/** Where a ciphertext may be wrapped or spaced, as pasted from a console. */
const spacing = fc.constantFrom('none', 'lines', 'edges');
const spaced = (text: string, how: string) =>
  how === 'lines' ? text.replace(/(.{64})/g, '$1\n') : how === 'edges' ? ` ${text}\n` : text;

describe('decryptClientSecret', () => {
  it('reads every secret the sandbox encrypts, in every variant and encoding', () => {
    fc.assert(
      fc.property(plaintext, variant, encoding, spacing, (secret, v, enc, how) => {
        const cipher = encryptClientSecret(secret, publicKey, { variant: v, encoding: enc });
        expect(decryptClientSecret(privateKey, spaced(cipher, how))).toEqual({
          plaintext: Buffer.from(secret, 'utf8').toString('utf8'),
          variant: v,
          encoding: enc,
        });
      }),
      { numRuns: RUNS },
    );
  });

  it('gives null for any one-byte change of a ciphertext, or one made for another key', () => {
    fc.assert(
      fc.property(
        plaintext,
        variant,
        encoding,
        fc.nat(383),
        fc.integer({ min: 1, max: 255 }),
        (secret, v, enc, at, flip) => {
          const cipher = oaepEncryptBytes(Buffer.from(secret, 'utf8'), publicKey, v);
          cipher[at] = cipher[at]! ^ flip;
          expect(decryptClientSecret(privateKey, cipher.toString(enc))).toBeNull();
          const foreign = encryptClientSecret(secret, OTHER_PUBLIC_KEY, { variant: v, encoding: enc });
          expect(decryptClientSecret(privateKey, foreign)).toBeNull();
        },
      ),
      { numRuns: RUNS / 3 },
    );
  });

  it('never throws on garbage, and gives null', () => {
    const block = fc.uint8Array({ minLength: 384, maxLength: 384 }).map((b) => Buffer.from(b));
    const garbage = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 600 }),
      fc.base64String({ maxLength: 700 }),
      // exactly a block long, so the RSA operation runs (a value at or above the modulus included)
      block.map((b) => b.toString('base64')),
      block.map((b) => b.toString('hex')),
      fc.constant(Buffer.alloc(384, 0xff).toString('base64')),
      fc.constant(Buffer.alloc(384, 0).toString('hex')),
      fc.stringMatching(/^[0-9a-fA-F]{768}$/),
      fc.stringMatching(/^[A-Za-z0-9_-]{510,514}={0,2}$/),
    );
    fc.assert(
      fc.property(garbage, (text) => {
        expect(decryptClientSecret(privateKey, text)).toBeNull();
      }),
      { numRuns: RUNS },
    );
  });
});
