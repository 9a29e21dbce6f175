/**
 * `npm run bench`: the kit push benchmarks, then POST /api/v1/authorize under load. Prints a
 * markdown table (stdout; progress goes to stderr) and writes bench/results/latest.json.
 *
 * REDIS_URL selects the Redis (default redis://127.0.0.1:6379). Every key lives under a prefix
 * of its own (bench:<random>:) and is deleted at the end. BENCH_QUICK=1 makes a short smoke run.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, type } from 'node:os';
import { fileURLToPath } from 'node:url';
import { runAuthorizeBenchmarks, type LoadRun } from './authorize.js';
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
import { runKitBenchmarks, type KitRun } from './kit.js';

const quick = process.env.BENCH_QUICK === '1';
const TARGET_PUSH_RATIO = 1.5;
const TARGET_AUTHORIZE_RATIO = 0.8;

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
    ];
    rows.forEach(([label, s], i) =>
      lines.push(`| ${i === 0 ? r.name : ''} | ${label} | ${s.n} | ${fmt(s.p50)} | ${fmt(s.p95)} |`),
    );
    const p50 = ratio(r.push.p50, r.floor.p50);
    const p95 = ratio(r.push.p95, r.floor.p95);
    const met = p50 <= TARGET_PUSH_RATIO && p95 <= TARGET_PUSH_RATIO ? 'met' : 'not met';
    lines.push(
      `| | **relay ÷ floor** (target ≤ ${TARGET_PUSH_RATIO}×: ${met}) | | **${p50}×** | **${p95}×** |`,
      `| | apply alone ÷ floor | | ${ratio(r.apply.p50, r.floor.p50)}× | ${ratio(r.apply.p95, r.floor.p95)}× |`,
    );
  }
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

function loadTable(runs: LoadRun[]): string {
  const lines = [
    '| Server (POST, 50 connections) | duration s | requests | req/s | p50 ms | p95 ms | p99 ms | server CPU µs/request | server CPU | non-2xx | errors |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of runs)
    lines.push(
      `| ${r.name} | ${r.durationS} | ${r.requests} | ${r.reqPerSec} | ${fmt(r.p50)} | ${fmt(r.p95)} | ${fmt(r.p99)} | ${r.cpuUsPerRequest} | ${r.serverCpuPercent}% | ${r.non2xx} | ${r.errors} |`,
    );
  const bare = runs.find((r) => r.path === '/bare');
  for (const r of runs.filter((x) => x.path !== '/bare')) {
    if (!bare) break;
    const x = ratio(r.reqPerSec, bare.reqPerSec);
    lines.push(
      `| **${r.name} ÷ bare** (target ≥ ${TARGET_AUTHORIZE_RATIO}×: ${x >= TARGET_AUTHORIZE_RATIO ? 'met' : 'not met'}) | | | **${x}×** | | ${ratio(r.p95, bare.p95)}× | | ${ratio(bare.cpuUsPerRequest, r.cpuUsPerRequest)}× (bare µs ÷ relay µs) | | | |`,
    );
  }
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
  const busyBefore = await waitForQuiet();
  const loadBefore = loadavg().map((v) => round(v, 2));
  const started = Date.now();
  try {
    const kit = await runKitBenchmarks({
      prefix,
      client,
      users: 500,
      userRounds: quick ? 15 : 100,
      departments: 10_000,
      departmentRounds: quick ? 4 : 25,
    });
    const authorize = await runAuthorizeBenchmarks({
      prefix,
      durationS: quick ? 3 : 10,
      warmupS: quick ? 1 : 3,
      rounds: 2,
      connections: 50,
      withInfoLogging: true,
    });

    const busyAfter = await cpuBusy();
    const bare = authorize.find((r) => r.path === '/bare');
    const relay = authorize.find((r) => r.name.includes('warn'));
    const results = {
      date: new Date().toISOString(),
      quick,
      seconds: Math.round((Date.now() - started) / 1000),
      machine,
      code: codeVersion(),
      /** other work on the machine: CPU busy share just before and after, load average before */
      background: {
        busyBefore: busyBefore === null ? null : round(busyBefore, 2),
        busyAfter: busyAfter === null ? null : round(busyAfter, 2),
        loadAverageBefore: loadBefore,
      },
      kit: kit.map((r) => ({
        ...r,
        ratio: { p50: ratio(r.push.p50, r.floor.p50), p95: ratio(r.push.p95, r.floor.p95) },
        target: `relay/floor <= ${TARGET_PUSH_RATIO}`,
      })),
      authorize: {
        runs: authorize,
        ratio: bare && relay ? ratio(relay.reqPerSec, bare.reqPerSec) : null,
        target: `relay/bare req/s >= ${TARGET_AUTHORIZE_RATIO}`,
      },
    };
    const dir = fileURLToPath(new URL('./results/', import.meta.url));
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${dir}latest.json`, `${JSON.stringify(results, null, 2)}\n`);

    const out = [
      `## Benchmarks — ${results.date}${quick ? ' (BENCH_QUICK)' : ''}`,
      '',
      `${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, ${machine.os}; Node ${machine.node}; Redis ${machine.redis}`,
      `Code: commit ${results.code.commit}${results.code.srcChanges.length ? ` plus ${results.code.srcChanges.length} uncommitted change(s) in src/` : ''}.`,
      `Other work on the machine: CPU ${pct(results.background.busyBefore)} busy before the run, ${pct(results.background.busyAfter)} after; load average ${loadBefore.join(' / ')} before.`,
      '',
      '### Kit pushes',
      '',
      kitTable(kit),
      '',
      breakdownTable(kit),
      '',
      '### POST /api/v1/authorize',
      '',
      loadTable(authorize),
      '',
      `Took ${results.seconds} s. JSON: bench/results/latest.json`,
      '',
    ];
    process.stdout.write(out.join('\n'));
  } finally {
    await cleanup();
  }
}

await main();
