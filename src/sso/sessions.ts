/**
 * Server-side browser sessions: express-session with connect-redis over the relay's store.
 *
 * A session id carries its tenant's hash tag (`{t:<tenantId>}.<random>`), so the session lives
 * in the tenant's Redis Cluster slot: a kit push that revokes users deletes their sessions in
 * the same atomic write that changes the mirror. Each user's session ids are indexed in a set
 * (no SCAN). Tokens are sealed with DATA_KEY inside the session record. The cookie and the
 * record's format are express-session's, described in sessionCookie.ts for both readers.
 */
import { createHmac, randomBytes, type KeyObject } from 'node:crypto';
import type { DataKeyRing } from '../crypto/dataKey.js';
import type { EventLog } from '../feed/eventLog.js';
import { DecodeCache } from '../store/decodeCache.js';
import { fromKeyPart, keyPart, type Keys } from '../store/keys.js';
import { isGateReason, type GateReason } from '../mirror/gate.js';
import { StoreUnavailableError, type Store, type WriteOp } from '../store/store.js';
import type { TokenGrant } from './idp.js';
import {
  decodeSessionRecord,
  encodeSessionRecord,
  RECORD_USER_NAME_PATH,
  type SessionCookie,
  type SignedIn,
  type TokenSet,
} from './sessionCookie.js';

export type { SignedIn, TokenSet } from './sessionCookie.js';

export interface StoredSession {
  /** the record exactly as stored, for compare-and-set (renewal.ts) */
  raw: string;
  /** express-session's part of the record, kept as it is when the relay rewrites `login` */
  cookie: object;
  login: SignedIn;
  /** remaining ms before the store expires it (idle timeout) */
  ttlMs: number;
}

/**
 * The tenant's hash tag, then 32 random bytes (newId). The tag holds `keyPart(tenantId)`: a
 * tenant id has at most 64 UTF-16 units (the kit schema, the callback), at most 3 UTF-8 bytes
 * each, so an encoded one is `~` and at most 256 base64url characters.
 */
const SID = /^\{t:([A-Za-z0-9._@~-]{1,257})\}\.[A-Za-z0-9_-]{43}$/;

/** Session records decoded once per text (a seller app names the same sessions again and again). */
const decodedRecords = new DecodeCache(decodeSessionRecord);

export interface SessionsOptions {
  store: Store;
  keys: Keys;
  dataKeys: DataKeyRing;
  /** the session cookie, shared with express-session's configuration (routes.ts) */
  cookie: SessionCookie;
  /** the assertion's `sid` key, derived from SESSION_SECRET for that use alone (crypto/sessionKeys.ts) */
  fingerprintKey: KeyObject;
  idleSeconds: number;
  absoluteSeconds: number;
  /** INSTANCE_GATING: a blocked tenant's new sessions are refused at registration. */
  gating?: boolean;
  now: () => number;
  /** The change feed: a session's start and end are written with their events. */
  events?: EventLog;
}

export type { SessionEndReason } from '../vocabulary.js';
import type { SessionEndReason } from '../vocabulary.js';

export class Sessions {
  readonly cookie: SessionCookie;

  constructor(readonly options: SessionsOptions) {
    this.cookie = options.cookie;
  }

  newId(tenantId: string): string {
    return `{t:${keyPart(tenantId)}}.${randomBytes(32).toString('base64url')}`;
  }

  /**
   * A non-reversible short name of a session, for assertions and logs: under a key of its own,
   * so the assertions a seller app receives say nothing about the session cookie's signature.
   */
  fingerprint(sid: string): string {
    return createHmac('sha256', this.options.fingerprintKey).update(sid).digest('base64url').slice(0, 22);
  }

  isId(sid: string): boolean {
    return SID.test(sid);
  }

  key(sid: string): string {
    return this.options.keys.session(sid);
  }

  /** Seconds the store keeps a session: the idle timeout, never past the absolute end. */
  ttlSeconds(login: SignedIn | undefined): number {
    const idle = this.options.idleSeconds;
    if (!login) return idle;
    return Math.max(1, Math.min(idle, Math.ceil((login.absoluteExpiresAt - this.options.now()) / 1000)));
  }

  async read(sid: string): Promise<StoredSession | null> {
    if (!this.isId(sid)) return null;
    const [raw, ttlMs] = await Promise.all([
      this.options.store.get(this.key(sid)),
      this.options.store.pTtl(this.key(sid)),
    ]);
    return raw ? this.stored(sid, raw, ttlMs) : null;
  }

  /** A session's record as read from the store, decoded (once per text); null when nobody is signed in to it. */
  private stored(sid: string, raw: string, ttlMs: number): StoredSession | null {
    const { cookie, login } = decodedRecords.get(raw, sid);
    return login ? { raw, cookie, login, ttlMs } : null;
  }

  /**
   * The session with, in the same round trip, its user's mirror record for `appId`, its
   * tenant's record, the tenant's app record for `appId` and, under INSTANCE_GATING, the
   * tenant's gate (null otherwise): the session id names the tenant, the session names the user.
   */
  async readWithUser(
    sid: string,
    appId: string,
  ): Promise<{
    current: StoredSession;
    tenant: string | null;
    app: string | null;
    user: string | null;
    gate: string | null;
  } | null> {
    const tag = SID.exec(sid);
    if (!tag) return null;
    const tenantId = fromKeyPart(tag[1]!);
    const { keys, store } = this.options;
    const found = await store.readRecordWithRefs(
      this.key(sid),
      RECORD_USER_NAME_PATH,
      keys.users(tenantId, appId),
      [
        keys.tenant(tenantId),
        { key: keys.apps(tenantId), field: appId },
        ...(this.options.gating ? [keys.gate(tenantId)] : []),
      ],
    );
    const current = found.value ? this.stored(sid, found.value, found.ttlMs) : null;
    if (!current || current.login.tenantId !== tenantId || current.login.appId !== appId) return null;
    return {
      current,
      tenant: found.also[0] ?? null,
      app: found.also[1] ?? null,
      gate: found.also[2] ?? null,
      user: found.linked,
    };
  }

  /** The record with another `login`, express-session's cookie part kept as it was. */
  rewrite(current: Pick<StoredSession, 'cookie'>, login: SignedIn): string {
    return encodeSessionRecord({ cookie: current.cookie, login });
  }

  sealTokens(sid: string, grant: TokenGrant, v: number): TokenSet {
    const { dataKeys } = this.options;
    return {
      v,
      access: dataKeys.seal(grant.accessToken, `access|${sid}`),
      ...(grant.refreshToken ? { refresh: dataKeys.seal(grant.refreshToken, `refresh|${sid}`) } : {}),
      expiresAt: grant.expiresAt,
    };
  }

  accessToken(sid: string, tokens: TokenSet): string {
    return this.options.dataKeys.open(tokens.access, `access|${sid}`);
  }

  refreshToken(sid: string, tokens: TokenSet): string | undefined {
    return tokens.refresh ? this.options.dataKeys.open(tokens.refresh, `refresh|${sid}`) : undefined;
  }

  /**
   * Index a new session under its user before it is saved, so it can always be found to be
   * ended; ids of the user's sessions that have since expired are dropped on the way. When, in
   * the meantime, the tenant was blocked or its app record deleted, nothing is written and the
   * answer says which.
   */
  async register(sid: string, login: SignedIn): Promise<'registered' | 'app_unknown' | GateReason> {
    const { store, keys } = this.options;
    const { tenantId, appId } = login;
    const userSet = keys.userSessions(tenantId, appId, login.userName);
    const appRef = { key: keys.apps(tenantId), field: appId };
    // A write lost to a change of the app record (a new credential) is decided again.
    for (let attempt = 0; attempt < 5; attempt++) {
      const [known, app, gate] = await Promise.all([
        store.sMembers(userSet),
        store.hGet(appRef.key, appRef.field),
        this.options.gating ? store.get(keys.gate(tenantId)) : null,
      ]);
      if (app === null) return 'app_unknown';
      if (gate !== null) return isGateReason(gate) ? gate : 'instance_frozen';
      const ttls = await Promise.all(known.map((s) => store.pTtl(this.key(s))));
      const dead = known.filter((_, i) => ttls[i] === -2);
      const outcome = await store.apply(
        [
          { op: 'sadd', key: keys.sessionUsers(tenantId, appId), members: [login.userName] },
          { op: 'srem', key: userSet, members: dead },
          { op: 'sadd', key: userSet, members: [sid] },
          ...(this.options.events ? [this.options.events.session(sid, login)] : []),
        ],
        // A freeze or an application deletion that landed since the sign-in was authorized
        // would not find this session: the index entry is written only while the tenant is not
        // blocked and holds the app record it held a moment ago (both are in its slot).
        {
          guards: [
            ...(this.options.gating ? [{ key: keys.gate(tenantId), equals: null }] : []),
            { ...appRef, equals: app },
          ],
        },
      );
      if (outcome === 'applied') return 'registered';
    }
    throw new StoreUnavailableError("the tenant's records kept changing while the session was indexed");
  }

  /** Ends one session: its record (tokens with it), its index entry and its event, in one write. */
  endOps(
    sid: string,
    login: Pick<SignedIn, 'tenantId' | 'appId' | 'userName'>,
    reason: SessionEndReason,
  ): WriteOp[] {
    return [{ op: 'del', key: this.key(sid) }, ...this.unindexOps(sid, login, reason)];
  }

  /**
   * Takes a session out of its user's index and says it ended (the record is the caller's). The
   * tenant's version is bumped: a push that read the index to end the user's sessions (mirror/
   * sessionIndex.ts) is guarded by it, and so reads again rather than end this one a second time.
   */
  unindexOps(
    sid: string,
    login: Pick<SignedIn, 'tenantId' | 'appId' | 'userName'>,
    reason: SessionEndReason,
  ): WriteOp[] {
    const events = this.options.events;
    return [
      this.unindexOp(sid, login),
      { op: 'incr', key: this.options.keys.version(login.tenantId) },
      ...(events ? [events.session(sid, login, reason)] : []),
    ];
  }

  /** Takes a session id out of its user's index (the record itself is handled by the caller). */
  unindexOp(sid: string, login: Pick<SignedIn, 'tenantId' | 'appId' | 'userName'>): WriteOp {
    return {
      op: 'srem',
      key: this.options.keys.userSessions(login.tenantId, login.appId, login.userName),
      members: [sid],
    };
  }

  /**
   * Ends one session once: the write is guarded by the record as read, so of two ends at once (a
   * sign-out and a DELETE, two DELETEs, a refused refresh token) one writes the event and the
   * other finds the record gone. A record already gone (expired, or ended by another) ends
   * nothing and says nothing; the short marker a refused refresh token leaves (its end already
   * reported) is deleted without a second event.
   */
  async end(
    sid: string,
    login: Pick<SignedIn, 'tenantId' | 'appId' | 'userName'>,
    reason: SessionEndReason,
  ): Promise<void> {
    const { store } = this.options;
    const key = this.key(sid);
    for (let attempt = 0; attempt < 5; attempt++) {
      const raw = await store.get(key);
      if (raw === null) return;
      const stored = decodeSessionRecord(raw).login;
      const ops: WriteOp[] = stored && !stored.ended ? this.endOps(sid, login, reason) : [{ op: 'del', key }];
      if ((await store.apply(ops, { guards: [{ key, equals: raw }] })) === 'applied') return;
    }
    throw new StoreUnavailableError('the session kept changing while it was being ended');
  }

  /**
   * Keeps an active session alive for another idle period, and returns how long it now lives.
   * Skipped while less than a minute of the period is used up, to spare a write per request.
   */
  async touch(sid: string, current: StoredSession): Promise<number> {
    const ttlMs = this.ttlSeconds(current.login) * 1000;
    if (ttlMs - current.ttlMs < 60_000) return current.ttlMs;
    await this.options.store.apply([{ op: 'pexpire', key: this.key(sid), ttlMs }]);
    return ttlMs;
  }
}

/**
 * The client calls connect-redis 9 makes (get, set with an EX expiration, expire, del), in
 * node-redis's names and shapes. connect-redis exports no client type (its option is `any`; the
 * property it keeps is node-redis's whole client), so this interface is the contract; a test
 * checks that a node-redis client fits it (test/unit/sessionCookie.test.ts).
 */
export interface ConnectRedisCalls {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, options?: { expiration?: { type: 'EX'; value: number } }): Promise<unknown>;
  expire(key: string, seconds: number): Promise<unknown>;
  del(keys: string | string[]): Promise<unknown>;
}

/**
 * The relay's store answering connect-redis's calls in place of a node-redis client, so
 * express-session's writes get the store's deadlines, work on the embedded store too, and land
 * in the tenant's slot (the id's hash tag), where a push that revokes the user ends them.
 */
export function storeForConnectRedis(store: Store): ConnectRedisCalls {
  return {
    get: (key) => store.get(key),
    set: async (key, value, options) => {
      const ttlMs = options?.expiration ? options.expiration.value * 1000 : undefined;
      await store.apply([{ op: 'set', key, value, ...(ttlMs ? { ttlMs } : {}) }]);
      return 'OK';
    },
    expire: async (key, seconds) => {
      await store.apply([{ op: 'pexpire', key, ttlMs: seconds * 1000 }]);
      return 1;
    },
    del: async (keys) => {
      const list = Array.isArray(keys) ? keys : [keys];
      for (const key of list) await store.apply([{ op: 'del', key }]);
      return list.length;
    },
  };
}
