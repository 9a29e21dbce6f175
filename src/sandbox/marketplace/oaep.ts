/**
 * The marketplace's encryption of `clientSecret` for applicationSync (§2.5): RSA-OAEP with the
 * public key the seller pasted into Seller Center. The hash choice is undocumented, so the sandbox
 * offers the three plausible Java set-ups and defaults to the one most sellers get wrong:
 *
 * - `sha256-mgf1sha1`   `Cipher.getInstance("RSA/ECB/OAEPWithSHA-256AndMGF1Padding")` on SunJCE:
 *                       SHA-256 for the label hash and seed, but MGF1 with SHA-1 (default);
 * - `sha256-mgf1sha256` the same name on BouncyCastle, or SunJCE with an explicit OAEPParameterSpec;
 * - `sha1-mgf1sha1`     `"RSA/ECB/OAEPPadding"`.
 *
 * Node's `publicEncrypt({ oaepHash })` uses one hash for both roles, so the mixed variant encodes
 * EME-OAEP itself (RFC 8017 §7.1.1) and applies raw RSA. Independent of src/crypto on purpose.
 */
import {
  constants,
  createHash,
  createPublicKey,
  publicEncrypt,
  randomBytes,
  type KeyObject,
} from 'node:crypto';

export const OAEP_VARIANT_IDS = ['sha256-mgf1sha1', 'sha256-mgf1sha256', 'sha1-mgf1sha1'] as const;
export type OaepVariantId = (typeof OAEP_VARIANT_IDS)[number];

export const DEFAULT_OAEP_VARIANT: OaepVariantId = 'sha256-mgf1sha1';

interface VariantHashes {
  /** Hashes the (empty) label; its length is also the seed length hLen. */
  labelHash: 'sha256' | 'sha1';
  mgf1Hash: 'sha256' | 'sha1';
}

const VARIANTS: Record<OaepVariantId, VariantHashes> = {
  'sha256-mgf1sha1': { labelHash: 'sha256', mgf1Hash: 'sha1' },
  'sha256-mgf1sha256': { labelHash: 'sha256', mgf1Hash: 'sha256' },
  'sha1-mgf1sha1': { labelHash: 'sha1', mgf1Hash: 'sha1' },
};

/** Seller Center rejects RSA keys under 3072 bits (§2.5); the marketplace never encrypts to one. */
export const MIN_RSA_BITS = 3072;

export interface EncryptOptions {
  variant?: OaepVariantId;
  /** Base64 (the Java norm, and the default) or hex; §2.5 names hex as a server-side fallback. */
  encoding?: 'base64' | 'hex';
}

export function isOaepVariantId(v: unknown): v is OaepVariantId {
  return typeof v === 'string' && (OAEP_VARIANT_IDS as readonly string[]).includes(v);
}

/**
 * Loads the seller's public key: an SPKI PEM ("BEGIN PUBLIC KEY"), or the bare Base64 SPKI body
 * as pasted in Seller Center without header and footer (去掉前后注释), whitespace allowed.
 */
export function loadSellerPublicKey(key: string | KeyObject): KeyObject {
  let obj: KeyObject;
  if (typeof key !== 'string') {
    obj = key;
  } else if (key.includes('-----BEGIN')) {
    obj = createPublicKey(key);
  } else {
    const b64 = key.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64))
      throw new Error('seller public key: neither a PEM nor Base64 SPKI');
    obj = createPublicKey({ key: Buffer.from(b64, 'base64'), format: 'der', type: 'spki' });
  }
  if (obj.type !== 'public')
    throw new Error(`seller public key: expected a public key, got a ${obj.type} key`);
  if (obj.asymmetricKeyType !== 'rsa')
    throw new Error(`seller public key: expected RSA, got ${obj.asymmetricKeyType ?? 'unknown'}`);
  const bits = obj.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_RSA_BITS)
    throw new Error(`seller public key: ${bits}-bit RSA refused, at least ${MIN_RSA_BITS} bits`);
  return obj;
}

/** MGF1 (RFC 8017 B.2.1). */
export function mgf1(seed: Uint8Array, length: number, hash: 'sha256' | 'sha1'): Buffer {
  const chunks: Buffer[] = [];
  let produced = 0;
  for (let counter = 0; produced < length; counter++) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    const block = createHash(hash).update(seed).update(c).digest();
    chunks.push(block);
    produced += block.length;
  }
  return Buffer.concat(chunks).subarray(0, length);
}

/**
 * EME-OAEP encoding (RFC 8017 §7.1.1 step 2) with an empty label:
 * EM = 0x00 || maskedSeed || maskedDB, DB = lHash || PS || 0x01 || M, |seed| = hLen of the label hash.
 * `seed` is injectable so tests can pin the output; production calls leave it random.
 */
export function emeOaepEncode(
  message: Uint8Array,
  k: number,
  variant: OaepVariantId,
  seed: Uint8Array = randomBytes(createHash(VARIANTS[variant].labelHash).digest().length),
): Buffer {
  const { labelHash, mgf1Hash } = VARIANTS[variant];
  const lHash = createHash(labelHash).update(Buffer.alloc(0)).digest();
  const hLen = lHash.length;
  if (seed.length !== hLen) throw new Error(`OAEP seed must be ${hLen} bytes`);
  const maxLen = k - 2 * hLen - 2;
  if (message.length > maxLen)
    throw new Error(`message too long for RSA-OAEP (${variant}): ${message.length} > ${maxLen} bytes`);
  const db = Buffer.concat([lHash, Buffer.alloc(maxLen - message.length), Buffer.from([0x01]), message]);
  const dbMask = mgf1(seed, k - hLen - 1, mgf1Hash);
  const maskedDb = xor(db, dbMask);
  const seedMask = mgf1(maskedDb, hLen, mgf1Hash);
  const maskedSeed = xor(Buffer.from(seed), seedMask);
  return Buffer.concat([Buffer.from([0x00]), maskedSeed, maskedDb]);
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/** Raw RSA-OAEP ciphertext bytes (length = modulus bytes). */
export function oaepEncryptBytes(
  plaintext: Uint8Array,
  publicKey: string | KeyObject,
  variant: OaepVariantId = DEFAULT_OAEP_VARIANT,
): Buffer {
  if (!isOaepVariantId(variant)) throw new Error(`unknown OAEP variant ${String(variant)}`);
  const key = loadSellerPublicKey(publicKey);
  const { labelHash, mgf1Hash } = VARIANTS[variant];
  if (labelHash === mgf1Hash)
    return publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: labelHash }, plaintext);
  const k = Math.ceil((key.asymmetricKeyDetails?.modulusLength ?? 0) / 8);
  // EM starts with 0x00, so as an integer it is below the modulus and raw RSA accepts it.
  return publicEncrypt({ key, padding: constants.RSA_NO_PADDING }, emeOaepEncode(plaintext, k, variant));
}

/**
 * `clientSecret` as the marketplace sends it in applicationSync: the UTF-8 plaintext encrypted
 * with the seller's key, Base64 by default (a 3072-bit key gives 512 characters).
 */
export function encryptClientSecret(
  plaintext: string,
  publicKey: string | KeyObject,
  options: EncryptOptions = {},
): string {
  const cipher = oaepEncryptBytes(
    Buffer.from(plaintext, 'utf8'),
    publicKey,
    options.variant ?? DEFAULT_OAEP_VARIANT,
  );
  return cipher.toString(options.encoding ?? 'base64');
}
