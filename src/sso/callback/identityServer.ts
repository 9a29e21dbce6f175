/**
 * The tenant's identity server: its domainName from tenantSync and its client for KOO_APP_ID
 * from applicationSync. A tenant the relay was never told about, or one without a client, fails
 * here, before any call leaves the relay.
 */
import { found, idpFailed, type Answered, type CallbackContext } from './context.js';

export async function identityServer(ctx: CallbackContext): Promise<Answered | void> {
  try {
    const { tenant, config } = await ctx.deps.idps.resolve(found(ctx, 'tenantId'));
    ctx.tenant = tenant;
    ctx.idp = config;
  } catch (error) {
    return idpFailed(ctx, error);
  }
}
