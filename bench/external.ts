/**
 * `BENCH_ONLY=external npm run bench`: the seller API's hot paths measured from outside, every
 * party a process of its own, as a seller would measure them:
 *   - the relay started by `npm start` (the built `dist/main.js`) with NODE_ENV=production and the
 *     default LOG_LEVEL (info), its stdout redirected to a file (bench/results/logs/);
 *   - the floor (bench/servers/floor.ts: Express 5, one node-redis GET of a small JSON record,
 *     res.json) and the passport stack (bench/servers/passport.ts), each its own process;
 *   - the load generator: the autocannon command line, a process per turn (50 connections, 8 s).
 * Every target is loaded in turns, three rounds, the order rotating each round, so background
 * load falls on all alike. CPU per request is each server's process tree's CPU time
 * (/proc/<pid>/stat: user + system, every thread) over its turns, divided by its requests;
 * Redis's (INFO cpu) is read around each turn the same way.
 *
 * The relay is seeded by real signed pushes (tenantSync, applicationSync, authSync of 500 users);
 * production refuses plain-http identity servers, so the session is made as a sign-in leaves it
 * (`Sessions.register`, then the record express-session saves, with sealed tokens) and named by
 * its signed cookie. BENCH_RELAYS=before=/path/to/checkout,after=. measures several relays
 * (other checkouts, built in place by `npm run build`; BENCH_NO_BUILD=1 skips the builds) side
 * by side in the same rounds.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/ops/log.js';
import { Pusher } from '../src/sandbox/pusher.js';
import { encodeSessionRecord } from '../src/sso/sessionCookie.js';
import type { SignedIn } from '../src/sso/sessions.js';
import { RedisStore } from '../src/store/redis/store.js';
import { APP_ID, newTenantId, relayEnv, SELLER_PUBLIC_KEY, tenantFields } from '../test/support/fixtures.js';
import { logFile, startServer, type ChildServer } from './children.js';
import {
  benchUser,
  freePort,
  log,
  REDIS_URL,
  round,
  seedTenantWithUsers,
  stats,
  UNTRIPPED_RATE_LIMITS,
} from './common.js';
import { startFloor } from './load.js';

const ROOT = fileURLToPath(new URL(import.meta.url.endsWith('.js') ? '../../../' : '../', import.meta.url));
const AUTOCANNON = `${ROOT}node_modules/autocannon/autocannon.js`;

export interface ExternalOptions {
  prefix: string;
  /** seconds per turn */
  turnS: number;
  warmupS: number;
  rounds: number;
  connections: number;
}

export interface ExternalRun {
  name: string;
  server: string;
  method: 'GET' | 'POST';
  path: string;
  /** req/s of each turn (autocannon's mean), in the order measured */
  turns: number[];
  reqPerSec: number;
  requests: number;
  p50: number;
  p97_5: number;
  p99: number;
  non2xx: number;
  errors: number;
  cpuUsPerRequest: number;
  cpuUsPerTurn: number[];
  /**
   * Redis's CPU (INFO cpu) per request over the target's turns: the relay's reads run a script,
   * the floor's a GET, and on a machine as busy as the load makes it both come out of one budget.
   */
  redisCpuUsPerRequest: number;
}

export interface ExternalResult {
  relays: { name: string; dir: string; commit: string; stdoutFile: string }[];
  runs: ExternalRun[];
}

/** CPU time (user + system, ms) of a process and all its descendants, from /proc. */
function treeCpuMs(pid: number): number {
  const tick = 1000 / 100; // USER_HZ: 100 on Linux
  let ms = 0;
  const visit = (p: number) => {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ms += (Number(fields[11]) + Number(fields[12])) * tick;
      for (const task of readdirSync(`/proc/${p}/task`)) {
        const children = readFileSync(`/proc/${p}/task/${task}/children`, 'utf8').trim();
        for (const c of children ? children.split(' ') : []) visit(Number(c));
      }
    } catch {
      // gone
    }
  };
  visit(pid);
  return ms;
}

/** Redis's CPU time so far (user + system, ms), from INFO cpu. */
async function redisCpuMs(store: RedisStore): Promise<number> {
  const info = String(await store.sendCommand(undefined, true, ['INFO', 'cpu']));
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1000;
}

interface Target {
  name: string;
  server: string;
  pid: number;
  url: string;
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
}

interface Autocannon {
  requests: { average: number; total: number };
  latency: { p50: number; p97_5: number; p99: number };
  non2xx: number;
  errors: number;
  duration: number;
}

/** One autocannon process against `t` for `seconds`; its JSON report. */
function autocannon(t: Target, seconds: number, connections: number): Promise<Autocannon> {
  const args = [AUTOCANNON, '-j', '-c', String(connections), '-d', String(seconds), '-m', t.method];
  for (const [k, v] of Object.entries(t.headers)) args.push('-H', `${k}=${v}`);
  if (t.body !== undefined) args.push('-b', t.body);
  args.push(`${t.url}${t.path}`);
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.once('error', reject);
    child.once('exit', (code) => {
      try {
        if (code !== 0) throw new Error(`autocannon exited with ${code}`);
        resolvePromise(JSON.parse(out) as Autocannon);
      } catch (error) {
        reject(error as Error);
      }
    });
  });
}

interface RelayProc {
  name: string;
  dir: string;
  commit: string;
  url: string;
  pid: number;
  stdoutFile: string;
  stop: () => Promise<void>;
}

/** `npm start` in `dir` (its dist/main.js), production configuration, stdout to a file. */
async function startNpmRelay(name: string, dir: string, env: Record<string, string>): Promise<RelayProc> {
  const port = await freePort();
  const stdout = logFile(`external-${name}`);
  const child: ChildProcess = spawn('npm', ['start', '--silent'], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      ...env,
      PORT: String(port),
      HOST: '127.0.0.1',
    },
    stdio: ['ignore', stdout.fd, 'inherit'],
    // Its own process group: npm does not pass signals on to the relay, so they go to the group.
    detached: true,
  });
  closeSync(stdout.fd);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = `http://127.0.0.1:${port}`;
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, name);
    } catch {
      // already gone
    }
  };
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    // SIGTERM to npm and the relay: the relay drains, logs "stopped" and exits (main.ts).
    signal('SIGTERM');
    const timer = setTimeout(() => signal('SIGKILL'), 10_000);
    await exited;
    // …and waits for the relay itself, which may outlive npm by its drain.
    for (let i = 0; i < 120; i++) {
      try {
        process.kill(-child.pid!, 0);
      } catch {
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    clearTimeout(timer);
  };
  process.once('exit', () => signal('SIGKILL'));
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`${name}: npm start exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) {
        let commit = 'unknown';
        try {
          commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
            cwd: dir,
            encoding: 'utf8',
          }).trim();
        } catch {
          // not a checkout
        }
        return { name, dir, commit, url, pid: child.pid!, stdoutFile: stdout.path, stop };
      }
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error(`${name}: the relay did not become ready`);
}

/** BENCH_RELAYS=name=dir,… (default: this checkout as "relay"). */
function relayDirs(): { name: string; dir: string }[] {
  const spec = process.env.BENCH_RELAYS?.trim();
  if (!spec) return [{ name: 'relay', dir: ROOT }];
  return spec.split(',').map((part) => {
    const [name, dir] = part.split('=');
    if (!name || !dir) throw new Error(`BENCH_RELAYS: expected name=dir, got ${part}`);
    return { name, dir: resolve(ROOT, dir) };
  });
}

export async function runExternalBenchmark(o: ExternalOptions): Promise<ExternalResult> {
  const dirs = relayDirs();
  if (process.env.BENCH_NO_BUILD !== '1')
    for (const { name, dir } of dirs) {
      log(`external: npm run build in ${dir} (${name})`);
      execFileSync('npm', ['run', 'build', '--silent'], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
    }
  const secret = () => randomBytes(32).toString('base64');
  const kitKey = secret();
  const apiKey = secret();
  // Production's configuration: https addresses, strong keys, no insecure identity servers.
  const env = Object.fromEntries(
    Object.entries(
      relayEnv({
        NODE_ENV: 'production',
        ALLOW_INSECURE_IDP: undefined,
        PORT: undefined,
        HOST: undefined,
        REDIS_URL,
        REDIS_PREFIX: o.prefix,
        PUBLIC_URL: 'https://relay.bench.example',
        UNIFIED_LOGIN_URL: 'https://login.bench.example/#/portal-login?appId={appId}',
        SELLER_API_KEYS: apiKey,
        SESSION_SECRET: secret(),
        KIT_ACCESS_KEY: kitKey,
        BASIC_ACCESS_KEY: secret(),
        ...UNTRIPPED_RATE_LIMITS,
      }),
    ).filter((e): e is [string, string] => e[1] !== undefined),
  );
  const config = loadConfig(env);
  const relays: RelayProc[] = [];
  const servers: ChildServer[] = [];
  const store = RedisStore.connect({ url: REDIS_URL }, { timeoutMs: config.redis.timeoutMs });
  try {
    for (const { name, dir } of dirs) relays.push(await startNpmRelay(name, dir, env));
    const first = relays[0]!;
    // Seeding through the front door of the first relay.
    const tenantId = newTenantId();
    const user = benchUser(7);
    const pusher = new Pusher({
      productionAddress: `${first.url}${config.produceBasePath}`,
      kitAccessKey: kitKey,
      publicKey: SELLER_PUBLIC_KEY,
    });
    await seedTenantWithUsers(pusher, tenantId);

    // The session, made as a sign-in leaves it, by the relay's own Sessions on the same keys.
    await store.ready();
    const { sessions, keys } = buildApp({
      config,
      store,
      logger: createLogger('silent', pino.destination(2)),
    });
    const sid = sessions.newId(tenantId);
    const now = Date.now();
    const login: SignedIn = {
      tenantId,
      appId: config.appId,
      userName: user.userName,
      domainName: tenantFields(tenantId).domainName,
      instanceId: tenantFields(tenantId).instanceId,
      profile: { name: user.userName, email: user.userName },
      loginAt: now,
      absoluteExpiresAt: now + config.session.absoluteSeconds * 1000,
      tokens: sessions.sealTokens(
        sid,
        { accessToken: `at-${sid}`, refreshToken: `rt-${sid}`, expiresAt: now + 3_600_000 },
        1,
      ),
    };
    if ((await sessions.register(sid, login)) !== 'registered')
      throw new Error('the session was not registered');
    const maxAge = config.session.absoluteSeconds * 1000;
    const record = {
      cookie: {
        originalMaxAge: maxAge,
        expires: new Date(now + maxAge).toISOString(),
        secure: true,
        httpOnly: true,
        path: '/',
        sameSite: 'lax',
      },
      login,
    };
    await store.apply([
      {
        op: 'set',
        key: keys.session(sid),
        // as express-session saves it, through connect-redis's serializer (sso/sessionCookie.ts)
        value: encodeSessionRecord(record),
        ttlMs: config.session.idleSeconds * 1000,
      },
    ]);
    const cookie = `${config.session.cookieName}=${encodeURIComponent(sessions.cookie.sign(sid))}`;
    const relayHeaders = { authorization: `Bearer ${apiKey}`, cookie };

    const userRecord = await store.hGet(keys.users(tenantId, APP_ID), user.userName);
    if (!userRecord) throw new Error('the user has no mirror record');
    const floor = await startFloor(o.prefix, userRecord);
    servers.push(floor);

    const answer = (await (await fetch(`${first.url}/api/v1/session`, { headers: relayHeaders })).json()) as {
      user: { userName: string };
      tenant: { tenantId: string };
      appId: string;
    };
    if (answer.user?.userName !== user.userName)
      throw new Error(`GET /api/v1/session answered ${JSON.stringify(answer)}`);
    const passport = await startServer('passport', 'passport.ts', {
      REDIS_URL,
      REDIS_PREFIX: o.prefix,
      BENCH_USER: JSON.stringify({ ...answer.user, tenantId, appId: answer.appId }),
    });
    servers.push(passport);
    const passportLogin = await fetch(`${passport.url}/__bench/login`, { method: 'POST' });
    await passportLogin.arrayBuffer();
    const passportCookie = passportLogin.headers
      .getSetCookie()
      .map((c) => c.split(';', 1)[0]!)
      .find((c) => c.startsWith('connect.sid='));
    if (!passportCookie) throw new Error('the passport login set no cookie');

    const json = { 'content-type': 'application/json' };
    const body = JSON.stringify({ tenantId, userName: user.userName });
    const targets: Target[] = [
      ...relays.flatMap((r): Target[] => [
        {
          name: `${r.name} GET /api/v1/session`,
          server: r.name,
          pid: r.pid,
          url: r.url,
          method: 'GET',
          path: '/api/v1/session',
          headers: relayHeaders,
        },
        {
          name: `${r.name} POST /api/v1/authorize`,
          server: r.name,
          pid: r.pid,
          url: r.url,
          method: 'POST',
          path: '/api/v1/authorize',
          headers: { ...json, authorization: relayHeaders.authorization },
          body,
        },
      ]),
      {
        name: 'floor GET',
        server: 'floor',
        pid: floor.pid,
        url: floor.url,
        method: 'GET',
        path: '/floor',
        headers: {},
      },
      {
        name: 'floor POST',
        server: 'floor',
        pid: floor.pid,
        url: floor.url,
        method: 'POST',
        path: '/floor',
        headers: json,
        body,
      },
      {
        name: 'passport GET /me',
        server: 'passport',
        pid: passport.pid,
        url: passport.url,
        method: 'GET',
        path: '/me',
        headers: { authorization: relayHeaders.authorization, cookie: passportCookie },
      },
    ];
    for (const t of targets) {
      const r = await fetch(`${t.url}${t.path}`, {
        method: t.method,
        headers: t.headers,
        ...(t.body ? { body: t.body } : {}),
      });
      const text = await r.text();
      if (r.status !== 200) throw new Error(`${t.name} answered ${r.status} ${text.slice(0, 200)}`);
      log(`external: ${t.name}: ${o.warmupS} s warm-up`);
      await autocannon(t, o.warmupS, o.connections);
    }
    const acc = new Map(
      targets.map((t) => [
        t.name,
        {
          turns: [] as number[],
          cpu: [] as number[],
          requests: 0,
          cpuMs: 0,
          redisMs: 0,
          seconds: 0,
          weighted: 0,
          p50: [] as number[],
          p97_5: [] as number[],
          p99: [] as number[],
          non2xx: 0,
          errors: 0,
        },
      ]),
    );
    for (let r = 0; r < o.rounds; r++)
      for (let k = 0; k < targets.length; k++) {
        const t = targets[(r + k) % targets.length]!;
        log(`external: ${t.name}: ${o.turnS} s (round ${r + 1} of ${o.rounds})`);
        const cpu0 = treeCpuMs(t.pid);
        const redis0 = await redisCpuMs(store);
        const result = await autocannon(t, o.turnS, o.connections);
        const cpuMs = treeCpuMs(t.pid) - cpu0;
        const a = acc.get(t.name)!;
        a.redisMs += (await redisCpuMs(store)) - redis0;
        a.turns.push(round(result.requests.average, 0));
        a.cpu.push(round((cpuMs * 1000) / Math.max(1, result.requests.total), 0));
        a.requests += result.requests.total;
        a.cpuMs += cpuMs;
        a.seconds += result.duration;
        a.weighted += result.requests.average * result.duration;
        a.p50.push(result.latency.p50);
        a.p97_5.push(result.latency.p97_5);
        a.p99.push(result.latency.p99);
        a.non2xx += result.non2xx;
        a.errors += result.errors;
      }
    const runs = targets.map((t): ExternalRun => {
      const a = acc.get(t.name)!;
      return {
        name: t.name,
        server: t.server,
        method: t.method,
        path: t.path,
        turns: a.turns,
        reqPerSec: round(a.weighted / a.seconds, 0),
        requests: a.requests,
        // medians of the turns' percentiles (autocannon reports per run)
        p50: stats(a.p50).p50,
        p97_5: stats(a.p97_5).p50,
        p99: stats(a.p99).p50,
        non2xx: a.non2xx,
        errors: a.errors,
        cpuUsPerRequest: round((a.cpuMs * 1000) / Math.max(1, a.requests), 0),
        cpuUsPerTurn: a.cpu,
        redisCpuUsPerRequest: round((a.redisMs * 1000) / Math.max(1, a.requests), 1),
      };
    });
    return {
      relays: relays.map((r) => ({ name: r.name, dir: r.dir, commit: r.commit, stdoutFile: r.stdoutFile })),
      runs,
    };
  } finally {
    for (const r of relays) await r.stop();
    for (const s of servers) await s.stop();
    await store.close();
  }
}
