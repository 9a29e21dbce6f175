/**
 * The tenant's identity server is not called past its per-tenant limit (limits/rateLimits.ts):
 * the code exchange is its first call of the sign-in, so the sign-in is refused here, with the
 * 429 page and `Retry-After`, before the code is spent. Only a tenant the mirror knows, with a
 * client (identityServer, before), is counted.
 */
import { RateLimitedError } from '../../limits/rateLimits.js';
import { fail, found, type Answered, type CallbackContext } from './context.js';

export async function idpLimit(ctx: CallbackContext): Promise<Answered | void> {
  try {
    await ctx.deps.limits.idp.take(found(ctx, 'tenantId'));
  } catch (error) {
    if (!(error instanceof RateLimitedError)) throw error;
    ctx.res.setHeader('Retry-After', String(error.retryAfterSeconds));
    return fail(ctx, 'rate_limited', 'idp limit');
  }
}
