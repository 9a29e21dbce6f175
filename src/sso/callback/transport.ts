/**
 * With an https PUBLIC_URL our cookies are Secure, and express-session silently drops them on a
 * request that did not arrive over TLS (or through a proxy saying X-Forwarded-Proto: https).
 * Fail loudly instead of sending the user round in circles.
 */
import type { Request } from 'express';
import type { Config } from '../../config.js';
import { secureCookies } from '../cookies.js';
import { fail, type Answered, type CallbackContext } from './context.js';

export const INSECURE_TRANSPORT_LOG =
  'PUBLIC_URL is https but this request came over plain http without X-Forwarded-Proto: https';

/** Also asked by /sso/login, whose pending cookie is Secure too. */
export function transportOk(req: Request, config: Config): boolean {
  if (!secureCookies(config)) return true;
  return (req.socket as { encrypted?: boolean }).encrypted === true || forwardedProto(req) === 'https';
}

function forwardedProto(req: Request): string | undefined {
  return req.get('x-forwarded-proto')?.split(',')[0]?.trim().toLowerCase();
}

export async function transport(ctx: CallbackContext): Promise<Answered | void> {
  if (transportOk(ctx.req, ctx.deps.config)) return;
  ctx.req.log.error(INSECURE_TRANSPORT_LOG);
  return fail(ctx, 'insecure_transport');
}
