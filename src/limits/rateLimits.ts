/**
 * Rate limits (express-rate-limit), counted where the relay's store is (counterStore.ts): on
 * Redis every relay sharing the store and its `REDIS_PREFIX` shares the counts.
 *
 * Per client address (`req.ip`, which follows `TRUST_PROXY`; an IPv6 client by its /56):
 * - `login`: `GET /sso/login`;
 * - `callback`: `GET /sso/callback`, before anything is read or called;
 * - `ticket`: refused hand-off ticket redemptions (`POST /api/v1/session/ticket` answered 4xx);
 *   a good ticket is not counted, but an address over the limit is refused until its window ends;
 * - `api_key`: requests on `/api/v1/*` with a missing or wrong API key. Only those are counted,
 *   and only those are refused: a correct key never reaches the limiter, so a prober on the
 *   app's own network cannot lock the app out (the keys are ≥ 128 bits: the limit bounds the
 *   noise of failing calls, it is not what stops guessing).
 *
 * Per tenant (`idp`): calls to the tenant's identity server (code exchange and userinfo at
 * sign-in, token refresh). A code exchange or a refresh is refused while the tenant is over its
 * limit; a userinfo call is counted but never refused, since it follows a code just spent.
 *
 * Each limit counts in fixed windows of a minute, from a client's first counted request. An
 * answer over the limit is 429 with `Retry-After` (seconds to the window's end): the failure page
 * on `/sso/*`, `{"error":"rate_limited"}` on `/api/v1/*`; `relay_rate_limited_total{limit}`
 * counts it. When the store cannot count (Redis down or slow), the request goes on unlimited,
 * and what it does next meets the store's own outage answer.
 *
 * The marketplace's routes are never limited: KooGallery calls from addresses it does not fix.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { rateLimit, type AugmentedRequest, type Options } from 'express-rate-limit';
import type { Config } from '../config.js';
import { RelayError } from '../errors.js';
import type { Logger } from '../ops/log.js';
import type { Metrics } from '../ops/metrics.js';
import { sendFailure } from '../sso/pages.js';
import { keyPart } from '../store/keys.js';
import type { Store } from '../store/store.js';
import type { Keys } from '../store/keys.js';
import { counterStore, type CounterStore } from './counterStore.js';

export type LimitName = 'login' | 'callback' | 'ticket' | 'api_key' | 'idp';

/** What the seller API says of each limit it can answer with. */
const API_MESSAGES = {
  ticket: 'Too many refused ticket redemptions from this address; retry after the seconds in Retry-After.',
  api_key:
    'Too many requests with a missing or wrong API key from this address; retry after the seconds in Retry-After.',
  idp: "Too many calls to this tenant's identity server for now; retry after the seconds in Retry-After.",
} as const;

/** A request refused by a rate limit: 429 `rate_limited` with `Retry-After`. */
export class RateLimitedError extends RelayError {
  override readonly name = 'RateLimitedError';
  constructor(
    readonly limit: keyof typeof API_MESSAGES,
    retryAfterSeconds: number,
  ) {
    super('rate_limited', API_MESSAGES[limit], { status: 429, expose: true, retryAfterSeconds });
  }
}

/** Whole seconds until `resetTime`, at least 1. */
function secondsUntil(resetTime: Date | undefined, windowMs: number): number {
  const ms = resetTime ? resetTime.getTime() - Date.now() : windowMs;
  return Math.max(1, Math.ceil(ms / 1000));
}

export interface RateLimitsOptions {
  store: Store;
  /** the relay's key layout: relays sharing its REDIS_PREFIX share their counts */
  keys: Keys;
  limits: Config['rateLimits'];
  metrics: Pick<Metrics, 'rateLimited' | 'storeErrors'>;
  logger: Logger;
}

const pass: RequestHandler = (_req, _res, next) => next();

export class RateLimits {
  /** `GET /sso/login`, per address. */
  readonly login: RequestHandler;
  /** `GET /sso/callback`, per address. */
  readonly callback: RequestHandler;
  /** `POST /api/v1/session/ticket`, refused redemptions per address. */
  readonly ticket: RequestHandler;
  /** Run only for a request whose API key was refused: counts it, and answers 429 once over. */
  readonly apiKeyRefused: RequestHandler | undefined;
  /** Calls to a tenant's identity server, per tenant. */
  readonly idp: TenantLimit;

  constructor(private readonly o: RateLimitsOptions) {
    const { limits } = o;
    this.login = this.middleware('login', limits.login, { answer: 'page' }) ?? pass;
    this.callback = this.middleware('callback', limits.callback, { answer: 'page' }) ?? pass;
    this.ticket =
      this.middleware('ticket', limits.ticketFailures, {
        answer: 'api',
        skipSuccessfulRequests: true,
        // A 4xx refused the ticket (or its session); a 5xx is the relay's failure, not the caller's.
        requestWasSuccessful: (_req, res) => res.statusCode < 400 || res.statusCode >= 500,
      }) ?? pass;
    this.apiKeyRefused = this.middleware('api_key', limits.apiKeyFailures, { answer: 'api' });
    this.idp = new TenantLimit({
      counter: limits.idpCalls > 0 ? this.counter('idp') : null,
      limit: limits.idpCalls,
      windowMs: limits.windowMs,
      onRefused: () => o.metrics.rateLimited.inc({ limit: 'idp' }),
      onStoreError: (error) => this.storeError(error),
    });
  }

  private counter(name: LimitName): CounterStore {
    return counterStore(this.o.store, this.o.keys.rateLimit(name));
  }

  /** An express-rate-limit middleware for `name`, or undefined when its limit is 0 (off). */
  private middleware(
    name: Exclude<LimitName, 'idp'>,
    limit: number,
    options: { answer: 'page' | 'api' } & Partial<Options>,
  ): RequestHandler | undefined {
    if (limit <= 0) return undefined;
    const { answer, ...rest } = options;
    const { metrics } = this.o;
    const windowMs = this.o.limits.windowMs;
    return rateLimit({
      windowMs,
      limit,
      // `RateLimit` and `RateLimit-Policy` (IETF draft 7) on counted answers; `Retry-After` on a 429.
      standardHeaders: 'draft-7',
      legacyHeaders: false,
      store: this.counter(name),
      // Whole seconds to the end of the window, never 0 (the library's own may round to 0).
      retryAfter: (req: Request) => secondsUntil(rateLimitOf(req)?.resetTime, windowMs),
      passOnStoreError: true,
      logger: this.libraryLogger,
      ...rest,
      handler: (req: Request, res: Response, next: NextFunction) => {
        metrics.rateLimited.inc({ limit: name });
        if (answer === 'page') return sendFailure(req, res, 'rate_limited', `${name} limit`);
        next(new RateLimitedError(name as 'ticket' | 'api_key', retryAfter(res, windowMs)));
      },
    });
  }

  private lastStoreError = '';

  /** A count the store could not make: the request went on unlimited. Logged when it changes. */
  private storeError(error: unknown): void {
    this.o.metrics.storeErrors.inc();
    const message = error instanceof Error ? error.message : String(error);
    if (message !== this.lastStoreError)
      this.o.logger.warn({ err: { message } }, 'rate limit not counted (store unavailable): request allowed');
    this.lastStoreError = message;
  }

  /** express-rate-limit's own reports: its configuration checks, and failures of its store. */
  private readonly libraryLogger = {
    warn: (error: unknown, message?: string) => this.report(error, message),
    error: (error: unknown, message?: string) => this.report(error, message),
  };

  private report(error: unknown, message?: string): void {
    const code = (error as { code?: unknown } | null)?.code;
    if (typeof code === 'string' && code.startsWith('ERR_ERL_'))
      // e.g. TRUST_PROXY=true (a client picks its own address) or X-Forwarded-For without TRUST_PROXY
      this.o.logger.warn(
        { check: code, detail: (error as Error).message },
        'rate limit: configuration check',
      );
    else if (message?.includes('from store')) this.storeError(error);
    else
      this.o.logger.warn(
        { err: { message: error instanceof Error ? error.message : String(error) } },
        message ?? 'rate limit',
      );
  }
}

/** What express-rate-limit found for the request (`req.rateLimit`). */
const rateLimitOf = (req: Request) => (req as AugmentedRequest).rateLimit;

/** The `Retry-After` express-rate-limit has just set on a refused answer, in seconds. */
function retryAfter(res: Response, windowMs: number): number {
  const set = Number(res.getHeader('Retry-After'));
  return Number.isFinite(set) && set > 0 ? set : Math.ceil(windowMs / 1000);
}

export interface TenantLimitOptions {
  /** null: the limit is off */
  counter: CounterStore | null;
  limit: number;
  windowMs: number;
  onRefused: () => void;
  onStoreError: (error: unknown) => void;
}

/** Calls to a tenant's identity server, counted per tenant in the limit's store. */
export class TenantLimit {
  constructor(private readonly o: TenantLimitOptions) {
    // What the middleware does for its store; this counter is used directly.
    void Promise.resolve(o.counter?.init?.({ windowMs: o.windowMs } as Options)).catch(o.onStoreError);
  }

  /** Counts a call about to be made; throws RateLimitedError when the tenant is over its limit. */
  take(tenantId: string): Promise<void> {
    return this.hit(tenantId, true);
  }

  /** Counts a call that must be made whatever the count (userinfo after a code was spent). */
  count(tenantId: string): Promise<void> {
    return this.hit(tenantId, false);
  }

  private async hit(tenantId: string, refuse: boolean): Promise<void> {
    const { counter, limit, windowMs } = this.o;
    if (!counter) return;
    let counted;
    try {
      counted = await counter.increment(keyPart(tenantId));
    } catch (error) {
      this.o.onStoreError(error);
      return;
    }
    if (refuse && counted.totalHits > limit) {
      this.o.onRefused();
      throw new RateLimitedError('idp', secondsUntil(counted.resetTime, windowMs));
    }
  }
}
