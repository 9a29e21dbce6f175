/**
 * GET /sso/callback as a list of small steps over one context, in the manner of
 * node-oidc-provider's lib/actions/authorization/. Each step checks one thing or does one
 * thing; the first that answers the request ends the flow. The last always answers.
 *
 * CSRF without `state`: the unified login returns only `code` and `tenant`, so the callback
 * cannot tie a response to a request. What stands in for it: the signed pending-sign-in cookie
 * (pending.ts) carries returnTo; a callback never switches an existing session to another user
 * (sessionConflict.ts); the code is single-use and bound to the tenant's client
 * (codeExchange.ts); the session id is new at every sign-in (session.ts).
 * Remaining risk, accepted and documented: a browser with no session can be signed in to an
 * attacker's account (login CSRF) through a forged workbench-style callback.
 */
import type { Request, Response } from 'express';
import { authorization } from './authorization.js';
import { codeExchange } from './codeExchange.js';
import { ANSWERED, type CallbackContext, type CallbackDeps, type Step } from './context.js';
import { identityServer } from './identityServer.js';
import { idpLimit } from './idpLimit.js';
import { parameters } from './parameters.js';
import { pending } from './pending.js';
import { redirect } from './redirect.js';
import { session } from './session.js';
import { sessionConflict } from './sessionConflict.js';
import { transport } from './transport.js';
import { userinfo } from './userinfo.js';

export const callbackSteps: readonly Step[] = [
  transport,
  parameters,
  pending,
  identityServer,
  idpLimit,
  codeExchange,
  userinfo,
  authorization,
  sessionConflict,
  session,
  redirect,
];

export async function runSteps(ctx: CallbackContext, steps: readonly Step[] = callbackSteps): Promise<void> {
  for (const step of steps) if ((await step(ctx)) === ANSWERED) return;
  throw new Error('sign-in callback: no step answered the request');
}

/** The route handler; the session middleware runs before it. */
export function callbackHandler(deps: CallbackDeps): (req: Request, res: Response) => Promise<void> {
  return (req, res) => runSteps({ req, res, deps });
}
