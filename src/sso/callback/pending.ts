/**
 * The pending sign-in: /sso/login sets a short-lived signed cookie, and `returnTo` travels only
 * in it, never in the callback's query, so the callback is no open redirect. A callback without
 * a valid one is taken as begun elsewhere (the enterprise workbench) and lands on
 * POST_LOGIN_PATH.
 */
import type { CookieOptions, Response } from 'express';
import type { Config } from '../../config.js';
import { cookieValue, relayCookie } from '../cookies.js';
import { signValue, unsignValue } from '../signedValue.js';
import type { Answered, CallbackContext, Pending } from './context.js';

export const PENDING_COOKIE = 'relay.pending';
export const PENDING_MAX_AGE_MS = 10 * 60 * 1000;

/** Scoped to /sso: only the callback needs it. */
function pendingCookieOptions(config: Config): CookieOptions {
  return relayCookie(config, '/sso');
}

/** Called by /sso/login. */
export function setPending(res: Response, config: Config, pending: Pending): void {
  res.cookie(PENDING_COOKIE, signValue(pending, config.sessionKeys.pendingCookie), {
    ...pendingCookieOptions(config),
    maxAge: PENDING_MAX_AGE_MS,
  });
}

export async function pending(ctx: CallbackContext): Promise<Answered | void> {
  const { req, res, deps } = ctx;
  const value = unsignValue<Pending>(
    cookieValue(req.get('cookie'), PENDING_COOKIE),
    deps.config.sessionKeys.pendingCookie,
  );
  // The cookie's own max-age is the browser's word; the signed time is ours.
  ctx.pending = value && deps.now() - value.at < PENDING_MAX_AGE_MS ? value : null;
  // Used once, whatever happens next.
  res.clearCookie(PENDING_COOKIE, pendingCookieOptions(deps.config));
}
