/**
 * Sign-ins per second through the whole callback: `loops` parallel loops in this process, each
 * repeating the browser's HTTP sign-in (GET /sso/login, the unified-login API at the sandbox,
 * GET /sso/callback on the relay → session cookie) for the next user of the world. Every
 * callback makes the relay exchange the code at the tenant's identity server and call its
 * userinfo — the sandbox, in a child process on the same machine — then authorize the user
 * against the mirror, create and index the session and save it.
 *
 * The measured seconds are split into `rounds` equal turns (reported one by one, to show the
 * spread); the CPU time of the relay and the sandbox processes is read around each turn.
 */
import { log, round, stats, type Stats } from './common.js';
import type { SessionWorld } from './session.js';
import { signIn, worldUserName } from './world.js';

export interface SignInOptions {
  world: SessionWorld;
  loops: number;
  durationS: number;
  warmupS: number;
  rounds: number;
  /** users [firstUser, firstUser + users) take turns signing in */
  firstUser: number;
  users: number;
}

export interface SignInTurn {
  seconds: number;
  signIns: number;
  perSecond: number;
  failures: number;
  relayCpuMs: number;
  sandboxCpuMs: number;
}

export interface SignInResult {
  loops: number;
  durationS: number;
  signIns: number;
  failures: number;
  /** first failure messages, if any */
  failureSamples: string[];
  perSecond: number;
  turns: SignInTurn[];
  /** the callback request alone (GET /sso/callback → 302 with the cookie) */
  callback: Stats;
  /** the whole sign-in, three requests */
  total: Stats;
  /** the other two requests, for reference */
  login: Stats;
  unifiedLogin: Stats;
  relayCpuMsPerSignIn: number;
  sandboxCpuMsPerSignIn: number;
  /** CPU share of one core while loaded */
  relayCpuPercent: number;
  sandboxCpuPercent: number;
  /** distinct users signed in; sign-ins per user */
  distinctUsers: number;
}

interface Samples {
  callback: number[];
  total: number[];
  login: number[];
  unifiedLogin: number[];
  failures: string[];
  users: Set<string>;
}

async function drive(o: SignInOptions, seconds: number, next: () => string, into: Samples | null) {
  const { world: w } = o;
  const end = performance.now() + seconds * 1000;
  let signIns = 0;
  let failures = 0;
  const loop = async () => {
    while (performance.now() < end) {
      const userName = next();
      try {
        const s = await signIn(w.relay.url, w.sandbox.url, w.spec, userName);
        signIns++;
        if (into) {
          into.callback.push(s.callbackMs);
          into.total.push(s.totalMs);
          into.login.push(s.loginMs);
          into.unifiedLogin.push(s.unifiedLoginMs);
          into.users.add(userName);
        }
      } catch (error) {
        failures++;
        if (into && into.failures.length < 5) into.failures.push((error as Error).message);
      }
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: o.loops }, loop));
  return { signIns, failures, seconds: (performance.now() - started) / 1000 };
}

export async function runSignInBenchmark(o: SignInOptions): Promise<SignInResult> {
  const { world: w } = o;
  let i = 0;
  const next = () => worldUserName(o.firstUser + (i++ % o.users));
  log(`sign-ins: ${o.loops} loops, ${o.warmupS} s warm-up`);
  await drive(o, o.warmupS, next, null);

  const samples: Samples = {
    callback: [],
    total: [],
    login: [],
    unifiedLogin: [],
    failures: [],
    users: new Set(),
  };
  const turns: SignInTurn[] = [];
  for (let r = 0; r < o.rounds; r++) {
    log(`sign-ins: ${o.durationS / o.rounds} s (turn ${r + 1} of ${o.rounds})`);
    const [relay0, sandbox0] = [await w.relay.cpuMs(), await w.sandbox.cpuMs()];
    const t = await drive(o, o.durationS / o.rounds, next, samples);
    const [relay1, sandbox1] = [await w.relay.cpuMs(), await w.sandbox.cpuMs()];
    turns.push({
      seconds: round(t.seconds, 2),
      signIns: t.signIns,
      perSecond: round(t.signIns / t.seconds, 1),
      failures: t.failures,
      relayCpuMs: round(relay1 - relay0, 0),
      sandboxCpuMs: round(sandbox1 - sandbox0, 0),
    });
  }
  const sum = (f: (t: SignInTurn) => number) => turns.reduce((s, t) => s + f(t), 0);
  const signIns = sum((t) => t.signIns);
  const seconds = sum((t) => t.seconds);
  const r2 = (s: Stats): Stats => ({
    n: s.n,
    p50: round(s.p50),
    p95: round(s.p95),
    mean: round(s.mean),
    min: round(s.min),
    max: round(s.max),
  });
  return {
    loops: o.loops,
    durationS: round(seconds, 2),
    signIns,
    failures: sum((t) => t.failures),
    failureSamples: samples.failures,
    perSecond: round(signIns / seconds, 1),
    turns,
    callback: r2(stats(samples.callback)),
    total: r2(stats(samples.total)),
    login: r2(stats(samples.login)),
    unifiedLogin: r2(stats(samples.unifiedLogin)),
    relayCpuMsPerSignIn: round(sum((t) => t.relayCpuMs) / signIns, 2),
    sandboxCpuMsPerSignIn: round(sum((t) => t.sandboxCpuMs) / signIns, 2),
    relayCpuPercent: round((sum((t) => t.relayCpuMs) / (seconds * 1000)) * 100, 0),
    sandboxCpuPercent: round((sum((t) => t.sandboxCpuMs) / (seconds * 1000)) * 100, 0),
    distinctUsers: samples.users.size,
  };
}
