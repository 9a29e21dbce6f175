/**
 * The mirror's decision: the identity server knowing a user is not enough, the marketplace must
 * have authorized them for the app (authSync), enabled, and (INSTANCE_GATING) their tenant must
 * hold an instance that is neither frozen nor released.
 */
import { isGateReason } from '../../mirror/gate.js';
import type { AuthorizeReason } from '../../vocabulary.js';
import type { Failure } from '../pages.js';
import { fail, found, type Answered, type CallbackContext } from './context.js';

export async function authorization(ctx: CallbackContext): Promise<Answered | void> {
  const { mirror, config } = ctx.deps;
  const decision = await mirror.authorize(found(ctx, 'tenantId'), config.appId, found(ctx, 'user').userName);
  if (decision.allowed) return;
  const page = refusalPage(decision.reason);
  return fail(ctx, page, page === 'not_authorized' ? decision.reason : undefined);
}

/** The sign-in page for a reason the mirror refuses a user with (here, and when indexing the session). */
export function refusalPage(reason: AuthorizeReason): Failure {
  if (reason === 'tenant_unknown') return 'unknown_tenant';
  // deleted since the identity-server step found it
  if (reason === 'app_unknown') return 'no_client';
  if (reason === 'user_disabled') return 'user_disabled';
  // Its own page: the user can do nothing, the administrator must renew or buy again.
  if (isGateReason(reason)) return reason;
  return 'not_authorized';
}
