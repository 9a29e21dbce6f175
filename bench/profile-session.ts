/**
 * Where the CPU goes on GET /api/v1/session: the relay, the bare server and the passport server
 * of bench/session.ts, each started with `--cpu-prof`, loaded one after the other as in the
 * benchmark (check, warm-up, then `PROFILE_S` seconds with 50 connections), then asked to exit
 * so the profile is written. Only the samples of the measured window count (startup, sign-in
 * and warm-up are left out); times are divided by the requests answered in that window.
 *
 * Usage: tsx bench/profile-session.ts   (markdown on stdout, the summary as JSON in
 * bench/results/profile-session.json, the .cpuprofile files in $TMPDIR/relay-bench-profiles/
 * for Chrome DevTools). Not part of `npm run bench`: profiling slows the servers down.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, type ChildServer } from './children.js';
import { API_KEY, APP_ID } from '../test/support/fixtures.js';
import { benchPrefix, connectClient, dropPrefix, log, REDIS_URL, waitForQuiet } from './common.js';
import { summarize, summaryMarkdown, type CpuProfile, type ProfileSummary } from './cpuprofile.js';
import { load, prepare, type Target } from './load.js';
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
const servers: ChildServer[] = [];
try {
  await waitForQuiet(60);
  const world = await startSessionWorld(prefix, 5, profiled('relay'));
  servers.push(world.relay, world.sandbox);
  const userName = worldUserName(0);
  const s = await signIn(world.relay.url, world.sandbox.url, world.spec, userName);
  const headers = { authorization: `Bearer ${API_KEY}`, cookie: s.cookie };
  const answer = (await (await fetch(`${world.relay.url}/api/v1/session`, { headers })).json()) as {
    user: object;
    tenant: { tenantId: string };
    appId: string;
  };
  const bare = await startServer(
    'bare',
    'bare.ts',
    { REDIS_URL, REDIS_PREFIX: prefix, KOO_APP_ID: APP_ID },
    { execArgv: profiled('bare') },
  );
  servers.push(bare);
  const passport = await startServer(
    'passport',
    'passport.ts',
    {
      REDIS_URL,
      REDIS_PREFIX: prefix,
      BENCH_USER: JSON.stringify({ ...answer.user, tenantId: answer.tenant.tenantId, appId: answer.appId }),
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
  const runs: [string, ChildServer, Target][] = [
    ['relay', world.relay, { name: 'relay', method: 'GET', path: '/api/v1/session', headers, check: ok }],
    ['bare', bare, { name: 'bare', method: 'GET', path: '/bare/session', headers, check: ok }],
    [
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
  ];
  const out: Record<string, ProfileSummary & { reqPerSec: number; processUs: number; systemUs: number }> = {};
  const md: string[] = [];
  for (const [name, server, target] of runs) {
    await prepare(server, target, { durationS: seconds, warmupS: 3, connections: 50, rounds: 1 });
    log(`${name}: profiling ${seconds} s`);
    const cpu0 = await server.cpu();
    const from = nowUs();
    const { result } = await load(server, target, seconds, 50);
    const to = nowUs();
    const cpu1 = await server.cpu();
    const n = result.requests.total;
    // The process's own account (every thread, user + system), to set beside the main thread's samples.
    const processUs = Math.round(((cpu1.user + cpu1.system - cpu0.user - cpu0.system) * 1000) / n);
    const systemUs = Math.round(((cpu1.system - cpu0.system) * 1000) / n);
    await server.exit();
    const summary = readdirSync(`${dir}${name}`)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => JSON.parse(readFileSync(`${dir}${name}/${f}`, 'utf8')) as CpuProfile)
      .map((p) => summarize(p, { fromUs: from, toUs: to, requests: result.requests.total, top: 40 }))
      .sort((a, b) => b.busyMs - a.busyMs)[0];
    if (!summary) throw new Error(`${name}: no profile was written`);
    out[name] = { ...summary, reqPerSec: Math.round(result.requests.average), processUs, systemUs };
    md.push(
      summaryMarkdown(
        `${name} (${Math.round(result.requests.average)} req/s while profiled; process CPU ${processUs} µs/request, of which system ${systemUs})`,
        summary,
      ),
    );
  }
  await world.sandbox.stop();
  const results = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(results, { recursive: true });
  writeFileSync(`${results}profile-session.json`, `${JSON.stringify(out, null, 2)}\n`);
  process.stdout.write(md.join('\n'));
} finally {
  for (const s of servers) await s.stop();
  await dropPrefix(client, prefix);
  client.destroy();
}
