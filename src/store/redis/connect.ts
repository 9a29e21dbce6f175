/**
 * Connections to Redis (node-redis 6): a single server, a Redis Cluster or a master watched by
 * Redis Sentinel, created with the relay's socket, timeout, credential and TLS settings, and
 * connected in the background so the relay starts and reports not-ready until Redis answers.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient, createCluster, createSentinel } from 'redis';
import { StoreUnavailableError } from '../store.js';

/*
 * Named after what the factories return, so a client never needs a cast to its declared type
 * whatever modules, RESP version or type mapping node-redis's defaults carry.
 */
export type SingleClient = ReturnType<typeof createClient>;
export type ClusterClient = ReturnType<typeof createCluster>;
export type SentinelClient = ReturnType<typeof createSentinel>;

/** PEM text (not file names) for TLS connections: the CA to trust, and a client certificate. */
export interface RedisTls {
  ca?: string;
  cert?: string;
  key?: string;
}

export interface RedisCredentials {
  username?: string;
  password?: string;
}

/** Redis Sentinel: the sentinels to ask, the name they monitor the master under, their password. */
export interface SentinelTarget {
  /** `host:port`, `redis://host:port` or `rediss://host:port` (TLS to the sentinels and the data nodes) */
  nodes: string[];
  masterName: string;
  password?: string;
}

/** What a store connects to: one of `url`, `clusterNodes` and `sentinel`, with the rest applying to it. */
export interface RedisTarget {
  url?: string;
  /** seeds: `host:port`, or `redis://` / `rediss://` URLs, credentials included */
  clusterNodes?: string[];
  sentinel?: SentinelTarget;
  /** The data nodes' credentials, where the URLs carry none (REDIS_USERNAME, REDIS_PASSWORD). */
  credentials?: RedisCredentials;
  /** CA and client certificate for every TLS connection (REDIS_TLS_*_FILE). */
  tls?: RedisTls;
}

/** One node as REDIS_CLUSTER_NODES or REDIS_SENTINEL_NODES gives it. */
export interface NodeAddress extends RedisCredentials {
  host: string;
  port: number;
  tls: boolean;
}

/**
 * Parses `host:port` or `redis[s]://[user[:password]@]host:port`; null when it is neither. Never
 * echoes its input in an error: it may hold a password.
 */
export function parseNode(text: string): NodeAddress | null {
  const bare = /^([^:/@\s]+):(\d{1,5})$/.exec(text);
  if (bare) return checkPort({ host: bare[1]!, port: Number(bare[2]), tls: false });
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  if (!['redis:', 'rediss:'].includes(url.protocol) || !url.hostname || !url.port) return null;
  if ((url.pathname && url.pathname !== '/') || url.search || url.hash) return null;
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return undefined;
    }
  };
  const node: NodeAddress = {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: Number(url.port),
    tls: url.protocol === 'rediss:',
  };
  if (url.username) node.username = decode(url.username) ?? '';
  if (url.password) node.password = decode(url.password) ?? '';
  return checkPort(node);
}

const checkPort = (node: NodeAddress) => (node.port > 0 && node.port < 65536 ? node : null);

/** A URL or node text with its password replaced, for messages. */
export function redactPassword(text: string): string {
  return text.replace(/^(rediss?:\/\/[^:@/]*:)[^@/]*@/, '$1***@');
}

/** Wait before reconnect attempt `n` (0-based): 50 ms doubling, at most 2 s. */
export const backoffMs = (n: number): number => Math.min(50 * 2 ** n, 2000);

// A new object for each client: node-redis writes the URL's host, port and tls into it.
const socket = () => ({
  connectTimeout: 2000,
  reconnectStrategy: (retries: number) => backoffMs(retries),
});
// node-redis's own per-command timeout (an AbortSignal timer per command) is off: every call
// of the store has its deadline already (withDeadline), which also covers commands in flight.
const commandOptions = { timeout: 0 };
const common = { disableOfflineQueue: true, pingInterval: 5000 };
// Also for the node connections of a cluster or Sentinel client, which the store uses directly
// (PING, TIME, WAIT) and whose own default is a 5 s timeout. Spread in, since their option types
// leave commandOptions out (node-redis passes them on to each node's client all the same).
const nodeCommon = { ...common, commandOptions };

/** TLS socket options: the CA and client certificate given, if any (Node's own CAs otherwise). */
function tlsOptions(tls: RedisTls | undefined) {
  return {
    ...(tls?.ca ? { ca: tls.ca } : {}),
    ...(tls?.cert ? { cert: tls.cert } : {}),
    ...(tls?.key ? { key: tls.key } : {}),
  };
}

function credentialOptions(c: RedisCredentials | undefined): RedisCredentials {
  return {
    ...(c?.username ? { username: c.username } : {}),
    ...(c?.password ? { password: c.password } : {}),
  };
}

/** The URL's credentials, if any, else `credentials`; TLS when the URL is rediss://. */
export function createSingleClient(url: string | undefined, target: RedisTarget = {}): SingleClient {
  let inUrl = false;
  try {
    const parsed = url ? new URL(url) : undefined;
    inUrl = Boolean(parsed?.username || parsed?.password);
  } catch {
    // node-redis refuses it when connecting
  }
  const rediss = url?.startsWith('rediss://') === true;
  return createClient({
    url,
    ...common,
    commandOptions,
    ...(inUrl ? {} : credentialOptions(target.credentials)),
    // tls itself comes from the URL's scheme (node-redis refuses a tls option that disagrees)
    socket: { ...socket(), ...(rediss ? tlsOptions(target.tls) : {}) },
  });
}

/**
 * The seeds only serve to discover the topology: `defaults` apply to every node connection,
 * so the seeds' credentials and TLS (or `target.credentials`) reach every node discovered.
 */
export function createClusterClient(nodes: readonly string[], target: RedisTarget = {}): ClusterClient {
  const seeds = nodes.map((n) => {
    const node = parseNode(n);
    // config.ts has refused such a value already; a caller passing one gets no echo of it
    if (!node) throw new TypeError('a Redis Cluster seed is neither host:port nor a redis[s]:// URL');
    return node;
  });
  const withCredentials = seeds.find((s) => s.username || s.password);
  const tls = seeds.some((s) => s.tls);
  return createCluster({
    rootNodes: seeds.map(({ host, port }) => ({ socket: { host, port } })),
    defaults: {
      ...nodeCommon,
      ...credentialOptions(withCredentials ?? target.credentials),
      socket: { ...socket(), ...(tls ? { tls: true as const, ...tlsOptions(target.tls) } : {}) },
    },
    commandOptions,
  });
}

/**
 * A master found through Sentinel. The sentinels' scheme applies to the data nodes too:
 * rediss:// is TLS to both. Commands go to the master only (no reads from replicas).
 */
export function createSentinelClient(sentinel: SentinelTarget, target: RedisTarget = {}): SentinelClient {
  const nodes = sentinel.nodes.map((n) => {
    const node = parseNode(n);
    if (!node) throw new TypeError('a sentinel is neither host:port nor a redis[s]:// URL');
    return node;
  });
  const tls = nodes.some((n) => n.tls) ? { tls: true as const, ...tlsOptions(target.tls) } : {};
  return createSentinel({
    name: sentinel.masterName,
    sentinelRootNodes: nodes.map(({ host, port }) => ({ host, port })),
    nodeClientOptions: {
      ...nodeCommon,
      ...credentialOptions(target.credentials),
      socket: { ...socket(), ...tls },
    },
    sentinelClientOptions: {
      ...(sentinel.password ? { password: sentinel.password } : {}),
      socket: { connectTimeout: 2000, ...tls },
    },
    commandOptions,
    // Sentinel announces a failover on its pub/sub (switch-master); asking every 5 s as well
    // finds one that happened while that connection was down.
    scanInterval: 5000,
    // the master's and sentinels' connection errors reach the 'error' listener, with the node
    passthroughClientErrorEvents: true,
  });
}

export interface ConnectHooks {
  onError?: ((error: Error) => void) | undefined;
  /** The connection is usable (again): the store reads the server's clock. Must not throw. */
  onReady: () => Promise<void>;
  /** Aborted when the store closes: ends a cluster's connection attempts and the wait between them. */
  signal: AbortSignal;
}

/**
 * Connects a single server; node-redis reconnects it by itself after that (reconnectStrategy).
 * Resolves once connected, or once the first attempt failed (reported, not thrown).
 */
export function connectSingle(client: SingleClient, hooks: ConnectHooks): Promise<void> {
  client.on('error', (error: Error) => hooks.onError?.(error));
  client.on('ready', () => void hooks.onReady());
  return client.connect().then(
    () => undefined,
    (error: Error) => hooks.onError?.(error),
  );
}

/**
 * Connects through Sentinel: asks the sentinels for the master, then connects to it. node-redis
 * follows failovers by itself after that (Sentinel's switch-master, a READONLY reply, and a
 * scan every 5 s), and emits 'ready' whenever it is connected to a master again; its own first
 * connect() gives up after 16 rounds, so this retries it, like a cluster's, until `hooks.signal`
 * aborts.
 */
export async function connectSentinel(sentinel: SentinelClient, hooks: ConnectHooks): Promise<void> {
  const { onError, signal } = hooks;
  // node-redis emits some of the sentinels' errors as text, not as Error
  sentinel.on('error', (error: unknown) =>
    onError?.(error instanceof Error ? error : new Error(`redis sentinel: ${String(error)}`)),
  );
  sentinel.on('ready', () => void hooks.onReady());
  for (let attempt = 0; !signal.aborted; attempt++) {
    try {
      await sentinel.connect();
      return;
    } catch (error) {
      if (signal.aborted) return;
      onError?.(error as Error);
    }
    await sleep(backoffMs(attempt), undefined, { signal }).catch(() => undefined);
  }
}

/**
 * node-redis connects a cluster once: when no seed answers, connect() fails and is never
 * retried, and a topology without slots (nodes up, cluster not created yet) is accepted, after
 * which every command fails. So this retries, with a single server's reconnect backoff, until
 * every slot has a master (then `onReady` has run when it resolves) or `hooks.signal` aborts.
 */
export async function connectCluster(cluster: ClusterClient, hooks: ConnectHooks): Promise<void> {
  const { onError, signal } = hooks;
  cluster.on('error', (error: Error) => onError?.(error));
  // A cluster reports its node connections' errors as 'node-error', not 'error'.
  cluster.on('node-error', (error: Error, node?: { host?: string; port?: number }) =>
    onError?.(
      new Error(`cluster node ${node?.host ?? '?'}:${node?.port ?? '?'}: ${error.message}`, {
        cause: error,
      }),
    ),
  );
  for (let attempt = 0; !signal.aborted; attempt++) {
    try {
      await cluster.connect();
      if (signal.aborted) {
        // closed during discovery: drop the node connections discovery opened meanwhile
        cluster.destroy();
        return;
      }
      const uncovered = cluster.slots.findIndex((shard) => !shard?.master);
      if (uncovered === -1) {
        // a cluster emits no 'ready' event, so the clock is read here
        await hooks.onReady();
        return;
      }
      cluster.destroy();
      throw new StoreUnavailableError(
        `the Redis Cluster does not serve every slot yet (slot ${uncovered} has no master)`,
      );
    } catch (error) {
      if (signal.aborted) return;
      onError?.(error as Error);
    }
    // An abort ends the wait at once (rejecting with an AbortError, which is the loop's exit).
    await sleep(backoffMs(attempt), undefined, { signal }).catch(() => undefined);
  }
}
