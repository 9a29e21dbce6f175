/**
 * `GET /api/v1/session` under load: the real relay (src/server.ts `start`, RedisStore, LOG_LEVEL
 * info, its log lines to a file) answering for a session made by a real sign-in through the
 * sandbox, named by the browser's forwarded Cookie header, beside three servers measured
 * identically in the same run (bench/load.ts: turns, order rotating, CPU per request):
 *   - bare:     bare Express, one GET of the same stored session (bench/servers/bare.ts);
 *   - floor:    Express 5, one GET of a small JSON record (the user's mirror record), res.json
 *               (bench/servers/floor.ts);
 *   - passport: passport + passport-oauth2 + express-session + connect-redis on the same Redis,
 *               `req.isAuthenticated()` and the user as JSON (bench/servers/passport.ts).
 *
 * Also starts the sign-in world the sign-in and revocation benchmarks share: the sandbox
 * marketplace in a child process, the relay in another, provisioned by the sandbox's pushes.
 */
import type { SandboxWorld } from '../src/sandbox/world.js';
import { startRelayServer, startServer, type ChildServer } from './children.js';
import { API_KEY, APP_ID } from '../test/support/fixtures.js';
import { freePort, log, REDIS_URL, relayEnv } from './common.js';
import {
  contender,
  measureInTurns,
  prepare,
  startFloor,
  waitReady,
  type LoadRun,
  type TurnOptions,
} from './load.js';
import { Keys } from '../src/store/keys.js';
import { connectClient } from './common.js';
import { buildWorld, newWorldSpec, signIn, worldUserName, type WorldSpec } from './world.js';

export interface SessionWorld {
  prefix: string;
  spec: WorldSpec;
  /** this process's copy of the sandbox world: provisioning and pushes */
  world: SandboxWorld;
  sandbox: ChildServer;
  relay: ChildServer;
  close: () => Promise<void>;
}

/**
 * The sandbox child first (the relay's UNIFIED_LOGIN_URL points at it), then the relay child on
 * a port chosen in advance (its PUBLIC_URL + /sso/callback is the app's registered callback),
 * then `world.provision`: tenantSync, applicationSync, allOrgSync and authSync of every user.
 */
export async function startSessionWorld(
  prefix: string,
  users: number,
  /** node flags after production's (BENCH_RELAY_ARGV) */
  relayExecArgv: string[] = [],
  /** the relay's LOG_LEVEL: production's default, info, unless told */
  logLevel = 'info',
): Promise<SessionWorld> {
  const port = await freePort();
  const relayUrl = `http://127.0.0.1:${port}`;
  const spec = newWorldSpec(relayUrl, users);
  const started: ChildServer[] = [];
  const close = async () => {
    for (const s of started.reverse()) await s.stop();
  };
  try {
    const sandbox = await startServer('sandbox', 'sandbox.ts', { BENCH_WORLD: JSON.stringify(spec) });
    started.push(sandbox);
    const relay = await startRelayServer(
      'relay (sign-in world)',
      relayEnv(prefix, {
        LOG_LEVEL: logLevel,
        PORT: String(port),
        PUBLIC_URL: relayUrl,
        UNIFIED_LOGIN_URL: `${sandbox.url}/unified-login/#/portal-login?ind=UNOP&appId={appId}`,
      }),
      relayExecArgv,
    );
    started.push(relay);
    await waitReady(relay.url);
    const world = buildWorld(spec);
    world.baseUrl = sandbox.url;
    const pushes = await world.provision(APP_ID);
    log(`sign-in world: ${users} users provisioned by ${pushes.length} pushes`);
    return { prefix, spec, world, sandbox, relay, close };
  } catch (error) {
    await close();
    throw error;
  }
}

export interface SessionOptions extends TurnOptions {
  /** the servers are measured against this world's relay */
  world: SessionWorld;
}

export interface SessionResult {
  userName: string;
  /** one request of each, before the load: what each answers */
  answers: Record<string, unknown>;
  runs: LoadRun[];
}

interface SessionAnswer {
  user?: { userName?: string };
  tenant?: { tenantId?: string };
  appId?: string;
}

export async function runSessionBenchmarks(o: SessionOptions): Promise<SessionResult> {
  const { world: w } = o;
  const userName = worldUserName(0);
  const signedIn = await signIn(w.relay.url, w.sandbox.url, w.spec, userName);
  log(`signed ${userName} in (callback ${signedIn.callbackMs.toFixed(1)} ms)`);
  const relayHeaders = { authorization: `Bearer ${API_KEY}`, cookie: signedIn.cookie };
  const first = await fetch(`${w.relay.url}/api/v1/session`, { headers: relayHeaders });
  const relayAnswer = (await first.json()) as SessionAnswer;
  if (first.status !== 200 || relayAnswer.user?.userName !== userName)
    throw new Error(`GET /api/v1/session answered ${first.status} ${JSON.stringify(relayAnswer)}`);

  const servers: ChildServer[] = [];
  try {
    const bare = await startServer('bare', 'bare.ts', {
      REDIS_URL,
      REDIS_PREFIX: w.prefix,
      KOO_APP_ID: APP_ID,
    });
    servers.push(bare);
    const client = await connectClient();
    const record = await client
      .hGet(new Keys(w.prefix).users(w.spec.tenant.tenantId, APP_ID), userName)
      .finally(() => client.destroy());
    if (!record) throw new Error('the user has no mirror record');
    const floor = await startFloor(w.prefix, record);
    servers.push(floor);
    // The passport session holds the user the relay answers, serialized as JSON.
    const passportUser = {
      ...relayAnswer.user,
      tenantId: relayAnswer.tenant?.tenantId,
      appId: relayAnswer.appId,
    };
    const passport = await startServer('passport', 'passport.ts', {
      REDIS_URL,
      REDIS_PREFIX: w.prefix,
      IDP_BASE: w.world.domainName(w.world.tenant(w.spec.tenant.tenantId)),
      AUTHORIZATION_URL: `${w.sandbox.url}/unified-login/`,
      CLIENT_ID: w.spec.client.clientId,
      CLIENT_SECRET: w.spec.client.clientSecret,
      CALLBACK_URL: `${w.sandbox.url}/auth/koogallery/callback`,
      BENCH_USER: JSON.stringify(passportUser),
    });
    servers.push(passport);
    const login = await fetch(`${passport.url}/__bench/login`, { method: 'POST' });
    await login.arrayBuffer();
    const passportCookie = login.headers
      .getSetCookie()
      .map((c) => c.split(';', 1)[0]!)
      .find((c) => c.startsWith('connect.sid='));
    if (login.status !== 200 || !passportCookie)
      throw new Error(`the passport login answered ${login.status} without a session cookie`);

    const named = (status: number, body: unknown) =>
      status === 200 && (body as SessionAnswer).user?.userName === userName
        ? null
        : `expected 200 with user ${userName}`;
    const contenders = [
      contender(w.relay, {
        name: 'relay GET /api/v1/session',
        method: 'GET',
        path: '/api/v1/session',
        headers: relayHeaders,
        check: named,
      }),
      contender(bare, {
        name: 'bare Express + one GET',
        method: 'GET',
        path: '/bare/session',
        headers: relayHeaders,
        check: named,
      }),
      contender(floor, {
        name: 'floor: Express + one GET',
        method: 'GET',
        path: '/floor',
        headers: relayHeaders,
        check: (status) => (status === 200 ? null : 'expected 200'),
      }),
      contender(passport, {
        name: 'passport + express-session + connect-redis',
        method: 'GET',
        path: '/me',
        headers: { authorization: relayHeaders.authorization, cookie: passportCookie },
        check: named,
      }),
    ];
    const answers: Record<string, unknown> = {};
    for (const c of contenders) {
      const r = await fetch(`${c.server.url}${c.target.path}`, { headers: c.target.headers });
      answers[c.target.name] = await r.json();
      log(`${c.target.name}: check and ${o.warmupS} s warm-up`);
      await prepare(c.server, c.target, o);
    }
    const runs = await measureInTurns(contenders, o);
    // The session is still the same one (the load did not end or replace it).
    const after = await fetch(`${w.relay.url}/api/v1/session`, { headers: relayHeaders });
    await after.arrayBuffer();
    if (after.status !== 200) throw new Error(`after the load the session answered ${after.status}`);
    return { userName, answers, runs };
  } finally {
    for (const s of servers) await s.stop();
  }
}
