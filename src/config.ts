/**
 * Configuration from the environment (contract §2), validated once at start. A bad or missing
 * value raises ConfigError naming the variable; main.ts prints that one line and exits.
 */
import { createPrivateKey, randomBytes, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { DataKeyRing } from './crypto/dataKey.js';
import { parseNode, type NodeAddress, type RedisCredentials, type RedisTls } from './store/redis/connect.js';
import { deriveSessionKeys, type SessionKeys } from './crypto/sessionKeys.js';
import { RelayError } from './errors.js';
import { VARIABLES, type Variable, type VariableName } from './variables.js';

export class ConfigError extends RelayError {
  override readonly name = 'ConfigError';
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super('invalid_configuration', `${variable}: ${message}`, { expose: true });
  }
}

export interface Config {
  production: boolean;
  port: number;
  host: string;
  /** OPS_PORT: the operator endpoints' own listener; unset, they are served on `port`. */
  ops?: { port: number; host: string };
  /** DRAIN_GRACE_MS: on SIGTERM, how long the listeners still accept (with /readyz 503) before draining. */
  drainGraceMs: number;
  publicUrl: URL;
  /** PUBLIC_URL without its trailing slash, for building the relay's own URLs (`${publicBase}/sso/…`). */
  publicBase: string;
  redis: {
    /** At most one of url, clusterNodes and sentinel (none: the embedded store). */
    url?: string;
    clusterNodes?: string[];
    sentinel?: { nodes: string[]; masterName: string; password?: string };
    /** REDIS_USERNAME, REDIS_PASSWORD: the data nodes' credentials where the URLs carry none. */
    credentials?: RedisCredentials;
    /** REDIS_TLS_*_FILE, read: PEM text for every TLS connection. */
    tls?: RedisTls;
    prefix: string;
    timeoutMs: number;
    /** REDIS_WAIT_REPLICAS: replicas that must acknowledge a marketplace call's writes (0: none). */
    waitReplicas: number;
    waitTimeoutMs: number;
  };
  appId: string;
  kitAccessKey: string;
  /** HMAC key of the basic (instance) interfaces; never equal to the kit key (§3b). */
  basicAccessKey: string;
  /** V1_ACCESS_KEY: the V1 interfaces (contract §8) are served only when it is set. */
  v1AccessKey?: string;
  rsaPrivateKey: KeyObject;
  /**
   * SESSION_SECRET as given. Nothing in src/ uses it past this file: every use has its own key,
   * derived below (crypto/sessionKeys.ts); it stays here so a test can check no log shows it.
   */
  sessionSecrets: string[];
  /** The keys derived from SESSION_SECRET, one per use: what the relay signs with. */
  sessionKeys: SessionKeys;
  dataKeys: DataKeyRing;
  sellerApiKeys: string[];
  unifiedLoginUrl: string;
  produceBasePath: string;
  postLoginPath: string;
  /** TRUST_PROXY as Express's `trust proxy` setting takes it: false when unset. */
  trustProxy: boolean | number | string;
  logLevel: string;
  /** The change feed (contract §5b): how long events are kept, and where they are also POSTed. */
  events: { retentionMs: number; webhook?: { url: URL; secret: string } };
  kit: { bodyLimitBytes: number; deadlineMs: number; clockWindowMs: number; nonceTtlMs: number };
  /** The basic instance interfaces (contract §3b). */
  instances: {
    /** Block tenants whose known instances are all frozen or released. */
    gating: boolean;
    /** What queryInstance reports as appInfo. */
    frontEndUrl: string;
    adminUrl?: string;
    bodyLimitBytes: number;
  };
  session: { idleSeconds: number; absoluteSeconds: number; cookieName: string };
  /** Deadline of each call to a tenant identity server (token, userinfo). */
  idpTimeoutMs: number;
  /** ALLOW_INSECURE_IDP: plain-http identity servers (the sandbox); refused in production. */
  allowInsecureIdp: boolean;
  /** IDP_ALLOWED_HOSTS: `host` or `host:port` a domainName may name at a private address in production. */
  idpAllowedHosts: string[];
  /** Seller app on another origin: the callback hands a one-time ticket to this URL. */
  handoffUrl?: URL;
  assertion: { ttlSeconds: number; rotationDays: number };
  /** Requests (calls, for `idpCalls`) per `windowMs` each limit allows; 0 turns it off (limits/rateLimits.ts). */
  rateLimits: {
    windowMs: number;
    login: number;
    callback: number;
    ticketFailures: number;
    apiKeyFailures: number;
    idpCalls: number;
  };
  /** Non-production only: secrets generated at start because none were given. */
  generated: string[];
}

type Env = Record<string, string | undefined>;

/** KIT_ACCESS_KEY and BASIC_ACCESS_KEY in production: at least this many characters. */
const MIN_PRODUCTION_KEY_LENGTH = 16;
/** Each of SELLER_API_KEYS in production: at least this many bits by `estimatedKeyBits`. */
const MIN_PRODUCTION_API_KEY_BITS = 128;

/**
 * A conservative estimate of a key's entropy, in whole bits: its new characters × log2 of the
 * number of distinct characters in it. The first two characters are new, and each later one is
 * new unless the three characters ending with it occurred earlier in the key. So one repeated
 * character gives 0, a small alphabet (digits, a 16-byte hex key missing a few digits) little,
 * a repeated word only its first occurrence; 32 random bytes in base64 or hex give ~200–256.
 * It cannot see a key that merely looks random (a sequence, a known string): it catches
 * obvious mistakes, it does not replace generating keys at random.
 */
export function estimatedKeyBits(key: string): number {
  const chars = [...key];
  const seen = new Set<string>();
  let fresh = 0;
  chars.forEach((_, i) => {
    if (i < 2) return void fresh++;
    const gram = chars.slice(i - 2, i + 1).join('');
    if (!seen.has(gram)) fresh++;
    seen.add(gram);
  });
  const distinct = new Set(chars).size;
  return distinct > 1 ? Math.floor(fresh * Math.log2(distinct)) : 0;
}

export function loadConfig(env: Env = process.env): Config {
  const production = env.NODE_ENV === 'production';
  const generated: string[] = [];
  // Only listed variables can be read, and their defaults and bounds come from the list.
  const text = (name: VariableName) => {
    const v = env[name]?.trim();
    return v === '' ? undefined : v;
  };
  const value = (name: VariableName) => text(name) ?? String((VARIABLES[name] as Variable).default ?? '');
  const required = (name: VariableName) => {
    const v = text(name);
    if (v === undefined) throw new ConfigError(name, 'is required');
    return v;
  };
  const integer = (name: VariableName) => {
    const {
      default: fallback,
      min,
      max,
    } = VARIABLES[name] as Variable & { default: number; min: number; max: number };
    const v = text(name);
    if (v === undefined) return fallback;
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max)
      throw new ConfigError(name, `must be a whole number from ${min} to ${max}`);
    return Number(v);
  };
  const list = (name: VariableName) =>
    (text(name) ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);

  const port = integer('PORT');
  const host = value('HOST');
  const opsPort = text('OPS_PORT') === undefined ? undefined : integer('OPS_PORT');
  if (opsPort !== undefined && opsPort !== 0 && opsPort === port)
    throw new ConfigError('OPS_PORT', 'must differ from PORT');

  const publicUrlText = text('PUBLIC_URL');
  if (!publicUrlText && production) throw new ConfigError('PUBLIC_URL', 'is required in production');
  let publicUrl: URL;
  try {
    publicUrl = new URL(publicUrlText ?? `http://localhost:${port}`);
    if (!['http:', 'https:'].includes(publicUrl.protocol) || publicUrl.search || publicUrl.hash)
      throw new Error();
  } catch {
    throw new ConfigError(
      'PUBLIC_URL',
      'must be an absolute http(s) URL without query, e.g. https://isv.example.com',
    );
  }
  // Cookies would lose Secure and the callback would carry codes in clear text.
  if (production && publicUrl.protocol !== 'https:')
    throw new ConfigError('PUBLIC_URL', 'must be https in production');

  const redis = redisSettings(text, list, production);
  const prefix = value('REDIS_PREFIX');
  if (/[{}\s]/.test(prefix)) throw new ConfigError('REDIS_PREFIX', 'must not contain braces or spaces');

  const appId = required('KOO_APP_ID');
  // UNCONFIRMED (spec §2.1): the EU console shows a key Base64-encoded; <NAME>_BASE64=true decodes it.
  const accessKey = (name: 'KIT_ACCESS_KEY' | 'BASIC_ACCESS_KEY' | 'V1_ACCESS_KEY', key: string) => {
    if (text(`${name}_BASE64`) !== 'true') return key;
    const decoded = Buffer.from(key, 'base64').toString('utf8');
    if (!decoded) throw new ConfigError(name, `is not valid Base64 (${name}_BASE64=true)`);
    return decoded;
  };
  // In production: the HMAC key itself (decoded from Base64 where asked) must be this long.
  const longEnough = (name: 'KIT_ACCESS_KEY' | 'BASIC_ACCESS_KEY' | 'V1_ACCESS_KEY', key: string) => {
    if (production && key.length < MIN_PRODUCTION_KEY_LENGTH)
      throw new ConfigError(name, `must be at least ${MIN_PRODUCTION_KEY_LENGTH} characters in production`);
    return key;
  };
  const kitAccessKey = longEnough('KIT_ACCESS_KEY', accessKey('KIT_ACCESS_KEY', required('KIT_ACCESS_KEY')));
  const basicKeyText = text('BASIC_ACCESS_KEY');
  if (!basicKeyText && production) throw new ConfigError('BASIC_ACCESS_KEY', 'is required in production');
  let basicAccessKey: string;
  if (basicKeyText)
    basicAccessKey = longEnough('BASIC_ACCESS_KEY', accessKey('BASIC_ACCESS_KEY', basicKeyText));
  else {
    // Outside production a random key keeps the basic routes closed until one is configured.
    basicAccessKey = randomBytes(24).toString('base64url');
    generated.push('BASIC_ACCESS_KEY');
  }
  const v1KeyText = text('V1_ACCESS_KEY');
  // One key for everything V1 (§7.2); it may equal a V2 key: the schemes never share a route.
  const v1AccessKey = v1KeyText
    ? longEnough('V1_ACCESS_KEY', accessKey('V1_ACCESS_KEY', v1KeyText))
    : undefined;
  if (basicAccessKey === kitAccessKey)
    throw new ConfigError(
      'BASIC_ACCESS_KEY',
      'must differ from KIT_ACCESS_KEY (Seller Center binds a different key to each interface type)',
    );

  const rsaPrivateKey = loadPrivateKey(env);

  let sessionSecrets = list('SESSION_SECRET');
  if (sessionSecrets.length === 0) {
    if (production) throw new ConfigError('SESSION_SECRET', 'is required in production');
    sessionSecrets = [randomBytes(32).toString('base64url')];
    generated.push('SESSION_SECRET');
  }
  if (sessionSecrets.some((s) => s.length < 16))
    throw new ConfigError('SESSION_SECRET', 'each secret must be at least 16 characters');

  let dataKeys: DataKeyRing;
  const dataKeyText = text('DATA_KEY');
  if (!dataKeyText) {
    if (production) throw new ConfigError('DATA_KEY', 'is required in production');
    dataKeys = new DataKeyRing([randomBytes(32)]);
    generated.push('DATA_KEY');
  } else {
    try {
      dataKeys = DataKeyRing.fromBase64List(dataKeyText);
    } catch {
      throw new ConfigError(
        'DATA_KEY',
        'must be comma-separated base64 values of exactly 32 bytes (openssl rand -base64 32)',
      );
    }
  }

  const sellerApiKeys = list('SELLER_API_KEYS');
  if (sellerApiKeys.length === 0) throw new ConfigError('SELLER_API_KEYS', 'is required');
  if (sellerApiKeys.some((k) => k.length < 16))
    throw new ConfigError('SELLER_API_KEYS', 'each key must be at least 16 characters');
  if (production)
    sellerApiKeys.forEach((key, i) => {
      const bits = estimatedKeyBits(key);
      if (bits < MIN_PRODUCTION_API_KEY_BITS)
        // Which key, never the key: this line is printed.
        throw new ConfigError(
          'SELLER_API_KEYS',
          `key ${i + 1} of ${sellerApiKeys.length} has an estimated ${bits} bits of entropy, production needs ${MIN_PRODUCTION_API_KEY_BITS}: generate each key with openssl rand -base64 32`,
        );
    });

  const unifiedLoginUrl = value('UNIFIED_LOGIN_URL');
  if (!/^https?:\/\//.test(unifiedLoginUrl) || !unifiedLoginUrl.includes('{appId}'))
    throw new ConfigError('UNIFIED_LOGIN_URL', 'must be an http(s) URL containing {appId}');
  if (production && !unifiedLoginUrl.startsWith('https://'))
    throw new ConfigError('UNIFIED_LOGIN_URL', 'must be https in production');

  const produceBasePath = value('PRODUCE_BASE_PATH').replace(/\/+$/, '');
  if (produceBasePath && !/^\/[A-Za-z0-9._~\-/]*$/.test(produceBasePath))
    throw new ConfigError('PRODUCE_BASE_PATH', 'must be a path starting with /, e.g. /isv/produce');

  const postLoginPath = value('POST_LOGIN_PATH');
  if (!postLoginPath.startsWith('/') || postLoginPath.startsWith('//'))
    throw new ConfigError('POST_LOGIN_PATH', 'must be a path on this origin starting with a single /');

  const trustProxy = parseTrustProxy(text('TRUST_PROXY'));

  // Dangerous, so named and loud (as openid-client's allowInsecureRequests): tokens and client
  // secrets would cross the network in clear text.
  const insecureText = value('ALLOW_INSECURE_IDP').toLowerCase();
  if (!['true', 'false'].includes(insecureText))
    throw new ConfigError('ALLOW_INSECURE_IDP', 'must be true or false');
  const allowInsecureIdp = insecureText === 'true';
  if (allowInsecureIdp && production)
    throw new ConfigError(
      'ALLOW_INSECURE_IDP',
      'is refused in production: identity servers must be https (it is for the sandbox and tests)',
    );

  const idpAllowedHosts = list('IDP_ALLOWED_HOSTS').map((h) => h.toLowerCase());
  for (const h of idpAllowedHosts)
    if (!/^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:\d{1,5})?$/.test(h))
      throw new ConfigError('IDP_ALLOWED_HOSTS', 'must list hosts as host or host:port, comma-separated');

  const gatingText = value('INSTANCE_GATING').toLowerCase();
  if (!['on', 'off'].includes(gatingText)) throw new ConfigError('INSTANCE_GATING', 'must be on or off');
  const absoluteUrl = (name: VariableName, fallback?: string) => {
    const v = text(name) ?? fallback;
    if (v === undefined) return undefined;
    try {
      const url = new URL(v);
      if (!['http:', 'https:'].includes(url.protocol)) throw new Error();
      return url.href;
    } catch {
      throw new ConfigError(name, 'must be an absolute http(s) URL');
    }
  };
  const frontEndUrl = absoluteUrl('APP_FRONTEND_URL', new URL(postLoginPath, publicUrl).href)!;
  const adminUrl = absoluteUrl('APP_ADMIN_URL');

  const webhook = webhookSettings(text('WEBHOOK_URL'), text('WEBHOOK_SECRET'), production);
  // Webhooks are retried for as long as events are kept: the contract promises at least 24 h.
  if (webhook && integer('EVENTS_RETENTION_HOURS') < 24)
    throw new ConfigError(
      'EVENTS_RETENTION_HOURS',
      'must be at least 24 with WEBHOOK_URL (events are retried that long)',
    );

  let handoffUrl: URL | undefined;
  const handoffText = text('HANDOFF_URL');
  if (handoffText) {
    try {
      handoffUrl = new URL(handoffText);
      if (!['http:', 'https:'].includes(handoffUrl.protocol) || handoffUrl.hash) throw new Error();
    } catch {
      throw new ConfigError(
        'HANDOFF_URL',
        "must be an absolute http(s) URL of the seller app's hand-off route",
      );
    }
    if (production && handoffUrl.protocol !== 'https:')
      throw new ConfigError('HANDOFF_URL', 'must be https in production');
  }

  return {
    production,
    port,
    host,
    ...(opsPort !== undefined ? { ops: { port: opsPort, host: value('OPS_HOST') } } : {}),
    drainGraceMs: integer('DRAIN_GRACE_MS'),
    publicUrl,
    publicBase: publicUrl.href.replace(/\/+$/, ''),
    redis: {
      ...redis,
      prefix,
      timeoutMs: integer('REDIS_TIMEOUT_MS'),
      waitReplicas: integer('REDIS_WAIT_REPLICAS'),
      waitTimeoutMs: integer('REDIS_WAIT_TIMEOUT_MS'),
    },
    appId,
    kitAccessKey,
    basicAccessKey,
    ...(v1AccessKey ? { v1AccessKey } : {}),
    rsaPrivateKey,
    sessionSecrets,
    // Derived here, once, so nothing downstream is handed the secret itself.
    sessionKeys: deriveSessionKeys(sessionSecrets),
    dataKeys,
    sellerApiKeys,
    unifiedLoginUrl,
    produceBasePath,
    postLoginPath,
    trustProxy,
    logLevel: value('LOG_LEVEL'),
    events: {
      retentionMs: integer('EVENTS_RETENTION_HOURS') * 3_600_000,
      ...(webhook ? { webhook } : {}),
    },
    kit: {
      bodyLimitBytes: integer('KIT_BODY_LIMIT_BYTES'),
      deadlineMs: integer('KIT_DEADLINE_MS'),
      clockWindowMs: 60_000,
      nonceTtlMs: 120_000,
    },
    instances: {
      gating: gatingText === 'on',
      frontEndUrl,
      ...(adminUrl ? { adminUrl } : {}),
      bodyLimitBytes: 64 * 1024,
    },
    session: {
      idleSeconds: integer('SESSION_IDLE_SECONDS'),
      absoluteSeconds: integer('SESSION_ABSOLUTE_SECONDS'),
      cookieName: value('SESSION_COOKIE_NAME'),
    },
    idpTimeoutMs: integer('IDP_TIMEOUT_MS'),
    allowInsecureIdp,
    idpAllowedHosts,
    ...(handoffUrl ? { handoffUrl } : {}),
    assertion: {
      ttlSeconds: integer('ASSERTION_TTL_SECONDS'),
      rotationDays: integer('ASSERTION_KEY_ROTATION_DAYS'),
    },
    rateLimits: {
      windowMs: 60_000,
      login: integer('RATE_LIMIT_LOGIN_PER_MINUTE'),
      callback: integer('RATE_LIMIT_CALLBACK_PER_MINUTE'),
      ticketFailures: integer('RATE_LIMIT_TICKET_FAILURES_PER_MINUTE'),
      apiKeyFailures: integer('RATE_LIMIT_API_KEY_FAILURES_PER_MINUTE'),
      idpCalls: integer('RATE_LIMIT_IDP_CALLS_PER_MINUTE'),
    },
    generated,
  };
}

/** WEBHOOK_URL and WEBHOOK_SECRET: both or neither; the secret as Standard Webhooks writes it. */
function webhookSettings(
  urlText: string | undefined,
  secret: string | undefined,
  production: boolean,
): { url: URL; secret: string } | undefined {
  if (urlText === undefined) {
    if (secret !== undefined) throw new ConfigError('WEBHOOK_SECRET', 'is set but WEBHOOK_URL is not');
    return undefined;
  }
  let url: URL;
  try {
    url = new URL(urlText);
    if (!['http:', 'https:'].includes(url.protocol)) throw new Error();
  } catch {
    throw new ConfigError('WEBHOOK_URL', 'must be an absolute http(s) URL');
  }
  // fetch refuses such URLs: every delivery would fail
  if (url.username || url.password)
    throw new ConfigError(
      'WEBHOOK_URL',
      'must not carry credentials (the signature authenticates the relay)',
    );
  // Events carry users' names, e-mails and mobile numbers: never in clear text off the machine.
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (production && url.protocol !== 'https:' && !loopback)
    throw new ConfigError('WEBHOOK_URL', 'must be https in production (or a loopback address)');
  if (secret === undefined) throw new ConfigError('WEBHOOK_SECRET', 'is required with WEBHOOK_URL');
  const match = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(secret);
  const bytes = match ? Buffer.from(match[1]!, 'base64').length : 0;
  if (bytes < 24 || bytes > 64)
    throw new ConfigError(
      'WEBHOOK_SECRET',
      'must be whsec_ followed by the Base64 of 24 to 64 random bytes (Standard Webhooks)',
    );
  return { url, secret };
}

/**
 * Express takes a string as a list of addresses or subnets: "true" and a hop count mean what
 * they say only as a boolean and a number.
 */
/**
 * Where Redis is and how to reach it: one of REDIS_URL, REDIS_CLUSTER_NODES and
 * REDIS_SENTINEL_NODES, the data nodes' credentials, and the TLS files (read here, so a missing
 * file stops the start). No message names a password: an entry holding one is named by its place.
 */
function redisSettings(
  text: (name: VariableName) => string | undefined,
  list: (name: VariableName) => string[],
  production: boolean,
): Pick<Config['redis'], 'url' | 'clusterNodes' | 'sentinel' | 'credentials' | 'tls'> {
  const url = text('REDIS_URL');
  const clusterNodes = list('REDIS_CLUSTER_NODES');
  const sentinelNodes = list('REDIS_SENTINEL_NODES');
  const given = (['REDIS_URL', 'REDIS_CLUSTER_NODES', 'REDIS_SENTINEL_NODES'] as const).filter((n) =>
    text(n),
  );
  if (given.length > 1)
    throw new ConfigError(
      given[1]!,
      `set only one of REDIS_URL, REDIS_CLUSTER_NODES and REDIS_SENTINEL_NODES (${given.join(' and ')} are set)`,
    );
  if (production && given.length === 0)
    throw new ConfigError(
      'REDIS_URL',
      'is required in production, or REDIS_CLUSTER_NODES or REDIS_SENTINEL_NODES (the embedded store keeps nothing and shares nothing)',
    );

  /** Every entry parsed; all must share one scheme (and, for `what` cluster, one set of credentials). */
  const nodes = (name: 'REDIS_CLUSTER_NODES' | 'REDIS_SENTINEL_NODES', entries: string[]): NodeAddress[] => {
    const parsed = entries.map((entry, i) => {
      const node = parseNode(entry);
      if (!node)
        throw new ConfigError(
          name,
          `${entry.includes('@') ? `entry ${i + 1}` : `"${entry}"`} is not host:port or a redis:// or rediss:// URL with a port`,
        );
      return node;
    });
    const first = parsed[0]!;
    if (parsed.some((n) => n.tls !== first.tls))
      throw new ConfigError(name, 'mixes redis:// (or host:port) and rediss:// entries');
    if (parsed.some((n) => n.username !== first.username || n.password !== first.password))
      throw new ConfigError(
        name,
        'entries carry different credentials (they apply to every node: give them once)',
      );
    return parsed;
  };

  let inUrls = false;
  let tlsUsed = false;
  const out: ReturnType<typeof redisSettings> = {};
  if (url) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ConfigError('REDIS_URL', 'is not a URL (redis://[user:password@]host:port)');
    }
    if (!['redis:', 'rediss:'].includes(parsed.protocol))
      throw new ConfigError('REDIS_URL', 'must start with redis:// or rediss://');
    inUrls = Boolean(parsed.username || parsed.password);
    tlsUsed = parsed.protocol === 'rediss:';
    out.url = url;
  }
  if (clusterNodes.length) {
    const seeds = nodes('REDIS_CLUSTER_NODES', clusterNodes);
    inUrls = Boolean(seeds[0]!.username || seeds[0]!.password);
    tlsUsed = seeds[0]!.tls;
    out.clusterNodes = clusterNodes;
  }
  const masterName = text('REDIS_SENTINEL_MASTER');
  const sentinelPassword = text('REDIS_SENTINEL_PASSWORD');
  if (sentinelNodes.length) {
    const sentinels = nodes('REDIS_SENTINEL_NODES', sentinelNodes);
    if (sentinels[0]!.username || sentinels[0]!.password)
      throw new ConfigError(
        'REDIS_SENTINEL_NODES',
        "carries credentials: give the sentinels' password as REDIS_SENTINEL_PASSWORD and the data nodes' as REDIS_PASSWORD",
      );
    if (!masterName)
      throw new ConfigError(
        'REDIS_SENTINEL_MASTER',
        'is required with REDIS_SENTINEL_NODES (the monitored name)',
      );
    tlsUsed = sentinels[0]!.tls;
    out.sentinel = {
      nodes: sentinelNodes,
      masterName,
      ...(sentinelPassword ? { password: sentinelPassword } : {}),
    };
  } else
    for (const name of ['REDIS_SENTINEL_MASTER', 'REDIS_SENTINEL_PASSWORD'] as const)
      if (text(name)) throw new ConfigError(name, 'is set, but REDIS_SENTINEL_NODES is not');

  const username = text('REDIS_USERNAME');
  const password = text('REDIS_PASSWORD');
  if (username && !password) throw new ConfigError('REDIS_USERNAME', 'needs REDIS_PASSWORD');
  if (password && inUrls)
    throw new ConfigError(
      'REDIS_PASSWORD',
      `is set, and ${url ? 'REDIS_URL' : 'REDIS_CLUSTER_NODES'} carries credentials too: give them once`,
    );
  if (password) out.credentials = { ...(username ? { username } : {}), password };

  const pem = (
    name: 'REDIS_TLS_CA_FILE' | 'REDIS_TLS_CERT_FILE' | 'REDIS_TLS_KEY_FILE',
    what: string,
    marker: RegExp,
  ) => {
    const file = text(name);
    if (file === undefined) return undefined;
    let content: string;
    try {
      content = readFileSync(file, 'utf8');
    } catch (error) {
      throw new ConfigError(
        name,
        `cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
    if (!marker.test(content)) throw new ConfigError(name, `${file} holds no PEM ${what}`);
    return content;
  };
  const ca = pem('REDIS_TLS_CA_FILE', 'certificate', /-----BEGIN CERTIFICATE/);
  const cert = pem('REDIS_TLS_CERT_FILE', 'certificate', /-----BEGIN CERTIFICATE/);
  const key = pem('REDIS_TLS_KEY_FILE', 'private key', /-----BEGIN [A-Z ]*PRIVATE KEY/);
  if (Boolean(cert) !== Boolean(key))
    throw new ConfigError(
      cert ? 'REDIS_TLS_KEY_FILE' : 'REDIS_TLS_CERT_FILE',
      'is required with the other (both or neither)',
    );
  if ((ca || cert) && !tlsUsed)
    throw new ConfigError(
      ca ? 'REDIS_TLS_CA_FILE' : 'REDIS_TLS_CERT_FILE',
      'is set, but no Redis connection uses TLS (a rediss:// URL or entry)',
    );
  if (ca || cert) out.tls = { ...(ca ? { ca } : {}), ...(cert && key ? { cert, key } : {}) };
  return out;
}

function parseTrustProxy(value: string | undefined): boolean | number | string {
  if (value === undefined || value === 'false') return false;
  if (value === 'true') return true;
  if (/^\d+$/.test(value)) return Number(value);
  return value;
}

function loadPrivateKey(env: Env): KeyObject {
  const inline = env.RSA_PRIVATE_KEY?.trim();
  const file = env.RSA_PRIVATE_KEY_FILE?.trim();
  const name = inline ? 'RSA_PRIVATE_KEY' : 'RSA_PRIVATE_KEY_FILE';
  let pem: string;
  if (inline) pem = inline.replace(/\\n/g, '\n');
  else if (file) {
    try {
      pem = readFileSync(file, 'utf8');
    } catch (error) {
      throw new ConfigError(
        name,
        `cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
  } else throw new ConfigError('RSA_PRIVATE_KEY', 'is required (or RSA_PRIVATE_KEY_FILE)');
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    throw new ConfigError(name, 'is not a PKCS#8 PEM private key');
  }
  if (key.asymmetricKeyType !== 'rsa') throw new ConfigError(name, 'must be an RSA key');
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < 3072)
    throw new ConfigError(name, `is ${bits}-bit; KooGallery requires RSA of at least 3072 bits`);
  return key;
}
