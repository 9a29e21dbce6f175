/**
 * `BENCH_ONLY=scaling npm run bench`: GET /api/v1/session and POST /api/v1/authorize served by
 * 1, 2 and 3 relay processes (src/main.ts, each its own Node process, configured by the
 * environment alone) sharing one store: a private redis-server, then a private Redis Cluster of
 * six nodes (three masters, a replica each). The shared Redis is not used.
 *
 * The load generator is autocannon in this process: one instance per relay, the connections
 * split evenly, all running at once (a client-side balancer). For each setting: requests per
 * second, p50/p95 over every response, and CPU per request of the relay processes together
 * (utime + stime from /proc/<pid>/stat before and after, summed over the relays, divided by the
 * requests answered), of the Redis nodes and of the load generator. The settings take turns,
 * the order rotating each round. On a machine with fewer cores than processes, throughput cannot
 * grow with relays; CPU per request says whether a relay costs more when it has company.
 *
 * The session is a real sign-in through the sandbox's unified login and the tenant's identity
 * server (this process), so the relays run with NODE_ENV=test: production refuses the sandbox's
 * plain-http identity server and a plain-http PUBLIC_URL. Nothing else on the measured paths
 * depends on NODE_ENV. LOG_LEVEL=warn, as the session and authorize benchmarks.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { startSandbox } from '../src/sandbox/server.js';
import { API_KEY, APP_ID, relayEnv } from '../test/support/fixtures.js';
import { freePort, RedisCluster, RedisProcess } from '../test/support/redis.js';
import { startRelayProcess, type RelayProcess } from './children.js';
import { log, round, stats, UNTRIPPED_RATE_LIMITS } from './common.js';
import { buildWorld, newWorldSpec, signIn, worldUserName } from './world.js';

export interface ScalingRow {
  store: string;
  endpoint: string;
  relays: number;
  /** connections in all, split evenly over the relays */
  connections: number;
  durationS: number;
  requests: number;
  reqPerSec: number;
  p50: number;
  p95: number;
  non2xx: number;
  errors: number;
  /** the relay processes' CPU time (user + system, /proc) per request, summed over the relays */
  relayCpuUsPerRequest: number;
  /** the relays' CPU use while loaded, % of one core, summed */
  relayCpuPercent: number;
  /** every Redis node's CPU time per request (the cluster: masters and replicas) */
  redisCpuUsPerRequest: number;
  /** this process's (autocannon's) CPU time per request */
  loadCpuUsPerRequest: number;
  /** requests of each relay, per second, in order */
  perRelay: number[];
}

export interface ScalingOptions {
  /** measured seconds per setting and round */
  seconds: number;
  rounds: number;
  warmupS: number;
  connections: number;
}

/** ms per clock tick of /proc/<pid>/stat (getconf CLK_TCK, 100 on Linux) */
const TICK_MS = (() => {
  try {
    return 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  } catch {
    return 10;
  }
})();

/** CPU time of a process so far, ms: utime + stime of /proc/<pid>/stat (fields 14 and 15). */
function procCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}
const cpuOf = (pids: readonly number[]) => pids.reduce((sum, pid) => sum + procCpuMs(pid), 0);

interface Target {
  name: string;
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
  check: (status: number, body: unknown) => boolean;
}

function cannon(url: string, target: Target, connections: number, seconds: number) {
  const latencies: number[] = [];
  return new Promise<{ result: autocannon.Result; latencies: number[] }>((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${url}${target.path}`,
        method: target.method,
        headers: target.headers,
        ...(target.body !== undefined ? { body: target.body } : {}),
        connections,
        duration: seconds,
      },
      (error, result) => (error ? reject(error) : resolve({ result, latencies })),
    );
    instance.on('response', (_client, _status, _bytes, ms) => latencies.push(ms));
  });
}

interface Backend {
  name: string;
  env: Record<string, string | undefined>;
  /** process ids of every Redis node */
  pids: number[];
  stop: () => Promise<void>;
}

async function redisServer(): Promise<Backend> {
  const redis = await RedisProcess.start();
  const client = await redis.client();
  const info = await client.info('server');
  client.destroy();
  return {
    name: 'redis-server',
    env: { REDIS_URL: redis.url },
    pids: [Number(/process_id:(\d+)/.exec(info)?.[1])],
    stop: () => redis.stop(),
  };
}

async function redisCluster(): Promise<Backend> {
  const cluster = await RedisCluster.prepare({ masters: 3, replicas: 1 });
  try {
    await cluster.start();
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return {
    name: 'cluster (3 masters + 3 replicas)',
    env: { REDIS_URL: undefined, REDIS_CLUSTER_NODES: cluster.nodes.join(',') },
    pids: Object.values(cluster.pids),
    stop: () => cluster.stop(),
  };
}

/** The three relays on one backend, a signed-in session, and the two targets. */
async function measureBackend(backend: Backend, o: ScalingOptions): Promise<ScalingRow[]> {
  const ports: number[] = [];
  while (ports.length < 3) {
    const port = await freePort();
    if (!ports.includes(port)) ports.push(port);
  }
  const publicUrl = `http://127.0.0.1:${ports[0]}`;
  const spec = newWorldSpec(publicUrl, 10);
  const world = buildWorld(spec);
  const sandbox = await startSandbox(world);
  const relays: RelayProcess[] = [];
  try {
    const env = relayEnv({
      REDIS_PREFIX: `bench:scaling:${Date.now()}:`,
      PUBLIC_URL: publicUrl,
      UNIFIED_LOGIN_URL: `${sandbox.url}/unified-login/#/portal-login?ind=UNOP&appId={appId}`,
      LOG_LEVEL: 'warn',
      ...UNTRIPPED_RATE_LIMITS,
      ...backend.env,
    });
    for (const [i, port] of ports.entries())
      relays.push(await startRelayProcess(`relay ${i + 1} (${backend.name})`, port, env));
    for (const relay of relays)
      for (let i = 0; (await fetch(`${relay.url}/readyz`)).status !== 200; i++) {
        if (i === 200) throw new Error(`${relay.name} did not become ready`);
        await new Promise((r) => setTimeout(r, 100));
      }
    await world.provision(APP_ID);
    const userName = worldUserName(0);
    const { cookie } = await signIn(publicUrl, sandbox.url, spec, userName);
    log(`scaling on ${backend.name}: 3 relays (${ports.join(', ')}), ${userName} signed in`);

    const bearer = { authorization: `Bearer ${API_KEY}` };
    const targets: Target[] = [
      {
        name: 'GET /api/v1/session',
        method: 'GET',
        path: '/api/v1/session',
        headers: { ...bearer, cookie },
        check: (status, body) =>
          status === 200 && (body as { user?: { userName?: string } }).user?.userName === userName,
      },
      {
        name: 'POST /api/v1/authorize',
        method: 'POST',
        path: '/api/v1/authorize',
        headers: { ...bearer, 'content-type': 'application/json' },
        body: JSON.stringify({ tenantId: spec.tenant.tenantId, userName }),
        check: (status, body) => status === 200 && (body as { allowed?: boolean }).allowed === true,
      },
    ];
    // Each relay answers each target as expected (the session is shared through the store).
    for (const relay of relays)
      for (const t of targets) {
        const r = await fetch(`${relay.url}${t.path}`, {
          method: t.method,
          headers: t.headers,
          ...(t.body !== undefined ? { body: t.body } : {}),
        });
        const text = await r.text();
        if (!t.check(r.status, JSON.parse(text)))
          throw new Error(`${relay.name} ${t.name} answered ${r.status} ${text.slice(0, 200)}`);
      }

    const rows: ScalingRow[] = [];
    for (const t of targets) {
      log(`${t.name}: ${o.warmupS} s warm-up of the three relays`);
      await Promise.all(relays.map((r) => cannon(r.url, t, Math.ceil(o.connections / 3), o.warmupS)));
      const acc = [1, 2, 3].map((n) => ({
        n,
        latencies: [] as number[],
        requests: 0,
        seconds: 0,
        non2xx: 0,
        errors: 0,
        relayMs: 0,
        redisMs: 0,
        loadMs: 0,
        perRelay: Array.from({ length: n }, () => 0),
      }));
      for (let round_ = 0; round_ < o.rounds; round_++)
        for (let k = 0; k < acc.length; k++) {
          const a = acc[(round_ + k) % acc.length]!;
          const used = relays.slice(0, a.n);
          log(`${backend.name}, ${t.name}, ${a.n} relay${a.n > 1 ? 's' : ''}: ${o.seconds} s`);
          const relayBefore = cpuOf(used.map((r) => r.pid));
          const redisBefore = cpuOf(backend.pids);
          const loadBefore = process.cpuUsage();
          const started = performance.now();
          const runs = await Promise.all(
            used.map((r) => cannon(r.url, t, Math.round(o.connections / a.n), o.seconds)),
          );
          const seconds = (performance.now() - started) / 1000;
          const load = process.cpuUsage(loadBefore);
          a.relayMs += cpuOf(used.map((r) => r.pid)) - relayBefore;
          a.redisMs += cpuOf(backend.pids) - redisBefore;
          a.loadMs += (load.user + load.system) / 1000;
          a.seconds += seconds;
          runs.forEach(({ result, latencies }, i) => {
            for (const ms of latencies) a.latencies.push(ms);
            a.requests += result.requests.total;
            a.perRelay[i]! += result.requests.total;
            a.non2xx += result.non2xx;
            a.errors += result.errors;
          });
        }
      for (const a of acc) {
        const s = stats(a.latencies);
        rows.push({
          store: backend.name,
          endpoint: t.name,
          relays: a.n,
          connections: o.connections,
          durationS: round(a.seconds, 1),
          requests: a.requests,
          reqPerSec: round(a.requests / a.seconds, 0),
          p50: round(s.p50),
          p95: round(s.p95),
          non2xx: a.non2xx,
          errors: a.errors,
          relayCpuUsPerRequest: round((a.relayMs * 1000) / a.requests, 0),
          relayCpuPercent: round((a.relayMs / (a.seconds * 1000)) * 100, 0),
          redisCpuUsPerRequest: round((a.redisMs * 1000) / a.requests, 0),
          loadCpuUsPerRequest: round((a.loadMs * 1000) / a.requests, 0),
          perRelay: a.perRelay.map((r) => round(r / a.seconds, 0)),
        });
      }
    }
    return rows;
  } finally {
    for (const relay of relays) await relay.stop();
    await sandbox.close();
  }
}

export async function runScalingBenchmark(o: ScalingOptions): Promise<ScalingRow[]> {
  const rows: ScalingRow[] = [];
  for (const start of [redisServer, redisCluster]) {
    const backend = await start();
    try {
      rows.push(...(await measureBackend(backend, o)));
    } finally {
      await backend.stop();
    }
  }
  return rows;
}

export function scalingTable(rows: readonly ScalingRow[]): string {
  const lines = [
    "| Store | Endpoint | relay processes | req/s | p50 ms | p95 ms | **relay CPU µs/request** (all relays) | relays' CPU | Redis CPU µs/request | load generator CPU µs/request | req/s per relay | non-2xx | errors |",
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |',
  ];
  for (const r of rows)
    lines.push(
      `| ${r.store} | ${r.endpoint} | ${r.relays} | ${r.reqPerSec} | ${r.p50} | ${r.p95} | **${r.relayCpuUsPerRequest}** | ${r.relayCpuPercent}% | ${r.redisCpuUsPerRequest} | ${r.loadCpuUsPerRequest} | ${r.perRelay.join(' / ')} | ${r.non2xx} | ${r.errors} |`,
    );
  return lines.join('\n');
}
