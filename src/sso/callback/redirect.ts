/**
 * Where the signed-in browser goes: the pending sign-in's returnTo, else POST_LOGIN_PATH. With
 * HANDOFF_URL the seller app is on another origin, where the relay's cookie is no use: the
 * browser goes there with a one-time ticket the app trades for the session, server-to-server.
 */
import { ANSWERED, type Answered, type CallbackContext } from './context.js';

export async function redirect(ctx: CallbackContext): Promise<Answered | void> {
  const { req, res, deps } = ctx;
  const returnTo = ctx.pending?.returnTo ?? deps.config.postLoginPath;
  res.setHeader('Cache-Control', 'no-store');
  const handoffUrl = deps.config.handoffUrl;
  if (handoffUrl) {
    const target = new URL(handoffUrl);
    target.searchParams.set('ticket', await deps.handoff.issue(req.sessionID));
    target.searchParams.set('returnTo', returnTo);
    res.redirect(302, target.href);
  } else res.redirect(302, returnTo);
  return ANSWERED;
}
