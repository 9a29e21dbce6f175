/**
 * Where the CPU goes on the seller API's hot paths: GET /api/v1/session and POST
 * /api/v1/authorize on the relay (LOG_LEVEL=info unless PROFILE_LOG_LEVEL says otherwise, logs to
 * a file), beside the floor (bench/servers/floor.ts: GET and POST) and the passport server of
 * bench/session.ts, each process started with `--cpu-prof`, each target loaded one after the
 * other as in the benchmark (check, warm-up, then `PROFILE_S` seconds with 50 connections);
 * then the servers are asked to exit so the profiles are written. Only the samples of a target's
 * measured window count (startup, sign-in and warm-up are left out); times are divided by the
 * requests answered in that window.
 *
 * Usage, compiled as the benchmark runs (tsx's keepNames would add a defineProperty per closure):
 *   npx tsc -p tsconfig.bench.json && node .bench-build/out/bench/profile-session.js
 * (markdown on stdout, the summary as JSON in bench/results/profile-session.json, the
 * .cpuprofile files in $TMPDIR/relay-bench-profiles/ for Chrome DevTools). PROFILE_ONLY=session
 * or authorize profiles one path. Not part of `npm run bench`: profiling slows the servers down.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, type ChildServer } from './children.js';
import { API_KEY } from '../test/support/fixtures.js';
import { benchPrefix, connectClient, dropPrefix, log, REDIS_URL, waitForQuiet } from './common.js';
import { Keys } from '../src/store/keys.js';
import { summarize, summaryMarkdown, type CpuProfile, type ProfileSummary } from './cpuprofile.js';
import { load, prepare, startFloor, type Target } from './load.js';
import { startSessionWorld } from './session.js';
import { signIn, worldUserName } from './world.js';

const seconds = Number(process.env.PROFILE_S ?? 15);
// V8's default 1 ms: at 200 µs the profiler itself slowed the relay down by up to half.
const intervalUs = Number(process.env.PROFILE_INTERVAL_US ?? 1000);
const dir = join(process.env.PROFILE_DIR ?? join(tmpdir(), 'relay-bench-profiles'), '/');
mkdirSync(dir, { recursive: true });
/**
 * One directory per server: every thread writes a profile (tsx's module hooks run on a thread
 * of their own), and the main thread's is picked afterwards as the one busiest in the window.
 */
const profiled = (name: string) => {
  rmSync(`${dir}${name}`, { recursive: true, force: true });
  return ['--cpu-prof', `--cpu-prof-dir=${dir}${name}`, `--cpu-prof-interval=${intervalUs}`];
};
/** µs on the monotonic clock, the clock of V8's profile timestamps */
const nowUs = () => Number(process.hrtime.bigint() / 1000n);

const prefix = benchPrefix();
const client = await connectClient();
const only = process.env.PROFILE_ONLY ?? '';
const servers: ChildServer[] = [];
try {
  await waitForQuiet(60);
  const world = await startSessionWorld(
    prefix,
    5,
    profiled('relay'),
    process.env.PROFILE_LOG_LEVEL ?? 'info',
  );
  servers.push(world.relay, world.sandbox);
  const userName = worldUserName(0);
  const s = await signIn(world.relay.url, world.sandbox.url, world.spec, userName);
  const headers = { authorization: `Bearer ${API_KEY}`, cookie: s.cookie };
  const answer = (await (await fetch(`${world.relay.url}/api/v1/session`, { headers })).json()) as {
    user: object;
    tenant: { tenantId: string };
    appId: string;
  };
  const tenantId = answer.tenant.tenantId;
  const record = await client.hGet(new Keys(prefix).users(tenantId, answer.appId), userName);
  if (!record) throw new Error('the user has no mirror record');
  const floor = await startFloor(prefix, record, { execArgv: profiled('floor') });
  servers.push(floor);
  const passport = await startServer(
    'passport',
    'passport.ts',
    {
      REDIS_URL,
      REDIS_PREFIX: prefix,
      BENCH_USER: JSON.stringify({ ...answer.user, tenantId, appId: answer.appId }),
    },
    { execArgv: profiled('passport') },
  );
  servers.push(passport);
  const login = await fetch(`${passport.url}/__bench/login`, { method: 'POST' });
  const passportCookie = login.headers
    .getSetCookie()
    .map((c) => c.split(';', 1)[0]!)
    .find((c) => c.startsWith('connect.sid='))!;

  const ok = (status: number) => (status === 200 ? null : 'expected 200');
  const json = { 'content-type': 'application/json' };
  const body = JSON.stringify({ tenantId, userName });
  // [label, profile directory, server, target]
  const runs: [string, string, ChildServer, Target][] = [
    ...(only === 'authorize'
      ? []
      : ([
          [
            'relay GET /api/v1/session',
            'relay',
            world.relay,
            { name: 'relay', method: 'GET', path: '/api/v1/session', headers, check: ok },
          ],
          ['floor GET', 'floor', floor, { name: 'floor', method: 'GET', path: '/floor', headers, check: ok }],
          [
            'passport GET /me',
            'passport',
            passport,
            {
              name: 'passport',
              method: 'GET',
              path: '/me',
              headers: { ...headers, cookie: passportCookie },
              check: ok,
            },
          ],
        ] as [string, string, ChildServer, Target][])),
    ...(only === 'session'
      ? []
      : ([
          [
            'relay POST /api/v1/authorize',
            'relay',
            world.relay,
            {
              name: 'relay authorize',
              method: 'POST',
              path: '/api/v1/authorize',
              headers: { ...json, authorization: headers.authorization },
              body,
              check: ok,
            },
          ],
          [
            'floor POST',
            'floor',
            floor,
            { name: 'floor POST', method: 'POST', path: '/floor', headers: json, body, check: ok },
          ],
        ] as [string, string, ChildServer, Target][])),
  ];
  const windows: { label: string; dir: string; from: number; to: number; n: number; rps: number }[] = [];
  const processCpu: Record<string, { processUs: number; systemUs: number }> = {};
  for (const [label, dir, server, target] of runs) {
    await prepare(server, target, { durationS: seconds, warmupS: 3, connections: 50, rounds: 1 });
    log(`${label}: profiling ${seconds} s`);
    const cpu0 = await server.cpu();
    const from = nowUs();
    const { result } = await load(server, target, seconds, 50);
    const to = nowUs();
    const cpu1 = await server.cpu();
    const n = result.requests.total;
    // The process's own account (every thread, user + system), to set beside the main thread's samples.
    processCpu[label] = {
      processUs: Math.round(((cpu1.user + cpu1.system - cpu0.user - cpu0.system) * 1000) / n),
      systemUs: Math.round(((cpu1.system - cpu0.system) * 1000) / n),
    };
    windows.push({ label, dir, from, to, n, rps: Math.round(result.requests.average) });
  }
  for (const server of [world.relay, floor, passport]) await server.exit();
  const out: Record<string, ProfileSummary & { reqPerSec: number; processUs: number; systemUs: number }> = {};
  const md: string[] = [];
  for (const w of windows) {
    const summary = readdirSync(`${dir}${w.dir}`)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => JSON.parse(readFileSync(`${dir}${w.dir}/${f}`, 'utf8')) as CpuProfile)
      .map((p) => summarize(p, { fromUs: w.from, toUs: w.to, requests: w.n, top: 40 }))
      .sort((a, b) => b.busyMs - a.busyMs)[0];
    if (!summary) throw new Error(`${w.label}: no profile was written`);
    const { processUs, systemUs } = processCpu[w.label]!;
    out[w.label] = { ...summary, reqPerSec: w.rps, processUs, systemUs };
    md.push(
      summaryMarkdown(
        `${w.label} (${w.rps} req/s while profiled; process CPU ${processUs} µs/request, of which system ${systemUs})`,
        summary,
      ),
    );
  }
  await world.sandbox.stop();
  const results = fileURLToPath(
    new URL(import.meta.url.endsWith('.js') ? '../../../bench/results/' : './results/', import.meta.url),
  );
  mkdirSync(results, { recursive: true });
  writeFileSync(`${results}profile-session.json`, `${JSON.stringify(out, null, 2)}\n`);
  process.stdout.write(md.join('\n'));
} finally {
  for (const s of servers) await s.stop();
  await dropPrefix(client, prefix);
  client.destroy();
}
