/** Who signed in, from the identity server, and in which tenant. */
import { notes } from '../../ops/log.js';
import { fail, found, idpFailed, type Answered, type CallbackContext } from './context.js';

export async function userinfo(ctx: CallbackContext): Promise<Answered | void> {
  const tenantId = found(ctx, 'tenantId');
  try {
    // Counted, never refused: the code is spent already (idpLimit.ts refused before it was).
    await ctx.deps.limits.idp.count(tenantId);
    ctx.user = await ctx.deps.idps.userinfo(found(ctx, 'idp'), found(ctx, 'grant').accessToken);
  } catch (error) {
    return idpFailed(ctx, error);
  }
  // The callback's tenant is untrusted input; the identity server's word wins when given.
  if (ctx.user.tenant && ctx.user.tenant !== tenantId)
    return fail(ctx, 'code_rejected', 'userinfo names another tenant');
  notes(ctx.res).fields = { tenantId, userName: ctx.user.userName };
}
