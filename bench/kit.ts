/**
 * Kit push benchmarks: authSync with 500 users and allOrgSync with 10,000 departments.
 *
 * For each, four measurements interleaved round by round (so drift, GC and Redis state affect
 * them alike), each run writing for real (a fresh, newer sync time every time):
 *   - push:  the sandbox Pusher sends a signed push over HTTP to the real relay (buildApp on a
 *            RedisStore, listening on a local port); client-observed latency (PushResult.ms:
 *            body serialisation, fetch, the relay's whole handling, reading the answer) and the
 *            relay's own time from request to response `finish`;
 *   - apply: `relay.mirror.<sync>(push, deadline)` called directly with an already parsed push:
 *            the store reads, the decision and the atomic write, no HTTP, JSON or signature;
 *   - floor: the same records written by one node-redis MULTI (prepared outside the timing);
 *   - handler floor (issue 13): the same push, signed and sent by the same Pusher, to the handler
 *            a minimal correct implementation would be: an Express route in this process that
 *            reads the raw body, builds the Jackson-exact canonical payload, verifies the HMAC,
 *            validates with zod, builds the records and writes them with one MULTI
 *            (startHandlerFloor); client-observed as the push is.
 * Plus a breakdown of the relay's per-push CPU steps on the same body, timed on their own.
 */
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import express from 'express';
import { Pusher } from '../src/sandbox/pusher.js';
import type { Keys } from '../src/store/keys.js';
import { allOrgSyncSchema, authSyncSchema } from '../src/kit/schemas.js';
import { canonicalPayload } from '../src/kit/canonical.js';
import { kitSign, signaturesMatch } from '../src/kit/signature.js';
import type { AuthSync } from '../src/kit/schemas.js';
import { parseSyncTime } from '../src/kit/timestamp.js';
import { checkCredentials, checkSignedBody, kitScheme } from '../src/kit/verify.js';
import { encodeOrg, type UserRecord } from '../src/mirror/records.js';
import { OPTIONAL_USER_FIELDS } from '../src/mirror/users.js';
import type { Fields } from '../src/sandbox/pusher.js';
import { allOrgFields, authFields, KIT_KEY, newTenantId, tenantFields } from '../test/support/fixtures.js';
import {
  benchDepartment,
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

export interface KitRun {
  name: string;
  records: number;
  bodyBytes: number;
  warmup: number;
  /** client-observed push latency (PushResult.ms) */
  push: Stats;
  /** the relay's own time, request received to response finished */
  server: Stats;
  /** mirror apply alone */
  apply: Stats;
  /** one MULTI of the same records */
  floor: Stats;
  /** the minimal correct handler over HTTP (client-observed): raw body, canonical payload, HMAC, zod, one MULTI */
  handler: Stats;
  /** median ms of each CPU step of the relay's push handling, timed on its own */
  breakdown: Record<string, number>;
}

/** The per-push CPU steps of the kit router on one signed body, each on its own. */
async function breakdown(
  r: InProcessRelay,
  body: Fields,
  schema: typeof authSyncSchema | typeof allOrgSyncSchema,
  reps: number,
): Promise<Record<string, number>> {
  const bytes = Buffer.from(JSON.stringify(body), 'utf8');
  const nonce = newNonce();
  const timestamp = String(Date.now());
  const text = JSON.stringify(body);
  const sign = kitSign(KIT_KEY, nonce, timestamp, canonicalPayload(text));
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const parsed = JSON.parse(decoder.decode(bytes)) as Record<string, unknown>;
  const keys = r.relay.keys;
  return {
    'utf-8 decode + JSON.parse': await timeStep(reps, () => JSON.parse(decoder.decode(bytes))),
    'verify x-sign (decode, canonical JSON, JSON.parse, HMAC)': await timeStep(reps, () => {
      checkCredentials(kitScheme(KIT_KEY), { sign, timestamp, nonce }, Date.now(), 60_000);
      return checkSignedBody(kitScheme(KIT_KEY), { sign, timestamp, nonce }, bytes);
    }),
    'schema validation (zod)': await timeStep(reps, () => schema.parse(parsed)),
    'nonce claim (one apply round trip)': await timeStep(reps, () => {
      const key = keys.nonce(newNonce());
      return r.store.apply([{ op: 'set', key, value: '1', ttlMs: 120_000 }], {
        guards: [{ key, equals: null }],
        notAfter: Date.now() + 3000,
      });
    }),
  };
}

export interface KitOptions {
  prefix: string;
  client: RedisClient;
  users: number;
  userRounds: number;
  departments: number;
  departmentRounds: number;
}

/** A user record as the mirror builds it for a push that grants (flag 1 or 2; mirror/users.ts). */
function grantedUser(push: AuthSync, u: AuthSync['userList'][number]): Record<string, unknown> {
  const record: Record<string, unknown> = {
    tenantId: push.tenantId,
    appId: push.appId,
    userName: u.userName,
    name: u.name ?? '',
    orgCode: u.orgCode ?? '',
    role: u.role ?? 'user',
    enable: u.enable ?? true,
    authorized: push.flag !== 3,
    instanceId: push.instanceId,
    testFlag: push.testFlag,
    currentSyncTime: push.currentSyncTime,
    at: push.at,
  };
  for (const k of OPTIONAL_USER_FIELDS) if (u[k] !== undefined) record[k] = u[k];
  return record;
}
export interface HandlerFloor {
  /** signs and sends as the marketplace does, to the handler floor */
  pusher: Pusher;
  close: () => Promise<void>;
}

/**
 * The handler a minimal correct implementation of authSync and allOrgSync would be: an Express
 * route that reads the raw body, checks x-sign over the Jackson-exact canonical payload (the
 * relay's canonicalPayload, kitSign and constant-time comparison), parses and validates the
 * body with the relay's zod schemas, builds the records the relay stores and writes them, with
 * the nonce, by one MULTI, then answers 000000. No timestamp window, nonce claim, version guard,
 * sync-time ordering, tombstones, change events, deadline or Body-Sign: what the relay adds.
 */
export async function startHandlerFloor(client: RedisClient, keys: Keys): Promise<HandlerFloor> {
  const app = express();
  const answer = { resultCode: '000000', resultMsg: 'success' };
  app.post('/produceAPI/v2/:iface', express.raw({ type: () => true, limit: '8mb' }), async (req, res) => {
    const nonce = req.get('x-nonce') ?? '';
    const text = (req.body as Buffer).toString('utf8');
    const expected = kitSign(KIT_KEY, nonce, req.get('x-timestamp') ?? '', canonicalPayload(text));
    if (!signaturesMatch(expected, req.get('x-sign') ?? ''))
      return void res.json({ resultCode: '000001', resultMsg: 'bad signature' });
    const body = JSON.parse(text) as unknown;
    const multi = client
      .multi()
      .set(keys.nonce(nonce), String(Date.now()), { expiration: { type: 'PX', value: 120_000 } });
    if (req.params.iface === 'authSync') {
      const push = authSyncSchema.parse(body);
      const entries = push.userList.map((u): [string, string] => [
        u.userName,
        JSON.stringify(grantedUser(push, u)),
      ]);
      multi
        .hSet(keys.users(push.tenantId, push.appId), entries)
        .sAdd(keys.userApps(push.tenantId), push.appId)
        .incr(keys.version(push.tenantId));
    } else if (req.params.iface === 'allOrgSync') {
      const push = allOrgSyncSchema.parse(body);
      const t = push.tenantId;
      const entries = push.orgInfoList.map((d): [string, string] => [
        d.orgCode,
        encodeOrg({ orgCode: d.orgCode, orgName: d.orgName, parentCode: d.parentCode, at: push.at }),
      ]);
      multi
        .del(keys.orgs(t))
        .hSet(keys.orgs(t), entries)
        .hSet(keys.meta(t), 'fullOrgSyncAt', String(push.at))
        .incr(keys.version(t));
    } else return void res.status(404).end();
    await multi.exec();
    res.json(answer);
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    pusher: new Pusher({ productionAddress: url, kitAccessKey: KIT_KEY, timeoutMs: 20_000 }),
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export async function runKitBenchmarks(o: KitOptions): Promise<KitRun[]> {
  const r = await startInProcessRelay(o.prefix);
  const handler = await startHandlerFloor(o.client, r.relay.keys);
  try {
    const tenantId = newTenantId();
    const seeded = await r.pusher.tenantSync(tenantFields(tenantId));
    if (!seeded.ok) throw new Error(`tenantSync failed: ${seeded.problem}`);
    return [await authSyncBench(r, o, tenantId, handler), await allOrgSyncBench(r, o, tenantId, handler)];
  } finally {
    await handler.close();
    await r.close();
  }
}

async function authSyncBench(r: InProcessRelay, o: KitOptions, t: string, h: HandlerFloor): Promise<KitRun> {
  const keys = r.relay.keys;
  const appId = r.config.appId;
  const usersKey = keys.users(t, appId);
  const userList = Array.from({ length: o.users }, (_, i) => benchUser(i));
  const firstUser = userList[0]!.userName;
  const warmup = 10;
  log(`authSync: ${o.users} users, ${warmup} warm-up + ${o.userRounds} measured rounds`);

  // One real push first, so the floor writes exactly the records the relay writes.
  const first = await r.pusher.authSync(authFields(t, userList, syncedAt(r.pusher.nextSyncTime())));
  if (!first.ok) throw new Error(`authSync failed: ${first.problem}`);
  const templates = Object.values(await o.client.hGetAll(usersKey)).map((v) => JSON.parse(v) as UserRecord);
  if (templates.length !== o.users) throw new Error(`expected ${o.users} users, found ${templates.length}`);
  const bodyBytes = Buffer.byteLength(
    JSON.stringify(authFields(t, userList, syncedAt(r.pusher.nextSyncTime()))),
  );

  const storedAt = async () => (JSON.parse((await o.client.hGet(usersKey, firstUser))!) as UserRecord).at;
  const serverSamples: number[] = [];
  let pushes = 0; // the push variant runs once per round

  const variants: Variant[] = [
    {
      name: 'push',
      run: async () => {
        const ts = r.pusher.nextSyncTime();
        const nonce = newNonce();
        const result = await r.pusher.authSync(authFields(t, userList, syncedAt(ts)), { nonce });
        if (!result.ok) throw new Error(`authSync push failed: ${result.problem}`);
        const server = await waitForServerTime(r, nonce);
        if ((await storedAt()) !== parseSyncTime(ts)) throw new Error('the push did not write');
        if (pushes++ >= warmup) serverSamples.push(server);
        return result.ms;
      },
    },
    {
      name: 'apply',
      run: async () => {
        const push = authSyncSchema.parse(authFields(t, userList, syncedAt(r.pusher.nextSyncTime())));
        const t0 = performance.now();
        const outcome = await r.relay.mirror.authSync(push, Date.now() + 3000);
        const ms = performance.now() - t0;
        if (outcome.changed !== o.users) throw new Error(`apply changed ${outcome.changed} users`);
        return ms;
      },
    },
    {
      name: 'floor',
      run: async () => {
        const ts = r.pusher.nextSyncTime();
        const at = parseSyncTime(ts)!;
        const entries = templates.map(
          (u) => [u.userName, JSON.stringify({ ...u, currentSyncTime: ts, at })] as [string, string],
        );
        const nonceKey = keys.nonce(newNonce());
        const now = String(Date.now());
        const t0 = performance.now();
        const replies = await o.client
          .multi()
          .set(nonceKey, now, { expiration: { type: 'PX', value: 120_000 } })
          .hSet(usersKey, entries)
          .sAdd(keys.userApps(t), appId)
          .incr(keys.version(t))
          .exec();
        const ms = performance.now() - t0;
        if (replies.length !== 4) throw new Error('the MULTI did not run');
        if ((await storedAt()) !== at) throw new Error('the MULTI did not write');
        return ms;
      },
    },
    {
      name: 'handler',
      run: async () => {
        const ts = r.pusher.nextSyncTime();
        const result = await h.pusher.authSync(authFields(t, userList, syncedAt(ts)));
        if (!result.ok) throw new Error(`handler floor authSync failed: ${result.problem}`);
        if ((await storedAt()) !== parseSyncTime(ts)) throw new Error('the handler floor did not write');
        return result.ms;
      },
    },
  ];
  const samples = await interleave(variants, warmup, o.userRounds);
  const body = authFields(t, userList, syncedAt(r.pusher.nextSyncTime()));
  return {
    name: `authSync, ${o.users} users`,
    records: o.users,
    bodyBytes,
    warmup,
    push: stats(samples.get('push')!),
    server: stats(serverSamples),
    apply: stats(samples.get('apply')!),
    floor: stats(samples.get('floor')!),
    handler: stats(samples.get('handler')!),
    breakdown: await breakdown(r, body, authSyncSchema, 30),
  };
}

async function allOrgSyncBench(
  r: InProcessRelay,
  o: KitOptions,
  t: string,
  h: HandlerFloor,
): Promise<KitRun> {
  const keys = r.relay.keys;
  const orgsKey = keys.orgs(t);
  const list = Array.from({ length: o.departments }, (_, i) => benchDepartment(i));
  const warmup = 3;
  log(`allOrgSync: ${o.departments} departments, ${warmup} warm-up + ${o.departmentRounds} measured rounds`);
  const bodyBytes = Buffer.byteLength(
    JSON.stringify(allOrgFields(t, list, { timeStamp: r.pusher.nextSyncTime() })),
  );
  const storedAt = async () => Number(await o.client.hGet(keys.meta(t), 'fullOrgSyncAt'));
  const serverSamples: number[] = [];
  let pushes = 0; // the push variant runs once per round

  const variants: Variant[] = [
    {
      name: 'push',
      run: async () => {
        const ts = r.pusher.nextSyncTime();
        const nonce = newNonce();
        const result = await r.pusher.allOrgSync(allOrgFields(t, list, { timeStamp: ts }), { nonce });
        if (!result.ok) throw new Error(`allOrgSync push failed: ${result.problem}`);
        const server = await waitForServerTime(r, nonce);
        if ((await storedAt()) !== parseSyncTime(ts)) throw new Error('the push did not write');
        if (pushes++ >= warmup) serverSamples.push(server);
        return result.ms;
      },
    },
    {
      name: 'apply',
      run: async () => {
        const push = allOrgSyncSchema.parse(allOrgFields(t, list, { timeStamp: r.pusher.nextSyncTime() }));
        const t0 = performance.now();
        const outcome = await r.relay.mirror.allOrgSync(push, Date.now() + 3000);
        const ms = performance.now() - t0;
        if (outcome.changed !== o.departments) throw new Error(`apply changed ${outcome.changed}`);
        return ms;
      },
    },
    {
      name: 'floor',
      run: async () => {
        const ts = r.pusher.nextSyncTime();
        const at = parseSyncTime(ts)!;
        const entries = list.map(
          (d) =>
            [
              d.orgCode,
              encodeOrg({ orgCode: d.orgCode, orgName: d.orgName, parentCode: d.parentCode || null, at }),
            ] as [string, string],
        );
        const nonceKey = keys.nonce(newNonce());
        const now = String(Date.now());
        const t0 = performance.now();
        const replies = await o.client
          .multi()
          .set(nonceKey, now, { expiration: { type: 'PX', value: 120_000 } })
          .del(orgsKey)
          .hSet(orgsKey, entries)
          .hSet(keys.meta(t), 'fullOrgSyncAt', String(at))
          .incr(keys.version(t))
          .exec();
        const ms = performance.now() - t0;
        if (replies.length !== 5) throw new Error('the MULTI did not run');
        if ((await storedAt()) !== at) throw new Error('the MULTI did not write');
        return ms;
      },
    },
    {
      name: 'handler',
      run: async () => {
        const ts = r.pusher.nextSyncTime();
        const result = await h.pusher.allOrgSync(allOrgFields(t, list, { timeStamp: ts }));
        if (!result.ok) throw new Error(`handler floor allOrgSync failed: ${result.problem}`);
        if ((await storedAt()) !== parseSyncTime(ts)) throw new Error('the handler floor did not write');
        return result.ms;
      },
    },
  ];
  const samples = await interleave(variants, warmup, o.departmentRounds);
  const count = await o.client.hLen(orgsKey);
  if (count !== o.departments) throw new Error(`expected ${o.departments} departments, found ${count}`);
  const body = allOrgFields(t, list, { timeStamp: r.pusher.nextSyncTime() });
  return {
    name: `allOrgSync, ${o.departments.toLocaleString('en')} departments`,
    records: o.departments,
    bodyBytes,
    warmup,
    push: stats(samples.get('push')!),
    server: stats(serverSamples),
    apply: stats(samples.get('apply')!),
    floor: stats(samples.get('floor')!),
    handler: stats(samples.get('handler')!),
    breakdown: await breakdown(r, body, allOrgSyncSchema, 10),
  };
}
