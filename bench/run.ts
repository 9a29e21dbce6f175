/**
 * `npm run bench`: the kit push benchmarks, the basic instance calls (newInstance, and a FREEZE
 * that ends 1,000 sessions), POST /api/v1/authorize under load, then the sign-in world: GET /api/v1/session under load beside a bare and a passport server, sign-ins
 * per second through the callback, and the revocation delay. Prints markdown tables (stdout;
 * progress goes to stderr) and writes bench/results/latest.json.
 *
 * REDIS_URL selects the Redis (default redis://127.0.0.1:6379). Every key lives under a prefix
 * of its own (bench:<random>:) and is deleted at the end. BENCH_QUICK=1 makes a short smoke run.
 * BENCH_ONLY=session,signin (any of kit, hostile, instances, authorize, session, signin, revocation,
 * failover, feed, scaling) runs only those. `failover` runs on a private Redis Cluster of its own (bench/failover.ts);
 * `scaling` (1, 2 and 3 relay processes) on a private redis-server and a private cluster (bench/scaling.ts).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, type } from 'node:os';
import { fileURLToPath } from 'node:url';
import { runAuthorizeBenchmarks } from './authorize.js';
import { runExternalBenchmark, type ExternalResult } from './external.js';
import {
  benchPrefix,
  connectClient,
  cpuBusy,
  dropPrefix,
  log,
  REDIS_URL,
  redisVersion,
  round,
  waitForQuiet,
} from './common.js';
import { runInstanceBenchmarks, type FreezeRun, type InstanceRun, type MirrorTrace } from './instances.js';
import { failoverTable, runFailoverBenchmark } from './failover.js';
import { feedTable, runFeedBenchmark } from './feed.js';
import { runHostileBenchmark, type HostileRow } from './hostile.js';
import { runKitBenchmarks, type KitRun } from './kit.js';
import type { LoadRun } from './load.js';
import { runRevocationBenchmark, type RevocationResult } from './revocation.js';
import { runScalingBenchmark, scalingTable } from './scaling.js';
import { runSessionBenchmarks, startSessionWorld, type SessionResult } from './session.js';
import { runSignInBenchmark, type SignInResult } from './signin.js';
import { productionNodeFlags } from '../test/support/startCommand.js';

const quick = process.env.BENCH_QUICK === '1';
const TARGET_PUSH_RATIO = 1.5;
const TARGET_AUTHORIZE_RATIO = 0.8;
const TARGET_SESSION_BARE_RATIO = 0.8;
const TARGET_SESSION_PASSPORT_RATIO = 1.5;
/** Issue 13: session and authorize ≥ 0.9× the floor's req/s, CPU per request ≤ 1.15× the floor's. */
const TARGET_FLOOR_RATIO = 0.9;
const TARGET_FLOOR_CPU_RATIO = 1.15;
const SECTIONS = [
  'kit',
  'hostile',
  'instances',
  'authorize',
  'session',
  'signin',
  'revocation',
  'failover',
  'feed',
  'scaling',
  'external',
] as const;
const only = (process.env.BENCH_ONLY ?? '')
  .split(',')
  .map((x) => x.trim())
  .filter(Boolean);
for (const x of only)
  if (!(SECTIONS as readonly string[]).includes(x)) throw new Error(`BENCH_ONLY: unknown section ${x}`);
// `external` builds the relay and runs it by `npm start`: only when asked for by name.
const runs = (section: (typeof SECTIONS)[number]) =>
  only.includes(section) || (only.length === 0 && section !== 'external');

const fmt = (v: number) => (Number.isFinite(v) ? (v >= 100 ? v.toFixed(0) : v.toFixed(2)) : 'n/a');
const pct = (v: number | null) => (v === null ? 'n/a' : `${Math.round(v * 100)}%`);
const ratio = (a: number, b: number) => round(a / b, 2);

function kitTable(runs: KitRun[]): string {
  const lines = ['| Push | Measurement | n | p50 ms | p95 ms |', '| --- | --- | ---: | ---: | ---: |'];
  for (const r of runs) {
    const rows: [string, { n: number; p50: number; p95: number }][] = [
      ['relay over HTTP, client-observed', r.push],
      ['relay over HTTP, server-side (request → answer sent)', r.server],
      ['mirror apply alone (`relay.mirror.*Sync`)', r.apply],
      ['floor: one MULTI of the same records', r.floor],
      [
        'handler floor: raw body, canonical payload + HMAC, zod, one MULTI; over HTTP, client-observed',
        r.handler,
      ],
    ];
    rows.forEach(([label, s], i) =>
      lines.push(`| ${i === 0 ? r.name : ''} | ${label} | ${s.n} | ${fmt(s.p50)} | ${fmt(s.p95)} |`),
    );
    const h50 = ratio(r.push.p50, r.handler.p50);
    const h95 = ratio(r.push.p95, r.handler.p95);
    const hMet = h50 <= TARGET_PUSH_RATIO && h95 <= TARGET_PUSH_RATIO ? 'met' : 'not met';
    const p50 = ratio(r.push.p50, r.floor.p50);
    const p95 = ratio(r.push.p95, r.floor.p95);
    lines.push(
      `| | **relay ÷ handler floor** (target ≤ ${TARGET_PUSH_RATIO}×: ${hMet}) | | **${h50}×** | **${h95}×** |`,
      `| | relay ÷ MULTI floor | | ${p50}× | ${p95}× |`,
      `| | apply alone ÷ floor | | ${ratio(r.apply.p50, r.floor.p50)}× | ${ratio(r.apply.p95, r.floor.p95)}× |`,
    );
  }
  return lines.join('\n');
}

function hostileTable(rows: HostileRow[]): string {
  const lines = [
    '| Hostile allOrgSync bodies (4 MiB, 20/s, wrong x-sign) | event-loop delay p99 ms | max ms | authorize p50 ms | p95 ms | n | hostile answers |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const r of rows)
    lines.push(
      `| ${r.setting} | ${fmt(r.loopP99)} | ${fmt(r.loopMax)} | ${fmt(r.normal.p50)} | ${fmt(r.normal.p95)} | ${r.normal.n} | ${
        Object.entries(r.hostile)
          .map(([k, n]) => `${k} × ${n}`)
          .join(', ') || '—'
      } |`,
    );
  return lines.join('\n');
}

function breakdownTable(runs: KitRun[]): string {
  const steps = Object.keys(runs[0]?.breakdown ?? {});
  const lines = [
    `| Step of the relay's push handling (median ms, timed alone) | ${runs.map((r) => r.name).join(' | ')} |`,
    `| --- | ${runs.map(() => '---:').join(' | ')} |`,
  ];
  for (const step of steps)
    lines.push(`| ${step} | ${runs.map((r) => fmt(r.breakdown[step]!)).join(' | ')} |`);
  lines.push(`| mirror apply (p50 above) | ${runs.map((r) => fmt(r.apply.p50)).join(' | ')} |`);
  lines.push(
    `| request body size | ${runs.map((r) => `${Math.round(r.bodyBytes / 1024)} KiB`).join(' | ')} |`,
  );
  return lines.join('\n');
}

function instancesTable(runs: InstanceRun[]): string {
  const lines = ['| Call | Measurement | n | p50 ms | p95 ms |', '| --- | --- | ---: | ---: | ---: |'];
  for (const r of runs) {
    const rows: [string, { n: number; p50: number; p95: number }][] = [
      ['relay over HTTP, client-observed', r.push],
      ['relay over HTTP, server-side (request → answer sent)', r.server],
      ['mirror alone (`relay.mirror.*`, no HTTP)', r.apply],
      [`floor: one MULTI (${r.floorCommands})`, r.floor],
    ];
    rows.forEach(([label, s], i) =>
      lines.push(`| ${i === 0 ? r.name : ''} | ${label} | ${s.n} | ${fmt(s.p50)} | ${fmt(s.p95)} |`),
    );
    lines.push(
      `| | **relay ÷ floor** | | **${ratio(r.push.p50, r.floor.p50)}×** | **${ratio(r.push.p95, r.floor.p95)}×** |`,
      `| | mirror alone ÷ floor | | ${ratio(r.apply.p50, r.floor.p50)}× | ${ratio(r.apply.p95, r.floor.p95)}× |`,
    );
  }
  return lines.join('\n');
}

function instanceTraceTable(runs: InstanceRun[]): string {
  const us = (v: number) => (Number.isFinite(v) ? `${Math.round(v)} µs` : 'n/a');
  const cell = (f: (t: MirrorTrace, r: InstanceRun) => string) => runs.map((r) => f(r.trace, r)).join(' | ');
  const lines = [
    `| The mirror call with its store calls traced; Redis's own time; the route's steps (medians) | ${runs.map((r) => r.name).join(' | ')} |`,
    `| --- | ${runs.map(() => '---:').join(' | ')} |`,
    `| sequential round trips to Redis (commands in each, the write last) | ${cell((t) => `${t.rounds.length} (${t.rounds.join(' → ')})`)} |`,
    `| store calls | ${cell((t) =>
      Object.entries(t.commands)
        .map(([m, n]) => `${n} ${m}`)
        .join(', '),
    )} |`,
    `| each round trip, first command issued → last answered, ms | ${cell((t) => t.roundMs.map((v) => fmt(v)).join(' → '))} |`,
    `| reads: first issued → last answered, ms | ${cell((t) => fmt(t.reads.p50))} |`,
    `| deciding: last read answered → write issued, ms | ${cell((t) => fmt(t.decide.p50))} |`,
    `| the write: one guarded script of N operations, ms | ${cell((t) => `${fmt(t.write.p50)} (N = ${t.writeOps})`)} |`,
    `| whole traced call, ms (n) | ${cell((t) => `${fmt(t.total.p50)} (${t.n})`)} |`,
    `| Redis's own time: the relay's write script (EVALSHA), per call | ${cell((_, r) => us(r.redisUs.applyScript.p50))} |`,
    `| Redis's own time: the floor's MULTI (EXEC), per call | ${cell((_, r) => us(r.redisUs.floorExec.p50))} |`,
    ...Object.keys(runs[0]?.pipeline ?? {}).map(
      (step) =>
        `| HTTP route before the mirror, timed alone: ${step} | ${cell((_, r) => us(r.pipeline[step]! * 1000))} |`,
    ),
  ];
  return lines.join('\n');
}

function freezeVerification(f: FreezeRun): string {
  const v = f.verified;
  return (
    `Sessions checked around every FREEZE (${v.freezes}, warm-up and traced runs included): ` +
    `before each, ${v.sessionKeysBefore / Math.max(1, v.freezes)} session keys by EXISTS and ${v.scannedBefore / Math.max(1, v.freezes)} by SCAN (expected ${f.sessions}); ` +
    `after each, session keys left ${v.sessionKeysAfter} (EXISTS) / ${v.scannedAfter} (SCAN) in total, index sets left ${v.indexKeysAfter}, ` +
    `gate \`instance_frozen\` and record \`frozen\` after ${v.gateFrozen} of ${v.freezes}; ` +
    `sessionsEnded reported by the mirror: ${fmt(v.reportedEnded.min)}–${fmt(v.reportedEnded.max)} (n = ${v.reportedEnded.n}). ` +
    `Making the ${f.sessions} sessions again before each FREEZE (untimed): p50 ${fmt(f.setup.p50)} ms.`
  );
}

interface Comparison {
  /** path of the baseline server's route */
  baseline: string;
  label: string;
  target: number;
  /** the highest relay CPU per request ÷ the baseline's, when there is a target for it */
  cpuTarget?: number;
}

function loadTable(
  runs: LoadRun[],
  heading: string,
  isSubject: (r: LoadRun) => boolean,
  comparisons: Comparison[],
): string {
  const lines = [
    `| ${heading} | duration s | requests | req/s | req/s per turn | p50 ms | p95 ms | p99 ms | server CPU µs/request (of which system) | server CPU | non-2xx | errors |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of runs)
    lines.push(
      `| ${r.name} | ${r.durationS} | ${r.requests} | ${r.reqPerSec} | ${r.turns.join(' / ')} | ${fmt(r.p50)} | ${fmt(r.p95)} | ${fmt(r.p99)} | ${r.cpuUsPerRequest} (${r.cpuSystemUsPerRequest}) | ${r.serverCpuPercent}% | ${r.non2xx} | ${r.errors} |`,
    );
  for (const c of comparisons) {
    const base = runs.find((r) => r.path === c.baseline);
    if (!base) continue;
    for (const r of runs.filter(isSubject)) {
      const x = ratio(r.reqPerSec, base.reqPerSec);
      const cpu =
        c.cpuTarget === undefined
          ? `${ratio(base.cpuUsPerRequest, r.cpuUsPerRequest)}× (${c.label} µs ÷ relay µs)`
          : (() => {
              const y = ratio(r.cpuUsPerRequest, base.cpuUsPerRequest);
              return `**${y}×** (relay µs ÷ ${c.label} µs; target ≤ ${c.cpuTarget}×: ${y <= c.cpuTarget ? 'met' : 'not met'})`;
            })();
      lines.push(
        `| **${r.name} ÷ ${c.label}** (target ≥ ${c.target}×: ${x >= c.target ? 'met' : 'not met'}) | | | **${x}×** | | | ${ratio(r.p95, base.p95)}× | | ${cpu} | | | |`,
      );
    }
  }
  return lines.join('\n');
}

function externalTable(x: ExternalResult): string {
  const lines = [
    '| Target (each server its own process; autocannon processes, 50 connections) | req/s | req/s per turn | p50 ms | p97.5 ms | p99 ms | CPU µs/request | CPU µs per turn | Redis CPU µs/request | non-2xx | errors |',
    '| --- | ---: | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |',
  ];
  for (const r of x.runs)
    lines.push(
      `| ${r.name} | ${r.reqPerSec} | ${r.turns.join(' / ')} | ${r.p50} | ${r.p97_5} | ${r.p99} | ${r.cpuUsPerRequest} | ${r.cpuUsPerTurn.join(' / ')} | ${r.redisCpuUsPerRequest} | ${r.non2xx} | ${r.errors} |`,
    );
  const find = (name: string) => x.runs.find((r) => r.name === name);
  const floorGet = find('floor GET');
  const floorPost = find('floor POST');
  const passport = find('passport GET /me');
  lines.push('', '| Ratio (target) | req/s | CPU per request (relay ÷ other) |', '| --- | ---: | ---: |');
  const verdict = (ok: boolean) => (ok ? 'met' : 'not met');
  for (const relay of x.relays) {
    const session = find(`${relay.name} GET /api/v1/session`);
    const authorize = find(`${relay.name} POST /api/v1/authorize`);
    const floorCpu = `CPU ≤ ${TARGET_FLOOR_CPU_RATIO}×`;
    const rows = [
      [
        `${relay.name}: session ÷ floor (≥ ${TARGET_FLOOR_RATIO}×; ${floorCpu})`,
        session,
        floorGet,
        TARGET_FLOOR_RATIO,
      ],
      [
        `${relay.name}: authorize ÷ floor (≥ ${TARGET_FLOOR_RATIO}×; ${floorCpu})`,
        authorize,
        floorPost,
        TARGET_FLOOR_RATIO,
      ],
      [
        `${relay.name}: session ÷ passport (≥ ${TARGET_SESSION_PASSPORT_RATIO}×)`,
        session,
        passport,
        TARGET_SESSION_PASSPORT_RATIO,
      ],
    ] as const;
    for (const [label, a, b, target] of rows) {
      if (!a || !b) continue;
      const x = ratio(a.reqPerSec, b.reqPerSec);
      const cpu = ratio(a.cpuUsPerRequest, b.cpuUsPerRequest);
      const cpuVerdict = b === passport ? '' : `: ${verdict(cpu <= TARGET_FLOOR_CPU_RATIO)}`;
      lines.push(`| ${label} | **${x}×**: ${verdict(x >= target)} | ${cpu}×${cpuVerdict} |`);
    }
  }
  const started = x.relays.map((r) => `${r.name} = \`npm start\` in ${r.dir} (commit ${r.commit})`);
  lines.push('', `Relays: ${started.join('; ')}; stdout of each server in bench/results/logs/.`);
  return lines.join('\n');
}

function signInTable(r: SignInResult): string {
  const lines = [
    `| Sign-ins through the callback (${r.loops} parallel loops) | |`,
    '| --- | ---: |',
    `| measured | ${r.durationS} s (${r.turns.length} turns) |`,
    `| successful sign-ins | ${r.signIns} (${r.distinctUsers} distinct users) |`,
    `| **sign-ins per second** | **${fmt(r.perSecond)}** (turns: ${r.turns.map((t) => fmt(t.perSecond)).join(' / ')}) |`,
    `| failed sign-ins | ${r.failures}${r.failureSamples.length ? ` (${r.failureSamples.join('; ')})` : ''} |`,
    `| relay CPU per sign-in | ${fmt(r.relayCpuMsPerSignIn)} ms (relay process ${r.relayCpuPercent}% busy) |`,
    `| sandbox CPU per sign-in (login API, token, userinfo) | ${fmt(r.sandboxCpuMsPerSignIn)} ms (sandbox process ${r.sandboxCpuPercent}% busy) |`,
    '',
    '| Request of the sign-in (client-observed, under the load above) | n | p50 ms | p95 ms | max ms |',
    '| --- | ---: | ---: | ---: | ---: |',
  ];
  const rows: [string, { n: number; p50: number; p95: number; max: number }][] = [
    ['**GET /sso/callback** (code exchange + userinfo at the sandbox IdP, session saved)', r.callback],
    ['GET /sso/login (relay)', r.login],
    ['POST /unified-login/api/login (sandbox)', r.unifiedLogin],
    ['whole sign-in, three requests', r.total],
  ];
  for (const [label, st] of rows)
    lines.push(`| ${label} | ${st.n} | ${fmt(st.p50)} | ${fmt(st.p95)} | ${fmt(st.max)} |`);
  return lines.join('\n');
}

function revocationTable(r: RevocationResult): string {
  const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : 'n/a');
  const lines = [
    '| Revocation (authSync flag 3 for a signed-in user) | n | p50 ms | p95 ms | max ms |',
    '| --- | ---: | ---: | ---: | ---: |',
  ];
  const rows: [string, { n: number; p50: number; p95: number; max: number }][] = [
    ["**push's 000000 answer → first GET /api/v1/session answering 401**", r.delay],
    ['for comparison: one GET /api/v1/session answering 200, before the push', r.sessionGet],
    [
      'the same GET (200) right after the answer of an unrelated push (flag 1, another user)',
      r.afterControlPush,
    ],
    ['a second poll (401) right after the first', r.secondPoll],
    ['the push itself, client-observed (PushResult.ms)', r.push],
  ];
  for (const [label, st] of rows)
    lines.push(`| ${label} | ${st.n} | ${ms(st.p50)} | ${ms(st.p95)} | ${ms(st.max)} |`);
  const polls = Object.entries(r.polls)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([n, count]) => `${count} × ${n} poll${n === '1' ? '' : 's'}`)
    .join(', ');
  lines.push(
    '',
    `Polls until the 401: ${polls || 'none'}; never revoked within the wait: ${r.neverRevoked}; error code of the 401: ${r.errorCodes.join(', ') || 'n/a'}. ` +
      `Session record already gone from Redis when the push answered (read before any poll): ${r.storeChecks.alreadyDeleted} of ${r.storeChecks.checked}.`,
  );
  return lines.join('\n');
}

/** Which code was measured: the commit, and the files of src/ that differ from it. */
function codeVersion(): { commit: string; srcChanges: string[] } {
  const git = (...args: string[]) => {
    try {
      return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return '';
    }
  };
  return {
    commit: git('rev-parse', '--short', 'HEAD') || 'unknown',
    srcChanges: git('status', '--porcelain', '--', 'src').split('\n').filter(Boolean),
  };
}

async function main(): Promise<void> {
  const prefix = benchPrefix();
  const client = await connectClient();
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    const n = await dropPrefix(client, prefix);
    log(`deleted ${n} keys under ${prefix}`);
    client.destroy();
  };
  process.once('SIGINT', () => {
    void cleanup().finally(() => process.exit(130));
  });

  const machine = {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: round(totalmem() / 2 ** 30, 1),
    os: `${type()} ${release()}`,
    node: process.version,
    redis: await redisVersion(client),
    redisUrl: REDIS_URL.replace(/\/\/[^@]*@/, '//***@'),
  };
  log(`prefix ${prefix}; ${machine.cpus} CPUs, Node ${machine.node}, Redis ${machine.redis}`);
  // Others may commit or edit src/ while this runs: record the code before and after.
  const codeBefore = codeVersion();
  const busyBefore = await waitForQuiet();
  const loadBefore = loadavg().map((v) => round(v, 2));
  const started = Date.now();
  try {
    const kit = runs('kit')
      ? await runKitBenchmarks({
          prefix,
          client,
          users: 500,
          userRounds: quick ? 15 : 100,
          departments: 10_000,
          departmentRounds: quick ? 4 : 25,
        })
      : [];
    const hostile = runs('hostile') ? await runHostileBenchmark({ prefix, seconds: quick ? 3 : 10 }) : [];
    const instances = runs('instances')
      ? await runInstanceBenchmarks({
          prefix,
          client,
          newRounds: quick ? 15 : 100,
          freezeRounds: quick ? 5 : 100,
          users: 100,
          sessionsPerUser: 10,
          traceReps: quick ? 5 : 20,
        })
      : null;
    const authorize = runs('authorize')
      ? await runAuthorizeBenchmarks({
          prefix,
          client,
          // three interleaved 8-s turns each (issue 13)
          durationS: quick ? 3 : 24,
          warmupS: quick ? 1 : 3,
          rounds: quick ? 1 : 3,
          connections: 50,
          withWarnLogging: true,
        })
      : [];

    // BENCH_RELAY_ARGV: node flags for the relay of the session, sign-in and revocation runs.
    const relayArgv = (process.env.BENCH_RELAY_ARGV ?? '').split(' ').filter(Boolean);
    let session: SessionResult | null = null;
    let signin: SignInResult | null = null;
    let revocation: RevocationResult | null = null;
    let busyBeforeSignInWorld: number | null = null;
    if (runs('session') || runs('signin') || runs('revocation')) {
      // Other work may have started meanwhile: check again before the second half.
      busyBeforeSignInWorld = await waitForQuiet(30);
      // user 0: the session under load; 1–35: revocation; 60–69: control pushes; 100 on: sign-ins
      const signInUsers = quick ? 200 : 800;
      const world = await startSessionWorld(prefix, 100 + signInUsers, relayArgv);
      try {
        if (runs('session'))
          session = await runSessionBenchmarks({
            world,
            durationS: quick ? 3 : 24,
            warmupS: quick ? 1 : 3,
            rounds: quick ? 1 : 3,
            connections: 50,
          });
        if (runs('signin'))
          signin = await runSignInBenchmark({
            world,
            loops: 8,
            durationS: quick ? 3 : 10,
            warmupS: quick ? 1 : 15,
            rounds: 2,
            firstUser: 100,
            users: signInUsers,
          });
        if (runs('revocation'))
          revocation = await runRevocationBenchmark({
            world,
            client,
            repetitions: quick ? 10 : 30,
            storeChecks: 5,
            firstUser: 1,
            controlUser: 60,
            maxWaitMs: 5000,
          });
      } finally {
        await world.close();
      }
    }

    const failover = runs('failover') ? await runFailoverBenchmark({ rounds: quick ? 1 : 3 }) : null;
    const feed = runs('feed')
      ? await runFeedBenchmark({ prefix, rounds: quick ? 30 : 200, seconds: quick ? 3 : 10 })
      : null;

    const external = runs('external')
      ? await runExternalBenchmark({
          prefix,
          turnS: quick ? 3 : 8,
          warmupS: quick ? 1 : 3,
          rounds: quick ? 1 : 3,
          connections: 50,
        })
      : null;

    let busyBeforeScaling: number | null = null;
    let scaling = null;
    if (runs('scaling')) {
      busyBeforeScaling = await waitForQuiet(30);
      scaling = await runScalingBenchmark({
        seconds: 5,
        rounds: quick ? 1 : 2,
        warmupS: quick ? 1 : 2,
        connections: 48,
      });
    }

    const busyAfter = await cpuBusy();
    const bare = authorize.find((r) => r.path === '/bare');
    const relay = authorize.find((r) => r.name.includes('info'));
    const floor = authorize.find((r) => r.path === '/floor');
    const sessionOf = (path: string) => session?.runs.find((r) => r.path === path);
    const [sRelay, sBare, sFloor, sPassport] = ['/api/v1/session', '/bare/session', '/floor', '/me'].map(
      sessionOf,
    );
    const results = {
      date: new Date().toISOString(),
      quick,
      sections: SECTIONS.filter(runs),
      seconds: Math.round((Date.now() - started) / 1000),
      machine,
      code: codeVersion(),
      /** the same, read when the run started; differs when src/ changed during the run */
      codeAtStart: codeBefore,
      /** the node flags of every relay the harness starts: npm start's (package.json) */
      productionNodeFlags: productionNodeFlags(),
      /** BENCH_RELAY_ARGV: the sign-in world's relay's flags after those */
      relayArgv,
      /** other work on the machine: CPU busy share just before and after, load average before */
      background: {
        busyBefore: busyBefore === null ? null : round(busyBefore, 2),
        busyBeforeSignInWorld: busyBeforeSignInWorld === null ? null : round(busyBeforeSignInWorld, 2),
        busyBeforeScaling: busyBeforeScaling === null ? null : round(busyBeforeScaling, 2),
        busyAfter: busyAfter === null ? null : round(busyAfter, 2),
        loadAverageBefore: loadBefore,
      },
      hostile,
      kit: kit.map((r) => ({
        ...r,
        ratio: { p50: ratio(r.push.p50, r.floor.p50), p95: ratio(r.push.p95, r.floor.p95) },
        handlerRatio: { p50: ratio(r.push.p50, r.handler.p50), p95: ratio(r.push.p95, r.handler.p95) },
        target: `relay/handler floor <= ${TARGET_PUSH_RATIO} (p50 and p95)`,
      })),
      instances: instances && {
        newInstance: {
          ...instances.newInstance,
          ratio: {
            p50: ratio(instances.newInstance.push.p50, instances.newInstance.floor.p50),
            p95: ratio(instances.newInstance.push.p95, instances.newInstance.floor.p95),
          },
        },
        freeze: {
          ...instances.freeze,
          ratio: {
            p50: ratio(instances.freeze.push.p50, instances.freeze.floor.p50),
            p95: ratio(instances.freeze.push.p95, instances.freeze.floor.p95),
          },
        },
      },
      authorize: {
        runs: authorize,
        ratio: bare && relay ? ratio(relay.reqPerSec, bare.reqPerSec) : null,
        relayToFloor: floor && relay ? ratio(relay.reqPerSec, floor.reqPerSec) : null,
        cpuRelayToFloor: floor && relay ? ratio(relay.cpuUsPerRequest, floor.cpuUsPerRequest) : null,
        target: `relay (info)/bare req/s >= ${TARGET_AUTHORIZE_RATIO}; relay/floor req/s >= ${TARGET_FLOOR_RATIO}, CPU <= ${TARGET_FLOOR_CPU_RATIO}`,
      },
      session: session && {
        ...session,
        ratio: {
          relayToBare: sRelay && sBare ? ratio(sRelay.reqPerSec, sBare.reqPerSec) : null,
          relayToFloor: sRelay && sFloor ? ratio(sRelay.reqPerSec, sFloor.reqPerSec) : null,
          cpuRelayToFloor: sRelay && sFloor ? ratio(sRelay.cpuUsPerRequest, sFloor.cpuUsPerRequest) : null,
          relayToPassport: sRelay && sPassport ? ratio(sRelay.reqPerSec, sPassport.reqPerSec) : null,
          cpuBareToRelay: sRelay && sBare ? ratio(sBare.cpuUsPerRequest, sRelay.cpuUsPerRequest) : null,
          cpuPassportToRelay:
            sRelay && sPassport ? ratio(sPassport.cpuUsPerRequest, sRelay.cpuUsPerRequest) : null,
        },
        target: `relay/bare req/s >= ${TARGET_SESSION_BARE_RATIO}, relay/floor req/s >= ${TARGET_FLOOR_RATIO} (CPU <= ${TARGET_FLOOR_CPU_RATIO}), relay/passport req/s >= ${TARGET_SESSION_PASSPORT_RATIO}`,
      },
      signin,
      revocation,
      failover,
      feed,
      scaling,
      external,
    };
    // bench/results in the repository, whether this runs from source or from .bench-build/out/bench.
    const dir = fileURLToPath(
      new URL(import.meta.url.endsWith('.js') ? '../../../bench/results/' : './results/', import.meta.url),
    );
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${dir}latest.json`, `${JSON.stringify(results, null, 2)}\n`);

    const out = [
      `## Benchmarks — ${results.date}${quick ? ' (BENCH_QUICK)' : ''}${only.length ? ` (BENCH_ONLY=${only.join(',')})` : ''}`,
      '',
      `${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, ${machine.os}; Node ${machine.node}; Redis ${machine.redis}`,
      `Code: commit ${results.code.commit}${results.code.srcChanges.length ? ` plus ${results.code.srcChanges.length} uncommitted change(s) in src/` : ''}${JSON.stringify(codeBefore) !== JSON.stringify(results.code) ? ` (WARNING: at the start it was ${codeBefore.commit}${codeBefore.srcChanges.length ? ` plus ${codeBefore.srcChanges.length} change(s)` : ''}; src/ changed during the run)` : ''}.`,
      `Other work on the machine: CPU ${pct(results.background.busyBefore)} busy before the run, ${pct(results.background.busyBeforeSignInWorld)} before the sign-in world, ${pct(results.background.busyAfter)} after; load average ${loadBefore.join(' / ')} before.`,
      `The harness's relays ran with npm start's node flags (${productionNodeFlags().join(' ') || 'none'})${relayArgv.length ? `; the sign-in world's relay with BENCH_RELAY_ARGV=${relayArgv.join(' ')} after them` : ''}.`,
      '',
    ];
    if (kit.length) out.push('### Kit pushes', '', kitTable(kit), '', breakdownTable(kit), '');
    if (hostile.length)
      out.push('### Hostile kit bodies beside normal traffic', '', hostileTable(hostile), '');
    if (instances) {
      const both = [instances.newInstance, instances.freeze];
      out.push(
        '### Basic instance calls',
        '',
        instancesTable(both),
        '',
        instanceTraceTable(both),
        '',
        freezeVerification(instances.freeze),
        '',
      );
    }
    if (authorize.length)
      out.push(
        '### POST /api/v1/authorize',
        '',
        loadTable(authorize, 'Server (POST, 50 connections)', (r) => r.path === '/api/v1/authorize', [
          {
            baseline: '/floor',
            label: 'floor',
            target: TARGET_FLOOR_RATIO,
            cpuTarget: TARGET_FLOOR_CPU_RATIO,
          },
          { baseline: '/bare', label: 'bare', target: TARGET_AUTHORIZE_RATIO },
        ]),
        '',
      );
    if (session)
      out.push(
        '### GET /api/v1/session',
        '',
        loadTable(session.runs, 'Server (GET, 50 connections)', (r) => r.path === '/api/v1/session', [
          {
            baseline: '/floor',
            label: 'floor',
            target: TARGET_FLOOR_RATIO,
            cpuTarget: TARGET_FLOOR_CPU_RATIO,
          },
          { baseline: '/bare/session', label: 'bare', target: TARGET_SESSION_BARE_RATIO },
          { baseline: '/me', label: 'passport', target: TARGET_SESSION_PASSPORT_RATIO },
        ]),
        '',
      );
    if (signin) out.push('### Sign-ins through the callback', '', signInTable(signin), '');
    if (revocation) out.push('### Revocation delay', '', revocationTable(revocation), '');
    if (failover) out.push('### Failover', '', failoverTable(failover), '');
    if (feed) out.push('### Change feed', '', feedTable(feed), '');
    if (external)
      out.push('### Session and authorize, measured from outside', '', externalTable(external), '');
    if (scaling)
      out.push(
        '### Several relay processes (scaling)',
        '',
        `Other work on the machine just before: CPU ${pct(results.background.busyBeforeScaling)} busy.`,
        '',
        scalingTable(scaling),
        '',
      );
    out.push(`Took ${results.seconds} s. JSON: bench/results/latest.json`, '');
    process.stdout.write(out.join('\n'));
  } finally {
    await cleanup();
  }
}

await main();
