/**
 * Revocation delay: a user signs in (real HTTP sign-in through the sandbox), GET
 * /api/v1/session answers 200; the sandbox's Pusher sends authSync flag 3 (取消授权, cancel)
 * for that user; from the moment its 000000 answer is in, GET /api/v1/session is polled at
 * once, back to back, until it answers 401. Recorded: the time from the answer to the first 401
 * and how many polls that took (the first one, if revocation is synchronous with the push).
 *
 * For comparison, each repetition also times a GET that answers 200 (before the push), the
 * same GET right after an unrelated push (authSync flag 1 changing another user: the relay's
 * state just after answering any push) and a second poll after the 401.
 *
 * A few extra repetitions read the session record in Redis right after the push's answer,
 * before any poll: it should already be gone (the push ends the sessions in its own write).
 */
import { API_KEY } from '../test/support/fixtures.js';
import { log, round, stats, type RedisClient, type Stats } from './common.js';
import type { SessionWorld } from './session.js';
import { signIn, worldUserName } from './world.js';

export interface RevocationOptions {
  world: SessionWorld;
  client: RedisClient;
  repetitions: number;
  /** repetitions that check Redis before polling */
  storeChecks: number;
  /** users [firstUser, firstUser + repetitions + storeChecks) are signed in and cancelled once each */
  firstUser: number;
  /** users [controlUser, controlUser + 10) are changed by the unrelated control pushes */
  controlUser: number;
  /** give up polling after this long */
  maxWaitMs: number;
}

export interface RevocationResult {
  repetitions: number;
  /** ms from the push's 000000 answer to the first 401 */
  delay: Stats;
  /** polls needed, value -> how many repetitions */
  polls: Record<string, number>;
  /** a GET /api/v1/session answered 200 just before the push, ms (one request round trip) */
  sessionGet: Stats;
  /** the same GET (200) right after the answer of an unrelated push */
  afterControlPush: Stats;
  /** a second poll right after the first 401 */
  secondPoll: Stats;
  /** the push itself, client-observed (PushResult.ms) */
  push: Stats;
  /** repetitions that never saw a 401 within maxWaitMs */
  neverRevoked: number;
  /** the 401's error code(s) */
  errorCodes: string[];
  storeChecks: { checked: number; alreadyDeleted: number };
}

const sidOf = (cookie: string) => {
  const value = decodeURIComponent(cookie.slice(cookie.indexOf('=') + 1));
  return value.slice(2, value.lastIndexOf('.'));
};

export async function runRevocationBenchmark(o: RevocationOptions): Promise<RevocationResult> {
  const { world: w } = o;
  const pusher = w.world.pusher(w.spec.appId);
  const { tenantId, instanceId } = w.spec.tenant;
  const delays: number[] = [];
  const gets: number[] = [];
  const afterControl: number[] = [];
  const second: number[] = [];
  const pushes: number[] = [];
  const polls: Record<string, number> = {};
  const codes = new Set<string>();
  let neverRevoked = 0;
  let alreadyDeleted = 0;

  const total = o.repetitions + o.storeChecks;
  log(`revocation: ${o.repetitions} repetitions + ${o.storeChecks} with a store check`);
  for (let k = 0; k < total; k++) {
    const checkStore = k >= o.repetitions;
    const userName = worldUserName(o.firstUser + k);
    const s = await signIn(w.relay.url, w.sandbox.url, w.spec, userName);
    const headers = { authorization: `Bearer ${API_KEY}`, cookie: s.cookie };
    const get = async () => {
      const r = await fetch(`${w.relay.url}/api/v1/session`, { headers });
      const body = (await r.json()) as { error?: string; code?: string };
      return { status: r.status, body };
    };
    const timed = async (expected: number) => {
      const t = performance.now();
      const r = await get();
      if (r.status !== expected) throw new Error(`${userName}: the session answered ${r.status}`);
      return performance.now() - t;
    };
    const getMs = await timed(200);

    const controlName = worldUserName(o.controlUser + (k % 10));
    const control = await pusher.authSync({
      instanceId,
      tenantId,
      appId: w.spec.appId,
      userList: [{ userName: controlName, name: `改名 ${k}`, orgCode: 'rd', role: 'user', enable: 'true' }],
      flag: 1,
      testFlag: 0,
    });
    if (!control.ok) throw new Error(`control authSync for ${controlName}: ${control.problem}`);
    const afterControlMs = await timed(200);

    const result = await pusher.authSync({
      instanceId,
      tenantId,
      appId: w.spec.appId,
      userList: [{ userName }],
      flag: 3,
      testFlag: 0,
    });
    const answered = performance.now();
    if (!result.ok) throw new Error(`authSync flag 3 for ${userName}: ${result.problem}`);

    if (checkStore) {
      const exists = await o.client.exists(`${w.prefix}sess:${sidOf(s.cookie)}`);
      if (exists === 0) alreadyDeleted++;
    }
    let n = 0;
    let revokedAt: number | null = null;
    while (performance.now() - answered < o.maxWaitMs) {
      n++;
      const r = await get();
      if (r.status === 401) {
        revokedAt = performance.now();
        codes.add(String(r.body.error ?? r.body.code ?? JSON.stringify(r.body)));
        break;
      }
    }
    const secondMs = revokedAt !== null ? await timed(401) : null;
    if (checkStore) continue;
    if (secondMs !== null) second.push(secondMs);
    gets.push(getMs);
    afterControl.push(afterControlMs);
    pushes.push(result.ms);
    if (revokedAt === null) {
      neverRevoked++;
      continue;
    }
    delays.push(revokedAt - answered);
    polls[String(n)] = (polls[String(n)] ?? 0) + 1;
  }
  const r3 = (s: Stats): Stats => ({
    n: s.n,
    p50: round(s.p50, 3),
    p95: round(s.p95, 3),
    mean: round(s.mean, 3),
    min: round(s.min, 3),
    max: round(s.max, 3),
  });
  return {
    repetitions: o.repetitions,
    delay: r3(stats(delays)),
    polls,
    sessionGet: r3(stats(gets)),
    afterControlPush: r3(stats(afterControl)),
    secondPoll: r3(stats(second)),
    push: r3(stats(pushes)),
    neverRevoked,
    errorCodes: [...codes],
    storeChecks: { checked: o.storeChecks, alreadyDeleted },
  };
}
