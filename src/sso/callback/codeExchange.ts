/**
 * The authorization code for tokens at the tenant's own token endpoint. The code is single-use
 * and bound to the tenant's client, so a replayed code, or one sent with another tenant's id,
 * is refused there (code_rejected).
 */
import { found, idpFailed, type Answered, type CallbackContext } from './context.js';

export async function codeExchange(ctx: CallbackContext): Promise<Answered | void> {
  const { idps, config } = ctx.deps;
  try {
    // The redirect_uri registered with the app credential, sent as the doc's example does.
    ctx.grant = await idps.exchangeCode(
      found(ctx, 'idp'),
      found(ctx, 'code'),
      `${config.publicBase}/sso/callback`,
    );
  } catch (error) {
    return idpFailed(ctx, error);
  }
}
