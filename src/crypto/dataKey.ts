/**
 * Encryption at rest for client secrets and OAuth tokens (contract §2 `DATA_KEY`).
 *
 * AES-256-GCM; the sealed form names the key that sealed it, so keys rotate by putting a new
 * key first in `DATA_KEY` while older ones still open what they sealed. The caller's context
 * (for example `clientSecret|tenant|app`) is bound as additional data, so a sealed value copied
 * into another record does not open there.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const VERSION = 'v1';

export class DataKeyRing {
  private readonly keys: { id: string; key: Buffer }[];

  constructor(keys: readonly Buffer[]) {
    if (keys.length === 0) throw new Error('at least one data key is required');
    this.keys = keys.map((key) => {
      if (key.length !== 32) throw new Error('a data key must be 32 bytes');
      return { id: createHash('sha256').update(key).digest('hex').slice(0, 8), key };
    });
  }

  static fromBase64List(value: string): DataKeyRing {
    return new DataKeyRing(value.split(',').map((part) => Buffer.from(part.trim(), 'base64')));
  }

  get currentKeyId(): string {
    return this.keys[0]!.id;
  }

  seal(plaintext: string, context: string): string {
    const { id, key } = this.keys[0]!;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [VERSION, id, Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url')].join('.');
  }

  /** Throws when the value was sealed by a key no longer configured, altered, or sealed for another context. */
  open(sealed: string, context: string): string {
    const [version, id, payload] = sealed.split('.');
    if (version !== VERSION || !id || !payload) throw new Error('not a sealed value');
    const entry = this.keys.find((k) => k.id === id);
    if (!entry) throw new Error(`sealed with data key ${id}, which is not configured`);
    const raw = Buffer.from(payload, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', entry.key, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(raw.subarray(raw.length - 16));
    return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]).toString(
      'utf8',
    );
  }
}
