/**
 * Express middleware for seller apps: require a signed-in relay session, optionally a role.
 *
 *   app.get('/admin', requireRelaySession({ client, role: 'admin' }), (req, res) => …req.relaySession…)
 *
 * Browsers without a session are sent to the relay's sign-in (with `returnTo`), API callers get
 * 401 JSON. The session is named by the browser's Cookie header (relay on the same site), or
 * by whatever `sessionRef` reads (an id the app stored after a cross-origin ticket hand-off).
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { RelayError, type RelayClient, type RelaySession, type SessionRef } from './relayClient.js';

declare module 'express-serve-static-core' {
  interface Request {
    relaySession?: RelaySession;
    relaySessionRef?: SessionRef;
  }
}

export interface RequireRelaySessionOptions {
  client: RelayClient;
  /** 'admin' admits KooGallery enterprise administrators only; 'user' (default) everyone authorized. */
  role?: 'user' | 'admin';
  /** Where the relay's sign-in starts, as the browser sees it. Default `/sso/login`. */
  loginPath?: string;
  /** How to name the session. Default: the request's Cookie header. */
  sessionRef?: (req: Request) => SessionRef | null;
}

const wantsHtml = (req: Request) => (req.get('accept') ?? '').includes('text/html');

export function requireRelaySession(options: RequireRelaySessionOptions): RequestHandler {
  const loginPath = options.loginPath ?? '/sso/login';
  const refOf =
    options.sessionRef ?? ((req: Request) => (req.get('cookie') ? { cookie: req.get('cookie')! } : null));
  return async (req: Request, res: Response, next: NextFunction) => {
    const ref = refOf(req);
    let session: RelaySession | null = null;
    try {
      session = ref ? await options.client.session(ref) : null;
    } catch (error) {
      const status = error instanceof RelayError && error.status >= 500 ? 503 : 502;
      res
        .status(status)
        .json({ error: 'relay_unavailable', message: 'Sign-in cannot be checked right now; retry shortly.' });
      return;
    }
    if (!session) {
      if (wantsHtml(req) && req.method === 'GET') {
        res.redirect(302, `${loginPath}?returnTo=${encodeURIComponent(req.originalUrl)}`);
      } else {
        res.status(401).json({ error: 'no_session', message: 'Sign in first.' });
      }
      return;
    }
    if (options.role === 'admin' && session.user.role !== 'admin') {
      res.status(403);
      if (wantsHtml(req))
        res
          .type('html')
          .send(
            '<!doctype html><meta charset="utf-8"><title>403</title><h1>仅限管理员 / Administrators only</h1>',
          );
      else res.json({ error: 'forbidden', message: 'This needs the admin role.' });
      return;
    }
    req.relaySession = session;
    req.relaySessionRef = ref!;
    next();
  };
}
