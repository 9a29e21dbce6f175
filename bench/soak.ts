/**
 * `npm run soak`: two relay processes (src/main.ts, configured by the environment) on one
 * private redis-server, behind a round-robin proxy as their public address, under mixed
 * traffic for a while (10 minutes unless told), watching for errors and growth.
 *
 * Traffic, all through the sandbox (marketplace pushes signed as KooGallery signs them,
 * sign-ins through its unified login and a tenant identity server):
 *   - browsers (8 at a time): sign in, then 5–15 of GET /api/v1/session, POST
 *     /api/v1/authorize, POST /api/v1/session/token (one in four a forced renewal), each on
 *     either relay, then sign out (the browser's POST /sso/logout, or the app's DELETE
 *     /api/v1/session), after which the session must answer 401;
 *   - the marketplace: a push every 300 ms (a user changed, a department changed, now and then
 *     the full department list, a repeated purchase and an instance query);
 *   - revocations: a user signs in, is removed or has the authorization cancelled; the answer
 *     000000 is followed at once by GET /api/v1/session on both relays, which must answer 401;
 *     the user is then authorized again.
 *
 * Every 2 s it reads each relay's /metrics for the event-loop delay (p99 since the previous
 * read); every 10 s it has each relay run a full garbage collection (SIGUSR2, loaded by
 * bench/gcOnSignal.ts) and then reads its RSS and live heap, and Redis's INFO used_memory.
 * After the warm-up (a fifth of the run, 10 s to 2 min) the median of the last fifth of the
 * memory readings is compared with that of the first fifth. It fails (exit status 1) on any
 * 5xx, any unexpected answer, a session alive after its sign-out or revocation, or growth
 * beyond the thresholds below (docs/soak.md).
 *
 *   npm run soak [-- --duration SECONDS]      (or SOAK_SECONDS=60 npm run soak)
 */
import { newOrder } from '../src/sandbox/marketplace/index.js';
import type { PushResult } from '../src/sandbox/pusher.js';
import { userForSync } from '../src/sandbox/world.js';
import { APP_ID } from '../test/support/fixtures.js';
import { percentile } from './common.js';
import {
  runScript,
  metricSum,
  progress,
  redisUsedMemory,
  say,
  scrape,
  sellerApi,
  sleep,
  startWorld,
  stopOnSignals,
  table,
  Tally,
  type Answer,
  type World,
} from './harness.js';
import { attemptSignIn, worldUserName } from './world.js';

const log = progress('soak');

/** Growth after the warm-up that fails the run, in MB (see `medianGrowth`, `peakGrowth`). */
const THRESHOLDS = { rssMb: 32, heapMb: 8, externalMb: 8, redisMb: 8 };
const USERS = 200;
/** users 0–149 browse; 150–199 are signed in, revoked and authorized again */
const BROWSING = 150;
const BROWSERS = 8;
const SAMPLE_MS = 2000;

const MB = 1024 * 1024;

/** Every 2 s: each relay's event-loop delay p99 since the previous read (ms). */
interface LagSample {
  t: number;
  lagP99: number[];
}

/**
 * Every 10 s, just after a full collection in each relay: its RSS, live V8 heap and external
 * memory (Buffers and other memory V8 objects hold outside the heap), and Redis's used_memory.
 */
interface MemorySample {
  t: number;
  relays: { rss: number; heap: number; external: number }[];
  redis: number;
}

/** Every tenth read is taken after a full collection. */
const MEMORY_EVERY = 5;

class Traffic {
  readonly answers = new Tally();
  readonly unexpected = new Tally();
  /** 5xx this process saw */
  fivexx = 0;
  signIns = 0;
  signOuts = 0;
  pushes = 0;
  revocations = 0;
  /** sessions that answered 200 after their sign-out or revocation was acknowledged */
  readonly survivors: string[] = [];

  constructor(readonly w: World) {}

  /** a relay for the next seller-API call, either one */
  relay(): string {
    return this.w.relays[Math.floor(Math.random() * this.w.relays.length)]!.url;
  }

  /** Counts an answer; anything but `expected` is unexpected. */
  check(what: string, a: Answer, expected: number | number[]): Answer {
    const label = `${what} ${a.status === 0 ? `no answer (${a.failure})` : a.status}${a.error ? ` ${a.error}` : ''}`;
    this.answers.add(label);
    if (a.status >= 500) this.fivexx++;
    if (!(Array.isArray(expected) ? expected : [expected]).includes(a.status)) this.unexpected.add(label);
    return a;
  }

  push(what: string, r: PushResult | null): void {
    this.pushes++;
    if (!r) this.unexpected.add(`${what}: no answer`);
    else if (r.status >= 500) {
      this.fivexx++;
      this.unexpected.add(`${what}: HTTP ${r.status}`);
    } else if (!r.ok) this.unexpected.add(`${what}: ${r.problem ?? r.resultCode}`);
  }

  async signIn(userName: string): Promise<string | null> {
    try {
      const a = await attemptSignIn(this.w.publicUrl, this.w.sandbox.url, this.w.spec, userName);
      this.answers.add(`sign-in ${a.status}`);
      if (a.status >= 500) this.fivexx++;
      if (a.status === 302 && a.cookie) {
        this.signIns++;
        return a.cookie;
      }
      this.unexpected.add(`sign-in ${a.status}`);
    } catch (error) {
      this.unexpected.add(`sign-in: ${(error as Error).message.slice(0, 80)}`);
    }
    return null;
  }
}

async function browser(t: Traffic, until: number): Promise<void> {
  while (Date.now() < until) {
    const userName = worldUserName(Math.floor(Math.random() * BROWSING));
    const cookie = await t.signIn(userName);
    if (!cookie) {
      await sleep(500);
      continue;
    }
    const steps = 5 + Math.floor(Math.random() * 11);
    for (let i = 0; i < steps && Date.now() < until; i++) {
      const dice = Math.random();
      if (dice < 0.5) t.check('GET /api/v1/session', await sellerApi.session(t.relay(), cookie), 200);
      else if (dice < 0.7) {
        const other = worldUserName(Math.floor(Math.random() * BROWSING));
        t.check(
          'POST /api/v1/authorize',
          await sellerApi.authorize(t.relay(), t.w.spec.tenant.tenantId, other),
          200,
        );
      } else if (dice < 0.925)
        t.check('POST /api/v1/session/token', await sellerApi.token(t.relay(), cookie), 200);
      else
        t.check('POST /api/v1/session/token (forced)', await sellerApi.token(t.relay(), cookie, true), 200);
      await sleep(50 + Math.random() * 100);
    }
    if (Math.random() < 0.5)
      t.check('POST /sso/logout', await sellerApi.browserLogout(t.w.publicUrl, cookie), 302);
    else t.check('DELETE /api/v1/session', await sellerApi.endSession(t.relay(), cookie), 204);
    t.signOuts++;
    const after = t.check(
      'GET /api/v1/session (signed out)',
      await sellerApi.session(t.relay(), cookie),
      401,
    );
    if (after.status === 200) t.survivors.push(`${userName}: 200 after signing out`);
  }
}

async function marketplace(t: Traffic, until: number): Promise<void> {
  const { w } = t;
  const tenantId = w.spec.tenant.tenantId;
  const instanceId = w.spec.tenant.instanceId;
  const order = newOrder();
  const purchase = {
    orderId: order.orderId,
    orderLineId: order.orderLineId,
    productId: 'OFFI00000000001',
    expireTime: '20991231000000',
  };
  let n = 0;
  const safely = async (what: string, send: () => Promise<PushResult>) => {
    try {
      t.push(what, await send());
    } catch {
      t.push(what, null);
    }
  };
  let bought: string | undefined;
  while (Date.now() < until) {
    n++;
    const dice = Math.random();
    if (n % 100 === 1) {
      const departments = Array.from({ length: 20 }, (_, i) => ({
        orgCode: `d${String(i).padStart(2, '0')}`,
        orgName: `部门 ${i} (${n})`,
        parentCode: 'hq',
      }));
      await safely('allOrgSync', () =>
        w.pusher.allOrgSync({
          instanceId,
          tenantId,
          orgInfoList: [{ orgCode: 'hq', orgName: '总部', parentCode: '' }, ...departments],
        }),
      );
    } else if (n % 50 === 2) {
      // The same purchase again (a marketplace retry has a new businessId): nothing changes.
      await safely('newInstance', async () => {
        const r = await w.pusher.newInstance(purchase);
        if (typeof r.answer?.instanceId === 'string') bought ??= r.answer.instanceId;
        return r;
      });
    } else if (n % 50 === 3 && bought) {
      const id = bought;
      await safely('queryInstance', () => w.pusher.queryInstance({ instanceId: id }));
    } else if (dice < 0.6) {
      const user = w.world.users.get(worldUserName(Math.floor(Math.random() * BROWSING)))!;
      await safely('authSync (a user changed)', () =>
        w.pusher.authSync({
          instanceId,
          tenantId,
          appId: APP_ID,
          userList: [{ ...userForSync(user), name: `${user.name} (${n})` }],
          flag: 1,
        }),
      );
    } else {
      const orgCode = `d${String(Math.floor(Math.random() * 20)).padStart(2, '0')}`;
      await safely('singleOrgSync', () =>
        w.pusher.singleOrgSync({
          instanceId,
          tenantId,
          orgCode,
          orgName: `部门 ${orgCode} (${n})`,
          parentCode: 'hq',
          flag: 1,
        }),
      );
    }
    await sleep(300);
  }
}

async function revocations(t: Traffic, until: number): Promise<void> {
  const { w } = t;
  const tenantId = w.spec.tenant.tenantId;
  const instanceId = w.spec.tenant.instanceId;
  let n = 0;
  while (Date.now() < until) {
    const user = w.world.users.get(worldUserName(BROWSING + (n % (USERS - BROWSING))))!;
    const how = n++ % 2 === 0 ? 0 : 3; // removed, or the authorization cancelled
    const cookie = await t.signIn(user.userName);
    if (cookie) {
      t.check('GET /api/v1/session', await sellerApi.session(t.relay(), cookie), 200);
      let r: PushResult | null = null;
      try {
        r = await w.pusher.authSync({
          instanceId,
          tenantId,
          appId: APP_ID,
          userList: [userForSync(user)],
          flag: how,
        });
      } catch {
        r = null;
      }
      t.push(`authSync flag ${how}`, r);
      if (r?.ok) {
        t.revocations++;
        for (const relay of w.relays) {
          const a = t.check('GET /api/v1/session (revoked)', await sellerApi.session(relay.url, cookie), 401);
          if (a.status === 200) t.survivors.push(`${user.userName}: 200 after authSync flag ${how}`);
        }
      }
      let back: PushResult | null = null;
      try {
        back = await w.pusher.authSync({
          instanceId,
          tenantId,
          appId: APP_ID,
          userList: [userForSync(user)],
          flag: 1,
        });
      } catch {
        back = null;
      }
      t.push('authSync flag 1 (authorized again)', back);
    }
    await sleep(1000);
  }
}

/**
 * Asks each relay for a full collection (SIGUSR2, bench/gcOnSignal.ts), waits for it, and reads
 * its memory. The read also restarts the event-loop histogram, so the collection's own pause
 * is in no lag sample.
 */
async function memorySample(w: World, started: number): Promise<MemorySample> {
  for (const relay of w.relays) relay.signal('SIGUSR2');
  await sleep(300);
  const relays = await Promise.all(
    w.relays.map(async (relay) => {
      const m = await scrape(relay);
      return m
        ? {
            rss: metricSum(m, 'process_resident_memory_bytes'),
            heap: metricSum(m, 'nodejs_heap_size_used_bytes'),
            external: metricSum(m, 'nodejs_external_memory_bytes'),
          }
        : { rss: NaN, heap: NaN, external: NaN };
    }),
  );
  return { t: (Date.now() - started) / 1000, relays, redis: await redisUsedMemory(w.client) };
}

const median = (values: number[]) =>
  percentile(
    [...values].sort((a, b) => a - b),
    50,
  );

interface Growth {
  first: number;
  last: number;
  growth: number;
}

/** Growth after the warm-up: the median of the last fifth of the readings against that of the first fifth. */
function medianGrowth(samples: MemorySample[], pick: (s: MemorySample) => number): Growth {
  const fifth = Math.max(1, Math.floor(samples.length / 5));
  const first = median(samples.slice(0, fifth).map(pick));
  const last = median(samples.slice(-fifth).map(pick));
  return { first, last, growth: last - first };
}

/**
 * RSS follows the pages V8 and malloc keep or give back, tens of MB either way between two
 * readings, so its growth is how far the last fifth's peak rises above the peak before it: a
 * process that only breathes never passes its earlier peaks, a leak keeps doing so.
 */
function peakGrowth(samples: MemorySample[], pick: (s: MemorySample) => number): Growth {
  const fifth = Math.max(1, Math.floor(samples.length / 5));
  const first = Math.max(...samples.slice(0, -fifth).map(pick));
  const last = Math.max(...samples.slice(-fifth).map(pick));
  return { first, last, growth: last - first };
}

function parseDuration(argv: string[]): number {
  let seconds = Number(process.env.SOAK_SECONDS ?? 600);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--duration') seconds = Number(argv[++i]);
    else if (arg.startsWith('--duration=')) seconds = Number(arg.slice('--duration='.length));
    else throw new Error(`unknown argument ${arg} (use --duration SECONDS)`);
  }
  if (!Number.isFinite(seconds) || seconds < 30) throw new Error('the duration is at least 30 seconds');
  return seconds;
}

async function main(): Promise<number> {
  const durationS = parseDuration(process.argv.slice(2));
  const warmupS = Math.min(120, Math.max(10, Math.round(durationS / 5)));
  stopOnSignals(log);
  const gcOnSignal = new URL(
    `./gcOnSignal.${import.meta.url.endsWith('.js') ? 'js' : 'ts'}`,
    import.meta.url,
  );
  const w = await startWorld({
    relays: 2,
    users: USERS,
    relayNodeArgs: ['--expose-gc', '--import', gcOnSignal.href],
    progress: log,
  });
  const t = new Traffic(w);
  const started = Date.now();
  const until = started + durationS * 1000;
  log(`${durationS} s of traffic (warm-up ${warmupS} s), ${BROWSERS} browsers, a push every 300 ms`);

  const lags: LagSample[] = [];
  const memory: MemorySample[] = [];
  const sampler = (async () => {
    let next = started + SAMPLE_MS;
    for (let k = 1; Date.now() < until; k++) {
      await sleep(Math.max(0, next - Date.now()));
      next += SAMPLE_MS;
      const reads = await Promise.all(w.relays.map(scrape));
      const at = (Date.now() - started) / 1000;
      lags.push({
        t: at,
        lagP99: reads.map((m) => (m ? metricSum(m, 'nodejs_eventloop_lag_p99_seconds') * 1000 : NaN)),
      });
      if (k % MEMORY_EVERY !== 0) continue;
      const s = await memorySample(w, started);
      memory.push(s);
      if (Math.floor(s.t / 30) > Math.floor((s.t - (SAMPLE_MS * MEMORY_EVERY) / 1000) / 30))
        log(
          `${Math.round(s.t)}/${durationS} s: ${t.answers.total()} answers, ${t.unexpected.total()} unexpected, ` +
            `${t.fivexx} 5xx; ` +
            s.relays
              .map(
                (r, i) =>
                  `relay ${i + 1} RSS ${(r.rss / MB).toFixed(0)} MB heap ${(r.heap / MB).toFixed(0)} MB`,
              )
              .join(', ') +
            `; redis ${(s.redis / MB).toFixed(1)} MB`,
        );
    }
  })();
  await Promise.all([
    ...Array.from({ length: BROWSERS }, () => browser(t, until)),
    marketplace(t, until),
    revocations(t, until),
    sampler,
  ]);
  const totals = await Promise.all(w.relays.map(scrape));
  const end = await memorySample(w, started);
  const measured = memory.filter((s) => s.t >= warmupS);

  const failures: string[] = [];
  const mb = (v: number) => (v / MB).toFixed(1);
  /** `first → last (+growth)`, and a failure when the growth passes `limitMb` */
  const judged = (who: string, what: string, g: Growth, limitMb: number) => {
    if (!(g.growth <= limitMb * MB))
      failures.push(`${who}: ${what} grew ${mb(g.growth)} MB after the warm-up (limit ${limitMb} MB)`);
    return `${mb(g.first)} → ${mb(g.last)} (${g.growth >= 0 ? '+' : ''}${mb(g.growth)})`;
  };
  const relayRows = w.relays.map((relay, i) => {
    const lagP99 = lags
      .filter((s) => s.t >= warmupS)
      .map((s) => s.lagP99[i]!)
      .filter(Number.isFinite);
    const served = totals[i] ? metricSum(totals[i], 'relay_http_requests_total') : NaN;
    const errors = totals[i] ? metricSum(totals[i], 'relay_http_requests_total', /status="5\d\d"/) : NaN;
    if (!(errors === 0)) failures.push(`${relay.name} answered ${errors} 5xx (its own count)`);
    if (relay.exited()) failures.push(`${relay.name} exited during the soak`);
    return [
      relay.name,
      served,
      errors,
      judged(
        relay.name,
        'RSS',
        peakGrowth(measured, (s) => s.relays[i]!.rss),
        THRESHOLDS.rssMb,
      ),
      judged(
        relay.name,
        'the live heap',
        medianGrowth(measured, (s) => s.relays[i]!.heap),
        THRESHOLDS.heapMb,
      ),
      judged(
        relay.name,
        'external memory',
        medianGrowth(measured, (s) => s.relays[i]!.external),
        THRESHOLDS.externalMb,
      ),
      `${median(lagP99).toFixed(1)} / ${Math.max(...lagP99).toFixed(1)}`,
    ];
  });
  const redis = judged(
    'Redis',
    'used_memory',
    medianGrowth(measured, (s) => s.redis),
    THRESHOLDS.redisMb,
  );
  if (t.fivexx > 0) failures.push(`${t.fivexx} answers with a 5xx status`);
  if (t.unexpected.total() > 0)
    failures.push(`${t.unexpected.total()} unexpected answers: ${t.unexpected.text()}`);
  if (t.survivors.length)
    failures.push(
      `${t.survivors.length} sessions alive after sign-out or revocation: ${t.survivors.slice(0, 5).join('; ')}`,
    );
  if (measured.length < 3) failures.push(`only ${measured.length} memory readings after the warm-up`);

  say(
    `Soak: ${durationS} s, warm-up ${warmupS} s; after it ${measured.length} memory readings ` +
      `(every ${(SAMPLE_MS * MEMORY_EVERY) / 1000} s, each just after a full collection) and the ` +
      `event-loop delay p99 every ${SAMPLE_MS / 1000} s. Memory in MB, first → last fifth (growth); RSS by its peaks.`,
  );
  say();
  say(
    table(
      ['relay', 'requests', '5xx', 'RSS', 'live heap', 'external', 'event-loop p99 ms (median / max)'],
      relayRows,
      [false, true, true, true, true, true, true],
    ),
  );
  say();
  // Ten points of the whole run, the warm-up included, to show the shape.
  const points = [
    ...new Set(Array.from({ length: 10 }, (_, k) => Math.round(((k + 1) * memory.length) / 10) - 1)),
  ]
    .filter((i) => i >= 0)
    .map((i) => memory[i]!);
  say(
    table(
      ['s', ...w.relays.flatMap((r) => [`${r.name} RSS MB`, `${r.name} live heap MB`]), 'Redis MB'],
      points.map((p) => [
        Math.round(p.t),
        ...p.relays.flatMap((r) => [mb(r.rss), mb(r.heap)]),
        (p.redis / MB).toFixed(2),
      ]),
      [true, ...w.relays.flatMap(() => [true, true]), true],
    ),
  );
  say();
  say(`Redis used_memory: ${redis} MB; ${mb(end.redis)} MB at the end`);
  say(
    `Traffic: ${t.answers.total()} seller-API and browser answers, ${t.signIns} sign-ins, ${t.signOuts} sign-outs, ` +
      `${t.pushes} pushes, ${t.revocations} revocations checked on both relays`,
  );
  say(
    `Thresholds: no 5xx, no unexpected answer; growth after the warm-up at most ${THRESHOLDS.rssMb} MB RSS, ` +
      `${THRESHOLDS.heapMb} MB live heap and ${THRESHOLDS.externalMb} MB external memory per relay, ${THRESHOLDS.redisMb} MB Redis`,
  );
  say();
  say(failures.length ? `FAILED:\n${failures.map((f) => `  - ${f}`).join('\n')}` : 'passed');
  return failures.length ? 1 : 0;
}

await runScript('soak', main);
