/**
 * Basic instance calls (contract §3b): `newInstance`, and `updateInstanceStatus` FREEZE for a
 * tenant bound to the instance that has 1,000 live browser sessions (10 for each of 100 users).
 *
 * As for the kit pushes (bench/kit.ts), three measurements interleaved round by round, each
 * writing for real:
 *   - push:  the sandbox Pusher signs and sends the call over HTTP to the real relay (in this
 *            process, on Redis); client-observed (PushResult.ms) and the relay's own time;
 *   - apply: `relay.mirror.newInstance` / `relay.mirror.updateInstanceStatus` called directly
 *            with a call already parsed: the store reads, the decision and the guarded write;
 *   - floor: the same writes by one node-redis MULTI, prepared outside the timing.
 * Before every FREEZE, outside the timing, the instance is unfrozen (`relay.mirror`, UNFREEZE)
 * and the 1,000 sessions are made again through the relay's own `Sessions.register` and session
 * record; after every FREEZE, outside the timing, the sessions are counted (EXISTS of each
 * session key, and a SCAN of the tenant's session keys) and must all be gone.
 *
 * Then the mirror calls are traced on their own: a Store wrapper records when each store call
 * is issued and answered, which gives the sequential round trips and how the time splits into
 * reads, deciding and the write. Redis's own time for the write (EVALSHA) and for the floor
 * (EXEC) comes from `INFO commandstats` read just before and after the call.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { newInstanceSchema, updateInstanceStatusSchema } from '../src/kit/basicSchemas.js';
import { canonicalPayload } from '../src/kit/canonical.js';
import { basicSign } from '../src/kit/signature.js';
import { basicScheme, checkCredentials, checkSignedBody } from '../src/kit/verify.js';
import { newInstanceRecord, withChange } from '../src/mirror/instances.js';
import { Mirror } from '../src/mirror/mirror.js';
import { instanceCopy, orderKey, type InstanceCopy, type InstanceRecord } from '../src/mirror/records.js';
import { formatExpireTime } from '../src/sandbox/marketplace/index.js';
import type { SignedIn } from '../src/sso/sessions.js';
import type { Store, WriteOp } from '../src/store/store.js';
import { authFields, BASIC_KEY, newTenantId, tenantFields } from '../test/support/fixtures.js';
import {
  benchUser,
  interleave,
  log,
  newNonce,
  startInProcessRelay,
  stats,
  syncedAt,
  timeStep,
  waitForServerTime,
  type InProcessRelay,
  type RedisClient,
  type Stats,
  type Variant,
} from './common.js';

export interface InstanceRun {
  name: string;
  warmup: number;
  /** client-observed latency (PushResult.ms) */
  push: Stats;
  /** the relay's own time, request received to response finished */
  server: Stats;
  /** the Mirror method alone */
  apply: Stats;
  /** one MULTI of the same writes */
  floor: Stats;
  /** what the floor MULTI holds, for the report */
  floorCommands: string;
  /** Redis's own µs per call (INFO commandstats): the relay's write script, the floor's EXEC */
  redisUs: { applyScript: Stats; floorExec: Stats };
  trace: MirrorTrace;
  /** median ms of each step of the signed-call pipeline before the mirror, timed on its own */
  pipeline: Record<string, number>;
}

export interface FreezeRun extends InstanceRun {
  users: number;
  sessions: number;
  /** ms to make the 1,000 sessions again before each FREEZE (outside the timing) */
  setup: Stats;
  verified: {
    /** FREEZEs checked: every one of the run, warm-up included */
    freezes: number;
    /** session keys found before each FREEZE (EXISTS), summed; must be freezes × sessions */
    sessionKeysBefore: number;
    /** the same by SCAN of the tenant's session keys */
    scannedBefore: number;
    /** session keys left after each FREEZE (EXISTS / SCAN), summed; must be 0 */
    sessionKeysAfter: number;
    scannedAfter: number;
    /** per-user index sets and the tenant's set of users with sessions left afterwards */
    indexKeysAfter: number;
    /** FREEZEs after which the gate read `instance_frozen` and the record `frozen` */
    gateFrozen: number;
    /** sessionsEnded reported by the mirror (apply and traced runs) */
    reportedEnded: Stats;
  };
}

export interface MirrorTrace {
  n: number;
  /** the traced Mirror call, whole */
  total: Stats;
  /** first read issued → last read answered */
  reads: Stats;
  /** last read answered → the write issued (planning and encoding the script's arguments) */
  decide: Stats;
  /** the guarded write (one EVALSHA), issued → answered */
  write: Stats;
  /** store commands per sequential round trip, the write last, e.g. [2, 4, 1, 100, 1] */
  rounds: number[];
  /** median ms of each round trip: its first command issued → its last answered */
  roundMs: number[];
  /** store calls by method */
  commands: Record<string, number>;
  /** operations in the write */
  writeOps: number;
}

export interface InstanceOptions {
  prefix: string;
  client: RedisClient;
  newRounds: number;
  freezeRounds: number;
  users: number;
  sessionsPerUser: number;
  traceReps: number;
}

/** A `timeStep` with more repetitions for steps of microseconds. */
const STEP_REPS = 200;

export async function runInstanceBenchmarks(
  o: InstanceOptions,
): Promise<{ newInstance: InstanceRun; freeze: FreezeRun }> {
  const r = await startInProcessRelay(o.prefix);
  try {
    return { newInstance: await newInstanceBench(r, o), freeze: await freezeBench(r, o) };
  } finally {
    await r.close();
  }
}

/** Signed times strictly increasing, so every status change is newer than the one before. */
let lastAt = 0;
const nextAt = () => (lastAt = Math.max(Date.now(), lastAt + 1));

const EXPIRE_TIME = formatExpireTime(Date.UTC(2031, 11, 31, 23, 59, 59));

// ---------------------------------------------------------------------------------------------
// Redis's own time per command, from INFO commandstats

async function commandStats(client: RedisClient): Promise<Map<string, { calls: number; usec: number }>> {
  const text = await client.info('commandstats');
  const out = new Map<string, { calls: number; usec: number }>();
  for (const m of text.matchAll(/^cmdstat_(\w+):calls=(\d+),usec=(\d+)/gm))
    out.set(m[1]!, { calls: Number(m[2]), usec: Number(m[3]) });
  return out;
}

/** Runs `step`; returns its result and Redis's µs in `command` during it (null when not one call). */
async function withRedisTime<T>(
  client: RedisClient,
  command: string,
  step: () => Promise<T>,
): Promise<{ value: T; us: number | null }> {
  const before = (await commandStats(client)).get(command) ?? { calls: 0, usec: 0 };
  const value = await step();
  const after = (await commandStats(client)).get(command) ?? { calls: 0, usec: 0 };
  // Another client's call of the same command in the window would blur the figure: drop it.
  return { value, us: after.calls - before.calls === 1 ? after.usec - before.usec : null };
}

// ---------------------------------------------------------------------------------------------
// Tracing the Mirror's store calls

interface TracedCall {
  method: string;
  start: number;
  end: number;
  ops: number;
}

function tracingStore(store: Store, calls: TracedCall[]): Store {
  return new Proxy(store, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const call: TracedCall = {
          method: String(prop),
          start: performance.now(),
          end: Number.NaN,
          ops: prop === 'apply' ? (args[0] as WriteOp[]).length : 0,
        };
        calls.push(call);
        return (value as (...a: unknown[]) => Promise<unknown>).apply(target, args).then((x) => {
          call.end = performance.now();
          return x;
        });
      };
    },
  });
}

/** Calls grouped into sequential round trips: a call issued after an answer starts a new one. */
function roundsOf(calls: TracedCall[]): TracedCall[][] {
  const rounds: TracedCall[][] = [];
  let firstEnd = Infinity;
  for (const c of [...calls].sort((a, b) => a.start - b.start)) {
    if (rounds.length === 0 || c.start >= firstEnd) {
      rounds.push([]);
      firstEnd = Infinity;
    }
    rounds[rounds.length - 1]!.push(c);
    firstEnd = Math.min(firstEnd, c.end);
  }
  return rounds;
}

/**
 * `reps` traced calls of a Mirror method on `r`'s store; `prepare` runs before each and `check`
 * after each (given what `call` returned), both untimed.
 */
async function traceMirror<T>(
  r: InProcessRelay,
  reps: number,
  prepare: () => Promise<void>,
  call: (mirror: Mirror) => Promise<T>,
  check: (result: T) => Promise<void>,
): Promise<MirrorTrace> {
  const calls: TracedCall[] = [];
  const mirror = new Mirror(tracingStore(r.store, calls), r.relay.keys, r.config.instances.gating);
  const total: number[] = [];
  const reads: number[] = [];
  const decide: number[] = [];
  const write: number[] = [];
  let rounds: number[] = [];
  const roundMs: number[][] = [];
  let writeOps = 0;
  const commands: Record<string, number> = {};
  for (let i = 0; i < reps; i++) {
    await prepare();
    calls.length = 0;
    const t0 = performance.now();
    const result = await call(mirror);
    total.push(performance.now() - t0);
    await check(result);
    const applies = calls.filter((c) => c.method === 'apply');
    if (applies.length !== 1) throw new Error(`expected one write, the mirror made ${applies.length}`);
    const w = applies[0]!;
    const readCalls = calls.filter((c) => c !== w);
    const readStart = Math.min(...readCalls.map((c) => c.start));
    const readEnd = Math.max(...readCalls.map((c) => c.end));
    reads.push(readEnd - readStart);
    decide.push(w.start - readEnd);
    write.push(w.end - w.start);
    const grouped = roundsOf(calls);
    rounds = grouped.map((x) => x.length);
    grouped.forEach((g, k) =>
      (roundMs[k] ??= []).push(Math.max(...g.map((c) => c.end)) - Math.min(...g.map((c) => c.start))),
    );
    writeOps = w.ops;
    if (i === 0) for (const c of calls) commands[c.method] = (commands[c.method] ?? 0) + 1;
  }
  return {
    n: reps,
    total: stats(total),
    reads: stats(reads),
    decide: stats(decide),
    write: stats(write),
    rounds,
    roundMs: roundMs.map((x) => stats(x).p50),
    commands,
    writeOps,
  };
}

/**
 * The steps the signed-call pipeline (src/kit/pipeline.ts) takes before the mirror, on one signed
 * body of the call, each timed on its own: what the HTTP figures add besides HTTP itself.
 */
async function pipelineSteps(
  r: InProcessRelay,
  body: Record<string, string>,
  schema: typeof newInstanceSchema | typeof updateInstanceStatusSchema,
): Promise<Record<string, number>> {
  const text = JSON.stringify(body);
  const bytes = Buffer.from(text, 'utf8');
  const nonce = newNonce();
  const timestamp = String(Date.now());
  const signature = basicSign(BASIC_KEY, nonce, timestamp, canonicalPayload(text));
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const parsed = JSON.parse(text) as Record<string, unknown>;
  const window = r.config.kit.clockWindowMs;
  const keys = r.relay.keys;
  return {
    'utf-8 decode + JSON.parse': await timeStep(STEP_REPS, () => JSON.parse(decoder.decode(bytes))),
    'verify signature (decode, canonical JSON, JSON.parse, HMAC)': await timeStep(STEP_REPS, () => {
      const call = { sign: signature, timestamp, nonce };
      checkCredentials(basicScheme(BASIC_KEY), call, Date.now(), window);
      return checkSignedBody(basicScheme(BASIC_KEY), call, bytes);
    }),
    'schema validation (zod)': await timeStep(STEP_REPS, () => schema.parse(parsed)),
    'nonce claim (one apply round trip)': await timeStep(50, () => {
      const key = keys.nonce(newNonce());
      return r.store.apply([{ op: 'set', key, value: '1', ttlMs: 120_000 }], {
        guards: [{ key, equals: null }],
        notAfter: Date.now() + 3000,
      });
    }),
  };
}

/** Samples of one measurement, the first `warmup` calls dropped (a null, when Redis gave no time, too). */
function samplesAfter(warmup: number) {
  let calls = 0;
  const kept: number[] = [];
  return {
    kept,
    add(value: number | null) {
      if (calls++ >= warmup && value !== null) kept.push(value);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// newInstance

async function newInstanceBench(r: InProcessRelay, o: InstanceOptions): Promise<InstanceRun> {
  const { client } = o;
  const keys = r.relay.keys;
  const warmup = 10;
  log(`newInstance: ${warmup} warm-up + ${o.newRounds} measured rounds`);
  let orders = 0;
  const newOrder = () => {
    const orderId = `CS${String(++orders).padStart(8, '0')}${randomUUID().slice(0, 4).toUpperCase()}`;
    return {
      orderId,
      orderLineId: `${orderId}-000001`,
      productId: 'OFFI-bench-std',
      expireTime: EXPIRE_TIME,
    };
  };
  const written = async (instanceId: string, orderId: string, orderLineId: string) => {
    const [record, indexed] = await Promise.all([
      client.hExists(keys.instances(), instanceId),
      client.hGet(keys.instanceOrders(), orderKey(orderId, orderLineId)),
    ]);
    if (!record || indexed !== instanceId) throw new Error(`newInstance ${instanceId} was not written`);
  };
  const serverSamples = samplesAfter(warmup);
  const applyUs = samplesAfter(warmup);
  const floorUs = samplesAfter(warmup);

  const variants: Variant[] = [
    {
      name: 'push',
      run: async () => {
        const order = newOrder();
        const nonce = newNonce();
        const result = await r.pusher.newInstance(order, { nonce, timestamp: String(nextAt()) });
        if (!result.ok || result.resultCode !== '000000')
          throw new Error(`newInstance failed: ${result.problem ?? result.resultCode}`);
        const server = await waitForServerTime(r, nonce);
        await written(String(result.answer!.instanceId), order.orderId, order.orderLineId);
        serverSamples.add(server);
        return result.ms;
      },
    },
    {
      name: 'apply',
      run: async () => {
        const order = newOrder();
        const call = newInstanceSchema.parse({
          activity: 'newInstance',
          businessId: randomUUID(),
          ...order,
          testFlag: '0',
        });
        const at = nextAt();
        let ms = 0;
        const { value: outcome, us } = await withRedisTime(client, 'evalsha', async () => {
          const t0 = performance.now();
          const out = await r.relay.mirror.newInstance(call, at, Date.now() + 3000);
          ms = performance.now() - t0;
          return out;
        });
        if (outcome.kind !== 'applied') throw new Error(`newInstance apply: ${outcome.kind}`);
        await written(outcome.instanceId, order.orderId, order.orderLineId);
        applyUs.add(us);
        return ms;
      },
    },
    {
      name: 'floor',
      run: async () => {
        const order = newOrder();
        const instanceId = randomUUID();
        const at = nextAt();
        const key = orderKey(order.orderId, order.orderLineId);
        // The record the relay writes for a purchase.
        const record = newInstanceRecord(
          newInstanceSchema.parse({
            activity: 'newInstance',
            businessId: instanceId,
            ...order,
            testFlag: '0',
          }),
          instanceId,
          at,
        );
        const value = JSON.stringify(record);
        const nonceKey = keys.nonce(newNonce());
        const now = String(Date.now());
        let ms = 0;
        const { value: replies, us } = await withRedisTime(client, 'exec', async () => {
          const t0 = performance.now();
          const out = await client
            .multi()
            .set(nonceKey, now, { expiration: { type: 'PX', value: 120_000 } })
            .hSet(keys.instanceOrders(), key, instanceId)
            .hSet(keys.instances(), instanceId, value)
            .exec();
          ms = performance.now() - t0;
          return out;
        });
        if (replies.length !== 3) throw new Error('the MULTI did not run');
        await written(instanceId, order.orderId, order.orderLineId);
        floorUs.add(us);
        return ms;
      },
    },
  ];
  const samples = await interleave(variants, warmup, o.newRounds);
  let tracedCall = newInstanceSchema.parse({
    activity: 'newInstance',
    businessId: 'x',
    orderId: 'x',
    orderLineId: 'x',
  });
  const trace = await traceMirror(
    r,
    o.traceReps,
    async () => {
      tracedCall = newInstanceSchema.parse({
        activity: 'newInstance',
        businessId: randomUUID(),
        ...newOrder(),
        testFlag: '0',
      });
    },
    (mirror) => mirror.newInstance(tracedCall, nextAt(), Date.now() + 3000),
    async (outcome) => {
      if (outcome.kind !== 'applied') throw new Error(`traced newInstance: ${outcome.kind}`);
      await written(outcome.instanceId, tracedCall.orderId, tracedCall.orderLineId);
    },
  );
  return {
    name: 'newInstance',
    warmup,
    push: stats(samples.get('push')!),
    server: stats(serverSamples.kept),
    apply: stats(samples.get('apply')!),
    floor: stats(samples.get('floor')!),
    floorCommands: 'SET nonce PX, HSET order index, HSET instance record',
    redisUs: { applyScript: stats(applyUs.kept), floorExec: stats(floorUs.kept) },
    trace,
    pipeline: await pipelineSteps(
      r,
      { activity: 'newInstance', businessId: randomUUID(), ...newOrder(), testFlag: '0' },
      newInstanceSchema,
    ),
  };
}

// ---------------------------------------------------------------------------------------------
// updateInstanceStatus FREEZE with 1,000 live sessions

interface FreezeWorld {
  tenantId: string;
  instanceId: string;
  userNames: string[];
}

async function freezeWorld(r: InProcessRelay, users: number): Promise<FreezeWorld> {
  const tenantId = newTenantId();
  const bought = await r.pusher.newInstance(
    { orderId: `CS${tenantId.slice(0, 10).toUpperCase()}`, orderLineId: `CS${tenantId.slice(0, 10)}-1` },
    { timestamp: String(nextAt()) },
  );
  if (!bought.ok) throw new Error(`newInstance failed: ${bought.problem}`);
  const instanceId = String(bought.answer!.instanceId);
  const tenant = await r.pusher.tenantSync({ ...tenantFields(tenantId), instanceId });
  if (!tenant.ok) throw new Error(`tenantSync failed: ${tenant.problem}`);
  const list = Array.from({ length: users }, (_, i) => benchUser(i));
  const auth = await r.pusher.authSync({
    ...authFields(tenantId, list, syncedAt(r.pusher.nextSyncTime())),
    instanceId,
  });
  if (!auth.ok) throw new Error(`authSync failed: ${auth.problem}`);
  const bound = await r.relay.mirror.instance(instanceId);
  if (!bound?.tenantIds.includes(tenantId)) throw new Error('tenantSync did not bind the instance');
  const copies = await r.relay.mirror.tenantInstances(tenantId);
  if (copies.get(instanceId)?.status !== 'active') throw new Error('the tenant has no active copy');
  return { tenantId, instanceId, userNames: list.map((u) => u.userName) };
}

/**
 * `perUser` sessions for each user, as a sign-in leaves them: `Sessions.register` (the user's
 * index and the tenant's set of users with sessions), then the record connect-redis saves (the
 * express-session cookie and `login` with sealed tokens) with the idle TTL. Users in parallel.
 */
async function makeSessions(r: InProcessRelay, w: FreezeWorld, perUser: number): Promise<string[]> {
  const { sessions, keys } = r.relay;
  const { config } = r;
  const now = Date.now();
  const ttlMs = config.session.idleSeconds * 1000;
  const maxAge = config.session.absoluteSeconds * 1000;
  const made: string[][] = await Promise.all(
    w.userNames.map(async (userName) => {
      const sids: string[] = [];
      for (let k = 0; k < perUser; k++) {
        const sid = sessions.newId(w.tenantId);
        const login: SignedIn = {
          tenantId: w.tenantId,
          appId: config.appId,
          userName,
          domainName: `https://${w.tenantId.slice(0, 8)}.idp.example.com`,
          instanceId: w.instanceId,
          profile: { name: userName, email: userName },
          loginAt: now,
          absoluteExpiresAt: now + maxAge,
          tokens: sessions.sealTokens(
            sid,
            { accessToken: `at-${sid}`, refreshToken: `rt-${sid}`, expiresAt: now + 3_600_000 },
            1,
          ),
        };
        await sessions.register(sid, login);
        const record = {
          cookie: {
            originalMaxAge: maxAge,
            expires: new Date(now + maxAge).toISOString(),
            secure: false,
            httpOnly: true,
            path: '/',
            sameSite: 'lax',
          },
          login,
        };
        await r.store.apply([{ op: 'set', key: keys.session(sid), value: JSON.stringify(record), ttlMs }]);
        sids.push(sid);
      }
      return sids;
    }),
  );
  return made.flat();
}

/** Keys of the tenant's session records, by SCAN (the records carry the tenant's hash tag). */
async function scanSessions(client: RedisClient, r: InProcessRelay, tenantId: string): Promise<number> {
  const pattern = `${r.relay.keys.session(`{t:${tenantId}}.`)}*`;
  let n = 0;
  for await (const batch of client.scanIterator({ MATCH: pattern, COUNT: 1000 })) n += batch.length;
  return n;
}

async function freezeBench(r: InProcessRelay, o: InstanceOptions): Promise<FreezeRun> {
  const { client } = o;
  const keys = r.relay.keys;
  const total = o.users * o.sessionsPerUser;
  const w = await freezeWorld(r, o.users);
  const t = w.tenantId;
  const appId = r.config.appId;
  const warmup = 3;
  log(
    `updateInstanceStatus FREEZE, ${total} sessions of ${o.users} users: ${warmup} warm-up + ${o.freezeRounds} measured rounds`,
  );
  const indexKeys = [...w.userNames.map((u) => keys.userSessions(t, appId, u)), keys.sessionUsers(t, appId)];
  const setupMs: number[] = [];
  const verified = {
    freezes: 0,
    sessionKeysBefore: 0,
    scannedBefore: 0,
    sessionKeysAfter: 0,
    scannedAfter: 0,
    indexKeysAfter: 0,
    gateFrozen: 0,
  };
  const reportedEnded: number[] = [];
  let frozen = false;

  const statusCall = (status: 'FREEZE' | 'UNFREEZE') =>
    updateInstanceStatusSchema.parse({
      activity: 'updateInstanceStatus',
      instanceId: w.instanceId,
      status,
      testFlag: '0',
    });

  /** Active instance, open gate, and 1,000 live sessions: returns the session ids. */
  const prepare = async (): Promise<string[]> => {
    if (frozen) {
      const out = await r.relay.mirror.updateInstanceStatus(
        statusCall('UNFREEZE'),
        nextAt(),
        Date.now() + 3000,
      );
      if (out.kind !== 'applied') throw new Error(`UNFREEZE: ${out.kind}`);
      frozen = false;
    }
    if ((await client.get(keys.gate(t))) !== null) throw new Error('the gate is still closed after UNFREEZE');
    const t0 = performance.now();
    const sids = await makeSessions(r, w, o.sessionsPerUser);
    setupMs.push(performance.now() - t0);
    const present = await client.exists(sids.map((s) => keys.session(s)));
    const scanned = await scanSessions(client, r, t);
    if (present !== total || scanned !== total)
      throw new Error(`expected ${total} sessions before FREEZE, found ${present} (SCAN: ${scanned})`);
    verified.sessionKeysBefore += present;
    verified.scannedBefore += scanned;
    return sids;
  };

  /** After a FREEZE: no session, no index set, the gate closed and the record frozen. */
  const verify = async (sids: string[]) => {
    frozen = true;
    const left = await client.exists(sids.map((s) => keys.session(s)));
    const scanned = await scanSessions(client, r, t);
    const indexes = await client.exists(indexKeys);
    const [gate, raw] = await Promise.all([
      client.get(keys.gate(t)),
      client.hGet(keys.instances(), w.instanceId),
    ]);
    const status = (JSON.parse(raw!) as InstanceRecord).status;
    verified.freezes++;
    verified.sessionKeysAfter += left;
    verified.scannedAfter += scanned;
    verified.indexKeysAfter += indexes;
    if (gate === 'instance_frozen' && status === 'frozen') verified.gateFrozen++;
    if (left !== 0 || scanned !== 0 || indexes !== 0 || gate !== 'instance_frozen' || status !== 'frozen')
      throw new Error(
        `after FREEZE: ${left} session keys (SCAN ${scanned}), ${indexes} index sets, gate ${gate}, status ${status}`,
      );
  };

  const serverSamples = samplesAfter(warmup);
  const applyUs = samplesAfter(warmup);
  const floorUs = samplesAfter(warmup);

  const variants: Variant[] = [
    {
      name: 'push',
      run: async () => {
        const sids = await prepare();
        const nonce = newNonce();
        const result = await r.pusher.updateInstanceStatus(
          { instanceId: w.instanceId, status: 'FREEZE' },
          { nonce, timestamp: String(nextAt()) },
        );
        if (!result.ok) throw new Error(`FREEZE failed: ${result.problem}`);
        const server = await waitForServerTime(r, nonce);
        await verify(sids);
        serverSamples.add(server);
        return result.ms;
      },
    },
    {
      name: 'apply',
      run: async () => {
        const sids = await prepare();
        const call = statusCall('FREEZE');
        const at = nextAt();
        let ms = 0;
        const { value: outcome, us } = await withRedisTime(client, 'evalsha', async () => {
          const t0 = performance.now();
          const out = await r.relay.mirror.updateInstanceStatus(call, at, Date.now() + 3000);
          ms = performance.now() - t0;
          return out;
        });
        if (outcome.kind !== 'applied' || outcome.sessionsEnded !== total)
          throw new Error(`FREEZE apply: ${outcome.kind}, ${outcome.sessionsEnded} sessions ended`);
        reportedEnded.push(outcome.sessionsEnded);
        await verify(sids);
        applyUs.add(us);
        return ms;
      },
    },
    {
      name: 'floor',
      run: async () => {
        const sids = await prepare();
        // The record and the tenant's copy as the relay writes them.
        const raw = await client.hGet(keys.instances(), w.instanceId);
        const at = nextAt();
        const next = withChange(
          JSON.parse(raw!) as InstanceRecord,
          { activity: 'updateInstanceStatus', at, status: 'frozen' },
          { status: 'frozen', statusAt: at },
        );
        const record = JSON.stringify(next);
        const copy: InstanceCopy = instanceCopy(next);
        const doomed = [...sids.map((s) => keys.session(s)), ...indexKeys];
        const nonceKey = keys.nonce(newNonce());
        const now = String(Date.now());
        let ms = 0;
        const { value: replies, us } = await withRedisTime(client, 'exec', async () => {
          const t0 = performance.now();
          const out = await client
            .multi()
            .set(nonceKey, now, { expiration: { type: 'PX', value: 120_000 } })
            .hSet(keys.instances(), w.instanceId, record)
            .hSet(keys.tenantInstances(t), w.instanceId, JSON.stringify(copy))
            .set(keys.gate(t), 'instance_frozen')
            .del(doomed)
            .incr(keys.version(t))
            .exec();
          ms = performance.now() - t0;
          return out;
        });
        if (replies.length !== 6 || Number(replies[4]) !== doomed.length)
          throw new Error(`the MULTI did not delete every session: ${String(replies[4])}`);
        await verify(sids);
        floorUs.add(us);
        return ms;
      },
    },
  ];
  const samples = await interleave(variants, warmup, o.freezeRounds);

  let traceSids: string[] = [];
  const trace = await traceMirror(
    r,
    o.traceReps,
    async () => {
      traceSids = await prepare();
    },
    (mirror) => mirror.updateInstanceStatus(statusCall('FREEZE'), nextAt(), Date.now() + 3000),
    async (outcome) => {
      if (outcome.kind !== 'applied' || outcome.sessionsEnded !== total)
        throw new Error(`traced FREEZE: ${outcome.kind}, ${outcome.sessionsEnded} sessions ended`);
      reportedEnded.push(outcome.sessionsEnded);
      await verify(traceSids);
    },
  );
  return {
    name: `updateInstanceStatus FREEZE, ${total.toLocaleString('en')} sessions of ${o.users} users`,
    warmup,
    users: o.users,
    sessions: total,
    push: stats(samples.get('push')!),
    server: stats(serverSamples.kept),
    apply: stats(samples.get('apply')!),
    floor: stats(samples.get('floor')!),
    floorCommands: `SET nonce PX, HSET instance record, HSET tenant copy, SET gate, DEL of ${total} session keys + ${indexKeys.length} index sets, INCR version`,
    redisUs: { applyScript: stats(applyUs.kept), floorExec: stats(floorUs.kept) },
    setup: stats(setupMs),
    verified: { ...verified, reportedEnded: stats(reportedEnded) },
    trace,
    pipeline: await pipelineSteps(
      r,
      { activity: 'updateInstanceStatus', instanceId: w.instanceId, status: 'FREEZE', testFlag: '0' },
      updateInstanceStatusSchema,
    ),
  };
}
