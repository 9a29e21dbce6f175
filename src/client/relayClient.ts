/**
 * A small typed client for the relay's seller API (`/api/v1`), for the seller's own server.
 * It never talks to KooGallery: the relay does that. Dependency-free (global fetch).
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

  private async call<T>(
    method: string,
    path: string,
    init: { ref?: SessionRef; body?: unknown } = {},
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
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 5000),
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
