/**
 * A small typed client for the relay's seller API (`/api/v1`), for the seller's own server.
 * It never talks to KooGallery: the relay does that. Dependency-free (global fetch).
 * `events()` follows the change feed (`GET /api/v1/events`) by long poll.
 */
// Types only: the answers' types are the contract's (src/api/contract.ts), and `import type` is
// erased, so the client loads neither zod nor the relay at run time.
import type { Answer, RequestBody } from '../api/contract.js';

export interface RelayClientOptions {
  /** where the relay answers the seller API, e.g. http://relay.internal:3000 */
  baseUrl: string;
  /** one of the relay's SELLER_API_KEYS */
  apiKey: string;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** How a request names the browser's relay session: its forwarded Cookie header, or a session id. */
export type SessionRef = { cookie: string } | { sessionId: string };

/** A live session: the user and tenant as the mirror knows them now. */
export type RelaySession = Answer<'getSession'>;
export type RelayUser = RelaySession['user'];
export type AccessToken = Answer<'getAccessToken'>;
export type RelayAssertionAnswer = Answer<'getAssertion'>;
export type TicketRedemption = Answer<'redeemTicket'>;
export type Department = Answer<'listDepartments'>['departments'][number];
/** Allowed or not, why, and the mirrored user whenever the mirror knows them. */
export type AuthorizeAnswer = Answer<'authorize'>;
export type AuthorizeRequest = RequestBody<'authorize'>;
/** A tenant as the relay mirrors it, with the instances it knows. */
export type RelayTenant = Answer<'getTenant'>;
/** An instance (a purchase) with the tenants bound to it. */
export type RelayInstance = Answer<'getInstance'>;
/** A mirrored user of the app, every field as last pushed. */
export type RelayMirrorUser = Answer<'getUser'>;

/** One event of the change feed, typed by its `type` (`switch (event.type)` narrows `data`). */
export type RelayEvent = Answer<'listEvents'>['events'][number];
export type RelayEventType = RelayEvent['type'];
/** One answer of `GET /api/v1/events`: the events after the cursor, and where to read on. */
export type RelayEventPage = Answer<'listEvents'>;

export interface RelayEventsOptions {
  /** A cursor the app saved (an item's `cursor`). Omitted: from the oldest event the relay keeps. */
  after?: string | undefined;
  /** Only these types. */
  types?: readonly RelayEventType[];
  /** Only this tenant's events (instance events: any tenant bound to the instance). */
  tenantId?: string;
  /** Seconds each request waits for an event when there is none yet (long poll), 0–30. Default 25. */
  wait?: number;
  /** Events per request, 1–500. Default 100. */
  limit?: number;
  /** Ends the iteration, without an error, when aborted. */
  signal?: AbortSignal;
  /**
   * Called when the feed moved past events the filters skip, with nothing to yield: save this
   * cursor too, or a filtered reader's saved cursor can outlive the feed's retention.
   */
  onCursor?: (cursor: string) => void | Promise<void>;
  /** Called before each retry (the relay unreachable, a 5xx or 429), e.g. to log it. */
  onRetry?: (error: RelayError, delayMs: number) => void;
  /** Retries wait about this long first, doubling up to `maxBackoffMs`. Default 1000. */
  minBackoffMs?: number;
  /** Default 30000. */
  maxBackoffMs?: number;
}

/** An event, and the cursor to save once the app has handled it: reading on from it skips nothing. */
export interface RelayFeedItem {
  event: RelayEvent;
  cursor: string;
}

/** The relay answered with an error (`{"error","message"}`), or could not be reached (status 0). */
export class RelayError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'RelayError';
  }
}

/**
 * 410 `cursor_expired`: the events after `cursor` are no longer kept (EVENTS_RETENTION_HOURS), so
 * some changes were missed. Re-read what the app holds from the relay, then follow the feed again
 * without `after` (from the oldest event kept).
 */
export class CursorExpiredError extends RelayError {
  constructor(
    readonly cursor: string,
    message: string,
  ) {
    super(410, 'cursor_expired', message);
    this.name = 'CursorExpiredError';
  }
}

export class RelayClient {
  private readonly base: string;
  private readonly fetch: typeof fetch;

  constructor(private readonly options: RelayClientOptions) {
    this.base = options.baseUrl.replace(/\/+$/, '');
    this.fetch = options.fetch ?? fetch;
  }

  /** The signed-in user, or null when there is no live session (absent, expired, revoked). */
  async session(ref: SessionRef): Promise<RelaySession | null> {
    try {
      return await this.call<RelaySession>('GET', '/api/v1/session', { ref });
    } catch (error) {
      if (error instanceof RelayError && error.status === 401) return null;
      throw error;
    }
  }

  /** A valid access token for the tenant's identity server, renewed by the relay when due. Throws 401 `reauthenticate`. */
  accessToken(ref: SessionRef, options: { forceRefresh?: boolean } = {}): Promise<AccessToken> {
    return this.call<AccessToken>('POST', '/api/v1/session/token', {
      ref,
      body: options.forceRefresh ? { forceRefresh: true } : {},
    });
  }

  /** A short-lived ES256 JWT describing the session, verifiable with the relay's /.well-known/jwks.json. */
  assertion(ref: SessionRef): Promise<RelayAssertionAnswer> {
    return this.call('POST', '/api/v1/session/assertion', { ref, body: {} });
  }

  async endSession(ref: SessionRef): Promise<void> {
    await this.call('DELETE', '/api/v1/session', { ref });
  }

  /** Cross-origin hand-off: trade the one-time ticket from the callback for the session (single use, 60 s). */
  redeemTicket(ticket: string): Promise<TicketRedemption> {
    return this.call('POST', '/api/v1/session/ticket', { body: { ticket } });
  }

  authorize(input: AuthorizeRequest): Promise<AuthorizeAnswer> {
    return this.call('POST', '/api/v1/authorize', { body: input });
  }

  tenant(tenantId: string): Promise<RelayTenant> {
    return this.call<RelayTenant>('GET', `/api/v1/tenants/${encodeURIComponent(tenantId)}`);
  }

  /** An instance: its status (`active`, `frozen`, `released`), end, product, history and tenants. */
  instance(instanceId: string): Promise<RelayInstance> {
    return this.call<RelayInstance>('GET', `/api/v1/instances/${encodeURIComponent(instanceId)}`);
  }

  user(tenantId: string, userName: string): Promise<RelayMirrorUser> {
    return this.call<RelayMirrorUser>(
      'GET',
      `/api/v1/tenants/${encodeURIComponent(tenantId)}/users/${encodeURIComponent(userName)}`,
    );
  }

  async departments(tenantId: string, parent?: string): Promise<Department[]> {
    const q = parent === undefined ? '' : `?parent=${encodeURIComponent(parent)}`;
    return (
      await this.call<Answer<'listDepartments'>>(
        'GET',
        `/api/v1/tenants/${encodeURIComponent(tenantId)}/departments${q}`,
      )
    ).departments;
  }

  /**
   * The change feed, for ever: every event after `after`, in order, by long poll. Each item
   * carries the cursor to save once the event is handled. Retries with backoff while the relay
   * is unreachable or answers 5xx/429; throws `CursorExpiredError` on 410 and `RelayError` on any
   * other error (a wrong key, a malformed option); ends when `signal` aborts.
   *
   *   for await (const { event, cursor } of relay.events({ after: saved, signal })) {
   *     await apply(event);
   *     await save(cursor);
   *   }
   */
  async *events(options: RelayEventsOptions = {}): AsyncGenerator<RelayFeedItem, void, undefined> {
    const { signal } = options;
    const wait = options.wait ?? 25;
    const minBackoff = options.minBackoffMs ?? 1000;
    const maxBackoff = options.maxBackoffMs ?? 30_000;
    let cursor = options.after;
    let failures = 0;
    while (!signal?.aborted) {
      const query = new URLSearchParams({ limit: String(options.limit ?? 100), wait: String(wait) });
      if (cursor !== undefined) query.set('after', cursor);
      if (options.types?.length) query.set('types', options.types.join(','));
      if (options.tenantId !== undefined) query.set('tenantId', options.tenantId);
      let page: RelayEventPage | null;
      try {
        page = await this.call<RelayEventPage | null>('GET', `/api/v1/events?${query}`, {
          // held open up to `wait` seconds by the relay, then the usual deadline
          timeoutMs: wait * 1000 + (this.options.timeoutMs ?? 5000),
          ...(signal ? { signal } : {}),
        });
        if (!Array.isArray(page?.events) || typeof page.next !== 'string')
          throw new RelayError(502, 'bad_answer', 'the relay answered something other than an event page');
      } catch (error) {
        if (signal?.aborted) return;
        if (!(error instanceof RelayError)) throw error;
        if (error.status === 410) throw new CursorExpiredError(cursor ?? '', error.message);
        if (!(error.status === 0 || error.status === 429 || error.status >= 500)) throw error;
        const ceiling = Math.min(maxBackoff, minBackoff * 2 ** Math.min(failures++, 20));
        const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
        options.onRetry?.(error, delay);
        await pause(delay, signal);
        continue;
      }
      failures = 0;
      const { events, next } = page;
      for (const [i, event] of events.entries()) {
        // Within a page an event's id is a cursor; after the last one, `next` (it may be further on).
        yield { event, cursor: i === events.length - 1 ? next : event.id };
        if (signal?.aborted) return;
      }
      if (events.length === 0 && next !== cursor) await options.onCursor?.(next);
      cursor = next;
    }
  }

  private async call<T>(
    method: string,
    path: string,
    init: { ref?: SessionRef; body?: unknown; signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<T> {
    const headers: Record<string, string> = {
      Authorization: `Bearer ${this.options.apiKey}`,
      Accept: 'application/json',
    };
    if (init.ref && 'cookie' in init.ref) headers.Cookie = init.ref.cookie;
    if (init.ref && 'sessionId' in init.ref) headers['X-Session-Id'] = init.ref.sessionId;
    if (init.body !== undefined) headers['Content-Type'] = 'application/json';
    let response: Response;
    try {
      response = await this.fetch(`${this.base}${path}`, {
        method,
        headers,
        ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
        signal: deadline(init.timeoutMs ?? this.options.timeoutMs ?? 5000, init.signal),
      });
    } catch (error) {
      throw new RelayError(0, 'relay_unreachable', `the relay did not answer: ${(error as Error).message}`);
    }
    if (response.status === 204) return undefined as T;
    const body = (await response.json().catch(() => null)) as { error?: string; message?: string } | null;
    if (!response.ok)
      throw new RelayError(
        response.status,
        body?.error ?? 'error',
        body?.message ?? `HTTP ${response.status}`,
      );
    return body as T;
  }
}

function deadline(ms: number, signal?: AbortSignal): AbortSignal {
  const timeout = AbortSignal.timeout(ms);
  return signal ? AbortSignal.any([signal, timeout]) : timeout;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done);
  });
}
