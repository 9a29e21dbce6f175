/**
 * Browser sign-in through KooGallery's unified login (contract §4, joint-login.md §3, §5):
 * /sso/login, the callback (its steps are in ./callback/, with how it stands in for the
 * missing `state`), sign-out and the signed-out page.
 */
import { randomBytes } from 'node:crypto';
import express, {
  type ErrorRequestHandler,
  type NextFunction,
  type Request,
  type Response,
  type Router,
} from 'express';
import session from 'express-session';
import { RedisStore } from 'connect-redis';
import type { Config } from '../config.js';
import type { RateLimits } from '../limits/rateLimits.js';
import type { Mirror } from '../mirror/mirror.js';
import type { Metrics } from '../ops/metrics.js';
import { notes } from '../ops/log.js';
import type { Handoff } from './handoff.js';
import type { IdentityServers } from './idp.js';
import { sendFailure, sendPage, stylesheetPath } from './pages.js';
import { safeReturnTo } from './returnTo.js';
import { sessionRecordSerializer } from './sessionCookie.js';
import { storeForConnectRedis, type Sessions } from './sessions.js';
import { StoreUnavailableError, type Store } from '../store/store.js';
import { callbackHandler } from './callback/index.js';
import { promisify } from './callback/context.js';
import { setPending } from './callback/pending.js';
import { INSECURE_TRANSPORT_LOG, transportOk } from './callback/transport.js';
import { relayCookie, secureCookies } from './cookies.js';

export interface SsoDeps {
  config: Config;
  store: Store;
  mirror: Mirror;
  sessions: Sessions;
  idps: IdentityServers;
  handoff: Handoff;
  metrics: Metrics;
  /** per address on /sso/login and the callback; per tenant on identity-server calls */
  limits: Pick<RateLimits, 'login' | 'callback' | 'idp'>;
  now: () => number;
}

export function ssoRouter(deps: SsoDeps): Router {
  const { config, sessions, mirror, now } = deps;
  const base = config.publicBase;
  const loginUrl = config.unifiedLoginUrl.replace('{appId}', encodeURIComponent(config.appId));
  const router = express.Router();

  // The cookie's name and keys and the record's format are the ones the seller API reads
  // sessions with (sessionCookie.ts).
  const sessionMiddleware = session({
    name: sessions.cookie.name,
    secret: sessions.cookie.secrets,
    store: new RedisStore({
      client: storeForConnectRedis(deps.store),
      prefix: sessions.key(''),
      ttl: (s: session.SessionData) => sessions.ttlSeconds(s.login),
      serializer: sessionRecordSerializer,
    }),
    genid: (req) => sessions.newId(req.signInTenant ?? '_'),
    resave: false,
    saveUninitialized: false,
    rolling: false,
    unset: 'destroy',
    // Behind the TLS-terminating proxy that an https PUBLIC_URL implies.
    proxy: secureCookies(config) ? true : undefined,
    cookie: { ...relayCookie(config, '/'), maxAge: config.session.absoluteSeconds * 1000 },
  });

  router.get('/sso/assets/relay.css', (_req, res) => {
    res.type('text/css').setHeader('Cache-Control', 'public, max-age=3600');
    res.sendFile(stylesheetPath.pathname);
  });

  router.get('/sso/login', deps.limits.login, (req, res) => {
    if (!transportOk(req, config)) {
      req.log.error(INSECURE_TRANSPORT_LOG);
      return sendFailure(req, res, 'insecure_transport');
    }
    const returnTo = safeReturnTo(req.query.returnTo, base) ?? undefined;
    setPending(res, config, {
      ...(returnTo ? { returnTo } : {}),
      nonce: randomBytes(16).toString('base64url'),
      at: now(),
    });
    // Built literally: the unified login reads its parameters from the fragment.
    res.status(302).setHeader('Location', loginUrl);
    res.setHeader('Cache-Control', 'no-store');
    res.end();
  });

  // Limited before the session is read or anything is called.
  router.get('/sso/callback', deps.limits.callback, sessionMiddleware, callbackHandler(deps));

  const signOut = async (req: Request, res: Response) => {
    const login = req.session?.login;
    let target = `${base}/sso/logged-out`;
    if (login) {
      const tenant = await mirror.tenant(login.tenantId).catch(() => null);
      const domainName = tenant?.domainName ?? login.domainName;
      await sessions.end(req.sessionID, login, 'logout');
      // The identity server's own session ends only in the browser (front-channel, §5).
      target = `${domainName}/api/v1/logout?redirect_url=${encodeURIComponent(`${base}/sso/logged-out`)}`;
      notes(res).fields = { tenantId: login.tenantId, userName: login.userName };
    }
    if (req.session) await promisify((cb) => req.session.destroy(cb));
    res.clearCookie(config.session.cookieName, relayCookie(config, '/'));
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
    // A top-level GET from another site carries our Lax cookie: ask instead of signing out. A
    // missing Sec-Fetch-Site counts as cross-site (old browsers, scripts, some proxies strip it).
    const site = req.get('sec-fetch-site');
    const referer = originOf(req.get('referer'));
    const fromApp = referer !== null && trustedOrigins.includes(referer);
    if (site !== 'same-origin' && site !== 'none' && !fromApp && req.session?.login)
      return sendPage(res, 200, 'confirm-sign-out', { home: config.postLoginPath });
    await signOut(req, res);
  });

  router.get('/sso/logged-out', (_req, res) => {
    sendPage(res, 200, 'signed-out');
  });

  // What no step answered: a store that failed mid-sign-in, or a bug. The browser gets a page,
  // never JSON, and no cookie: express-session would otherwise send one for a session that was
  // regenerated but never saved.
  router.use(((error: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent || !req.path.startsWith('/sso/')) return next(error);
    (req as { session?: unknown }).session = undefined;
    res.setHeader('Cache-Control', 'no-store');
    if (error instanceof StoreUnavailableError) {
      deps.metrics.storeErrors.inc();
      return sendFailure(req, res, 'store_unavailable', error.message);
    }
    req.log.error({ err: error }, 'sign-in route failed');
    sendFailure(req, res, 'internal_error');
  }) as ErrorRequestHandler);

  return router;
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
