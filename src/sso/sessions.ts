/**
 * Server-side browser sessions: express-session with connect-redis over the relay's store.
 *
 * A session id carries its tenant's hash tag (`{t:<tenantId>}.<random>`), so the session lives
 * in the tenant's Redis Cluster slot: a kit push that revokes users deletes their sessions in
 * the same atomic write that changes the mirror. Each user's session ids are indexed in a set
 * (no SCAN). Tokens are sealed with DATA_KEY inside the session record.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type {} from 'express-session';
import type { DataKeyRing } from '../crypto/dataKey.js';
import { fromKeyPart, keyPart, type Keys } from '../store/keys.js';
import type { Store, WriteOp } from '../store/store.js';
import { cookieValue } from './cookies.js';
import type { TokenGrant } from './idp.js';

/** Tokens as kept in the session: sealed, with a version bumped by every renewal. */
export interface TokenSet {
  v: number;
  access: string;
  refresh?: string;
  expiresAt: number;
}

export interface SignedIn {
  tenantId: string;
  appId: string;
  userName: string;
  domainName: string;
  instanceId: string;
  /** what userinfo said at sign-in, for fields the authorization sync may lack */
  profile: { name?: string; email?: string; mobile?: string };
  loginAt: number;
  absoluteExpiresAt: number;
  tokens: TokenSet;
  /** a renewal in progress: who holds it and since when (see renewal.ts) */
  refreshing?: { id: string; since: number };
  /** the session was ended by a rejected refresh token; kept briefly so callers learn why */
  ended?: 'reauthenticate';
}

declare module 'express-session' {
  interface SessionData {
    login: SignedIn;
  }
}

export interface StoredSession {
  raw: string;
  login: SignedIn;
  /** remaining ms before the store expires it (idle timeout) */
  ttlMs: number;
}

const SID = /^\{t:[A-Za-z0-9._@~-]{1,200}\}\.[A-Za-z0-9_-]{43}$/;

export interface SessionsOptions {
  store: Store;
  keys: Keys;
  dataKeys: DataKeyRing;
  secrets: readonly string[];
  cookieName: string;
  idleSeconds: number;
  absoluteSeconds: number;
  /** INSTANCE_GATING: a blocked tenant's new sessions are refused at registration. */
  gating?: boolean;
  now: () => number;
}

export class Sessions {
  constructor(readonly options: SessionsOptions) {}

  newId(tenantId: string): string {
    return `{t:${keyPart(tenantId)}}.${randomBytes(32).toString('base64url')}`;
  }

  /** A non-reversible short name of a session, for assertions and logs. */
  fingerprint(sid: string): string {
    return createHmac('sha256', this.options.secrets[0]!).update(sid).digest('base64url').slice(0, 22);
  }

  isId(sid: string): boolean {
    return SID.test(sid);
  }

  key(sid: string): string {
    return this.options.keys.session(sid);
  }

  /** A session named by the browser's cookie: express-session's `s:<sid>.<hmac>` form. */
  sidFromCookieHeader(header: string | undefined): string | null {
    const value = cookieValue(header, this.options.cookieName);
    return value === undefined ? null : this.unsign(value);
  }

  /** `X-Session-Id`: the stored id, or the signed cookie value as the browser sent it. */
  sidFromHeader(value: string | undefined): string | null {
    if (!value) return null;
    let v = value.trim();
    try {
      v = decodeURIComponent(v);
    } catch {
      return null;
    }
    if (v.startsWith('s:')) return this.unsign(v);
    return this.isId(v) ? v : null;
  }

  /** Signed cookie values already verified (an HMAC per API call was a tenth of its cost). */
  private readonly verified = new Map<string, string>();

  private unsign(value: string): string | null {
    const known = this.verified.get(value);
    if (known) return known;
    const sid = this.verify(value);
    if (sid) {
      if (this.verified.size >= 10_000) this.verified.clear();
      this.verified.set(value, sid);
    }
    return sid;
  }

  private verify(value: string): string | null {
    if (!value.startsWith('s:')) return null;
    const signed = value.slice(2);
    const dot = signed.lastIndexOf('.');
    if (dot < 0) return null;
    const sid = signed.slice(0, dot);
    const given = Buffer.from(signed.slice(dot + 1));
    for (const secret of this.options.secrets) {
      // express-session signs with cookie-signature: base64 HMAC-SHA256 without padding
      const expected = Buffer.from(
        createHmac('sha256', secret).update(sid).digest('base64').replace(/=+$/, ''),
      );
      if (expected.length === given.length && timingSafeEqual(expected, given))
        return this.isId(sid) ? sid : null;
    }
    return null;
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
    if (!raw) return null;
    const parsed = JSON.parse(raw) as { login?: SignedIn };
    if (!parsed.login) return null;
    return { raw, login: parsed.login, ttlMs };
  }

  /**
   * The session with, in the same round trip, its user's mirror record for `appId`, its
   * tenant's record and the tenant's gate: the session id names the tenant, the session names
   * the user.
   */
  async readWithUser(
    sid: string,
    appId: string,
  ): Promise<{
    current: StoredSession;
    tenant: string | null;
    user: string | null;
    gate: string | null;
  } | null> {
    const tag = SID.test(sid) ? /^\{t:([^}]+)\}/.exec(sid) : null;
    if (!tag) return null;
    const tenantId = fromKeyPart(tag[1]!);
    const { keys, store } = this.options;
    const found = await store.readRecordWithRefs(
      this.key(sid),
      ['login', 'userName'],
      keys.users(tenantId, appId),
      [keys.tenant(tenantId), keys.gate(tenantId)],
    );
    if (!found.value) return null;
    const login = (JSON.parse(found.value) as { login?: SignedIn }).login;
    if (!login || login.tenantId !== tenantId || login.appId !== appId) return null;
    return {
      current: { raw: found.value, login, ttlMs: found.ttlMs },
      tenant: found.also[0] ?? null,
      gate: found.also[1] ?? null,
      user: found.linked,
    };
  }

  /** Replaces the `login` part of a stored record, keeping everything else (the cookie). */
  rewrite(current: Pick<StoredSession, 'raw'>, login: SignedIn): string {
    const parsed = JSON.parse(current.raw) as Record<string, unknown>;
    return JSON.stringify({ ...parsed, login });
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
   * ended; ids of the user's sessions that have since expired are dropped on the way. False
   * when the tenant was blocked in the meantime (nothing is written then).
   */
  async register(sid: string, login: SignedIn): Promise<boolean> {
    const { store, keys } = this.options;
    const userSet = keys.userSessions(login.tenantId, login.appId, login.userName);
    const known = await store.sMembers(userSet);
    const ttls = await Promise.all(known.map((s) => store.pTtl(this.key(s))));
    const dead = known.filter((_, i) => ttls[i] === -2);
    const outcome = await store.apply(
      [
        { op: 'sadd', key: keys.sessionUsers(login.tenantId, login.appId), members: [login.userName] },
        { op: 'srem', key: userSet, members: dead },
        { op: 'sadd', key: userSet, members: [sid] },
      ],
      // A freeze that landed since the sign-in was authorized would not find this session: the
      // index entry is written only while the tenant is not blocked (the gate is in its slot).
      { guards: this.options.gating ? [{ key: keys.gate(login.tenantId), equals: null }] : [] },
    );
    return outcome === 'applied';
  }

  /** Ends one session: its record (tokens with it) and its index entry, in one write. */
  endOps(sid: string, login: Pick<SignedIn, 'tenantId' | 'appId' | 'userName'>): WriteOp[] {
    return [{ op: 'del', key: this.key(sid) }, this.unindexOp(sid, login)];
  }

  /** Takes a session id out of its user's index (the record itself is handled by the caller). */
  unindexOp(sid: string, login: Pick<SignedIn, 'tenantId' | 'appId' | 'userName'>): WriteOp {
    return {
      op: 'srem',
      key: this.options.keys.userSessions(login.tenantId, login.appId, login.userName),
      members: [sid],
    };
  }

  async end(sid: string, login: Pick<SignedIn, 'tenantId' | 'appId' | 'userName'>): Promise<void> {
    await this.options.store.apply(this.endOps(sid, login));
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
 * The node-redis subset connect-redis 9 calls (get, set with EX, expire, del), served by the
 * relay's store, so sessions get the same deadlines and the embedded store works too.
 */
export function connectRedisClient(store: Store) {
  return {
    get: (key: string) => store.get(key),
    set: async (key: string, value: string, options?: { expiration?: { type: 'EX'; value: number } }) => {
      const ttlMs = options?.expiration ? options.expiration.value * 1000 : undefined;
      await store.apply([{ op: 'set', key, value, ...(ttlMs ? { ttlMs } : {}) }]);
      return 'OK';
    },
    expire: async (key: string, seconds: number) => {
      await store.apply([{ op: 'pexpire', key, ttlMs: seconds * 1000 }]);
      return 1;
    },
    del: async (keys: string[] | string) => {
      const list = Array.isArray(keys) ? keys : [keys];
      for (const key of list) await store.apply([{ op: 'del', key }]);
      return list.length;
    },
  };
}
