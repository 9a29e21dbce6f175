/**
 * Access-token renewal with the refresh token, at most one refresh per session at a time
 * across every relay process sharing the store (joint-login.md §4).
 *
 * A caller claims the renewal by compare-and-set on the whole session record, writing a claim
 * id into it; only a write still matching that claimed record may store the new tokens, so a
 * slow identity server can never make two refreshes race, and a rotated refresh token is never
 * overwritten by a stale one. The claim is a lease longer than the identity-server timeout:
 * it is only taken over once its holder has certainly given up (or died). Everyone else polls
 * the record until the new tokens appear, so all callers get the same token. Within one
 * process concurrent callers share one promise.
 */
import { randomUUID } from 'node:crypto';
import type { Metrics } from '../ops/metrics.js';
import { RelayError } from '../errors.js';
import { RateLimitedError, type TenantLimit } from '../limits/rateLimits.js';
import type { Store } from '../store/store.js';
import { IdpError, type IdentityServers } from './idp.js';
import type { Sessions, SignedIn, StoredSession, TokenSet } from './sessions.js';

/** Renew when the access token has less than this left (contract §5). */
export const RENEW_BEFORE_MS = 5 * 60 * 1000;

/** The session is absent, expired or was revoked. */
export class NoSessionError extends RelayError {
  override readonly name = 'NoSessionError';
  constructor() {
    super('no_session', 'No signed-in session: it is absent, expired or was revoked.', {
      status: 401,
      expose: true,
    });
  }
}
/** The refresh token was refused: the user must sign in again. */
export class ReauthenticateError extends RelayError {
  override readonly name = 'ReauthenticateError';
  constructor() {
    super(
      'reauthenticate',
      'The identity server refused to renew this session; the user must sign in again.',
      {
        status: 401,
        expose: true,
      },
    );
  }
}

export interface AccessToken {
  accessToken: string;
  expiresAt: number;
}

export interface RenewalOptions {
  store: Store;
  sessions: Sessions;
  idps: IdentityServers;
  metrics: Metrics;
  now: () => number;
  /** how long a claim protects a renewal; must exceed the identity-server timeout */
  leaseMs: number;
  /** the per-tenant limit of calls to identity servers: a refresh past it is refused (429) */
  idpLimit?: Pick<TenantLimit, 'take'>;
  pollMs?: number;
}

export class TokenRenewal {
  private readonly inflight = new Map<string, Promise<AccessToken>>();

  constructor(private readonly o: RenewalOptions) {}

  /** The session's access token, renewed first when it is near expiry or when `force` asks. */
  token(sid: string, force = false): Promise<AccessToken> {
    const running = this.inflight.get(sid);
    if (running) return running;
    const started = this.run(sid, force).finally(() => this.inflight.delete(sid));
    this.inflight.set(sid, started);
    return started;
  }

  private async run(sid: string, force: boolean): Promise<AccessToken> {
    const { sessions, store, now, leaseMs } = this.o;
    const giveUpAt = now() + leaseMs + 2000;
    let firstVersion: number | undefined;
    for (;;) {
      const current = await sessions.read(sid);
      if (!current) throw new NoSessionError();
      const login = current.login;
      if (login.ended) throw new ReauthenticateError();
      if (login.absoluteExpiresAt <= now()) throw new NoSessionError();
      firstVersion ??= login.tokens.v;
      const fresh = login.tokens.expiresAt - now() > RENEW_BEFORE_MS;
      // Any renewal that completed after we asked satisfies us, even when the identity server
      // issues tokens shorter-lived than the renewal margin (else every waiter would renew again).
      const renewedMeanwhile = login.tokens.v > firstVersion;
      if (renewedMeanwhile || (fresh && !force)) return this.view(sid, login.tokens);

      if (login.refreshing && now() - login.refreshing.since < leaseMs) {
        if (now() > giveUpAt)
          throw new IdpError({ kind: 'unavailable', detail: 'a renewal in progress did not finish' });
        await new Promise((r) => setTimeout(r, this.o.pollMs ?? 50));
        continue;
      }
      const claimed: SignedIn = { ...login, refreshing: { id: randomUUID(), since: now() } };
      const claimedRaw = sessions.rewrite(current, claimed);
      const key = sessions.key(sid);
      const claim = await store.apply([{ op: 'set', key, value: claimedRaw, keepTtl: true }], {
        guards: [{ key, equals: current.raw }],
      });
      if (claim === 'applied')
        return this.refreshHolding(sid, { ...current, raw: claimedRaw, login: claimed });
    }
  }

  private async refreshHolding(sid: string, held: StoredSession): Promise<AccessToken> {
    const { sessions, store, idps, metrics } = this.o;
    const key = sessions.key(sid);
    const login = held.login;
    const refreshToken = sessions.refreshToken(sid, login.tokens);
    const guard = { guards: [{ key, equals: held.raw }] };
    let grant;
    try {
      if (!refreshToken) throw new IdpError({ kind: 'rejected', error: 'invalid_grant', status: 400 });
      const { config } = await idps.resolve(login.tenantId);
      await this.o.idpLimit?.take(login.tenantId);
      grant = await idps.refresh(config, refreshToken);
    } catch (error) {
      const failure = error instanceof IdpError ? error.failure : null;
      if (failure && failure.kind !== 'unavailable') {
        // Refused (or the tenant/client is gone): the session ends; a short marker says why.
        const ended: SignedIn = {
          ...login,
          refreshing: undefined,
          ended: 'reauthenticate',
          tokens: { v: login.tokens.v, access: '', expiresAt: 0 },
        };
        await store
          .apply(
            [
              { op: 'set', key, value: sessions.rewrite(held, ended), ttlMs: 60_000 },
              ...sessions.unindexOps(sid, login, 'revoked'),
            ],
            guard,
          )
          .catch(() => undefined);
        metrics.tokenRefreshes.inc({ outcome: 'rejected' });
        throw new ReauthenticateError();
      }
      // Unavailable or over the tenant's limit: release the claim so the next call may try again.
      await store
        .apply(
          [
            {
              op: 'set',
              key,
              value: sessions.rewrite(held, { ...login, refreshing: undefined }),
              keepTtl: true,
            },
          ],
          guard,
        )
        .catch(() => undefined);
      metrics.tokenRefreshes.inc({
        outcome: error instanceof RateLimitedError ? 'rate_limited' : 'unavailable',
      });
      throw error;
    }
    const tokens = sessions.sealTokens(
      sid,
      { ...grant, refreshToken: grant.refreshToken ?? refreshToken },
      login.tokens.v + 1,
    );
    const next: SignedIn = { ...login, refreshing: undefined, tokens };
    const stored = await store.apply(
      [{ op: 'set', key, value: sessions.rewrite(held, next), keepTtl: true }],
      guard,
    );
    if (stored === 'conflict') {
      // The session was ended meanwhile (sign-out, revocation): the new tokens have no home.
      metrics.tokenRefreshes.inc({ outcome: 'discarded' });
      throw new NoSessionError();
    }
    metrics.tokenRefreshes.inc({ outcome: 'success' });
    return this.view(sid, tokens);
  }

  private view(sid: string, tokens: TokenSet): AccessToken {
    return { accessToken: this.o.sessions.accessToken(sid, tokens), expiresAt: tokens.expiresAt };
  }
}
