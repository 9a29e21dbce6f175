/**
 * The mirror's decision: the identity server knowing a user is not enough, the marketplace must
 * have authorized them for the app (authSync), enabled, and (INSTANCE_GATING) their tenant must
 * hold an instance that is neither frozen nor released.
 */
import { isGateReason } from '../../mirror/gate.js';
import { fail, found, type Answered, type CallbackContext } from './context.js';

export async function authorization(ctx: CallbackContext): Promise<Answered | void> {
  const { mirror, config } = ctx.deps;
  const decision = await mirror.authorize(found(ctx, 'tenantId'), config.appId, found(ctx, 'user').userName);
  if (decision.reason === 'tenant_unknown') return fail(ctx, 'unknown_tenant');
  // deleted since the identity-server step found it
  if (decision.reason === 'app_unknown') return fail(ctx, 'no_client');
  if (decision.reason === 'user_disabled') return fail(ctx, 'user_disabled');
  // Its own page: the user can do nothing, the administrator must renew or buy again.
  if (isGateReason(decision.reason)) return fail(ctx, decision.reason);
  if (!decision.allowed) return fail(ctx, 'not_authorized', decision.reason);
}
