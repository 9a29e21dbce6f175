/** The seller's RSA key pair, as Seller Center wants it: >= 3072 bits, public half as SPKI Base64. */
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface SellerKeyPair {
  privatePem: string;
  publicPem: string;
  /** The public key without PEM header and footer, as pasted into Seller Center (去掉前后注释). */
  publicBase64: string;
}

export function generateSellerKeyPair(bits = 3072): SellerKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const publicBase64 = publicPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  return { privatePem, publicPem, publicBase64 };
}

export function writeSellerKeyPair(
  dir: string,
  pair: SellerKeyPair,
): { privateFile: string; publicFile: string } {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const privateFile = join(dir, 'seller-private.pem');
  const publicFile = join(dir, 'seller-public.pem');
  writeFileSync(privateFile, pair.privatePem, { mode: 0o600 });
  writeFileSync(publicFile, pair.publicPem);
  return { privateFile, publicFile };
}
