// The session record's one format (src/sso/sessionCookie.ts), as express-session writes it through
// connect-redis and as the relay reads and rewrites it, and the store adapter connect-redis calls.
import { describe, expect, it } from '@jest/globals';
import session from 'express-session';
import type { RedisClientType, RedisClusterType } from 'redis';
import { MemoryStore } from '../../src/store/memory.js';
import {
  decodeSessionRecord,
  encodeSessionRecord,
  RECORD_USER_NAME_PATH,
  sessionRecordSerializer,
  type SignedIn,
} from '../../src/sso/sessionCookie.js';
import { storeForConnectRedis, type ConnectRedisCalls } from '../../src/sso/sessions.js';
import { sessionsWith } from '../support/sessions.js';

// Checked by the compiler: a node-redis client or cluster fits the calls the adapter serves, so
// the adapter stands in for the client connect-redis is written against.
const _nodeRedisFits = (c: RedisClientType): ConnectRedisCalls => c;
const _nodeRedisClusterFits = (c: RedisClusterType): ConnectRedisCalls => c;

const login: SignedIn = {
  tenantId: 't1',
  appId: 'app',
  userName: 'alice',
  domainName: 'https://idp.example',
  instanceId: 'inst-1',
  profile: { name: 'Alice' },
  loginAt: 1,
  absoluteExpiresAt: 2,
  tokens: { v: 1, access: 'sealed', expiresAt: 3 },
};

const expressCookie = () => {
  // as express-session makes it from the relay's cookie options (routes.ts)
  const cookie = Object.assign(new session.Cookie(), { httpOnly: true, sameSite: 'lax', secure: false });
  cookie.maxAge = 60_000;
  return cookie;
};

describe('the session record', () => {
  it('opens with the path to its user, `{"login":{"userName":`, then the rest of login and the cookie', () => {
    const data = { cookie: expressCookie(), login } as session.SessionData;
    const raw = sessionRecordSerializer.stringify(data);
    // The Redis store's read script takes the user's name from this prefix (store/redis/scripts.ts).
    expect(raw.startsWith(`{"${RECORD_USER_NAME_PATH.join('":{"')}":"alice",`)).toBe(true);
    expect(Object.keys(JSON.parse(raw) as object)).toEqual(['login', 'cookie']);
    expect(JSON.parse(raw)).toEqual({ cookie: JSON.parse(JSON.stringify(data.cookie)), login });
    const back = sessionRecordSerializer.parse(raw);
    expect(back.login).toEqual(login);
    expect(back.cookie).toEqual(JSON.parse(JSON.stringify(data.cookie)));
    // A record as connect-redis stored it before (cookie first) reads the same.
    const before = JSON.stringify({ cookie: data.cookie, login });
    expect(sessionRecordSerializer.parse(before)).toEqual(back);
  });

  it('keeps exactly {cookie, login}: nothing else set on a session is stored', () => {
    const data = { cookie: expressCookie(), login, extra: 'dropped' } as session.SessionData;
    expect(JSON.parse(sessionRecordSerializer.stringify(data))).not.toHaveProperty('extra');
  });

  it('decodes a record with nobody signed in, and refuses what is not JSON', () => {
    expect(decodeSessionRecord('{"cookie":{"path":"/"}}')).toEqual({ cookie: { path: '/' } });
    expect(decodeSessionRecord('null')).toEqual({ cookie: {} });
    expect(() => decodeSessionRecord('{not json')).toThrow(SyntaxError);
  });

  it('is rewritten by the relay with its cookie part untouched (token renewal)', async () => {
    const sessions = sessionsWith(['unit-session-secret-000001']);
    const store = sessions.options.store;
    const sid = sessions.newId('t1');
    const written = encodeSessionRecord({ cookie: expressCookie(), login });
    await store.apply([{ op: 'set', key: sessions.key(sid), value: written, ttlMs: 60_000 }]);
    const current = (await sessions.read(sid))!;
    expect(current).toMatchObject({ raw: written, login });
    const renewed: SignedIn = { ...login, tokens: { v: 2, access: 'sealed-2', expiresAt: 4 } };
    const raw = sessions.rewrite(current, renewed);
    expect(JSON.parse(raw)).toEqual({ cookie: JSON.parse(written).cookie, login: renewed });
    expect(decodeSessionRecord(raw).login).toEqual(renewed);
  });
});

describe('the store as connect-redis sees it', () => {
  it('serves get, set with EX, expire and del', async () => {
    const store = new MemoryStore();
    const client = storeForConnectRedis(store);
    await client.set('k1', 'v1', { expiration: { type: 'EX', value: 30 } });
    await client.set('k2', 'v2');
    expect(await client.get('k1')).toBe('v1');
    expect(await store.pTtl('k1')).toBeGreaterThan(29_000);
    expect(await store.pTtl('k2')).toBe(-1);
    await client.expire('k2', 10);
    expect(await store.pTtl('k2')).toBeLessThanOrEqual(10_000);
    await client.del(['k1', 'k2']);
    expect([await client.get('k1'), await client.get('k2')]).toEqual([null, null]);
  });
});
