// Resharding under load: on a private Redis Cluster (three masters), the slot of a busy tenant is
// moved to another master, key batch by key batch (CLUSTER SETSLOT IMPORTING/MIGRATING, MIGRATE,
// SETSLOT NODE), while a relay on the cluster takes pushes for that tenant (authSync of several
// new users at a time, tenantSync) and answers session and API reads for it. Midway the move is
// held, the slot split between the two nodes: reads of moved keys get ASK, multi-key scripts get
// TRYAGAIN (the store retries them within the call's deadline), and once the slot is moved the
// old node answers MOVED. Every push answered 000000 must be there afterwards, every authSync
// must be there whole or not at all, and the answers other than 000000/200 are counted. A move
// held longer than the calls' deadlines shows what the relay answers then (000005 and 503), and
// that the same pushes sent again succeed.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { PushResult } from '../../src/sandbox/pusher.js';
import { RedisStore } from '../../src/store/redis/store.js';
import { user } from '../support/data.js';
import { RedisCluster } from '../support/redis.js';
import { API_KEY, APP_ID } from '../support/relay.js';
import { startSignInWorld, type SignInWorld } from '../support/world.js';

RedisCluster.requireTools();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** users per authSync: each push must land with all of them or none */
const USERS_PER_PUSH = 5;

let cluster: RedisCluster;
let store: RedisStore;
let w: SignInWorld;
let slot: number;
/** sessions of the busy tenant, signed in through the sandbox before the load */
const sids: string[] = [];

beforeAll(async () => {
  cluster = await RedisCluster.prepare({ masters: 3 });
  await cluster.start();
  store = RedisStore.connect({ clusterNodes: cluster.nodes });
  await store.ready(10_000);
  w = await startSignInWorld({ store });
  slot = await cluster.keySlot(w.relay.relay.keys.version(w.acme.tenantId));
  // Sessions are keys of the tenant's slot too: the move has more to carry, in several batches.
  for (let i = 0; i < 12; i++) sids.push((await w.signIn(i % 2 === 0 ? 'alice' : 'bob')).sid);
}, 60_000);

afterAll(async () => {
  await w?.close();
  await store?.close();
  await cluster?.stop();
});

interface Push {
  kind: 'authSync' | 'tenantSync';
  /** what was sent, to send it again as KooGallery does after 000005 */
  fields: Record<string, unknown>;
  users: string[];
  code: string | null;
  ms: number;
}

/** One push through the sandbox pusher: its result code, null when not answered at all. */
async function send(kind: Push['kind'], fields: Record<string, unknown>): Promise<string | null> {
  try {
    const r: PushResult =
      kind === 'authSync' ? await w.relay.pusher.authSync(fields) : await w.relay.pusher.tenantSync(fields);
    return r.resultCode ?? null;
  } catch {
    return null;
  }
}

/** Pushes and reads for the busy tenant until `stop()`; what each was answered. */
function underLoad(options: { pushLoops: number; readLoops: number }) {
  let running = true;
  let n = 0;
  const pushes: Push[] = [];
  const reads: { what: string; status: number; ms: number }[] = [];
  const { acme } = w;
  const common = { instanceId: acme.instanceId, tenantId: acme.tenantId };
  const pushOnce = async (loop: number, i: number): Promise<void> => {
    const kind = i % 4 === 3 ? 'tenantSync' : 'authSync';
    const users =
      kind === 'authSync' ? Array.from({ length: USERS_PER_PUSH }, (_, j) => `m${n}-l${loop}-${i}-${j}`) : [];
    n++;
    const sent = Date.now();
    const fields =
      kind === 'authSync'
        ? { ...common, appId: APP_ID, userList: users.map((u) => user(u)), flag: 1, testFlag: 0 }
        : {
            ...common,
            orderId: acme.orderId,
            tenantCode: acme.tenantCode,
            name: `Acme 科技 ${i}`,
            domainName: w.world.domainName(acme),
            flag: 1,
            testFlag: 0,
          };
    const code = await send(kind, fields);
    pushes.push({ kind, fields, users, code, ms: Date.now() - sent });
  };
  const readers = [
    {
      what: 'GET /api/v1/session',
      run: (i: number) =>
        w.relay.http
          .get('/api/v1/session')
          .set('Authorization', `Bearer ${API_KEY}`)
          .set('X-Session-Id', sids[i % sids.length]!),
    },
    {
      what: 'POST /api/v1/authorize',
      run: () =>
        w.relay.http
          .post('/api/v1/authorize')
          .set('Authorization', `Bearer ${API_KEY}`)
          .send({ tenantId: acme.tenantId, userName: 'alice' }),
    },
    { what: 'GET /api/v1/tenants/{id}', run: () => w.relay.api(`/api/v1/tenants/${acme.tenantId}`) },
    {
      what: 'GET /api/v1/tenants/{id}/users/{userName}',
      run: () => w.relay.api(`/api/v1/tenants/${acme.tenantId}/users/bob`),
    },
  ];
  const loops = [
    ...Array.from({ length: options.pushLoops }, async (_, loop) => {
      for (let i = 0; running; i++) await pushOnce(loop, i);
    }),
    ...Array.from({ length: options.readLoops }, async (_, loop) => {
      for (let i = loop; running; i++) {
        const reader = readers[i % readers.length]!;
        const sent = Date.now();
        const r = await reader.run(i);
        reads.push({ what: reader.what, status: r.status, ms: Date.now() - sent });
      }
    }),
  ];
  return {
    pushes,
    reads,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** Of each authSync, how many of its users the mirror holds (read straight from the store). */
async function usersFound(pushes: readonly Push[]): Promise<number[]> {
  const held = await store.hGetAll(w.relay.relay.keys.users(w.acme.tenantId, APP_ID));
  return pushes.map((p) => p.users.filter((u) => u in held).length);
}

function summary(pushes: readonly Push[], reads: readonly { what: string; status: number }[]) {
  const count = <T>(xs: readonly T[], key: (x: T) => string) =>
    xs.reduce<Record<string, number>>((acc, x) => ({ ...acc, [key(x)]: (acc[key(x)] ?? 0) + 1 }), {});
  return {
    pushes: count(pushes, (p) => `${p.kind} ${p.code ?? 'no answer'}`),
    reads: count(reads, (r) => `${r.what} ${r.status}`),
  };
}

/** The slot's other masters: where to move it. */
async function anotherMaster(): Promise<number> {
  const from = await cluster.portOfSlot(slot);
  return (await cluster.masterPorts()).find((p) => p !== from)!;
}

describe('moving a busy tenant’s slot to another master', () => {
  it('loses no push, writes no push in part, and answers every push and read while the slot moves (ASK, TRYAGAIN, MOVED)', async () => {
    await cluster.resetStats();
    const from = await cluster.portOfSlot(slot);
    const to = await anotherMaster();
    const load = underLoad({ pushLoops: 3, readLoops: 2 });
    await sleep(800);
    // The tenant's version key first (every push's write and guard names it), then held for 0.7 s
    // with the slot's keys split between the two nodes, then the rest, 3 keys at a time. (A
    // session read may wait through the whole hold; its deadline, REDIS_TIMEOUT_MS, is 1.5 s.)
    let held = false;
    const move = await cluster.migrateSlot(slot, to, {
      batch: 3,
      first: [w.relay.relay.keys.version(w.acme.tenantId)],
      afterBatch: async () => {
        if (!held) {
          held = true;
          await sleep(700);
        }
      },
    });
    const pushesAtMoveEnd = load.pushes.length;
    await sleep(800);
    // and back again, at full speed
    const back = await cluster.migrateSlot(slot, from, { batch: 10 });
    await sleep(500);
    await load.stop();
    const stats = Object.fromEntries(
      await Promise.all([from, to].map(async (p) => [p, await cluster.errorStats(p)] as const)),
    );
    const { pushes, reads } = load;
    const auths = pushes.filter((p) => p.kind === 'authSync');
    const found = await usersFound(auths);
    const s = summary(pushes, reads);
    process.stderr.write(
      `reshard under load: ${from} → ${to}: moved ${move.keys} keys in ${move.batches} batches in ${move.ms} ms (held 0.7 s after the version key), back ${back.keys} keys in ${back.ms} ms; ` +
        `${pushes.length} pushes (${pushesAtMoveEnd} by the end of the first move), ${reads.length} reads; ` +
        `answers ${JSON.stringify(s)}; errors answered by the nodes ${JSON.stringify(stats)}; ` +
        `slowest push ${Math.max(...pushes.map((p) => p.ms))} ms, slowest read ${Math.max(...reads.map((r) => r.ms))} ms\n`,
    );

    expect(held).toBe(true);
    expect(move.batches).toBeGreaterThan(2);
    // the redirections really happened: ASK and TRYAGAIN while split, MOVED after
    const all = (name: string) => (stats[from]?.[name] ?? 0) + (stats[to]?.[name] ?? 0);
    expect(all('ASK')).toBeGreaterThan(0);
    expect(all('TRYAGAIN')).toBeGreaterThan(0);
    expect(all('MOVED')).toBeGreaterThan(0);
    // the slot is whole on its node again, none of it left on the other
    expect(await cluster.portOfSlot(slot)).toBe(from);
    expect(await cluster.keysInSlot(to, slot)).toBe(0);

    // every push answered, 000000, within the deadline; every read answered 200
    expect(pushes.filter((p) => p.code !== '000000')).toEqual([]);
    expect(reads.filter((r) => r.status !== 200)).toEqual([]);
    // every user of every acknowledged authSync is there
    expect(found.every((f) => f === USERS_PER_PUSH)).toBe(true);
    const tenant = await w.relay.api(`/api/v1/tenants/${w.acme.tenantId}`);
    expect(tenant.status).toBe(200);
  }, 60_000);

  it('answers 000005 and 503 while a move is held past the deadlines, writes nothing in part, and the pushes sent again succeed', async () => {
    await cluster.resetStats();
    const to = await anotherMaster();
    const load = underLoad({ pushLoops: 2, readLoops: 1 });
    await sleep(500);
    // The version key moved, then held for 4 s with the slot split: longer than a push's
    // deadline (KIT_DEADLINE_MS, 3 s) and a read's (REDIS_TIMEOUT_MS, 1.5 s).
    let held = false;
    await cluster.migrateSlot(slot, to, {
      batch: 3,
      first: [w.relay.relay.keys.version(w.acme.tenantId)],
      afterBatch: async () => {
        if (!held) {
          held = true;
          await sleep(4000);
        }
      },
    });
    await sleep(500);
    await load.stop();
    const { pushes, reads } = load;
    const auths = pushes.filter((p) => p.kind === 'authSync');
    const found = await usersFound(auths);
    process.stderr.write(
      `reshard held 4 s: answers ${JSON.stringify(summary(pushes, reads))}; ` +
        `authSyncs not answered 000000: ${auths.filter((p) => p.code !== '000000').length}, of which found whole ${
          auths.filter((p, i) => p.code !== '000000' && found[i] === USERS_PER_PUSH).length
        }\n`,
    );
    expect(held).toBe(true);
    // Nothing in part: each authSync's users all there, or none of them.
    expect(found.every((f) => f === 0 || f === USERS_PER_PUSH)).toBe(true);
    // Acknowledged means there.
    auths.forEach((p, i) => {
      if (p.code === '000000') expect(found[i]).toBe(USERS_PER_PUSH);
    });
    // Only 000005 (KooGallery retries it) and 503 (the API's "retry shortly"), never another failure.
    expect(pushes.every((p) => p.code === '000000' || p.code === '000005')).toBe(true);
    expect(reads.every((r) => r.status === 200 || r.status === 503)).toBe(true);
    expect(pushes.some((p) => p.code === '000005')).toBe(true);
    // KooGallery's retry of each push answered 000005 succeeds, and then an authSync's users are all there.
    const failed = pushes.filter((p) => p.code !== '000000');
    for (const p of failed) expect(await send(p.kind, p.fields)).toBe('000000');
    expect(
      (await usersFound(failed.filter((p) => p.kind === 'authSync'))).every((f) => f === USERS_PER_PUSH),
    ).toBe(true);
    for (const sid of sids.slice(0, 2)) {
      const r = await w.relay.http
        .get('/api/v1/session')
        .set('Authorization', `Bearer ${API_KEY}`)
        .set('X-Session-Id', sid);
      expect(r.status).toBe(200);
    }
  }, 60_000);
});
