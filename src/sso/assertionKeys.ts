/**
 * ES256 keys for the session assertions the relay signs for seller apps, kept in the store so
 * every relay process signs with the same key, and rotated automatically: a new key becomes
 * current after `rotationDays`; the previous one stays published in the JWKS for the next
 * period, long after every assertion it signed has expired. Private keys are sealed with DATA_KEY.
 */
import {
  createPrivateKey,
  generateKeyPairSync,
  randomBytes,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import { SignJWT } from 'jose';
import type { DataKeyRing } from '../crypto/dataKey.js';
import type { Keys } from '../store/keys.js';
import type { Store } from '../store/store.js';

interface StoredKey {
  kid: string;
  createdAt: number;
  publicJwk: JsonWebKey;
  privateSealed: string;
}

export interface AssertionKeysOptions {
  store: Store;
  keys: Keys;
  dataKeys: DataKeyRing;
  now: () => number;
  rotationDays: number;
}

export class AssertionKeys {
  private cached?: { list: StoredKey[]; signing: KeyObject; readAt: number };

  constructor(private readonly o: AssertionKeysOptions) {}

  private get key() {
    return `${this.o.keys.prefix}assertion:keys`;
  }

  private async load(): Promise<{ list: StoredKey[]; signing: KeyObject }> {
    const { store, now, rotationDays, dataKeys } = this.o;
    if (this.cached && now() - this.cached.readAt < 30_000) return this.cached;
    for (let attempt = 0; attempt < 5; attempt++) {
      const raw = await store.get(this.key);
      const list = raw ? (JSON.parse(raw) as StoredKey[]) : [];
      const current = list[0];
      if (current && now() - current.createdAt < rotationDays * 86_400_000) {
        const signing = createPrivateKey(dataKeys.open(current.privateSealed, `assertion|${current.kid}`));
        this.cached = { list, signing, readAt: now() };
        return this.cached;
      }
      // Rotate: whoever wins the compare-and-set decides the new key for every process. The
      // retiring key signed assertions until now, so it stays published; older ones retired a
      // whole rotation period ago, far longer than any assertion lives.
      const next = [this.generate(), ...(current ? [current] : [])];
      await store.apply([{ op: 'set', key: this.key, value: JSON.stringify(next) }], {
        guards: [{ key: this.key, equals: raw }],
      });
    }
    throw new Error('could not settle the assertion signing key');
  }

  private generate(): StoredKey {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const kid = randomBytes(9).toString('base64url');
    return {
      kid,
      createdAt: this.o.now(),
      publicJwk: { ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' },
      privateSealed: this.o.dataKeys.seal(
        privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        `assertion|${kid}`,
      ),
    };
  }

  async jwks(): Promise<{ keys: JsonWebKey[] }> {
    return { keys: (await this.load()).list.map((k) => k.publicJwk) };
  }

  async sign(
    claims: Record<string, unknown>,
    options: { issuer: string; audience: string; subject: string; expiresAt: number },
  ): Promise<string> {
    const { list, signing } = await this.load();
    const now = Math.floor(this.o.now() / 1000);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: list[0]!.kid, typ: 'JWT' })
      .setIssuer(options.issuer)
      .setAudience(options.audience)
      .setSubject(options.subject)
      .setIssuedAt(now)
      .setNotBefore(now - 5)
      .setExpirationTime(Math.floor(options.expiresAt / 1000))
      .setJti(randomBytes(12).toString('base64url'))
      .sign(signing);
  }
}
