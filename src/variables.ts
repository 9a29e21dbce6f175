/**
 * Every environment variable the relay reads (contract §2): its meaning, its default and its
 * bounds, written once. `loadConfig` (config.ts) takes defaults and bounds from here and refuses
 * to read a variable that is not listed; `docs/configuration.md` is generated from it
 * (`npm run docs`), and a test fails when that file is stale.
 */
export interface Variable {
  /** What it is, in Markdown, for the configuration table. */
  meaning: string;
  /** The value used when unset (a number for whole-number variables). */
  default?: string | number;
  /** The default as the table shows it, when it is computed or unset. */
  shownDefault?: string;
  /** `always`: the relay does not start without it; `production`: not with NODE_ENV=production. */
  required?: 'always' | 'production';
  /** Bounds of a whole-number variable. */
  min?: number;
  max?: number;
  /** Variables documented in one row with this one. */
  with?: string[];
}

const DEFAULT_UNIFIED_LOGIN_URL =
  'https://macroverse.huaweicloud.com/unified-login/#/portal-login?ind=UNOP&appId={appId}';

export const VARIABLES = {
  NODE_ENV: {
    meaning:
      '`production` turns on the production checks: secrets and Redis required, no embedded store; `PUBLIC_URL`, `UNIFIED_LOGIN_URL`, `HANDOFF_URL` and tenant identity servers https only; access keys of ≥ 16 characters and API keys of ≥ 128 estimated bits (see `SELLER_API_KEYS`)',
    shownDefault: 'unset',
  },
  PORT: { meaning: 'listen port', default: 3000, min: 0, max: 65535 },
  HOST: { meaning: 'listen address', default: '0.0.0.0' },
  OPS_PORT: {
    meaning:
      'when set, `/healthz`, `/readyz` and `/metrics` are served only on this port, by a listener of their own on `OPS_HOST`, and `PORT` answers 404 for them; must differ from `PORT`',
    shownDefault: 'unset: served on `PORT`',
    min: 0,
    max: 65535,
  },
  OPS_HOST: {
    meaning:
      'listen address of `OPS_PORT`: loopback by default, so the probes and metrics stay private (set `0.0.0.0` or a private address for probes or a scraper outside the container)',
    default: '127.0.0.1',
  },
  DRAIN_GRACE_MS: {
    meaning:
      'on SIGTERM, how long the relay goes on accepting connections before it closes its listeners and finishes the requests in flight, in ms. From the signal on, `/readyz` answers 503 and every connection is closed after its answer. Set it above the time your load balancer takes to take a relay whose `/readyz` fails out of rotation (see [production](production.md#several-relays)); `0` closes the listeners at once, which may lose a request already on its way, even behind a balancer that retries refused connections. Counted within the 25 s the relay gives itself to stop',
    default: 0,
    min: 0,
    max: 20_000,
  },
  PUBLIC_URL: {
    meaning:
      "the relay's external base URL, e.g. `https://isv.example.com`; the callback is `PUBLIC_URL/sso/callback`. https in production",
    shownDefault: '`http://localhost:PORT`',
    required: 'production',
  },
  REDIS_URL: {
    meaning:
      '`redis://` or `rediss://` (TLS) URL, e.g. `rediss://:password@redis.internal:6380`; Redis ≥ 7.0. Set exactly one of `REDIS_URL`, `REDIS_CLUSTER_NODES` and `REDIS_SENTINEL_NODES`; with `NODE_ENV=production` one is required',
    shownDefault: 'unset: the embedded in-memory store (refused in production)',
  },
  REDIS_CLUSTER_NODES: {
    meaning:
      "comma-separated seeds of a Redis Cluster (instead of `REDIS_URL`): `host:port`, or `redis://` / `rediss://` URLs with credentials (`rediss://user:password@host:port`); the seeds' scheme and credentials apply to every node the relay discovers, so all seeds must agree",
    shownDefault: 'unset',
  },
  REDIS_SENTINEL_NODES: {
    meaning:
      'comma-separated sentinels (Redis Sentinel, instead of `REDIS_URL`): `host:port`, or `rediss://host:port` for TLS to the sentinels and to the data nodes; with `REDIS_SENTINEL_MASTER`. See [Redis high availability](redis-ha.md)',
    shownDefault: 'unset',
  },
  REDIS_SENTINEL_MASTER: {
    meaning:
      'the name the sentinels monitor the master under (`sentinel monitor <name> …`); required with `REDIS_SENTINEL_NODES`',
    shownDefault: 'unset',
  },
  REDIS_SENTINEL_PASSWORD: {
    meaning: "the sentinels' own password (their `requirepass`); the data nodes' is `REDIS_PASSWORD`",
    shownDefault: 'unset',
  },
  REDIS_USERNAME: {
    meaning: "the data nodes' ACL user, with `REDIS_PASSWORD`",
    shownDefault: 'unset (`default` user)',
  },
  REDIS_PASSWORD: {
    meaning:
      "the data nodes' password (`requirepass`, or the ACL user's): for a Sentinel's master and replicas, or for `REDIS_URL` / `REDIS_CLUSTER_NODES` instead of credentials in the URLs (not both); never logged",
    shownDefault: 'unset',
  },
  REDIS_TLS_CA_FILE: {
    meaning:
      "PEM file of the CA (or CAs) to trust for every `rediss://` connection, e.g. a self-signed server's; unset, Node's own CA list",
    shownDefault: 'unset',
  },
  REDIS_TLS_CERT_FILE: {
    meaning:
      "PEM file of a client certificate, for servers that ask for one (`tls-auth-clients yes`, Redis's default); with `REDIS_TLS_KEY_FILE`",
    shownDefault: 'unset',
  },
  REDIS_TLS_KEY_FILE: {
    meaning: "PEM file of the client certificate's private key; both or neither",
    shownDefault: 'unset',
  },
  REDIS_PREFIX: { meaning: 'prefix of every key (several relays can share a Redis)', default: 'relay:' },
  REDIS_TIMEOUT_MS: { meaning: 'deadline of each store call, in ms', default: 1500, min: 50, max: 10_000 },
  REDIS_WAIT_REPLICAS: {
    meaning:
      'after each write of a marketplace call (kit or basic), `WAIT` for this many replicas of the written master to acknowledge it before answering `000000`; fewer within `REDIS_WAIT_TIMEOUT_MS` answer `000005` (KooGallery retries). `0`: no wait, a failover may lose a write already answered `000000` (see [production](production.md#redis-replicas-and-failover))',
    default: 0,
    min: 0,
    max: 5,
  },
  REDIS_WAIT_TIMEOUT_MS: {
    meaning:
      "how long a write waits for `REDIS_WAIT_REPLICAS` acknowledgements, in ms; never past the call's `KIT_DEADLINE_MS`",
    default: 500,
    min: 10,
    max: 10_000,
  },
  KOO_APP_ID: { meaning: 'the appId of the app credential (应用凭证)', required: 'always' },
  KIT_ACCESS_KEY: {
    meaning:
      'the access key bound to the 联营SaaS同步 (kit) interfaces, the HMAC key of `x-sign` and `Body-Sign`; ≥ 16 characters (once decoded) in production',
    required: 'always',
  },
  KIT_ACCESS_KEY_BASE64: {
    meaning:
      '`true` if the console showed the kit key Base64-encoded (see [protocol decisions](protocol-decisions.md))',
    shownDefault: 'unset',
  },
  BASIC_ACCESS_KEY: {
    meaning:
      'the access key bound to the 基础接口 (basic instance) interfaces, the HMAC key of their `signature` and `Body-Sign`; must differ from `KIT_ACCESS_KEY`; ≥ 16 characters (once decoded) in production',
    shownDefault: 'random per start (basic calls then fail)',
    required: 'production',
  },
  BASIC_ACCESS_KEY_BASE64: {
    meaning: '`true` if the console showed the basic key Base64-encoded',
    shownDefault: 'unset',
  },
  V1_ACCESS_KEY: {
    meaning:
      'the V1 "Key值" (服务商信息) of products listed before V2: when set, the V1 interfaces are served (kit pushes at `{PRODUCE_BASE_PATH}/produceAPI/{interface}`, basic calls at `{PRODUCE_BASE_PATH}` with `authToken`, see [behaviour](behaviour.md#v1-interfaces)); the key of their `authToken` (with `timeStamp`), their `Body-Sign` and their encrypted mobile numbers and e-mails; ≥ 16 characters (once decoded) in production',
    shownDefault: 'unset: the V1 routes answer 404',
  },
  V1_ACCESS_KEY_BASE64: {
    meaning: '`true` if the console showed the V1 key Base64-encoded (the EU site says it does)',
    shownDefault: 'unset',
  },
  INSTANCE_GATING: {
    meaning:
      '`on`: a tenant whose known instances are all frozen or released cannot sign in or be authorized, and loses its sessions; `off`: instances are only recorded',
    default: 'on',
  },
  APP_FRONTEND_URL: {
    meaning: 'what `queryInstance` reports as `appInfo.frontEndUrl`',
    shownDefault: '`PUBLIC_URL` + `POST_LOGIN_PATH`',
  },
  APP_ADMIN_URL: { meaning: 'what `queryInstance` reports as `appInfo.adminUrl`', shownDefault: 'unset' },
  RSA_PRIVATE_KEY: {
    meaning:
      'PEM (PKCS#8, ≥ 3072 bits) whose public half was uploaded with the app credential; decrypts `clientSecret`. In the variable, `\\n` may stand for newlines',
    required: 'always',
    with: ['RSA_PRIVATE_KEY_FILE'],
  },
  RSA_PRIVATE_KEY_FILE: { meaning: 'a file holding that PEM, instead of `RSA_PRIVATE_KEY`' },
  SESSION_SECRET: {
    meaning:
      'secrets the cookie keys are derived from (one HKDF key per use), comma-separated, ≥ 16 characters each; the first signs, all verify (rotation)',
    shownDefault: 'random per start',
    required: 'production',
  },
  DATA_KEY: {
    meaning:
      '32-byte keys (base64, `openssl rand -base64 32`), comma-separated; the first encrypts client secrets, tokens and signing keys at rest (AES-256-GCM), all decrypt (rotation)',
    shownDefault: 'random per start',
    required: 'production',
  },
  SELLER_API_KEYS: {
    meaning:
      'bearer keys accepted on `/api/v1/*`, comma-separated (≥ 16 characters each). In production each must have ≥ 128 bits by a conservative estimate: its new characters × log2 of its distinct characters, where the first two characters are new and a later one is new unless the three characters ending with it occurred earlier in the key. One repeated character, digits only, a repeated word and most 16-byte hex keys are refused; generate each key with `openssl rand -base64 32` (~200 bits) or `openssl rand -hex 32`',
    required: 'always',
  },
  UNIFIED_LOGIN_URL: {
    meaning: 'login page template; `{appId}` is replaced. https in production',
    default: DEFAULT_UNIFIED_LOGIN_URL,
  },
  PRODUCE_BASE_PATH: {
    meaning: 'path of the registered production address on this host, e.g. `/isv/produce`',
    default: '',
    shownDefault: 'empty',
  },
  POST_LOGIN_PATH: { meaning: 'where a sign-in without `returnTo` lands', default: '/' },
  TRUST_PROXY: {
    meaning: 'Express `trust proxy`: `true`, a hop count, or addresses',
    shownDefault: 'unset (`false`)',
  },
  SESSION_IDLE_SECONDS: {
    meaning: 'a session ends after this long without use (browser or API)',
    default: 30 * 60,
    min: 60,
    max: 30 * 24 * 3600,
  },
  SESSION_ABSOLUTE_SECONDS: {
    meaning: "and at the latest this long after sign-in (also the cookie's Max-Age)",
    default: 12 * 3600,
    min: 60,
    max: 30 * 24 * 3600,
  },
  SESSION_COOKIE_NAME: { meaning: 'the session cookie', default: 'relay.sid' },
  ALLOW_INSECURE_IDP: {
    meaning:
      '`true` accepts tenant identity servers over plain http (the sandbox, tests); **refused in production**, logged as a warning at start',
    default: 'false',
  },
  IDP_ALLOWED_HOSTS: {
    meaning:
      'comma-separated `host` or `host:port` a tenant `domainName` may name even when it resolves to a loopback, private, link-local or metadata address; in production such addresses are refused otherwise (checked on the address connected to)',
  },
  IDP_TIMEOUT_MS: {
    meaning: 'deadline of each call to a tenant identity server (token, refresh, userinfo), in ms',
    default: 5000,
    min: 100,
    max: 30_000,
  },
  HANDOFF_URL: {
    meaning:
      'set it when the seller app lives on another origin: the callback then sends the browser here with a one-time ticket (https in production)',
    shownDefault: 'unset',
  },
  ASSERTION_TTL_SECONDS: {
    meaning: 'lifetime of signed session assertions',
    default: 300,
    min: 30,
    max: 3600,
  },
  ASSERTION_KEY_ROTATION_DAYS: {
    meaning: 'rotation period of their ES256 key',
    default: 30,
    min: 1,
    max: 365,
  },
  KIT_BODY_LIMIT_BYTES: {
    meaning:
      'largest allOrgSync accepted, and a cap on the other kit interfaces (each accepts at most 64 KiB; authSync 1 MiB)',
    default: 4 * 1024 * 1024,
    min: 1024,
    max: 64 * 1024 * 1024,
  },
  KIT_DEADLINE_MS: {
    meaning:
      'a marketplace call is answered within this, `000005` if the store was too slow (KooGallery waits 5 s)',
    default: 3000,
    min: 100,
    max: 4500,
  },
  RATE_LIMIT_LOGIN_PER_MINUTE: {
    meaning:
      '`GET /sso/login` requests per client address (`req.ip`: set `TRUST_PROXY` behind a proxy) per minute; more are answered 429 with `Retry-After` and a bilingual page. `0` turns the limit off. Every limit is shared by the relays of one Redis and `REDIS_PREFIX`',
    default: 300,
    min: 0,
    max: 1_000_000,
  },
  RATE_LIMIT_CALLBACK_PER_MINUTE: {
    meaning: '`GET /sso/callback` requests per client address per minute (429 page); `0`: off',
    default: 300,
    min: 0,
    max: 1_000_000,
  },
  RATE_LIMIT_TICKET_FAILURES_PER_MINUTE: {
    meaning:
      'refused hand-off ticket redemptions (`POST /api/v1/session/ticket` answered 4xx) per client address per minute; past it every redemption from the address is 429 `rate_limited` until the minute ends; `0`: off',
    default: 30,
    min: 0,
    max: 1_000_000,
  },
  RATE_LIMIT_API_KEY_FAILURES_PER_MINUTE: {
    meaning:
      'requests on `/api/v1/*` with a missing or wrong API key per client address per minute; past it they are 429 `rate_limited` instead of 401. A correct key is never counted nor limited; `0`: off',
    default: 30,
    min: 0,
    max: 1_000_000,
  },
  RATE_LIMIT_IDP_CALLS_PER_MINUTE: {
    meaning:
      "calls to one tenant's identity server per minute (code exchange and userinfo at sign-in, token refresh; about two per sign-in); past it that tenant's sign-ins get the 429 page and its token renewals 429 `rate_limited`, other tenants are not affected; `0`: off",
    default: 600,
    min: 0,
    max: 1_000_000,
  },
  EVENTS_RETENTION_HOURS: {
    meaning:
      'how long the change feed (`GET /api/v1/events`, webhooks) keeps events; a cursor older than this is answered 410 `cursor_expired`',
    default: 168,
    min: 1,
    max: 8760,
  },
  WEBHOOK_URL: {
    meaning:
      'where every change-feed event is also POSTed, signed per the Standard Webhooks spec, retried until a 2xx, by one replica at a time; https in production (loopback excepted)',
    shownDefault: 'unset: no webhooks',
  },
  WEBHOOK_SECRET: {
    meaning:
      "the webhooks' signing secret, `whsec_` and the Base64 of 24 to 64 random bytes; required with `WEBHOOK_URL`",
    shownDefault: 'unset',
  },
  LOG_LEVEL: { meaning: 'pino level', default: 'info' },
} satisfies Record<string, Variable>;

export type VariableName = keyof typeof VARIABLES;

/** docs/configuration.md. */
export function renderConfigurationTable(): string {
  const grouped = new Set(Object.values(VARIABLES as Record<string, Variable>).flatMap((v) => v.with ?? []));
  const shown = (v: Variable) => {
    const value = v.shownDefault ?? (v.default === undefined ? '' : `\`${String(v.default)}\``);
    const need =
      v.required === 'always'
        ? '**required**'
        : v.required === 'production'
          ? '**required in production**'
          : '';
    return [value, need].filter(Boolean).join('; ');
  };
  const rows = Object.entries(VARIABLES as Record<string, Variable>)
    .filter(([name]) => !grouped.has(name))
    .map(([name, v]) => {
      const names = [name, ...(v.with ?? [])].map((n) => `\`${n}\``).join(' or ');
      const bounds = v.min !== undefined ? ` (${v.min}–${v.max})` : '';
      return `| ${names} | ${v.meaning}${bounds} | ${shown(v)} |`;
    });
  return [
    '# Configuration',
    '',
    '<!-- Generated by `npm run docs` from src/variables.ts; do not edit by hand. -->',
    '',
    'Configuration comes from environment variables. It is validated once at start: a missing or',
    'malformed value stops the process with one line naming the variable. Secrets never reach a log.',
    '',
    '| variable | meaning | default |',
    '| --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}
