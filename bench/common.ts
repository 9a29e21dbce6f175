/**
 * Shared pieces of the benchmarks: the relay's environment (the keys and push builders the tests
 * use, from test/support/fixtures.ts), Redis helpers, the benchmark's bulk data, sample
 * statistics, and a relay built in this process with the round-by-round runner the push
 * benchmarks share.
 */
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { createClient } from 'redis';
import { buildApp, type Relay } from '../src/app.js';
import { loadConfig, type Config } from '../src/config.js';
import { createLogger } from '../src/ops/log.js';
import { Pusher } from '../src/sandbox/pusher.js';
import { RedisStore } from '../src/store/redis/store.js';
import {
  appFields,
  authFields,
  BASIC_KEY,
  KIT_KEY,
  relayEnv as fixtureEnv,
  tenantFields,
  user,
} from '../test/support/fixtures.js';

export const REDIS_URL = process.env.REDIS_URL?.trim() || 'redis://127.0.0.1:6379';

/**
 * Every request of a benchmark, the fault checks and the soak comes from loopback, one client
 * address, and their tenants sign in far faster than a real one: the rate limits still count
 * (their Redis round trips are part of what is measured) but are set too high to refuse anything.
 */
export const UNTRIPPED_RATE_LIMITS = {
  RATE_LIMIT_LOGIN_PER_MINUTE: '1000000',
  RATE_LIMIT_CALLBACK_PER_MINUTE: '1000000',
  RATE_LIMIT_TICKET_FAILURES_PER_MINUTE: '1000000',
  RATE_LIMIT_API_KEY_FAILURES_PER_MINUTE: '1000000',
  RATE_LIMIT_IDP_CALLS_PER_MINUTE: '1000000',
} as const;

/** The environment a relay of this benchmark is configured from: the tests' keys, its own Redis keys. */
export function relayEnv(
  prefix: string,
  overrides: Record<string, string | undefined> = {},
): Record<string, string | undefined> {
  return fixtureEnv({
    REDIS_URL,
    REDIS_PREFIX: prefix,
    LOG_LEVEL: 'warn',
    ...UNTRIPPED_RATE_LIMITS,
    ...overrides,
  });
}

/** A key prefix of its own per run, so nothing else in the Redis is touched. */
export function benchPrefix(): string {
  return `bench:${randomBytes(6).toString('hex')}:`;
}

const newClient = (url: string) => createClient({ url });
export type RedisClient = ReturnType<typeof newClient>;

export async function connectClient(url = REDIS_URL): Promise<RedisClient> {
  const client = newClient(url);
  client.on('error', (error: Error) => console.error(`redis client: ${error.message}`));
  await client.connect();
  return client;
}

/** Deletes every key under `prefix` (SCAN MATCH + DEL). Returns how many keys went. */
export async function dropPrefix(client: RedisClient, prefix: string): Promise<number> {
  let deleted = 0;
  for await (const batch of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
    if (batch.length) deleted += await client.del(batch);
  }
  return deleted;
}

export async function redisVersion(client: RedisClient): Promise<string> {
  const info = await client.info('server');
  return /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
}

/** A user as the marketplace sends it, with the optional fields a real directory usually fills. */
export function benchUser(i: number) {
  const n = String(i).padStart(5, '0');
  return user(`user${n}@example.com`, {
    name: `用户 ${n}`,
    orgCode: `D${String(1 + (i % 200)).padStart(5, '0')}`,
    position: 'Engineer',
    employeeCode: `E${n}`,
    role: i % 50 === 0 ? 'admin' : 'user',
    mobile: `+86-138${n}000`.slice(0, 16),
    email: `user${n}@example.com`,
  });
}

/** authSync carries its sync time twice, as the marketplace sends it; allOrgSync only `timeStamp`. */
export const syncedAt = (timeStamp: string) => ({ currentSyncTime: timeStamp, timeStamp });

/** A department tree: ten children per department, codes D00001…; D00001 is the root. */
export function benchDepartment(i: number) {
  const code = (n: number) => `D${String(n).padStart(5, '0')}`;
  const n = i + 1;
  return {
    orgCode: code(n),
    orgName: `部门 ${n} Department`,
    parentCode: n === 1 ? '' : code(Math.floor((n - 2) / 10) + 1),
  };
}

export interface Stats {
  n: number;
  p50: number;
  p95: number;
  mean: number;
  min: number;
  max: number;
}

/** Percentile of sorted samples, linear between the two closest ranks. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

export function stats(samples: readonly number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    mean: sorted.reduce((s, v) => s + v, 0) / (sorted.length || 1),
    min: sorted[0] ?? Number.NaN,
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

export const round = (v: number, digits = 2) => Math.round(v * 10 ** digits) / 10 ** digits;

export function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

/** Share of the machine's CPU time that was busy over `ms` (Linux /proc/stat), or null elsewhere. */
export async function cpuBusy(ms = 1000): Promise<number | null> {
  const read = async () => {
    const { readFile } = await import('node:fs/promises');
    const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = v[3]! + (v[4] ?? 0);
    return { idle, total: v.reduce((s, x) => s + x, 0) };
  };
  try {
    const a = await read();
    await new Promise((resolve) => setTimeout(resolve, ms));
    const b = await read();
    return 1 - (b.idle - a.idle) / Math.max(1, b.total - a.total);
  } catch {
    return null;
  }
}

/**
 * Benchmarks on a shared machine: wait (up to `maxS`) until other processes leave the CPU
 * mostly idle, and say so when they do not. Returns the last busy share seen.
 */
export async function waitForQuiet(maxS = 60, threshold = 0.1): Promise<number | null> {
  let busy = await cpuBusy();
  for (let waited = 1; busy !== null && busy > threshold && waited < maxS; waited++) {
    if (waited === 1)
      log(`the machine is ${Math.round(busy * 100)}% busy; waiting up to ${maxS} s for quiet`);
    busy = await cpuBusy();
  }
  if (busy !== null && busy > threshold)
    log(`WARNING: still ${Math.round(busy * 100)}% busy with other work; figures will be noisy`);
  return busy;
}

/** A port nobody listens on right now (for a server that must know its URL before it starts). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** A relay built in this process as main.ts builds it, listening on a local port. */
export interface InProcessRelay {
  config: Config;
  relay: Relay;
  store: RedisStore;
  /** http://127.0.0.1:<port> */
  url: string;
  /** the sandbox Pusher, with the kit and the basic key, aimed at this relay */
  pusher: Pusher;
  /** server time in ms (request received → answer finished) by nonce: `x-nonce` or `?nonce=` */
  serverTimes: Map<string, number>;
  close: () => Promise<void>;
}

/**
 * `loadConfig` from `relayEnv(prefix)`, `RedisStore.connect` + `ready()`, `buildApp`, logging at
 * warn to stderr, behind a thin `http.createServer` wrapper that times each request by its nonce
 * (kit pushes carry it in `x-nonce`, basic calls in the query).
 */
export async function startInProcessRelay(prefix: string): Promise<InProcessRelay> {
  const config = loadConfig(relayEnv(prefix));
  const store = RedisStore.connect({ url: REDIS_URL }, { timeoutMs: config.redis.timeoutMs });
  await store.ready();
  // warn and above only, to stderr: one info line per push would not dominate, but is not the subject.
  const logger = createLogger('warn', pino.destination(2));
  const relay = buildApp({ config, store, logger });
  const serverTimes = new Map<string, number>();
  const server: Server = createHttpServer((req, res) => {
    const started = performance.now();
    const header = req.headers['x-nonce'];
    const q = req.url?.indexOf('?') ?? -1;
    const nonce =
      typeof header === 'string'
        ? header
        : q >= 0
          ? new URLSearchParams(req.url!.slice(q + 1)).get('nonce')
          : null;
    res.on('finish', () => {
      if (nonce) serverTimes.set(nonce, performance.now() - started);
    });
    void relay.app(req, res);
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const pusher = new Pusher({
    productionAddress: `${url}${config.produceBasePath}`,
    kitAccessKey: KIT_KEY,
    basicAccessKey: BASIC_KEY,
    timeoutMs: 20_000,
  });
  return {
    config,
    relay,
    store,
    url,
    pusher,
    serverTimes,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await Promise.all([store.close(), relay.close()]);
    },
  };
}

/** A nonce as the marketplace makes them: 64 upper-case hex digits. */
export { newNonce } from '../src/sandbox/marketplace/index.js';

/** The relay's own time for the call sent with `nonce`, once its answer has finished. */
export async function waitForServerTime(r: InProcessRelay, nonce: string): Promise<number> {
  for (let i = 0; i < 10; i++) {
    const t = r.serverTimes.get(nonce);
    if (t !== undefined) {
      r.serverTimes.delete(nonce);
      return t;
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error('the relay did not finish its answer');
}

export interface Variant {
  name: 'push' | 'apply' | 'floor' | 'handler';
  /** prepares outside the timing, runs, checks, and returns the timed ms */
  run: () => Promise<number>;
}

/** Runs the variants round by round, rotating which goes first, and keeps the samples after warm-up. */
export async function interleave(variants: Variant[], warmup: number, measured: number) {
  const samples = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  for (let round = 0; round < warmup + measured; round++) {
    for (let k = 0; k < variants.length; k++) {
      const v = variants[(round + k) % variants.length]!;
      const ms = await v.run();
      if (round >= warmup) samples.get(v.name)!.push(ms);
    }
  }
  return samples;
}

/** Median of `reps` timings of a synchronous or asynchronous step. */
export async function timeStep(reps: number, step: () => unknown): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await step();
    times.push(performance.now() - t0);
  }
  return stats(times).p50;
}

/**
 * Seeds a tenant through the relay's front door, as the marketplace would: the tenant, the app's
 * credential, then 500 users of the app (benchUser 0…499).
 */
export async function seedTenantWithUsers(pusher: Pusher, tenantId: string): Promise<void> {
  for (const result of [
    await pusher.tenantSync(tenantFields(tenantId)),
    await pusher.applicationSync(appFields(tenantId)),
    await pusher.authSync(
      authFields(
        tenantId,
        Array.from({ length: 500 }, (_, i) => benchUser(i)),
        syncedAt(pusher.nextSyncTime()),
      ),
    ),
  ])
    if (!result.ok) throw new Error(`seeding failed: ${result.interface} ${result.problem}`);
}
