/**
 * Connections to Redis (node-redis 6): a single server or a Redis Cluster, created with the
 * relay's socket and timeout settings, and connected in the background so the relay starts and
 * reports not-ready until Redis answers.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient, createCluster } from 'redis';
import { StoreUnavailableError } from '../store.js';

/*
 * Named after what the factories return, so a client never needs a cast to its declared type
 * whatever modules, RESP version or type mapping node-redis's defaults carry.
 */
export type SingleClient = ReturnType<typeof createClient>;
export type ClusterClient = ReturnType<typeof createCluster>;

/** Wait before reconnect attempt `n` (0-based): 50 ms doubling, at most 2 s. */
export const backoffMs = (n: number): number => Math.min(50 * 2 ** n, 2000);

const socket = {
  connectTimeout: 2000,
  reconnectStrategy: (retries: number) => backoffMs(retries),
};
// node-redis's own per-command timeout (an AbortSignal timer per command) is off: every call
// of the store has its deadline already (withDeadline), which also covers commands in flight.
const common = { disableOfflineQueue: true, pingInterval: 5000, commandOptions: { timeout: 0 } };

export function createSingleClient(url: string | undefined): SingleClient {
  return createClient({ url, ...common, socket });
}

export function createClusterClient(nodes: readonly string[]): ClusterClient {
  // `defaults` apply to every node connection; the seeds only serve to discover the topology.
  return createCluster({
    rootNodes: nodes.map((n) => ({ url: `redis://${n}` })),
    defaults: { ...common, socket },
    commandOptions: common.commandOptions,
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
