/**
 * Talking to a tenant's identity server (joint-login.md §3.4, §3.5, §4) with openid-client.
 *
 * There is no discovery, no state, no id_token and no `sub` in userinfo: each tenant gets a
 * `Configuration` from manual metadata (its `domainName`) with client_secret_post, and
 * userinfo is read with the library's generic protected-resource call. Configurations are
 * cached per (tenant, client) and dropped when the tenant's sync data changes.
 */
import * as oidc from 'openid-client';
import type { DataKeyRing } from '../crypto/dataKey.js';
import { RelayError } from '../errors.js';
import type { Mirror } from '../mirror/mirror.js';
import { clientSecretContext, type TenantRecord } from '../mirror/records.js';
import { IdpAddressRefused, idpFetch, type IdpFetchOptions } from './idpFetch.js';

/** Why a login or renewal could not use the identity server. */
export type IdpFailure =
  | { kind: 'unknown_tenant' }
  | { kind: 'no_client' }
  /** the identity server answered 4xx: bad, used or expired code or refresh token, bad client */
  | { kind: 'rejected'; error: string; status: number }
  /** unreachable, timed out, 5xx, or an answer that is not what the protocol says */
  | { kind: 'unavailable'; detail: string };

/** The sign-in failure page each kind leads to (src/sso/pages.ts). */
const PAGE = {
  unknown_tenant: 'unknown_tenant',
  no_client: 'no_client',
  rejected: 'code_rejected',
  unavailable: 'idp_unavailable',
} as const;

export class IdpError extends RelayError {
  override readonly name = 'IdpError';
  /** the sign-in failure page, and what the log line says of it */
  readonly page: (typeof PAGE)[IdpFailure['kind']];
  readonly detail: string | undefined;

  constructor(readonly failure: IdpFailure) {
    super(
      'idp_unavailable',
      failure.kind === 'unavailable'
        ? `identity server unavailable: ${failure.detail}`
        : `identity server: ${failure.kind}`,
      {
        status: 502,
        publicMessage: "The tenant's identity server could not be used right now; retry shortly.",
      },
    );
    this.page = PAGE[failure.kind];
    this.detail =
      failure.kind === 'rejected'
        ? `${failure.status} ${failure.error}`
        : failure.kind === 'unavailable'
          ? failure.detail
          : undefined;
  }
}

export interface TokenGrant {
  accessToken: string;
  refreshToken?: string;
  /** epoch ms */
  expiresAt: number;
}

export interface UserInfo {
  userName: string;
  name?: string;
  email?: string;
  mobile?: string;
  role?: string;
  organizationCode?: string;
  tenant?: string;
}

export interface IdpOptions {
  mirror: Mirror;
  dataKeys: DataKeyRing;
  appId: string;
  timeoutMs: number;
  /** http:// domainNames (sandbox, tests); refused in production */
  allowInsecure: boolean;
  /** where connections may go, and how much of an answer is read (idpFetch.ts) */
  network: IdpFetchOptions;
  now: () => number;
}

interface Entry {
  fingerprint: string;
  config: oidc.Configuration;
}

const MAX_CACHED = 1000;

export class IdentityServers {
  private readonly cache = new Map<string, Entry>();

  private readonly fetch: ReturnType<typeof idpFetch>;

  constructor(private readonly options: IdpOptions) {
    this.fetch = idpFetch(options.network);
  }

  /** The tenant and its client for KOO_APP_ID from the mirror, with a ready Configuration. */
  async resolve(tenantId: string): Promise<{ tenant: TenantRecord; config: oidc.Configuration }> {
    const { mirror, appId, dataKeys } = this.options;
    const [tenant, app] = await Promise.all([mirror.tenant(tenantId), mirror.app(tenantId, appId)]);
    if (!tenant) throw new IdpError({ kind: 'unknown_tenant' });
    if (!app) throw new IdpError({ kind: 'no_client' });
    const fingerprint = `${tenant.domainName}|${app.clientId}|${app.clientSecretSealed}`;
    const cached = this.cache.get(tenantId);
    if (cached?.fingerprint === fingerprint) return { tenant, config: cached.config };

    const secret = dataKeys.open(app.clientSecretSealed, clientSecretContext(tenantId, appId));
    const base = tenant.domainName;
    const config = new oidc.Configuration(
      {
        issuer: base,
        token_endpoint: `${base}/api/v1/oauth2/token`,
        userinfo_endpoint: `${base}/api/v1/oauth2/userinfo`,
      },
      app.clientId,
      { client_secret: secret },
      oidc.ClientSecretPost(secret),
    );
    config.timeout = this.options.timeoutMs / 1000;
    config[oidc.customFetch] = this.fetch as never;
    if (base.startsWith('http:')) {
      if (!this.options.allowInsecure)
        throw new IdpError({ kind: 'unavailable', detail: 'the tenant domainName is not https' });
      oidc.allowInsecureRequests(config);
    }
    if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(tenantId, { fingerprint, config });
    return { tenant, config };
  }

  /** Forget a tenant's configuration (its tenantSync or applicationSync changed). */
  drop(tenantId: string): void {
    this.cache.delete(tenantId);
  }

  /** authorization_code grant. `redirectUri` is the registered callback, sent as the doc's example does. */
  async exchangeCode(config: oidc.Configuration, code: string, redirectUri: string): Promise<TokenGrant> {
    // openid-client reads the code from the callback URL and derives redirect_uri from it; the
    // IdP returns no state, so none is expected, and no PKCE was used by the unified login.
    const callback = new URL(redirectUri);
    callback.searchParams.set('code', code);
    return this.call(async () => this.grant(await oidc.authorizationCodeGrant(config, callback)));
  }

  async refresh(config: oidc.Configuration, refreshToken: string): Promise<TokenGrant> {
    return this.call(async () => this.grant(await oidc.refreshTokenGrant(config, refreshToken)));
  }

  async userinfo(config: oidc.Configuration, accessToken: string): Promise<UserInfo> {
    return this.call(async () => {
      const url = new URL(config.serverMetadata().userinfo_endpoint!);
      const response = await oidc.fetchProtectedResource(
        config,
        accessToken,
        url,
        'GET',
        undefined,
        new Headers({ Accept: 'application/json' }),
      );
      if (response.status !== 200) {
        throw new IdpError({ kind: 'unavailable', detail: `userinfo answered HTTP ${response.status}` });
      }
      let body: unknown;
      try {
        body = await response.json();
      } catch {
        throw new IdpError({ kind: 'unavailable', detail: 'userinfo is not JSON' });
      }
      const info = body as Record<string, unknown>;
      if (typeof info.userName !== 'string' || !info.userName)
        throw new IdpError({ kind: 'unavailable', detail: 'userinfo has no userName' });
      const text = (k: string) => (typeof info[k] === 'string' && info[k] ? (info[k] as string) : undefined);
      return {
        userName: info.userName,
        name: text('name'),
        email: text('email'),
        mobile: text('mobile'),
        role: text('role'),
        organizationCode: text('organizationCode'),
        tenant: text('tenant'),
      };
    });
  }

  private grant(tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers): TokenGrant {
    const expiresIn = tokens.expiresIn() ?? 7200; // documented default lifetime, 2 h
    return {
      accessToken: tokens.access_token,
      ...(tokens.refresh_token ? { refreshToken: tokens.refresh_token } : {}),
      expiresAt: this.options.now() + expiresIn * 1000,
    };
  }

  private async call<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw classifyIdpError(error);
    }
  }
}

/**
 * What openid-client's failure says of the identity server, by its class and `ClientError.code`
 * (the library's stable names), never by error names or messages.
 */
export function classifyIdpError(error: unknown): IdpError {
  if (error instanceof IdpError) return error;
  const unavailable = (detail: string) => new IdpError({ kind: 'unavailable', detail });
  if (error instanceof oidc.ResponseBodyError) {
    if (error.status >= 400 && error.status < 500)
      return new IdpError({ kind: 'rejected', error: error.error, status: error.status });
    return unavailable(`HTTP ${error.status} ${error.error}`);
  }
  if (error instanceof oidc.ClientError) {
    switch (error.code) {
      case 'OAUTH_TIMEOUT':
      case 'OAUTH_ABORT':
        return unavailable('timed out');
      case 'OAUTH_RESPONSE_IS_NOT_CONFORM':
        // an unexpected status: the Response is the cause
        return unavailable(
          error.cause instanceof Response ? `HTTP ${error.cause.status}` : 'unexpected status',
        );
      case 'OAUTH_RESPONSE_IS_NOT_JSON':
        return unavailable('the answer is not JSON');
      default:
        return unavailable(error.code ?? error.message);
    }
  }
  if (error instanceof IdpAddressRefused) return unavailable(error.message);
  // fetch could not connect: a TypeError whose cause names the system error (ECONNREFUSED, …)
  if (error instanceof TypeError) {
    const code = (error.cause as { code?: unknown } | undefined)?.code;
    return unavailable(typeof code === 'string' ? code : error.message);
  }
  return unavailable(error instanceof Error ? error.message : String(error));
}
