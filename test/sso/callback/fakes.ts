/**
 * A minimal context for running one callback step at a time, without an HTTP server: a request
 * with a query, headers and a session; a response recording what was sent; deps whose parts a
 * test replaces. The real config (testEnv) and the real Metrics and page rendering are used, so
 * what a step answers is what a browser would get.
 */
import type { CookieOptions, Request, Response } from 'express';
import type * as oidc from 'openid-client';
import { loadConfig } from '../../../src/config.js';
import type { AuthorizeAnswer } from '../../../src/mirror/mirror.js';
import type { TenantRecord } from '../../../src/mirror/records.js';
import { Metrics } from '../../../src/ops/metrics.js';
import type { CallbackContext, CallbackDeps } from '../../../src/sso/callback/context.js';
import type { TokenGrant, UserInfo } from '../../../src/sso/idp.js';
import type { SignedIn } from '../../../src/sso/sessions.js';
import { APP_ID, testEnv } from '../../support/relay.js';

export const TENANT_ID = '68cbc86abc2018ab880d92f36422fa0e';
export const NOW = Date.UTC(2026, 2, 1, 9, 0, 0);

export const tenantRecord = (overrides: Partial<TenantRecord> = {}): TenantRecord => ({
  tenantId: TENANT_ID,
  tenantCode: 'acme',
  name: 'Acme 科技',
  domainName: 'https://acme.idp.example',
  testFlag: 0,
  instanceIds: ['inst-1'],
  orderIds: ['CS0001'],
  timeStamp: '20260301090000000',
  at: NOW,
  ...overrides,
});

export const grant = (): TokenGrant => ({
  accessToken: 'access-token',
  refreshToken: 'refresh-token',
  expiresAt: NOW + 7200_000,
});

export const userInfo = (overrides: Partial<UserInfo> = {}): UserInfo => ({
  userName: 'alice',
  name: '爱丽丝',
  email: 'alice@acme.example',
  tenant: TENANT_ID,
  ...overrides,
});

/** Stands in for openid-client's Configuration: the steps only pass it along. */
export const idpConfig = { fake: 'configuration' } as unknown as oidc.Configuration;

export const allowed: AuthorizeAnswer = { allowed: true, reason: 'ok' };

export interface FakeResponse {
  statusCode: number;
  headers: Record<string, string>;
  body?: string;
  location?: string;
  cookies: { name: string; value: string; options: CookieOptions }[];
  cleared: { name: string; options: CookieOptions }[];
  locals: Record<string, unknown>;
}

export interface FakeSession {
  regenerated: number;
  destroyed: boolean;
  saved: SignedIn | undefined;
}

export interface Fake {
  ctx: CallbackContext;
  req: Request;
  res: FakeResponse;
  session: FakeSession;
  deps: CallbackDeps;
  metrics: Metrics;
  errors: string[];
}

export interface FakeOptions {
  query?: Record<string, unknown>;
  headers?: Record<string, string>;
  env?: Record<string, string | undefined>;
  /** the browser's existing session, before the callback */
  login?: SignedIn;
  deps?: Partial<CallbackDeps>;
  /** what earlier steps found */
  found?: Partial<Omit<CallbackContext, 'req' | 'res' | 'deps'>>;
  encrypted?: boolean;
}

export function fake(options: FakeOptions = {}): Fake {
  const res: FakeResponse & Record<string, unknown> = {
    statusCode: 200,
    headers: {},
    cookies: [],
    cleared: [],
    locals: {},
    status(code: number) {
      res.statusCode = code;
      return res;
    },
    type(type: string) {
      res.headers['content-type'] = type;
      return res;
    },
    setHeader(name: string, value: string) {
      res.headers[name.toLowerCase()] = String(value);
      return res;
    },
    send(body: string) {
      res.body = body;
      return res;
    },
    redirect(status: number, url: string) {
      res.statusCode = status;
      res.location = url;
    },
    cookie(name: string, value: string, options: CookieOptions) {
      res.cookies.push({ name, value, options });
      return res;
    },
    clearCookie(name: string, options: CookieOptions) {
      res.cleared.push({ name, options });
      return res;
    },
  };

  const session: FakeSession = { regenerated: 0, destroyed: false, saved: undefined };
  const errors: string[] = [];
  const headers = Object.fromEntries(
    Object.entries(options.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
  );
  let ids = 0;
  const req = {
    query: options.query ?? {},
    reqId: 'req-fake-0001',
    get: (name: string) => headers[name.toLowerCase()],
    socket: { encrypted: options.encrypted },
    log: { error: (message: string) => errors.push(message) },
    sessionID: 'sid-before',
    session: {
      ...(options.login ? { login: options.login } : {}),
      // express-session: a new id and an empty session
      regenerate(cb: (err?: unknown) => void) {
        session.regenerated++;
        req.sessionID = `sid-new-${++ids}`;
        delete req.session.login;
        cb();
      },
      destroy(cb: (err?: unknown) => void) {
        session.destroyed = true;
        cb();
      },
      save(cb: (err?: unknown) => void) {
        session.saved = req.session.login;
        cb();
      },
    } as { login?: SignedIn } & Record<string, unknown>,
  };

  const metrics = new Metrics();
  const deps: CallbackDeps = {
    config: loadConfig(testEnv(options.env)),
    mirror: { authorize: async () => allowed },
    sessions: {
      sealTokens: (sid, g, v) => ({ v, access: `sealed:${sid}:${g.accessToken}`, expiresAt: g.expiresAt }),
      register: async () => 'registered' as const,
      end: async () => undefined,
    },
    idps: {
      resolve: async () => ({ tenant: tenantRecord(), config: idpConfig }),
      exchangeCode: async () => grant(),
      userinfo: async () => userInfo(),
    },
    handoff: { issue: async () => 'ticket-1' },
    metrics,
    limits: { idp: { take: async () => {}, count: async () => {} } },
    now: () => NOW,
    ...options.deps,
  };
  const ctx: CallbackContext = {
    req: req as unknown as Request,
    res: res as unknown as Response,
    deps,
    ...options.found,
  };
  return { ctx, req: ctx.req, res, session, deps, metrics, errors };
}

/** The failure a page names (`data-failure`), or undefined when none was rendered. */
export const failureOf = (res: FakeResponse) => /data-failure="([^"]*)"/.exec(res.body ?? '')?.[1];

export async function logins(metrics: Metrics, outcome: string): Promise<number> {
  return (await metrics.logins.get()).values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
}

/** A browser's existing session, as the session step writes it. */
export const signedIn = (overrides: Partial<SignedIn> = {}): SignedIn => ({
  tenantId: TENANT_ID,
  appId: APP_ID,
  userName: 'alice',
  domainName: 'https://acme.idp.example',
  instanceId: 'inst-1',
  profile: {},
  loginAt: NOW - 60_000,
  absoluteExpiresAt: NOW + 3600_000,
  tokens: { v: 1, access: 'sealed', expiresAt: NOW + 3600_000 },
  ...overrides,
});
