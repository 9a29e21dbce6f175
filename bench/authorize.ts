/**
 * `POST /api/v1/authorize` under load (autocannon in this process, each server in a child
 * process), beside a bare Express app doing one HGET on the same Redis key, measured identically.
 * The tenant and its users are seeded through real pushes first. The servers take turns (the
 * measured seconds of each are split into `rounds` segments, the order rotating), and the CPU
 * time each server process spent per request is recorded: on a shared machine it moves less
 * with other people's work than requests per second do.
 */
import autocannon from 'autocannon';
import { Pusher } from '../src/sandbox/pusher.js';
import { startServer, type ChildServer } from './children.js';
import {
  API_KEY,
  APP_ID,
  authFields,
  benchUser,
  KIT_KEY,
  log,
  newTenantId,
  REDIS_URL,
  relayEnv,
  round,
  stats,
  tenantFields,
} from './common.js';

export interface LoadRun {
  name: string;
  path: string;
  durationS: number;
  connections: number;
  requests: number;
  /** mean of autocannon's per-second request counts */
  reqPerSec: number;
  p50: number;
  p95: number;
  p99: number;
  non2xx: number;
  errors: number;
  /** CPU time of the server process per request (user + system); less sensitive to other load than req/s */
  cpuUsPerRequest: number;
  /** the server process's CPU use while loaded; near 100% means it was the bottleneck */
  serverCpuPercent: number;
}

export interface AuthorizeOptions {
  prefix: string;
  durationS: number;
  warmupS: number;
  connections: number;
  /** the measured seconds of each server are split into this many turns */
  rounds: number;
  /** also run the relay at LOG_LEVEL=info (production's level), logging to /dev/null */
  withInfoLogging: boolean;
}

interface Target {
  name: string;
  path: string;
  headers: Record<string, string>;
}

function load(
  server: ChildServer,
  target: Target,
  body: string,
  durationS: number,
  connections: number,
): Promise<{ result: autocannon.Result; latencies: number[] }> {
  const latencies: number[] = [];
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${server.url}${target.path}`,
        method: 'POST',
        headers: { 'content-type': 'application/json', ...target.headers },
        body,
        connections,
        duration: durationS,
      },
      (error, result) => (error ? reject(error) : resolve({ result, latencies })),
    );
    instance.on('response', (_client, _status, _bytes, ms) => latencies.push(ms));
  });
}

interface Contender {
  server: ChildServer;
  target: Target;
  latencies: number[];
  requests: number;
  seconds: number;
  /** per-segment mean req/s, weighted by duration below */
  weighted: number;
  p99: number[];
  non2xx: number;
  errors: number;
  cpuMs: number;
}

const contender = (server: ChildServer, target: Target): Contender => ({
  server,
  target,
  latencies: [],
  requests: 0,
  seconds: 0,
  weighted: 0,
  p99: [],
  non2xx: 0,
  errors: 0,
  cpuMs: 0,
});

/** Each server answers one request as expected, then gets a warm-up. */
async function prepare(server: ChildServer, target: Target, body: string, o: AuthorizeOptions) {
  const check = await fetch(`${server.url}${target.path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...target.headers },
    body,
  });
  const answer = (await check.json()) as { allowed?: boolean };
  if (check.status !== 200 || answer.allowed !== true)
    throw new Error(`${target.name} answered ${check.status} ${JSON.stringify(answer)}`);
  await load(server, target, body, o.warmupS, o.connections);
}

/**
 * The servers are measured in turns of `durationS / rounds` seconds, the order rotating each
 * round, so a burst of background load on a shared machine does not fall on one server only.
 */
async function measureInTurns(contenders: Contender[], body: string, o: AuthorizeOptions) {
  const segment = o.durationS / o.rounds;
  for (let round = 0; round < o.rounds; round++) {
    for (let k = 0; k < contenders.length; k++) {
      const c = contenders[(round + k) % contenders.length]!;
      log(`${c.target.name}: ${segment} s (turn ${round + 1} of ${o.rounds})`);
      const cpuBefore = await c.server.cpuMs();
      const { result, latencies } = await load(c.server, c.target, body, segment, o.connections);
      c.cpuMs += (await c.server.cpuMs()) - cpuBefore;
      for (const ms of latencies) c.latencies.push(ms);
      c.requests += result.requests.total;
      c.seconds += result.duration;
      c.weighted += result.requests.average * result.duration;
      c.p99.push(result.latency.p99);
      c.non2xx += result.non2xx;
      c.errors += result.errors;
    }
  }
  return contenders.map((c): LoadRun => {
    const s = stats(c.latencies);
    return {
      name: c.target.name,
      path: c.target.path,
      durationS: round(c.seconds, 2),
      connections: o.connections,
      requests: c.requests,
      reqPerSec: round(c.weighted / c.seconds, 0),
      p50: round(s.p50),
      p95: round(s.p95),
      p99: Math.max(...c.p99),
      non2xx: c.non2xx,
      errors: c.errors,
      cpuUsPerRequest: round((c.cpuMs * 1000) / c.requests, 0),
      serverCpuPercent: round((c.cpuMs / (c.seconds * 1000)) * 100, 0),
    };
  });
}

export async function runAuthorizeBenchmarks(o: AuthorizeOptions): Promise<LoadRun[]> {
  const tenantId = newTenantId();
  const userName = benchUser(7).userName;
  const body = JSON.stringify({ tenantId, userName });
  const relayTarget = (name: string): Target => ({
    name,
    path: '/api/v1/authorize',
    headers: { authorization: `Bearer ${API_KEY}` },
  });
  const servers: ChildServer[] = [];
  try {
    const relay = await startServer('relay', 'relay.ts', relayEnv(o.prefix, { LOG_LEVEL: 'warn' }));
    servers.push(relay);
    await waitReady(relay.url);
    // Seed through the front door: the tenant, then 500 users of the app.
    const pusher = new Pusher({ productionAddress: relay.url, kitAccessKey: KIT_KEY });
    for (const result of [
      await pusher.tenantSync(tenantFields(tenantId)),
      await pusher.authSync(
        authFields(
          tenantId,
          Array.from({ length: 500 }, (_, i) => benchUser(i)),
          pusher.nextSyncTime(),
        ),
      ),
    ])
      if (!result.ok) throw new Error(`seeding failed: ${result.interface} ${result.problem}`);

    const bare = await startServer('bare', 'bare.ts', {
      REDIS_URL,
      REDIS_PREFIX: o.prefix,
      KOO_APP_ID: APP_ID,
    });
    servers.push(bare);
    const contenders = [
      contender(relay, relayTarget('relay, LOG_LEVEL=warn')),
      contender(bare, { name: 'bare Express + one HGET', path: '/bare', headers: {} }),
    ];
    if (o.withInfoLogging) {
      const info = await startServer('relay (info)', 'relay.ts', relayEnv(o.prefix, { LOG_LEVEL: 'info' }));
      servers.push(info);
      await waitReady(info.url);
      contenders.push(contender(info, relayTarget('relay, LOG_LEVEL=info (to /dev/null)')));
    }
    for (const c of contenders) {
      log(`${c.target.name}: check and ${o.warmupS} s warm-up`);
      await prepare(c.server, c.target, body, o);
    }
    return await measureInTurns(contenders, body, o);
  } finally {
    for (const s of servers) await s.stop();
  }
}

/** The relay opens its store in the background; /readyz says when it answers. */
async function waitReady(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('the relay did not become ready');
}
