/**
 * Indexing a new session (Sessions.register): written only while the tenant's app record is the
 * one it read, decided again when that record merely changed, and never left to a caller to guess.
 */
import { describe, expect, it } from '@jest/globals';
import { Keys } from '../../src/store/keys.js';
import { MemoryStore } from '../../src/store/memory.js';
import type { ApplyOptions, ApplyResult, WriteOp } from '../../src/store/store.js';
import type { SignedIn } from '../../src/sso/sessionCookie.js';
import { sessionsWith } from '../support/sessions.js';

const keys = new Keys('unit:');
const login: SignedIn = {
  tenantId: 't-1',
  appId: 'app-1',
  userName: 'alice',
  domainName: 'https://idp.example.com',
  instanceId: '',
  profile: {},
  loginAt: 0,
  absoluteExpiresAt: 1,
  tokens: { v: 0, access: '', expiresAt: 0 },
};

/** Before each of its next `changes` writes, the app credential is replaced (a new clientSecret). */
class RotatingStore extends MemoryStore {
  constructor(private changes: number) {
    super();
  }
  override async apply(ops: readonly WriteOp[], options?: ApplyOptions): Promise<ApplyResult> {
    if (this.changes > 0) {
      this.changes--;
      await super.apply([
        { op: 'hset', key: keys.apps('t-1'), entries: [['app-1', `{"v":${this.changes}}`]] },
      ]);
    }
    return super.apply(ops, options);
  }
}

const withApp = async (store: MemoryStore) => {
  await store.apply([{ op: 'hset', key: keys.apps('t-1'), entries: [['app-1', '{"v":"first"}']] }]);
  return store;
};

describe('Sessions.register', () => {
  it('decides again when the app record changed meanwhile, and indexes the session', async () => {
    const store = await withApp(new RotatingStore(2));
    const sessions = sessionsWith(['s'], { store });
    expect(await sessions.register('sid-1', login)).toBe('registered');
    expect(await store.sMembers(keys.userSessions('t-1', 'app-1', 'alice'))).toEqual(['sid-1']);
  });

  it('says app_unknown, writing nothing, when the app record is gone', async () => {
    const store = new MemoryStore();
    expect(await sessionsWith(['s'], { store }).register('sid-2', login)).toBe('app_unknown');
    expect(store.keys()).toEqual([]);
  });

  it('fails as the store would (000005 / 503), never as a refusal, when the record keeps changing', async () => {
    const store = await withApp(new RotatingStore(100));
    await expect(sessionsWith(['s'], { store }).register('sid-3', login)).rejects.toThrow(
      "the tenant's records kept changing while the session was indexed",
    );
    expect(await store.sMembers(keys.userSessions('t-1', 'app-1', 'alice'))).toEqual([]);
  });
});
