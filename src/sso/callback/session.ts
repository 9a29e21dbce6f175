/**
 * The signed-in session: a new id at every sign-in (no fixation), carrying the tenant's hash tag
 * (sessions.ts), tokens sealed to that id, indexed under its user before it is saved so it can
 * always be found to be ended.
 */
import type { SignedIn } from '../sessions.js';
import { refusalPage } from './authorization.js';
import { fail, found, promisify, type Answered, type CallbackContext } from './context.js';

export async function session(ctx: CallbackContext): Promise<Answered | void> {
  const { req, deps } = ctx;
  const { config, sessions, metrics } = deps;
  const tenantId = found(ctx, 'tenantId');
  const tenant = found(ctx, 'tenant');
  const user = found(ctx, 'user');
  const at = deps.now();
  const signedIn: SignedIn = {
    tenantId,
    appId: config.appId,
    userName: user.userName,
    domainName: tenant.domainName,
    instanceId: tenant.instanceIds[0] ?? '',
    profile: { name: user.name, email: user.email, mobile: user.mobile },
    loginAt: at,
    absoluteExpiresAt: at + config.session.absoluteSeconds * 1000,
    tokens: { v: 0, access: '', expiresAt: 0 },
  };
  req.signInTenant = tenantId;
  // A browser signed in already (as the same user: sessionConflict let it through) has that
  // session ended first, with its event: regenerate() alone would drop it without one.
  const previous = req.session?.login;
  if (previous) await sessions.end(req.sessionID, previous, 'logout');
  await promisify((cb) => req.session.regenerate(cb));
  signedIn.tokens = sessions.sealTokens(req.sessionID, found(ctx, 'grant'), 1);
  const registered = await sessions.register(req.sessionID, signedIn);
  if (registered !== 'registered') {
    // The tenant was blocked, or its app record deleted, between the authorization step and
    // now: no session is kept, and the page says why, as the authorization step would have.
    await promisify((cb) => req.session.destroy(cb));
    return fail(ctx, refusalPage(registered));
  }
  req.session.login = signedIn;
  await promisify((cb) => req.session.save(cb));
  metrics.logins.inc({ outcome: 'success' });
}
