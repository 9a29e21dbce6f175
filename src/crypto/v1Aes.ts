/**
 * The V1 scheme's encrypted mobile numbers and e-mail addresses (kit-sync-and-signing.md §7; the
 * V1 samples' `decryptMobilePhoneOrEMail`): a value is 16 characters of IV followed by the Base64
 * of AES/CBC/PKCS5Padding, under a key derived from the V1 key the way Java's
 * `KeyGenerator.getInstance("AES").init(bits, SHA1PRNG seeded with key.getBytes())` derives it:
 * the first 16 (AES-128, `encryptType` 2) or 32 (AES-256, `encryptType` 1) bytes of the SHA1PRNG
 * stream. Tested against the JDK's own output (test/fixtures/v1-java-vectors.json).
 */
import { createDecipheriv, createHash } from 'node:crypto';

/**
 * The first `length` bytes of Java's SHA1PRNG (sun.security.provider.SecureRandom) after
 * `setSeed(seed)` on a fresh instance: state = SHA1(seed); each block is SHA1(state), after which
 * state = state + block + 1 (mod 2^160, little-endian, in Java's signed-byte arithmetic).
 */
export function javaSha1Prng(seed: Uint8Array, length: number): Buffer {
  const state = new Int8Array(createHash('sha1').update(seed).digest());
  const out = Buffer.alloc(length);
  for (let written = 0; written < length;) {
    const block = createHash('sha1').update(new Uint8Array(state.buffer)).digest();
    written += block.copy(out, written, 0, Math.min(block.length, length - written));
    const output = new Int8Array(block.buffer, block.byteOffset, block.length);
    let carry = 1;
    let changed = false;
    for (let i = 0; i < state.length; i++) {
      const v = state[i]! + output[i]! + carry;
      const t = (v << 24) >> 24; // Java's (byte) v
      changed ||= state[i] !== t;
      state[i] = t;
      carry = v >> 8;
    }
    if (!changed) state[0] = state[0]! + 1;
  }
  return out;
}

export type V1AesBits = 128 | 256;

/** The AES key a V1 sample derives from `key` (`encryptType` 1: 256 bits, 2: 128 bits). */
export function v1AesKey(key: string, bits: V1AesBits): Buffer {
  return javaSha1Prng(Buffer.from(key, 'utf8'), bits / 8);
}

/** 16 IV characters, then Base64 (a `+` turned into a space by URL decoding is taken back). */
const ENCRYPTED = /^([A-Za-z0-9]{16})([A-Za-z0-9+/ ]+={0,2})$/;

export type V1FieldReading =
  | { kind: 'plain'; value: string }
  | { kind: 'decrypted'; value: string; bits: V1AesBits }
  | { kind: 'undecryptable' };

const utf8 = new TextDecoder('utf-8', { fatal: true });
// eslint-disable-next-line no-control-regex -- a decrypted contact detail has no control characters
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Reads a V1 `mobile` or `email`: a value shaped like the encrypted form (16 letters or digits,
 * then Base64 of whole AES blocks) is decrypted with AES-256, then AES-128; anything else is taken
 * as the plain value (a plain number or address cannot have that shape: an address has an `@`, a
 * number is short). `undecryptable`: shaped like the encrypted form, but neither key opens it.
 */
export function readV1Field(key: string, value: string): V1FieldReading {
  const m = ENCRYPTED.exec(value);
  const bytes = m ? Buffer.from(m[2]!.replace(/ /g, '+'), 'base64') : null;
  if (!m || !bytes || bytes.length === 0 || bytes.length % 16 !== 0) return { kind: 'plain', value };
  const iv = Buffer.from(m[1]!, 'latin1');
  for (const bits of [256, 128] as const) {
    const plaintext = decrypt(v1AesKey(key, bits), iv, bytes);
    if (plaintext !== null) return { kind: 'decrypted', value: plaintext, bits };
  }
  return { kind: 'undecryptable' };
}

function decrypt(key: Buffer, iv: Buffer, bytes: Buffer): string | null {
  try {
    const decipher = createDecipheriv(key.length === 32 ? 'aes-256-cbc' : 'aes-128-cbc', key, iv);
    const text = utf8.decode(Buffer.concat([decipher.update(bytes), decipher.final()]));
    // Wrong keys pass the padding check about once in 256 tries; their bytes are not such text.
    return text.length > 0 && !CONTROL.test(text) ? text : null;
  } catch {
    return null;
  }
}
