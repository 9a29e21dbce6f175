/**
 * The seller app's view of a browser session (contract §5): who the user is, a fresh access
 * token, sign-out; and for apps on another origin, the one-time ticket hand-off and a signed
 * assertion. The session is named by the browser's forwarded Cookie header or by
 * X-Session-Id. Each answer re-checks the user against the mirror, so authorization follows
 * the marketplace at once even for a session that is still stored.
 */
import express, { type Request, type RequestHandler, type Response } from 'express';
import { decideAuthorization, type AuthorizeAnswer } from '../mirror/mirror.js';
import { parseFrozen, type TenantRecord, type UserRecord } from '../mirror/records.js';
import { notes } from '../ops/log.js';
import type { AssertionKeys } from '../sso/assertionKeys.js';
import type { Handoff } from '../sso/handoff.js';
import { NoSessionError, ReauthenticateError, type TokenRenewal } from '../sso/renewal.js';
import type { Sessions, StoredSession } from '../sso/sessions.js';
import type { ApiRoutes } from './apiRoutes.js';
import { operations, type Answer } from './contract.js';
import { ApiError } from './errors.js';
import { sendJson } from './json.js';

export interface SessionRoutesDeps {
  sessions: Sessions;
  /** KOO_APP_ID: every session is for it */
  appId: string;
  renewal: TokenRenewal;
  handoff: Handoff;
  assertionKeys: AssertionKeys;
  assertion: { issuer: string; audience: string; ttlSeconds: number };
  /** the limit of refused ticket redemptions per address (limits/rateLimits.ts) */
  ticketLimit: RequestHandler;
  now: () => number;
}

/** Registers the session operations on the API. */
export function sessionRoutes(deps: SessionRoutesDeps, api: ApiRoutes): void {
  const { sessions, renewal, now, appId } = deps;

  // Checked as express-session checks its cookie, with the same keys (sso/sessionCookie.ts).
  const sidOf = (req: Request) => {
    const header = req.get('x-session-id');
    return header !== undefined
      ? sessions.cookie.fromHeader(header)
      : sessions.cookie.fromCookieHeader(req.get('cookie'));
  };

  /**
   * The live session and the mirror's current word on its user, or 401. A session ended by a
   * refused refresh token reads as `reauthenticate` to token callers, `no_session` to others.
   */
  const live = async (
    sid: string | null,
    res: Response,
    endedAs: 'no_session' | 'reauthenticate' = 'no_session',
  ) => {
    if (!sid) throw new NoSessionError();
    // One round trip: the session, its user's record, its tenant's and its tenant's app record.
    const found = await sessions.readWithUser(sid, appId);
    if (!found) throw new NoSessionError();
    const { current } = found;
    const { login } = current;
    if (login.ended) throw endedAs === 'reauthenticate' ? new ReauthenticateError() : new NoSessionError();
    if (login.absoluteExpiresAt <= now()) throw new NoSessionError();
    const decision = decideAuthorization({
      tenant: parseFrozen<TenantRecord>(found.tenant),
      appKnown: found.app !== null,
      user: parseFrozen<UserRecord>(found.user),
      // null unless INSTANCE_GATING is on (Sessions reads the gate only then)
      gate: found.gate,
    });
    if (!decision.allowed) {
      // The mirror has taken the user or the app away (normally the push ended the session
      // already; not a session its sign-in saved just after that push's write).
      await sessions.end(sid, login, 'revoked');
      throw new NoSessionError();
    }
    notes(res).fields = { tenantId: login.tenantId, userName: login.userName };
    return { sid, current, decision };
  };

  /** The contract's session answer; `ttlMs` is how long the store keeps the session now. */
  const view = (current: StoredSession, decision: AuthorizeAnswer, ttlMs: number): Answer<'getSession'> => {
    const { login } = current;
    const user = decision.user!;
    const tenant = decision.tenant!;
    return {
      user: {
        userName: user.userName,
        name: user.name || login.profile.name || user.userName,
        email: user.email ?? login.profile.email ?? null,
        mobile: user.mobile ?? login.profile.mobile ?? null,
        role: user.role,
        orgCode: user.orgCode,
      },
      tenant: { tenantId: tenant.tenantId, tenantCode: tenant.tenantCode, name: tenant.name },
      appId: login.appId,
      instanceId: login.instanceId || tenant.instanceIds[0] || null,
      expiresAt: new Date(Math.min(now() + ttlMs, login.absoluteExpiresAt)).toISOString(),
    };
  };

  api.serve(operations.getSession, async (req, res) => {
    const { sid, current, decision } = await live(sidOf(req), res);
    const ttlMs = await sessions.touch(sid, current);
    res.setHeader('Cache-Control', 'no-store');
    sendJson(res, view(current, decision, ttlMs));
  });

  api.serve(operations.getAccessToken, express.json({ limit: '1kb' }), async (req, res, { body }) => {
    const { sid, current } = await live(sidOf(req), res, 'reauthenticate');
    // Every session call counts as use; a renewal's rewrite keeps the TTL set here.
    await sessions.touch(sid, current);
    // A refused or failed renewal throws an error that is its own answer (src/errors.ts).
    const token = await renewal.token(sid, body.forceRefresh);
    res.setHeader('Cache-Control', 'no-store');
    res.json({
      accessToken: token.accessToken,
      expiresAt: new Date(token.expiresAt).toISOString(),
    } satisfies Answer<'getAccessToken'>);
  });

  api.serve(operations.getAssertion, async (req, res) => {
    const { sid, current, decision } = await live(sidOf(req), res);
    const body = view(current, decision, await sessions.touch(sid, current));
    const expiresAt = Math.min(now() + deps.assertion.ttlSeconds * 1000, Date.parse(body.expiresAt));
    const assertion = await deps.assertionKeys.sign(
      {
        appId: body.appId,
        tenant: body.tenant,
        user: body.user,
        instanceId: body.instanceId,
        sid: sessions.fingerprint(sid),
      },
      {
        issuer: deps.assertion.issuer,
        audience: deps.assertion.audience,
        subject: `${body.tenant.tenantId}:${body.user.userName}`,
        expiresAt,
      },
    );
    res.setHeader('Cache-Control', 'no-store');
    res.json({ assertion, expiresAt: new Date(expiresAt).toISOString() } satisfies Answer<'getAssertion'>);
  });

  api.serve(
    operations.redeemTicket,
    deps.ticketLimit,
    express.json({ limit: '1kb' }),
    async (req, res, { body }) => {
      const sid = await deps.handoff.redeem(body.ticket);
      if (!sid)
        throw new ApiError(400, 'invalid_ticket', 'The ticket is unknown, already used or older than 60 s.');
      const { current, decision } = await live(sid, res);
      res.setHeader('Cache-Control', 'no-store');
      res.json({
        sessionId: sid,
        session: view(current, decision, current.ttlMs),
      } satisfies Answer<'redeemTicket'>);
    },
  );

  api.serve(operations.endSession, async (req, res) => {
    const sid = sidOf(req);
    const current = sid ? await sessions.read(sid) : null;
    // A session already ended (its refresh token refused: a short marker stays) ended with its event.
    if (sid && current) {
      if (current.login.ended) await sessions.options.store.apply([{ op: 'del', key: sessions.key(sid) }]);
      else await sessions.end(sid, current.login, 'deleted');
    }
    res.status(204).end();
  });
}
