/**
 * What the steps of GET /sso/callback share: the request, its response, the relay's parts, and
 * what the steps before found. Each step either answers the request (a failure page, the
 * conflict page, the final redirect) and returns ANSWERED, or returns nothing and the next
 * step runs (index.ts).
 */
import type { Request, Response } from 'express';
import type * as oidc from 'openid-client';
import type { Config } from '../../config.js';
import type { TenantLimit } from '../../limits/rateLimits.js';
import type { Mirror } from '../../mirror/mirror.js';
import type { TenantRecord } from '../../mirror/records.js';
import type { Metrics } from '../../ops/metrics.js';
import type { Handoff } from '../handoff.js';
import { IdpError, type IdentityServers, type TokenGrant, type UserInfo } from '../idp.js';
import { sendFailure, type Failure } from '../pages.js';
import type { Sessions } from '../sessions.js';

declare module 'express-serve-static-core' {
  interface Request {
    /** the tenant of the sign-in being completed: its hash tag goes into the new session id */
    signInTenant?: string;
  }
}

/** Only what the steps call, so a unit test can hand each step a small fake. */
export interface CallbackDeps {
  config: Config;
  mirror: Pick<Mirror, 'authorize'>;
  sessions: Pick<Sessions, 'sealTokens' | 'register' | 'end'>;
  idps: Pick<IdentityServers, 'resolve' | 'exchangeCode' | 'userinfo'>;
  handoff: Pick<Handoff, 'issue'>;
  metrics: Pick<Metrics, 'logins'>;
  /** the per-tenant limit of calls to identity servers */
  limits: { idp: Pick<TenantLimit, 'take' | 'count'> };
  now: () => number;
}

/** The pending sign-in cookie's content (pending.ts). */
export interface Pending {
  returnTo?: string;
  nonce: string;
  at: number;
}

export interface CallbackContext {
  readonly req: Request;
  readonly res: Response;
  readonly deps: CallbackDeps;
  /** found by parameters */
  code?: string;
  tenantId?: string;
  /** found by pending: the sign-in this browser began at /sso/login, null when none is valid */
  pending?: Pending | null;
  /** found by identityServer */
  tenant?: TenantRecord;
  idp?: oidc.Configuration;
  /** found by codeExchange */
  grant?: TokenGrant;
  /** found by userinfo */
  user?: UserInfo;
}

/** Returned by a step that has answered the request: no later step runs. */
export const ANSWERED = Symbol('answered');
export type Answered = typeof ANSWERED;

export type Step = (ctx: CallbackContext) => Promise<Answered | void>;

type Found = 'code' | 'tenantId' | 'tenant' | 'idp' | 'grant' | 'user';

/** What an earlier step found. Missing means the steps are out of order: a bug, not bad input. */
export function found<K extends Found>(ctx: CallbackContext, key: K): NonNullable<CallbackContext[K]> {
  const value = ctx[key];
  if (value === undefined || value === null)
    throw new Error(`sign-in callback: no step before this one found ${key}`);
  return value as NonNullable<CallbackContext[K]>;
}

/** Every failed sign-in is counted by its failure and shown the failure's page. */
export function fail(ctx: CallbackContext, failure: Failure, detail?: string): Answered {
  ctx.deps.metrics.logins.inc({ outcome: failure });
  sendFailure(ctx.req, ctx.res, failure, detail);
  return ANSWERED;
}

/** A failure page for what the identity server (or the mirror behind it) refused; other errors go on up. */
export function idpFailed(ctx: CallbackContext, error: unknown): Answered {
  if (!(error instanceof IdpError)) throw error;
  return fail(ctx, error.page, error.detail);
}

/** express-session's callback methods as promises. */
export function promisify(run: (cb: (err?: unknown) => void) => void): Promise<void> {
  return new Promise((resolve, reject) =>
    run((err) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve())),
  );
}
