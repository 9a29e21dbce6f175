/**
 * RSA-OAEP with independently chosen label hash and MGF1 hash.
 *
 * The marketplace's OAEP parameters are UNCONFIRMED (kit-sync-and-signing.md §2.5). Java's
 * `OAEPWithSHA-256AndMGF1Padding` uses SHA-256 for the label but SHA-1 inside MGF1, a mix Node's
 * `privateDecrypt` cannot express, so the padding (RFC 8017 §7.1) is done here around raw RSA.
 */
import { constants, createHash, privateDecrypt, type KeyObject } from 'node:crypto';

export type OaepHash = 'sha1' | 'sha256';
export interface OaepVariant {
  readonly id: string;
  readonly hash: OaepHash;
  readonly mgf1Hash: OaepHash;
}

export const OAEP_VARIANTS: readonly OaepVariant[] = [
  { id: 'sha256-mgf1sha256', hash: 'sha256', mgf1Hash: 'sha256' },
  { id: 'sha256-mgf1sha1', hash: 'sha256', mgf1Hash: 'sha1' },
  { id: 'sha1-mgf1sha1', hash: 'sha1', mgf1Hash: 'sha1' },
];

export function oaepVariant(id: string): OaepVariant {
  const found = OAEP_VARIANTS.find((v) => v.id === id);
  if (!found)
    throw new Error(`unknown OAEP variant "${id}" (one of ${OAEP_VARIANTS.map((v) => v.id).join(', ')})`);
  return found;
}

const HASH_LEN: Record<OaepHash, number> = { sha1: 20, sha256: 32 };

function mgf1(seed: Buffer, length: number, hash: OaepHash): Buffer {
  const out = Buffer.alloc(length);
  let written = 0;
  for (let counter = 0; written < length; counter++) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    const block = createHash(hash).update(seed).update(c).digest();
    written += block.copy(out, written);
  }
  return out;
}

function xorInto(target: Buffer, mask: Buffer): void {
  for (let i = 0; i < target.length; i++) target[i] = target[i]! ^ mask[i]!;
}

function modulusBytes(key: KeyObject): number {
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (!bits || key.asymmetricKeyType !== 'rsa') throw new Error('an RSA key is required');
  return Math.ceil(bits / 8);
}

/** Returns the message, or null when the block is not valid OAEP for this variant. */
export function oaepDecrypt(privateKey: KeyObject, ciphertext: Buffer, variant: OaepVariant): Buffer | null {
  const k = modulusBytes(privateKey);
  const hLen = HASH_LEN[variant.hash];
  if (ciphertext.length !== k || k < 2 * hLen + 2) return null;
  let em: Buffer;
  try {
    em = privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, ciphertext);
  } catch {
    return null;
  }
  if (em.length < k) em = Buffer.concat([Buffer.alloc(k - em.length), em]);
  const seed = Buffer.from(em.subarray(1, 1 + hLen));
  const db = Buffer.from(em.subarray(1 + hLen));
  xorInto(seed, mgf1(db, hLen, variant.mgf1Hash));
  xorInto(db, mgf1(seed, db.length, variant.mgf1Hash));
  const lHash = createHash(variant.hash).update(Buffer.alloc(0)).digest();
  // Accumulate every check before deciding, so the failure path does not depend on where it failed.
  let bad = em[0]!;
  for (let i = 0; i < hLen; i++) bad |= db[i]! ^ lHash[i]!;
  let separator = -1;
  let stillZero = 1;
  for (let i = hLen; i < db.length; i++) {
    const isOne = db[i] === 0x01 ? 1 : 0;
    const isZero = db[i] === 0x00 ? 1 : 0;
    if (separator < 0 && stillZero && isOne) separator = i;
    if (!isZero) stillZero = 0;
  }
  if (bad !== 0 || separator < 0) return null;
  return db.subarray(separator + 1);
}

/** Ciphertext as the marketplace may encode it: standard Base64 (expected), Base64url or hex. */
function decodeCiphertext(text: string, keyBytes: number): { bytes: Buffer; encoding: 'hex' | 'base64' }[] {
  const candidates: { bytes: Buffer; encoding: 'hex' | 'base64' }[] = [];
  if (/^[0-9a-fA-F]+$/.test(text) && text.length === keyBytes * 2)
    candidates.push({ bytes: Buffer.from(text, 'hex'), encoding: 'hex' });
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) {
    const bytes = Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (bytes.length === keyBytes) candidates.push({ bytes, encoding: 'base64' });
  }
  return candidates;
}

export interface DecryptedSecret {
  plaintext: string;
  variant: string;
  encoding: 'hex' | 'base64';
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Tries every encoding × variant the document allows; null when none yields a valid UTF-8 secret. */
export function decryptClientSecret(privateKey: KeyObject, text: string): DecryptedSecret | null {
  const k = modulusBytes(privateKey);
  for (const { bytes, encoding } of decodeCiphertext(text.replace(/\s+/g, ''), k)) {
    for (const variant of OAEP_VARIANTS) {
      const message = oaepDecrypt(privateKey, bytes, variant);
      if (!message) continue;
      try {
        return { plaintext: utf8.decode(message), variant: variant.id, encoding };
      } catch {
        // not text: not the secret typed in Seller Center; try the other readings
      }
    }
  }
  return null;
}
