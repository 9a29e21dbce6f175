// Sessions over an embedded store, for unit tests of the session record and its keys.
import { DataKeyRing } from '../../src/crypto/dataKey.js';
import { deriveSessionKeys } from '../../src/crypto/sessionKeys.js';
import { Keys } from '../../src/store/keys.js';
import { MemoryStore } from '../../src/store/memory.js';
import { SessionCookie } from '../../src/sso/sessionCookie.js';
import { Sessions } from '../../src/sso/sessions.js';

/** Sessions keyed from `secrets` (SESSION_SECRET's list), on a fresh MemoryStore (`options.store`). */
export function sessionsWith(secrets: string[], options: { store?: MemoryStore } = {}): Sessions {
  const keys = deriveSessionKeys(secrets);
  return new Sessions({
    store: options.store ?? new MemoryStore(),
    keys: new Keys('unit:'),
    dataKeys: new DataKeyRing([Buffer.alloc(32, 1)]),
    cookie: new SessionCookie('relay.sid', keys.sessionCookie),
    fingerprintKey: keys.sessionFingerprint,
    idleSeconds: 1800,
    absoluteSeconds: 43_200,
    now: Date.now,
  });
}
