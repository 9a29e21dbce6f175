/**
 * What the fault script (bench/faults.ts) and the soak (bench/soak.ts) share: a private
 * redis-server, the sandbox marketplace and identity servers in this process, relay processes
 * started from src/main.ts and configured by the environment alone, the seller-API calls they
 * make, how an answer is judged, the relays' /metrics, and cleaning everything up on exit,
 * failure or Ctrl-C.
 *
 *   this process:  sandbox (unified login) ─┐        ┌─ relay process(es) ── [FaultProxy] ── redis-server
 *                  Pusher (the marketplace) ─┼─ HTTP ─┤
 *                  seller app, browsers     ─┘        └─ → [FaultProxy] → sandbox identity servers
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { Pusher } from '../src/sandbox/pusher.js';
import { startSandbox, type RunningSandbox } from '../src/sandbox/server.js';
import type { SandboxTenant, SandboxWorld } from '../src/sandbox/world.js';
import {
  API_KEY,
  APP_ID,
  BASIC_KEY,
  KIT_KEY,
  relayEnv,
  SELLER_PUBLIC_KEY,
} from '../test/support/fixtures.js';
import { freePort, RedisProcess } from '../test/support/redis.js';
import { startRelayProcess, type RelayProcess } from './children.js';
import { UNTRIPPED_RATE_LIMITS, type RedisClient } from './common.js';
import { FaultProxy } from './faultProxy.js';
import { buildWorld, newWorldSpec, type WorldSpec } from './world.js';

// ---- output ----

/** Results (tables) go to stdout. */
export const say = (line = '') => void process.stdout.write(`${line}\n`);
/** Progress goes to stderr, prefixed with the script's name. */
export const progress = (script: string) => (line: string) =>
  void process.stderr.write(`[${script}] ${line}\n`);

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A markdown table, columns padded for the terminal. */
export function table(head: string[], rows: (string | number)[][], right: boolean[] = []): string {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const width = head.map((_, i) => Math.max(3, ...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    `| ${r.map((c, i) => (right[i] ? c.padStart(width[i]!) : c.padEnd(width[i]!))).join(' | ')} |`;
  const rule = `| ${width.map((w, i) => (right[i] ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`;
  return [line(head), rule, ...cells.slice(1).map(line)].join('\n');
}

/** Counts by outcome (`200`, `503 store_unavailable`…), printed as `12 200, 3 503 store_unavailable`. */
export class Tally extends Map<string, number> {
  add(key: string, n = 1): void {
    this.set(key, (this.get(key) ?? 0) + n);
  }
  total(): number {
    return [...this.values()].reduce((s, n) => s + n, 0);
  }
  text(): string {
    return [...this].map(([k, n]) => `${n} ${k}`).join(', ') || 'none';
  }
}

// ---- cleaning up ----

const cleanups: (() => unknown)[] = [];
const exitHooks: (() => void)[] = [];
let cleaning: Promise<void> | undefined;

/** Runs on every way out: normal end, failure, Ctrl-C (newest first, each at most 10 s). */
export function onCleanup(fn: () => unknown): void {
  cleanups.push(fn);
}

export function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    for (const fn of cleanups.splice(0).reverse()) {
      const gaveUp = sleep(10_000);
      await Promise.race([
        Promise.resolve()
          .then(fn)
          .catch(() => undefined),
        gaveUp,
      ]);
    }
  })();
  return cleaning;
}

/** A script's whole life: `main`'s status (1 when it throws, with one line why), cleaned up, exited. */
export async function runScript(name: string, main: () => Promise<number>): Promise<never> {
  let status = 1;
  try {
    status = await main();
  } catch (error) {
    console.error(`${name}: ${(error as Error).message}`);
  } finally {
    await cleanUp();
  }
  process.exit(status);
}

process.on('exit', () => {
  // The last resort (the relays are killed by bench/children.ts): synchronous only.
  for (const hook of exitHooks) hook();
});

/**
 * Ctrl-C and SIGTERM stop the run: everything started is stopped, then the process exits 130
 * (a second Ctrl-C exits at once; the children still die with it).
 */
export function stopOnSignals(say: (line: string) => void): void {
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.on(signal, () => {
      if (stopping) process.exit(130);
      stopping = true;
      say(`${signal}: stopping the relays, the proxies and redis-server…`);
      void cleanUp().finally(() => process.exit(130));
    });
}

// ---- Redis ----

/** Throws one line naming what to install when redis-server is missing. */
export function requireRedisServer(): void {
  if (spawnSync('redis-server', ['--version']).error)
    throw new Error(
      "this script runs a private redis-server (it never touches a shared Redis): install Debian's redis-server (apt-get install redis-server)",
    );
}

/**
 * A redis-server of this run's own on a free port, stopped at the end. With `persistent`, an
 * append-only file fsynced on every write in a temporary directory: what a Redis that must keep
 * acknowledged pushes across a crash runs with.
 */
export async function startPrivateRedis(options: { persistent?: boolean } = {}): Promise<RedisProcess> {
  requireRedisServer();
  let dir: string | undefined;
  const args: string[] = [];
  if (options.persistent) {
    dir = mkdtempSync(join(tmpdir(), 'relay-redis-'));
    args.push('--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always');
  }
  const redis = await RedisProcess.start(args);
  const remove = () => dir && rmSync(dir, { recursive: true, force: true });
  onCleanup(async () => {
    await redis.stop();
    remove();
  });
  exitHooks.push(() => {
    void redis.stop(); // its signals are sent synchronously
    remove();
  });
  return redis;
}

export async function redisUsedMemory(client: RedisClient): Promise<number> {
  const info = await client.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? Number.NaN);
}

// ---- the world: sandbox, relays, pusher ----

export interface WorldOptions {
  /** relay processes sharing the store; with more than one, PUBLIC_URL is a round-robin proxy in front */
  relays: number;
  /** the users of the sandbox's first tenant (bench/world.ts), provisioned at start */
  users: number;
  persistentRedis?: boolean;
  /** put a FaultProxy between the relays and Redis */
  redisProxy?: boolean;
  /** extra relay environment (configuration.md) */
  env?: Record<string, string>;
  /** node options for the relay processes, before src/main.ts */
  relayNodeArgs?: string[];
  progress: (line: string) => void;
}

export interface World {
  redis: RedisProcess;
  /** this process's client of the private Redis (checks, INFO) */
  client: RedisClient;
  redisProxy: FaultProxy | undefined;
  /** between the relays and the sandbox's tenant identity servers (their `domainName`) */
  idpProxy: FaultProxy;
  sandbox: RunningSandbox;
  world: SandboxWorld;
  spec: WorldSpec;
  relays: RelayProcess[];
  /** PUBLIC_URL: the one relay, or the proxy in front of them */
  publicUrl: string;
  prefix: string;
  /** the marketplace, pushing to PUBLIC_URL (PRODUCE_BASE_PATH is empty) */
  pusher: Pusher;
  /** KILLs relay `i` if it still runs, and starts it again on the same port with the same environment */
  restartRelay: (i: number) => Promise<RelayProcess>;
}

export async function startWorld(o: WorldOptions): Promise<World> {
  const redis = await startPrivateRedis({ persistent: o.persistentRedis ?? false });
  // Quiet: the fault script stops this server on purpose; the client reconnects by itself.
  const client: RedisClient = createClient({ url: redis.url });
  client.on('error', () => undefined);
  await client.connect();
  onCleanup(() => client.destroy());
  const redisProxy = o.redisProxy ? await FaultProxy.start(redis.port) : undefined;
  if (redisProxy) onCleanup(() => redisProxy.close());

  const ports: number[] = [];
  while (ports.length < o.relays) {
    const port = await freePort();
    if (!ports.includes(port)) ports.push(port);
  }
  const balancer = o.relays > 1 ? await FaultProxy.start(ports) : undefined;
  if (balancer) onCleanup(() => balancer.close());
  const publicUrl = `http://127.0.0.1:${balancer ? balancer.port : ports[0]}`;

  const spec = newWorldSpec(publicUrl, o.users);
  const world = buildWorld(spec);
  const sandbox = await startSandbox(world);
  onCleanup(() => sandbox.close());
  const idpProxy = await FaultProxy.start(Number(new URL(sandbox.url).port));
  onCleanup(() => idpProxy.close());
  // Tenants' domainNames (pushed by tenantSync) point at the proxy; the unified login does not.
  world.baseUrl = `http://${idpProxy.address}`;

  const prefix = `relay-${randomBytes(3).toString('hex')}:`;
  const env = relayEnv({
    REDIS_URL: `redis://${redisProxy ? redisProxy.address : `127.0.0.1:${redis.port}`}`,
    REDIS_PREFIX: prefix,
    PUBLIC_URL: publicUrl,
    UNIFIED_LOGIN_URL: `${sandbox.url}/unified-login/#/portal-login?ind=UNOP&appId={appId}`,
    LOG_LEVEL: 'warn',
    ...UNTRIPPED_RATE_LIMITS,
    ...o.env,
  });
  const relays: RelayProcess[] = [];
  onCleanup(() => Promise.all(relays.map((r) => r.stop())));
  const start = (i: number) =>
    startRelayProcess(`relay ${i + 1}`, ports[i]!, env, { nodeArgs: o.relayNodeArgs ?? [] });
  for (let i = 0; i < o.relays; i++) relays.push(await start(i));
  o.progress(
    `redis-server ${redis.port}${o.persistentRedis ? ' (AOF, fsync always)' : ''}, ` +
      `${o.relays} relay process${o.relays > 1 ? 'es' : ''} (${relays.map((r) => r.port).join(', ')}), ` +
      `sandbox ${sandbox.url}`,
  );

  const pusher = new Pusher({
    productionAddress: publicUrl,
    kitAccessKey: KIT_KEY,
    basicAccessKey: BASIC_KEY,
    publicKey: SELLER_PUBLIC_KEY,
  });
  if (o.users > 0) await world.provision(APP_ID, [spec.tenant.tenantId]);

  return {
    redis,
    client,
    redisProxy,
    idpProxy,
    sandbox,
    world,
    spec,
    relays,
    publicUrl,
    prefix,
    pusher,
    restartRelay: async (i) => {
      await relays[i]!.kill();
      relays[i] = await start(i);
      return relays[i]!;
    },
  };
}

/**
 * Adds a tenant with `users` users (`<label>-u00`…, password the world's) to the sandbox and
 * provisions it through the relay as KooGallery would (tenantSync, applicationSync, allOrgSync,
 * authSync).
 */
export async function addTenant(
  w: World,
  label: string,
  users: number,
): Promise<{ tenant: SandboxTenant; userNames: string[] }> {
  const tenant = w.world.addTenant({
    name: `${label} 科技`,
    tenantCode: `${label}${randomBytes(3).toString('hex')}`,
    instanceId: `inst-${randomBytes(6).toString('hex')}`,
    departments: [{ orgCode: 'hq', orgName: '总部', parentCode: '' }],
  });
  const userNames: string[] = [];
  for (let i = 0; i < users; i++) {
    const userName = `${label}-u${String(i).padStart(2, '0')}`;
    w.world.addUser({
      tenantId: tenant.tenantId,
      userName,
      password: w.spec.password,
      name: `${label} ${i}`,
      orgCode: 'hq',
      apps: new Set([APP_ID]),
    });
    userNames.push(userName);
  }
  await w.world.provision(APP_ID, [tenant.tenantId]);
  return { tenant, userNames };
}

// ---- the seller API, as the app calls it ----

export interface Answer {
  /** 0: no answer (connection refused or reset, timed out) */
  status: number;
  contentType: string;
  body: string;
  json: Record<string, unknown> | null;
  /** the seller API's `error`, when the answer is one */
  error: string | null;
  /** why there was no answer */
  failure?: string;
}

export async function call(url: string, init: RequestInit & { timeoutMs?: number } = {}): Promise<Answer> {
  try {
    const response = await fetch(url, {
      redirect: 'manual',
      ...init,
      signal: AbortSignal.timeout(init.timeoutMs ?? 15_000),
    });
    const body = await response.text();
    const contentType = response.headers.get('content-type') ?? '';
    let json: Record<string, unknown> | null = null;
    if (contentType.startsWith('application/json'))
      try {
        json = JSON.parse(body) as Record<string, unknown>;
      } catch {
        json = null;
      }
    const error = typeof json?.error === 'string' ? json.error : null;
    return { status: response.status, contentType, body, json, error };
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    return {
      status: 0,
      contentType: '',
      body: '',
      json: null,
      error: null,
      failure: cause?.code ?? cause?.message ?? (e as Error).name,
    };
  }
}

const bearer = { authorization: `Bearer ${API_KEY}` };

export const sellerApi = {
  session: (relay: string, cookie: string) =>
    call(`${relay}/api/v1/session`, { headers: { ...bearer, cookie } }),
  token: (relay: string, cookie: string, forceRefresh = false) =>
    call(`${relay}/api/v1/session/token`, {
      method: 'POST',
      headers: { ...bearer, cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ forceRefresh }),
    }),
  authorize: (relay: string, tenantId: string, userName: string) =>
    call(`${relay}/api/v1/authorize`, {
      method: 'POST',
      headers: { ...bearer, 'content-type': 'application/json' },
      body: JSON.stringify({ tenantId, userName }),
    }),
  tenant: (relay: string, tenantId: string) =>
    call(`${relay}/api/v1/tenants/${encodeURIComponent(tenantId)}`, { headers: bearer }),
  endSession: (relay: string, cookie: string) =>
    call(`${relay}/api/v1/session`, { method: 'DELETE', headers: { ...bearer, cookie } }),
  /** The browser's sign-out form, posted from the app's own origin. */
  browserLogout: (publicUrl: string, cookie: string) =>
    call(`${publicUrl}/sso/logout`, {
      method: 'POST',
      headers: { cookie, origin: new URL(publicUrl).origin },
    }),
  ready: (relay: string) => call(`${relay}/readyz`, { timeoutMs: 3000 }),
};

/** Waits until every relay's /readyz answers 200; false after `ms`. */
export async function waitReady(relays: readonly RelayProcess[], ms = 20_000): Promise<boolean> {
  const until = Date.now() + ms;
  for (const relay of relays)
    while ((await sellerApi.ready(relay.url)).status !== 200) {
      if (Date.now() > until) return false;
      await sleep(100);
    }
  return true;
}

/**
 * Which outage a 5xx is the documented answer to: `store` for 503 `store_unavailable` (also
 * /readyz's 503), `idp` for 502 `idp_unavailable` and the sign-in's 502 "identity service not
 * available" page; `none` for anything else, which is a fault of the relay.
 */
export function documented5xx(a: Answer): 'store' | 'idp' | 'none' {
  if (a.status === 503 && (a.error === 'store_unavailable' || a.json?.status === 'unavailable'))
    return 'store';
  if (
    a.status === 502 &&
    (a.error === 'idp_unavailable' ||
      (a.contentType.startsWith('text/html') && a.body.includes('data-failure="idp_unavailable"')))
  )
    return 'idp';
  return 'none';
}

// ---- /metrics ----

/** One Prometheus text exposition, as name{labels} → value. */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}

/** Sum of every series of `name` whose labels match `labels` (a regexp over the label text). */
export function metricSum(metrics: Map<string, number>, name: string, labels?: RegExp): number {
  let sum = 0;
  for (const [key, value] of metrics) {
    const brace = key.indexOf('{');
    const base = brace === -1 ? key : key.slice(0, brace);
    if (base !== name) continue;
    if (labels && !labels.test(brace === -1 ? '' : key.slice(brace))) continue;
    sum += value;
  }
  return sum;
}

export async function scrape(relay: RelayProcess): Promise<Map<string, number> | null> {
  const a = await call(`${relay.url}/metrics`, { timeoutMs: 5000 });
  return a.status === 200 ? parseMetrics(a.body) : null;
}
