/**
 * Browser sign-in through KooGallery's unified login (contract §4, joint-login.md §3, §5).
 *
 * CSRF without `state`: the unified login returns only `code` and `tenant`, so the callback
 * cannot tie a response to a request. What we do instead:
 *  - /sso/login sets a short-lived signed "pending sign-in" cookie; `returnTo` travels only in
 *    it, never in the callback's query, so the callback is no open redirect.
 *  - A callback without that cookie is taken as IdP-initiated (the enterprise workbench) and
 *    lands on POST_LOGIN_PATH. If the browser already holds a session of another user, the
 *    relay does not switch accounts silently: it shows who is signed in and offers sign-out.
 *  - The code is single-use and bound to the tenant's own client, so a stolen or replayed code
 *    fails at the identity server; the session id is regenerated at every sign-in (no fixation).
 * Remaining risk, accepted and documented: a browser with no session can be signed in to an
 * attacker's account (login CSRF) through a forged workbench-style callback.
 */
import { randomBytes } from 'node:crypto';
import express, { type Request, type Response, type Router } from 'express';
import session from 'express-session';
import { RedisStore } from 'connect-redis';
import type { Config } from '../config.js';
import type { Mirror } from '../mirror/mirror.js';
import type { Metrics } from '../ops/metrics.js';
import { notes } from '../ops/log.js';
import type { Handoff } from './handoff.js';
import { IdpError, type IdentityServers } from './idp.js';
import { sendFailure, sendPage, stylesheetPath, type Failure } from './pages.js';
import { safeReturnTo } from './returnTo.js';
import { cookieValue } from './cookies.js';
import { connectRedisClient, type Sessions, type SignedIn } from './sessions.js';
import { signValue, unsignValue } from './signedValue.js';
import type { Store } from '../store/store.js';

const PENDING_COOKIE = 'relay.pending';
const PENDING_MAX_AGE_MS = 10 * 60 * 1000;

interface Pending {
  returnTo?: string;
  nonce: string;
  at: number;
}

export interface SsoDeps {
  config: Config;
  store: Store;
  mirror: Mirror;
  sessions: Sessions;
  idps: IdentityServers;
  handoff: Handoff;
  metrics: Metrics;
  now: () => number;
}

declare module 'express-serve-static-core' {
  interface Request {
    /** the tenant of the sign-in being completed: its hash tag goes into the new session id */
    signInTenant?: string;
  }
}

export function relayBase(config: Config): string {
  return config.publicUrl.href.replace(/\/+$/, '');
}

export function ssoRouter(deps: SsoDeps): Router {
  const { config, sessions, idps, mirror, metrics, now } = deps;
  const base = relayBase(config);
  const https = config.publicUrl.protocol === 'https:';
  const callbackUrl = `${base}/sso/callback`;
  const loginUrl = config.unifiedLoginUrl.replace('{appId}', encodeURIComponent(config.appId));
  const router = express.Router();

  const sessionMiddleware = session({
    name: config.session.cookieName,
    secret: config.sessionSecrets,
    store: new RedisStore({
      client: connectRedisClient(deps.store),
      prefix: sessions.key(''),
      ttl: (s: session.SessionData) => sessions.ttlSeconds(s.login),
    }),
    genid: (req) => sessions.newId(req.signInTenant ?? '_'),
    resave: false,
    saveUninitialized: false,
    rolling: false,
    unset: 'destroy',
    // Behind the TLS-terminating proxy that an https PUBLIC_URL implies.
    proxy: https ? true : undefined,
    cookie: {
      httpOnly: true,
      sameSite: 'lax',
      secure: https,
      path: '/',
      maxAge: config.session.absoluteSeconds * 1000,
    },
  });

  const cookieOptions = { httpOnly: true, sameSite: 'lax' as const, secure: https, path: '/sso' };

  router.get('/sso/assets/relay.css', (_req, res) => {
    res.type('text/css').setHeader('Cache-Control', 'public, max-age=3600');
    res.sendFile(stylesheetPath.pathname);
  });

  // With an https PUBLIC_URL our cookies are Secure, and express-session silently drops them
  // on a request that did not arrive over TLS (or through a proxy saying X-Forwarded-Proto: https).
  // Fail loudly instead of sending the user round in circles.
  const transportOk = (req: Request) =>
    !https || (req.socket as { encrypted?: boolean }).encrypted === true || forwardedProto(req) === 'https';

  router.get('/sso/login', (req, res) => {
    if (!transportOk(req)) {
      req.log.error(
        'PUBLIC_URL is https but this request came over plain http without X-Forwarded-Proto: https',
      );
      return sendFailure(req, res, 'insecure_transport');
    }
    const returnTo = safeReturnTo(req.query.returnTo, base) ?? undefined;
    const pending: Pending = {
      ...(returnTo ? { returnTo } : {}),
      nonce: randomBytes(16).toString('base64url'),
      at: now(),
    };
    res.cookie(PENDING_COOKIE, signValue(pending, config.sessionSecrets), {
      ...cookieOptions,
      maxAge: PENDING_MAX_AGE_MS,
    });
    // Built literally: the unified login reads its parameters from the fragment.
    res.status(302).setHeader('Location', loginUrl);
    res.setHeader('Cache-Control', 'no-store');
    res.end();
  });

  router.get('/sso/callback', sessionMiddleware, async (req, res) => {
    const fail = (failure: Failure, detail?: string) => {
      metrics.logins.inc({ outcome: failure });
      sendFailure(req, res, failure, detail);
    };
    if (!transportOk(req)) {
      req.log.error(
        'PUBLIC_URL is https but this request came over plain http without X-Forwarded-Proto: https',
      );
      return fail('insecure_transport');
    }
    const code = typeof req.query.code === 'string' ? req.query.code : '';
    // One seed page names it tenant_id; the unified login sends `tenant` (contract §4).
    const tenantParam = req.query.tenant ?? req.query.tenant_id;
    const tenantId = typeof tenantParam === 'string' ? tenantParam : '';
    if (!code || code.length > 2048 || !tenantId || tenantId.length > 64) return fail('bad_request');
    notes(res).fields = { tenantId };

    const pending = unsignValue<Pending>(
      cookieValue(req.get('cookie'), PENDING_COOKIE),
      config.sessionSecrets,
    );
    const pendingValid = pending && now() - pending.at < PENDING_MAX_AGE_MS ? pending : null;
    res.clearCookie(PENDING_COOKIE, cookieOptions);

    let signedIn: SignedIn;
    try {
      const { tenant, config: idp } = await idps.resolve(tenantId);
      const grant = await idps.exchangeCode(idp, code, callbackUrl);
      const info = await idps.userinfo(idp, grant.accessToken);
      // The callback's tenant is untrusted input; the identity server's word wins when given.
      if (info.tenant && info.tenant !== tenantId)
        return fail('code_rejected', 'userinfo names another tenant');
      notes(res).fields = { tenantId, userName: info.userName };

      const decision = await mirror.authorize(tenantId, config.appId, info.userName);
      if (decision.reason === 'tenant_unknown') return fail('unknown_tenant');
      if (decision.reason === 'user_disabled') return fail('user_disabled');
      if (decision.reason === 'instance_frozen' || decision.reason === 'instance_released')
        return fail(decision.reason);
      if (!decision.allowed) return fail('not_authorized', decision.reason);

      const existing = req.session.login;
      if (
        !pendingValid &&
        existing &&
        (existing.tenantId !== tenantId || existing.userName !== info.userName)
      ) {
        metrics.logins.inc({ outcome: 'session_conflict' });
        return sendPage(res, 409, 'session-conflict', {
          current: existing.userName,
          incoming: info.userName,
          home: config.postLoginPath,
          reference: req.reqId,
        });
      }
      const at = now();
      signedIn = {
        tenantId,
        appId: config.appId,
        userName: info.userName,
        domainName: tenant.domainName,
        instanceId: tenant.instanceIds[0] ?? '',
        profile: { name: info.name, email: info.email, mobile: info.mobile },
        loginAt: at,
        absoluteExpiresAt: at + config.session.absoluteSeconds * 1000,
        tokens: { v: 0, access: '', expiresAt: 0 },
      };
      req.signInTenant = tenantId;
      await promisify((cb) => req.session.regenerate(cb));
      signedIn.tokens = sessions.sealTokens(req.sessionID, grant, 1);
    } catch (error) {
      if (!(error instanceof IdpError)) throw error;
      const f = error.failure;
      if (f.kind === 'unknown_tenant' || f.kind === 'no_client') return fail(f.kind);
      if (f.kind === 'rejected') return fail('code_rejected', `${f.status} ${f.error}`);
      return fail('idp_unavailable', f.detail);
    }
    if (!(await sessions.register(req.sessionID, signedIn))) {
      // The tenant was blocked between the check above and now: no session is kept.
      await promisify((cb) => req.session.destroy(cb));
      const decision = await mirror.authorize(tenantId, config.appId, signedIn.userName);
      return fail(
        decision.reason === 'instance_frozen' || decision.reason === 'instance_released'
          ? decision.reason
          : 'not_authorized',
      );
    }
    req.session.login = signedIn;
    await promisify((cb) => req.session.save(cb));
    metrics.logins.inc({ outcome: 'success' });
    res.setHeader('Cache-Control', 'no-store');
    const returnTo = pendingValid?.returnTo ?? config.postLoginPath;
    if (config.handoffUrl) {
      // The seller app is on another origin: it trades this ticket for the session, server-to-server.
      const target = new URL(config.handoffUrl);
      target.searchParams.set('ticket', await deps.handoff.issue(req.sessionID));
      target.searchParams.set('returnTo', returnTo);
      return res.redirect(302, target.href);
    }
    res.redirect(302, returnTo);
  });

  const signOut = async (req: Request, res: Response) => {
    const login = req.session?.login;
    let target = `${base}/sso/logged-out`;
    if (login) {
      const tenant = await mirror.tenant(login.tenantId).catch(() => null);
      const domainName = tenant?.domainName ?? login.domainName;
      await sessions.end(req.sessionID, login);
      // The identity server's own session ends only in the browser (front-channel, §5).
      target = `${domainName}/api/v1/logout?redirect_url=${encodeURIComponent(`${base}/sso/logged-out`)}`;
      notes(res).fields = { tenantId: login.tenantId, userName: login.userName };
    }
    if (req.session) await promisify((cb) => req.session.destroy(cb));
    res.clearCookie(config.session.cookieName, { httpOnly: true, sameSite: 'lax', secure: https, path: '/' });
    res.setHeader('Cache-Control', 'no-store');
    res.redirect(302, target);
  };

  // The seller app's own origin may send the browser here to sign out (hand-off deployments).
  const trustedOrigins = [config.publicUrl.origin, ...(config.handoffUrl ? [config.handoffUrl.origin] : [])];

  router.post('/sso/logout', sessionMiddleware, async (req, res) => {
    if (!sameOrigin(req, trustedOrigins)) return sendFailure(req, res, 'cross_site');
    await signOut(req, res);
  });

  router.get('/sso/logout', sessionMiddleware, async (req, res) => {
    // A top-level GET from another site carries our Lax cookie: ask instead of signing out.
    const site = req.get('sec-fetch-site');
    const referer = originOf(req.get('referer'));
    const fromApp = referer !== null && trustedOrigins.includes(referer);
    if ((site === 'cross-site' || site === 'same-site') && !fromApp)
      return sendPage(res, 200, 'confirm-sign-out', { home: config.postLoginPath });
    await signOut(req, res);
  });

  router.get('/sso/logged-out', (_req, res) => {
    sendPage(res, 200, 'signed-out');
  });

  return router;
}

function forwardedProto(req: Request): string | undefined {
  return req.get('x-forwarded-proto')?.split(',')[0]?.trim().toLowerCase();
}

function originOf(url: string | undefined): string | null {
  try {
    return url ? new URL(url).origin : null;
  } catch {
    return null;
  }
}

function sameOrigin(req: Request, origins: readonly string[]): boolean {
  const given = req.get('origin');
  if (given) return origins.includes(given);
  const site = req.get('sec-fetch-site');
  return site === undefined || site === 'same-origin' || site === 'none';
}

function promisify(run: (cb: (err?: unknown) => void) => void): Promise<void> {
  return new Promise((resolve, reject) =>
    run((err) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve())),
  );
}
