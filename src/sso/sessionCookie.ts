/**
 * The browser session as express-session keeps it, described once for both of its readers:
 * express-session itself (routes.ts gives it these keys and this record format) and the seller
 * API, which names a session by the cookie value the browser sent and reads the record straight
 * from the store in the same round trip as the user's mirror record (sessions.ts).
 *
 *  - The cookie: `s:<sid>.<signature>`, signed and checked with cookie-signature, the package
 *    express-session uses, under the session-cookie keys derived from SESSION_SECRET
 *    (crypto/sessionKeys.ts): the first signs, all verify.
 *  - The record: the JSON `{cookie, login}` that connect-redis stores. express-session's writes
 *    and the relay's own (token renewal) both go through encode/decode here, so nothing else
 *    edits express-session's JSON by hand.
 */
import type { KeyObject } from 'node:crypto';
import * as cookieSignature from 'cookie-signature';
import type { SessionData } from 'express-session';
import type { KeyRing } from '../crypto/sessionKeys.js';
import { cookieValue } from './cookies.js';

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

/** The session cookie: its name, and the keys express-session signs it with. */
export class SessionCookie {
  constructor(
    readonly name: string,
    private readonly keys: KeyRing,
  ) {}

  /** express-session's `secret` option: the same keys in the same order, so the first signs. */
  get secrets(): KeyObject[] {
    return [...this.keys];
  }

  /** The cookie's value for a session id, as express-session sets it (before URI encoding). */
  sign(sid: string): string {
    return `s:${cookieSignature.sign(sid, this.keys[0])}`;
  }

  /**
   * Signed values already verified, with their ids. The check (cookie-signature: an HMAC and two
   * SHA-1s per key tried) was 4.5 of the 97 µs of CPU a GET /api/v1/session took in
   * bench/profile-session.ts, and a seller app sends the same cookie on every page. Only values
   * that verified go in; emptied when full, so it stays small.
   */
  private readonly verified = new Map<string, string>();

  /**
   * The session id of a signed value, or null. Tried key by key, as express-session does; the
   * id's form is checked where the session is read (sessions.ts).
   */
  unsign(value: string): string | null {
    const known = this.verified.get(value);
    if (known !== undefined) return known;
    if (!value.startsWith('s:')) return null;
    const signed = value.slice(2);
    for (const key of this.keys) {
      const sid = cookieSignature.unsign(signed, key);
      if (sid === false) continue;
      if (this.verified.size >= 10_000) this.verified.clear();
      this.verified.set(value, sid);
      return sid;
    }
    return null;
  }

  /**
   * Cookie headers already read, with the session id they name: a seller app forwards the same
   * browser's header on every page, and finding the cookie in it again cost more than the rest of
   * the check. Only headers that named a verified session go in, and only short ones: a browser
   * can vary its other cookies at will, so the map holds at most 10,000 × 1 KB; emptied when full.
   */
  private readonly headers = new Map<string, string>();

  /** The session a forwarded Cookie header names. */
  fromCookieHeader(header: string | undefined): string | null {
    if (header === undefined) return null;
    const known = this.headers.get(header);
    if (known !== undefined) return known;
    const value = cookieValue(header, this.name);
    const sid = value === undefined ? null : this.unsign(value);
    if (sid !== null && header.length <= 1024) {
      if (this.headers.size >= 10_000) this.headers.clear();
      this.headers.set(header, sid);
    }
    return sid;
  }

  /** `X-Session-Id`: the stored id as is, or the signed cookie value as the browser sent it. */
  fromHeader(value: string | undefined): string | null {
    if (!value) return null;
    let v = value.trim();
    try {
      v = decodeURIComponent(v);
    } catch {
      return null;
    }
    return v.startsWith('s:') ? this.unsign(v) : v;
  }
}

/** A stored session: express-session's cookie settings (passed through untouched) and who signed in. */
export interface SessionRecord {
  /** express-session's Cookie when it writes, its JSON when read back; the relay never looks inside. */
  cookie: object;
  login?: SignedIn;
}

/** Where the record names its user: the store finds the user's mirror record by it (sessions.ts). */
export const RECORD_USER_NAME_PATH = ['login', 'userName'] as const;

/**
 * The record as stored: exactly `{login, cookie}`, whatever else a request put on its session.
 * It opens with RECORD_USER_NAME_PATH, `{"login":{"userName":`, so the Redis store's read script
 * takes the user's name from there instead of decoding the whole record (store/redis/scripts.ts).
 */
export function encodeSessionRecord(record: SessionRecord): string {
  const { login, cookie } = record;
  if (!login) return JSON.stringify({ cookie });
  const { userName, ...rest } = login;
  return JSON.stringify({ login: { userName, ...rest }, cookie });
}

/** Throws on a value that is not JSON (a fault of the store, not a missing session). */
export function decodeSessionRecord(raw: string): SessionRecord {
  const parsed = JSON.parse(raw) as Partial<SessionRecord> | null;
  const cookie = parsed?.cookie ?? {};
  return parsed?.login ? { cookie, login: parsed.login } : { cookie };
}

/**
 * connect-redis's serializer, so express-session reads and writes the same format. On reading,
 * express-session rebuilds its Cookie from the plain data, as it does after connect-redis's
 * default JSON.parse.
 */
export const sessionRecordSerializer = {
  parse: (raw: string): SessionData => decodeSessionRecord(raw) as SessionData,
  stringify: (session: SessionData): string => encodeSessionRecord(session),
};
