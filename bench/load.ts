/**
 * Load generation shared by the request benchmarks: autocannon in this process against servers
 * in child processes, the servers taking turns (the measured seconds of each split into
 * `rounds` segments, the order rotating each round), and the CPU time each server process spent
 * per request: on a shared machine it moves less with other people's work than requests per
 * second do.
 */
import autocannon from 'autocannon';
import { createClient } from 'redis';
import { startServer, type ChildServer } from './children.js';
import { log, REDIS_URL, round, stats } from './common.js';

export interface LoadRun {
  name: string;
  method: 'GET' | 'POST';
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
  /** the part of cpuUsPerRequest spent in the kernel (system time: sockets, syscalls) */
  cpuSystemUsPerRequest: number;
  /** the server process's CPU use while loaded; near 100% means it was the bottleneck */
  serverCpuPercent: number;
  /** req/s of each turn, in the order measured, to show the spread */
  turns: number[];
}

export interface Target {
  name: string;
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
  /** null when the answer to one request is the expected one, else what is wrong */
  check: (status: number, body: unknown) => string | null;
}

export interface TurnOptions {
  durationS: number;
  warmupS: number;
  connections: number;
  /** the measured seconds of each server are split into this many turns */
  rounds: number;
}

export function load(
  server: ChildServer,
  target: Target,
  durationS: number,
  connections: number,
): Promise<{ result: autocannon.Result; latencies: number[] }> {
  const latencies: number[] = [];
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${server.url}${target.path}`,
        method: target.method,
        headers: target.headers,
        ...(target.body !== undefined ? { body: target.body } : {}),
        connections,
        duration: durationS,
      },
      (error, result) => (error ? reject(error) : resolve({ result, latencies })),
    );
    instance.on('response', (_client, _status, _bytes, ms) => latencies.push(ms));
  });
}

export interface Contender {
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
  systemMs: number;
  turns: number[];
}

export const contender = (server: ChildServer, target: Target): Contender => ({
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
  systemMs: 0,
  turns: [],
});

/** One request answered as expected, then a warm-up. */
export async function prepare(server: ChildServer, target: Target, o: TurnOptions): Promise<void> {
  const answer = await fetch(`${server.url}${target.path}`, {
    method: target.method,
    headers: target.headers,
    ...(target.body !== undefined ? { body: target.body } : {}),
  });
  const text = await answer.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: the check sees the text
  }
  const problem = target.check(answer.status, body);
  if (problem) throw new Error(`${target.name} answered ${answer.status} ${text.slice(0, 300)}: ${problem}`);
  await load(server, target, o.warmupS, o.connections);
}

/**
 * The servers are measured in turns of `durationS / rounds` seconds, the order rotating each
 * round, so a burst of background load on a shared machine does not fall on one server only.
 */
export async function measureInTurns(contenders: Contender[], o: TurnOptions): Promise<LoadRun[]> {
  const segment = o.durationS / o.rounds;
  for (let r = 0; r < o.rounds; r++) {
    for (let k = 0; k < contenders.length; k++) {
      const c = contenders[(r + k) % contenders.length]!;
      log(`${c.target.name}: ${segment} s (turn ${r + 1} of ${o.rounds})`);
      const cpuBefore = await c.server.cpu();
      const { result, latencies } = await load(c.server, c.target, segment, o.connections);
      const cpuAfter = await c.server.cpu();
      c.cpuMs += cpuAfter.user + cpuAfter.system - cpuBefore.user - cpuBefore.system;
      c.systemMs += cpuAfter.system - cpuBefore.system;
      for (const ms of latencies) c.latencies.push(ms);
      c.requests += result.requests.total;
      c.seconds += result.duration;
      c.weighted += result.requests.average * result.duration;
      c.turns.push(round(result.requests.average, 0));
      c.p99.push(result.latency.p99);
      c.non2xx += result.non2xx;
      c.errors += result.errors;
    }
  }
  return contenders.map((c): LoadRun => {
    const s = stats(c.latencies);
    return {
      name: c.target.name,
      method: c.target.method,
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
      cpuSystemUsPerRequest: round((c.systemMs * 1000) / c.requests, 0),
      serverCpuPercent: round((c.cpuMs / (c.seconds * 1000)) * 100, 0),
      turns: c.turns,
    };
  });
}

/** The relay opens its store in the background; /readyz says when it answers. */
export async function waitReady(url: string): Promise<void> {
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

/**
 * The floor server (bench/servers/floor.ts) over a copy of `record` (a small JSON record: the
 * mirror's record of the user under load), stored at `<prefix>floor:record`.
 */
export async function startFloor(
  prefix: string,
  record: string,
  options: { execArgv?: string[] } = {},
): Promise<ChildServer> {
  const key = `${prefix}floor:record`;
  const client = createClient({ url: REDIS_URL });
  await client.connect();
  try {
    await client.set(key, record);
  } finally {
    client.destroy();
  }
  return startServer('floor', 'floor.ts', { REDIS_URL, FLOOR_KEY: key }, options);
}
