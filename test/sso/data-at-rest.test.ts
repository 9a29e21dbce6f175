// Secrets at rest (DATA_KEY): what Redis holds of a session and of a tenant's client is sealed,
// never the plaintext; and DATA_KEY rotates through a restart: with `new,old` the relay opens
// what the old key sealed (client secrets, session tokens, assertion signing keys) and seals
// everything it writes from then on with the new key, named by its key id in the sealed value.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createClient } from 'redis';
import { DataKeyRing } from '../../src/crypto/dataKey.js';
import type { SignedIn } from '../../src/sso/sessionCookie.js';
import { sharedRedisUrl } from '../support/redis.js';
import { API_KEY, APP_ID } from '../support/relay.js';
import { startSignInWorld, type SignInWorld } from '../support/world.js';

const call = (w: SignInWorld, path: string, sid: string, body: object = {}) =>
  w.relay.http.post(path).set('Authorization', `Bearer ${API_KEY}`).set('X-Session-Id', sid).send(body);
const token = (w: SignInWorld, sid: string, body: object = {}) => call(w, '/api/v1/session/token', sid, body);
/** The key id a sealed value names: `v1.<key id>.<payload>` (crypto/dataKey.ts). */
const keyIdOf = (sealed: string) => sealed.split('.')[1];
const keyIdOfKey = (base64: string) => new DataKeyRing([Buffer.from(base64, 'base64')]).currentKeyId;

describe('secrets at rest in Redis', () => {
  let w: SignInWorld;
  let redis: ReturnType<typeof createClient>;
  beforeAll(async () => {
    w = await startSignInWorld();
    redis = createClient({ url: sharedRedisUrl() });
    await redis.connect();
  });
  afterAll(async () => {
    redis.destroy();
    await w.close();
  });

  /** Every value under the relay's prefix, as Redis returns it to any client. */
  const everything = async () => {
    const out: string[] = [];
    for await (const batch of redis.scanIterator({ MATCH: `${w.relay.prefix}*`, COUNT: 1000 }))
      for (const key of batch) {
        const type = await redis.type(key);
        if (type === 'string') out.push((await redis.get(key)) ?? '');
        else if (type === 'hash') out.push(JSON.stringify(await redis.hGetAll(key)));
        else if (type === 'set') out.push(JSON.stringify(await redis.sMembers(key)));
      }
    return out.join('\n');
  };

  it('keeps the access and refresh tokens only sealed in the session’s raw value, also after a renewal', async () => {
    const { sid } = await w.signIn('alice');
    const key = w.relay.relay.keys.session(sid);
    for (const round of ['after sign-in', 'after a renewal']) {
      const accessToken = (await token(w, sid, { forceRefresh: round !== 'after sign-in' })).body
        .accessToken as string;
      expect(accessToken).toEqual(expect.any(String));
      const raw = (await redis.get(key))!;
      // written by express-session and by the renewal alike so that the read script finds the
      // user without decoding the record (store/redis/scripts.ts)
      expect([round, raw.startsWith('{"login":{"userName":"alice",')]).toEqual([round, true]);
      const { tokens } = (JSON.parse(raw) as { login: SignedIn }).login;
      const refreshToken = w.relay.relay.sessions.refreshToken(sid, tokens)!;
      // these are the live tokens, as the identity server knows them
      expect(w.relay.relay.sessions.accessToken(sid, tokens)).toBe(accessToken);
      expect(w.sandbox.identity.refreshTokenActive(refreshToken)).toBe(true);

      expect([round, raw.includes(accessToken), raw.includes(refreshToken)]).toEqual([round, false, false]);
      expect(tokens.access).toMatch(/^v1\.[0-9a-f]{8}\./);
      expect(tokens.refresh).toMatch(/^v1\.[0-9a-f]{8}\./);
      const all = await everything();
      expect([round, all.includes(accessToken), all.includes(refreshToken)]).toEqual([round, false, false]);
    }
  });

  it('keeps the tenant’s client secret only sealed', async () => {
    const { clientSecret } = w.world.client(w.acme.tenantId, APP_ID);
    const app = await redis.hGet(w.relay.relay.keys.apps(w.acme.tenantId), APP_ID);
    expect(JSON.parse(app!).clientSecretSealed).toMatch(/^v1\.[0-9a-f]{8}\./);
    expect(await everything()).not.toContain(clientSecret);
  });
});

describe('DATA_KEY rotation through a restart', () => {
  const OLD = Buffer.alloc(32, 11).toString('base64');
  const NEW = Buffer.alloc(32, 12).toString('base64');
  let w: SignInWorld;
  beforeAll(async () => {
    w = await startSignInWorld({ env: { DATA_KEY: OLD } });
  });
  afterAll(() => w.close());

  const sessionTokens = async (sid: string) => {
    const raw = await w.relay.store.get(w.relay.relay.keys.session(sid));
    return (JSON.parse(raw!) as { login: SignedIn }).login.tokens;
  };
  const secretKeyId = async () =>
    keyIdOf((await w.relay.relay.mirror.app(w.acme.tenantId, APP_ID))!.clientSecretSealed);
  const kidOf = (assertion: string) =>
    (JSON.parse(Buffer.from(assertion.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid;

  it('opens what the old key sealed after a restart with new,old, and seals everything new with the new key', async () => {
    // Before: everything sealed with the only key.
    const alice = await w.signIn('alice');
    expect(await secretKeyId()).toBe(keyIdOfKey(OLD));
    expect(keyIdOf((await sessionTokens(alice.sid)).access)).toBe(keyIdOfKey(OLD));
    const before = await token(w, alice.sid);
    expect(before.status).toBe(200);
    const assertionBefore = await call(w, '/api/v1/session/assertion', alice.sid);
    expect(assertionBefore.status).toBe(200);

    await w.restartRelay({ DATA_KEY: `${NEW},${OLD}` });

    // The old key's seals still open: the session's token, the assertion signing key...
    const after = await token(w, alice.sid);
    expect(after.status).toBe(200);
    expect(after.body.accessToken).toBe(before.body.accessToken);
    const assertionAfter = await call(w, '/api/v1/session/assertion', alice.sid);
    expect(assertionAfter.status).toBe(200);
    expect(kidOf(assertionAfter.body.assertion)).toBe(kidOf(assertionBefore.body.assertion));
    // ...and the client secret, which a sign-in needs for its code exchange.
    const bob = await w.signIn('bob');
    expect((await call(w, '/api/v1/session/token', bob.sid)).status).toBe(200);

    // What is written from now on is sealed with the new key.
    expect(keyIdOf((await sessionTokens(bob.sid)).access)).toBe(keyIdOfKey(NEW));
    expect(keyIdOf((await sessionTokens(bob.sid)).refresh!)).toBe(keyIdOfKey(NEW));
    expect(keyIdOf((await sessionTokens(alice.sid)).access)).toBe(keyIdOfKey(OLD));
    expect((await token(w, alice.sid, { forceRefresh: true })).status).toBe(200);
    expect(keyIdOf((await sessionTokens(alice.sid)).access)).toBe(keyIdOfKey(NEW));
    expect(keyIdOf((await sessionTokens(alice.sid)).refresh!)).toBe(keyIdOfKey(NEW));
    // the next applicationSync seals the client secret again, with the new key
    await w.world.provision(APP_ID);
    expect(await secretKeyId()).toBe(keyIdOfKey(NEW));

    // Everything re-sealed: the old key can go.
    await w.restartRelay({ DATA_KEY: NEW });
    for (const sid of [alice.sid, bob.sid]) expect((await token(w, sid)).status).toBe(200);
    const dave = await w.signIn('dave');
    expect((await token(w, dave.sid)).status).toBe(200);
  });
});
