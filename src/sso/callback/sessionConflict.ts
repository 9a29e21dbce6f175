/**
 * A browser already signed in as someone else: the relay never switches accounts silently. It
 * shows who is signed in and offers sign-out; the session is left as it was. This holds whatever
 * the cookies say: a pending sign-in proves nothing about intent, because any page can have the
 * browser open /sso/login and get one, then send it a callback for the attacker's account.
 */
import { sendPage } from '../pages.js';
import { ANSWERED, found, type Answered, type CallbackContext } from './context.js';

export async function sessionConflict(ctx: CallbackContext): Promise<Answered | void> {
  const { req, res, deps } = ctx;
  const existing = req.session.login;
  if (!existing) return;
  const tenantId = found(ctx, 'tenantId');
  const incoming = found(ctx, 'user').userName;
  if (existing.tenantId === tenantId && existing.userName === incoming) return;
  deps.metrics.logins.inc({ outcome: 'session_conflict' });
  sendPage(res, 409, 'session-conflict', {
    current: existing.userName,
    incoming,
    home: deps.config.postLoginPath,
    reference: req.reqId,
  });
  return ANSWERED;
}
