/** A relay built exactly as main.ts builds it, listening on a free port, with its sandbox pusher. */
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import request from 'supertest';
import { buildApp, type Relay } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger } from '../../src/ops/log.js';
import { Pusher, type PusherOptions } from '../../src/sandbox/pusher.js';
import { MemoryStore } from '../../src/store/memory.js';
import type { Store } from '../../src/store/store.js';
import { API_KEY, BASIC_KEY, KIT_KEY, relayEnv, SELLER_PUBLIC_KEY } from './fixtures.js';
import { connectRedisStore, dropPrefix, keysUnder, uniquePrefix } from './redis.js';

// The keys and the environment live in fixtures.ts, shared with the benchmarks; the tests import
// them from here as they always have.
export {
  API_KEY,
  APP_ID,
  BASIC_KEY,
  DATA_KEY,
  fixture,
  KIT_KEY,
  OTHER_PUBLIC_KEY,
  SELLER_PRIVATE_KEY,
  SELLER_PUBLIC_KEY,
  V1_KEY,
} from './fixtures.js';
export { relayEnv as testEnv };

export type StoreKind = 'memory' | 'redis';

/**
 * Worker threads' message ports open in this process: one per running verifying worker
 * (kit/offThread.ts), so a test sees a relay's worker start and end.
 */
export const workerPorts = (): number =>
  process.getActiveResourcesInfo().filter((resource) => resource === 'MessagePort').length;

export interface TestRelay {
  url: string;
  config: Config;
  relay: Relay;
  store: Store;
  prefix: string;
  pusher: Pusher;
  logs: string[];
  /** supertest against the running relay */
  http: ReturnType<typeof request>;
  /** GET with the seller API key */
  api: (path: string) => request.Test;
  /** Every key under this relay's prefix, calls' claims included. */
  keys: () => Promise<string[]>;
  /** Every record under this relay's prefix (calls' claims excluded), for "nothing changed" checks. */
  state: () => Promise<Record<string, unknown>>;
  /**
   * The request log line of the one request sent with this `X-Request-Id`, parsed; waited for, since the
   * relay writes it as the answer finishes, which may be just after the client has read it.
   */
  logLine: (reqId: string) => Promise<Record<string, unknown>>;
  /**
   * Stops this relay, keeping everything it stored, and starts it again on the same port, prefix
   * and store with `env` changed: a restart, or a deploy with new settings (key rotation). Use the
   * relay it returns; closing that one drops the prefix if closing this one would have.
   */
  restart: (env?: Record<string, string | undefined>) => Promise<TestRelay>;
  close: () => Promise<void>;
}

export interface StartOptions {
  store?: StoreKind | Store;
  /** share another relay's keys (two relay processes on one Redis) */
  prefix?: string;
  /** listen here instead of a free port (when PUBLIC_URL must be known in advance) */
  port?: number;
  env?: Record<string, string | undefined>;
  now?: () => number;
  pusher?: Partial<PusherOptions>;
  /** changes what no variable sets (e.g. a rate limit's window), before the app is built */
  configure?: (config: Config) => void;
}

export function startRelay(options: StartOptions = {}): Promise<TestRelay> {
  return start(options, !options.prefix);
}

/** `ownsPrefix`: the keys are this relay's to drop on close (it made the prefix, or restarts a relay that did). */
async function start(options: StartOptions, ownsPrefix: boolean): Promise<TestRelay> {
  const prefix = options.prefix ?? uniquePrefix();
  const config = loadConfig(relayEnv({ REDIS_PREFIX: prefix, ...options.env }));
  options.configure?.(config);
  const kind = options.store ?? 'redis';
  const store =
    typeof kind === 'object' ? kind : kind === 'memory' ? new MemoryStore() : await connectRedisStore();
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const logger = createLogger('debug', sink);
  const relay = buildApp({ config, store, logger, ...(options.now ? { now: options.now } : {}) });
  const server = relay.app.listen(options.port ?? 0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  const pusher = new Pusher({
    productionAddress: `${url}${config.produceBasePath}`,
    kitAccessKey: KIT_KEY,
    basicAccessKey: BASIC_KEY,
    publicKey: SELLER_PUBLIC_KEY,
    ...(options.now ? { now: options.now } : {}),
    ...options.pusher,
  });
  const http = request(url);
  const keys = async () =>
    store instanceof MemoryStore ? store.keys().filter((k) => k.startsWith(prefix)) : await keysUnder(prefix);
  return {
    url,
    config,
    relay,
    store,
    prefix,
    pusher,
    logs,
    http,
    api: (path) => http.get(path).set('Authorization', `Bearer ${API_KEY}`),
    keys,
    state: async () => snapshot(store, await keys()),
    logLine: async (reqId) => {
      for (let waited = 0; ; waited += 10) {
        const line = logs
          .map((l) => JSON.parse(l) as Record<string, unknown>)
          .find((l) => l.reqId === reqId && l.msg === 'request');
        if (line) return line;
        if (waited >= 2000) throw new Error(`no log line for request ${reqId}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    restart: async (env = {}) => {
      await stop();
      return start(
        {
          ...options,
          prefix,
          port,
          // the embedded store is the data: the restarted relay gets the same one
          store: kind === 'memory' ? store : kind,
          env: { ...options.env, ...env },
        },
        ownsPrefix,
      );
    },
    close: async () => {
      await stop();
      if (kind === 'redis' && ownsPrefix) await dropPrefix(prefix);
    },
  };

  async function stop(): Promise<void> {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await relay.close();
    if (typeof kind !== 'object') await store.close();
  }
}

/**
 * Everything the store holds under `prefix` except calls' claims (kit/replay.ts), the change
 * feed's events included: to assert "nothing changed".
 */
export async function snapshot(store: Store, keys: string[]): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const readers = [
    (key: string) => store.get(key),
    (key: string) => store.hGetAll(key),
    async (key: string) => (await store.sMembers(key)).sort(),
    (key: string) => store.xRange(key, null, 1_000_000),
  ];
  for (const key of keys.filter((k) => !/\{calls\}:(nonce|signed):/.test(k)).sort()) {
    for (const read of readers) {
      try {
        out[key] = await read(key);
        break;
      } catch {
        // another type: the next reader
      }
    }
  }
  return out;
}
