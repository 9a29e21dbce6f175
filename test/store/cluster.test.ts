// The relay on a real Redis Cluster (three masters on loopback, started here): the store battery,
// kit pushes for tenants living on different nodes, readiness, and a browser sign-in whose
// session is renewed and then revoked by a push, all inside the tenant's slot.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { PushResult } from '../../src/sandbox/pusher.js';
import { counterStore, type CounterStore } from '../../src/limits/counterStore.js';
import { RedisStore } from '../../src/store/redis/store.js';
import { StoreUnavailableError } from '../../src/store/store.js';
import { allOrgFields, appFields, authFields, newTenantId, tenantFields, user } from '../support/data.js';
import { RedisCluster } from '../support/redis.js';
import { API_KEY, APP_ID, startRelay, type TestRelay } from '../support/relay.js';
import { startSignInWorld, type SignInWorld } from '../support/world.js';
import { gatingScenarios } from '../sso/gatingScenarios.js';
import { identifierScenarios } from '../sso/identifierScenarios.js';
import { storeBattery } from './storeBattery.js';

// Missing tools fail the whole file with one line, before any test runs.
RedisCluster.requireTools();

let cluster: RedisCluster;
// Stores started before the cluster was there, as a relay may be: before the nodes ran, and
// while the nodes ran but no slot was assigned yet.
let beforeNodes: RedisStore | undefined;
let beforeCreate: RedisStore | undefined;
const beforeNodesErrors: string[] = [];
/** A rate-limit counter on `beforeNodes`, initialised (its scripts "loaded") before any node ran. */
const COUNTER_PREFIX = `test:rl:${Date.now()}:`;
let earlyCounter: CounterStore;
/** How its initialisation ended: express-rate-limit starts it and does not wait for it. */
let earlyInit: Promise<string>;
const beforeCreateErrors: string[] = [];

/** Waits until a store has reported a failed connection attempt. */
async function failedOnce(errors: string[]): Promise<void> {
  for (let i = 0; errors.length === 0; i++) {
    if (i === 200) throw new Error('the store reported no failed connection attempt');
    await new Promise((r) => setTimeout(r, 25));
  }
}

beforeAll(async () => {
  cluster = await RedisCluster.prepare();
  beforeNodes = RedisStore.connect(
    { clusterNodes: cluster.nodes },
    { onError: (e) => beforeNodesErrors.push(e.message) },
  );
  earlyCounter = counterStore(beforeNodes, `${COUNTER_PREFIX}rl:early:`);
  earlyInit = Promise.resolve(earlyCounter.init?.({ windowMs: 60_000 } as never)).then(
    () => 'initialised',
    (error: Error) => error.message,
  );
  await failedOnce(beforeNodesErrors);
  await cluster.startNodes();
  beforeCreate = RedisStore.connect(
    { clusterNodes: cluster.nodes },
    { onError: (e) => beforeCreateErrors.push(e.message) },
  );
  await failedOnce(beforeCreateErrors);
  await cluster.create();
}, 60_000);

afterAll(async () => {
  await beforeNodes?.close();
  await beforeCreate?.close();
  await cluster?.stop();
});

async function connectClusterStore(): Promise<RedisStore> {
  const store = RedisStore.connect({ clusterNodes: cluster.nodes });
  await store.ready(10_000);
  return store;
}

/** Tenant ids whose keys live on `count` different nodes, with the node of each. */
async function tenantsOnDifferentNodes(
  versionKey: (tenantId: string) => string,
  count = 3,
): Promise<{ tenantId: string; port: number; slot: number }[]> {
  const found = new Map<number, { tenantId: string; port: number; slot: number }>();
  for (let i = 0; found.size < count; i++) {
    if (i === 200) throw new Error('could not find tenants on every node');
    const tenantId = newTenantId();
    const slot = await cluster.keySlot(versionKey(tenantId));
    const port = await cluster.portOfSlot(slot);
    if (!found.has(port)) found.set(port, { tenantId, port, slot });
  }
  return [...found.values()];
}

describe('connecting to the cluster', () => {
  it('connects stores started before the nodes ran and before the cluster was created', async () => {
    await beforeNodes!.ready(10_000);
    await beforeCreate!.ready(10_000);
    expect(beforeNodesErrors.join('\n')).toMatch(/ECONNREFUSED|root nodes are unavailable/);
    expect(beforeCreateErrors.join('\n')).toMatch(/does not serve every slot/);
    for (const [i, store] of [beforeNodes!, beforeCreate!].entries()) {
      const key = `test:early${i}:{t:early}:s`;
      expect(await store.apply([{ op: 'set', key, value: 'x', ttlMs: 60_000 }])).toBe('applied');
      expect(await store.get(key)).toBe('x');
    }
  });

  it('reads the cluster clock (TIME) as soon as it is connected', async () => {
    // a cluster emits no 'ready' event: the deadline's clock offset must not wait for the timer
    const syncClock = jest.spyOn(RedisStore.prototype, 'syncClock');
    try {
      const store = await connectClusterStore();
      expect(syncClock).toHaveBeenCalled();
      await store.close();
    } finally {
      syncClock.mockRestore();
    }
  });

  it('runs each write on the node of its slot, loading the script again after SCRIPT FLUSH', async () => {
    const store = await connectClusterStore();
    try {
      const prefix = `test:route:${Date.now()}:`;
      const tenants = await tenantsOnDifferentNodes((id) => `${prefix}{t:${id}}:v`);
      expect(new Set(tenants.map((t) => t.port)).size).toBe(3);
      for (let round = 0; round < 2; round++) {
        for (const { tenantId } of tenants)
          expect(await store.apply([{ op: 'incr', key: `${prefix}{t:${tenantId}}:v` }])).toBe('applied');
        // Every node forgets the script: each must get it again (NOSCRIPT, then EVAL).
        for (const port of cluster.ports) {
          const node = await cluster.nodeClient(port);
          await node.sendCommand(['SCRIPT', 'FLUSH']);
          node.destroy();
        }
      }
      for (const { tenantId, port } of tenants) {
        const node = await cluster.nodeClient(port);
        expect(await node.sendCommand(['GET', `${prefix}{t:${tenantId}}:v`])).toBe('2');
        node.destroy();
      }
      await cluster.dropPrefix(prefix);
    } finally {
      await store.close();
    }
  });

  it('counts rate limits on the node of each key (rate-limit-redis), from a store started before the cluster, after SCRIPT FLUSH too', async () => {
    await beforeNodes!.ready(10_000);
    expect(await earlyInit).toBe('initialised');
    // client keys whose counters live on the three nodes
    const found = new Map<number, string>();
    for (let i = 0; found.size < 3; i++) {
      if (i === 500) throw new Error('no client keys on every node');
      const slot = await cluster.keySlot(`${COUNTER_PREFIX}rl:early:192.0.2.${i}`);
      const port = await cluster.portOfSlot(slot);
      if (!found.has(port)) found.set(port, `192.0.2.${i}`);
    }
    for (let round = 1; round <= 3; round++) {
      for (const client of found.values()) {
        const { totalHits, resetTime } = await earlyCounter.increment(client);
        expect(totalHits).toBe(round);
        expect(resetTime!.getTime() - Date.now()).toBeGreaterThan(50_000);
      }
      // every node forgets the scripts: the counter sends them again (NOSCRIPT, then EVAL)
      for (const port of cluster.ports) {
        const node = await cluster.nodeClient(port);
        await node.sendCommand(['SCRIPT', 'FLUSH']);
        node.destroy();
      }
    }
    for (const [port, client] of found) {
      const node = await cluster.nodeClient(port);
      expect(await node.sendCommand(['GET', `${COUNTER_PREFIX}rl:early:${client}`])).toBe('3');
      node.destroy();
    }
    await earlyCounter.decrement([...found.values()][0]!);
    expect((await earlyCounter.increment([...found.values()][0]!)).totalHits).toBe(3);
    await cluster.dropPrefix(COUNTER_PREFIX);
  });

  it('refuses a write whose keys span two slots, writing nothing', async () => {
    const store = await connectClusterStore();
    try {
      const prefix = `test:cross:${Date.now()}:`;
      const [a, b] = await tenantsOnDifferentNodes((id) => `${prefix}{t:${id}}:v`, 2);
      const keyA = `${prefix}{t:${a!.tenantId}}:v`;
      const keyB = `${prefix}{t:${b!.tenantId}}:v`;
      await expect(
        store.apply([
          { op: 'set', key: keyA, value: '1' },
          { op: 'set', key: keyB, value: '1' },
        ]),
      ).rejects.toBeInstanceOf(StoreUnavailableError);
      expect([await store.get(keyA), await store.get(keyB)]).toEqual([null, null]);
    } finally {
      await store.close();
    }
  });
});

describe('the store battery on the cluster', () => {
  storeBattery(connectClusterStore, (prefix) => cluster.dropPrefix(prefix));
});

describe('kit pushes through a relay on the cluster', () => {
  let store: RedisStore;
  let t: TestRelay;
  let tenants: { tenantId: string; port: number; slot: number }[];
  beforeAll(async () => {
    store = await connectClusterStore();
    t = await startRelay({ store });
    tenants = await tenantsOnDifferentNodes((id) => t.relay.keys.version(id));
  });
  afterAll(async () => {
    await t?.close();
    await store?.close();
    if (t) await cluster.dropPrefix(t.prefix);
  });

  const ok = async (result: Promise<PushResult>) => {
    const r = await result;
    expect(r.problem).toBeUndefined();
    expect(r.resultCode).toBe('000000');
  };

  it('limits /sso/login per address with the counts on the cluster, whichever node holds them', async () => {
    const limited = await startRelay({
      store,
      env: { TRUST_PROXY: 'loopback', RATE_LIMIT_LOGIN_PER_MINUTE: '2' },
    });
    try {
      const found = new Map<number, string>();
      for (let i = 0; found.size < 3; i++) {
        if (i === 500) throw new Error('no addresses on every node');
        const port = await cluster.portOfSlot(
          await cluster.keySlot(`${limited.prefix}rl:login:192.0.2.${i}`),
        );
        if (!found.has(port)) found.set(port, `192.0.2.${i}`);
      }
      for (const ip of found.values()) {
        const login = () => limited.http.get('/sso/login').set('X-Forwarded-For', ip);
        expect([(await login()).status, (await login()).status, (await login()).status]).toEqual([
          302, 302, 429,
        ]);
      }
      expect((await limited.relay.metrics.rateLimited.get()).values[0]?.value).toBe(3);
    } finally {
      await limited.close();
      await cluster.dropPrefix(limited.prefix);
    }
  });

  it('answers /readyz with 200', async () => {
    const r = await t.http.get('/readyz');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: 'ready', store: 'redis' });
  });

  it('mirrors tenants living on three nodes, 5,000 departments included, and deletes one', async () => {
    const orgs = Array.from({ length: 5000 }, (_, i) => ({
      orgCode: `d${i}`,
      orgName: `部门${i}`,
      parentCode: i ? 'd0' : '',
    }));
    await Promise.all(
      tenants.map(async ({ tenantId: id }) => {
        await ok(t.pusher.tenantSync(tenantFields(id)));
        await ok(t.pusher.applicationSync(appFields(id)));
        await ok(t.pusher.authSync(authFields(id, [user('alice', { role: 'admin' }), user('bob')])));
        await ok(t.pusher.allOrgSync(allOrgFields(id, orgs)));
      }),
    );

    for (const { tenantId: id, port } of tenants) {
      const tenant = await t.api(`/api/v1/tenants/${id}`);
      expect(tenant.status).toBe(200);
      expect(tenant.body).toMatchObject({ tenantId: id, name: '华为测试企业' });
      expect((await t.api(`/api/v1/tenants/${id}/users/alice`)).body).toMatchObject({
        tenantId: id,
        appId: APP_ID,
        userName: 'alice',
        role: 'admin',
        authorized: true,
      });
      const departments = await t.api(`/api/v1/tenants/${id}/departments`);
      expect(departments.status).toBe(200);
      expect(departments.body.departments).toHaveLength(5000);
      expect(await t.store.hLen(t.relay.keys.orgs(id))).toBe(5000);
      expect((await t.relay.mirror.app(id, APP_ID))?.clientId).toBe(`client-${id.slice(0, 8)}`);
      // the tenant's records are on the node its slot names
      const node = await cluster.nodeClient(port);
      try {
        expect(await node.sendCommand(['EXISTS', t.relay.keys.tenant(id), t.relay.keys.orgs(id)])).toBe(2);
      } finally {
        node.destroy();
      }
    }
    const keys = await cluster.keysUnder(t.prefix);
    expect(keys.filter((k) => k.includes(':staging:'))).toEqual([]);
    for (const { tenantId: id } of tenants) expect(keys).toContain(t.relay.keys.users(id, APP_ID));

    // a full list again, smaller: staged and moved over the old one
    const gone = tenants[0]!.tenantId;
    await ok(t.pusher.allOrgSync(allOrgFields(gone, orgs.slice(0, 10))));
    expect((await t.api(`/api/v1/tenants/${gone}/departments`)).body.departments).toHaveLength(10);

    await ok(t.pusher.tenantSync(tenantFields(gone, { flag: 0 })));
    expect((await t.api(`/api/v1/tenants/${gone}`)).status).toBe(404);
    expect((await t.api(`/api/v1/tenants/${gone}/users/alice`)).status).toBe(404);
    expect((await t.api(`/api/v1/tenants/${gone}/departments`)).status).toBe(404);
    expect(await t.relay.mirror.app(gone, APP_ID)).toBeNull();
    const left = (await cluster.keysUnder(t.prefix)).filter((k) => k.includes(`{t:${gone}}`));
    // bookkeeping only: the deletion's time, the version, and the change feed's emptied outbox
    expect(left.map((k) => k.slice(k.indexOf('}') + 1)).sort()).toEqual([':meta', ':outbox', ':v']);
    // the other tenants are untouched
    for (const { tenantId: id } of tenants.slice(1))
      expect((await t.api(`/api/v1/tenants/${id}`)).status).toBe(200);
  });
});

/** A sign-in world on the cluster for the enclosing describe, dropped after it. */
function clusterWorld(): { store: () => RedisStore; world: () => SignInWorld } {
  let store: RedisStore;
  let w: SignInWorld;
  beforeAll(async () => {
    store = await connectClusterStore();
    w = await startSignInWorld({ store });
  });
  afterAll(async () => {
    await w?.close();
    await store?.close();
    if (w) await cluster.dropPrefix(w.relay.prefix);
  });
  return { store: () => store, world: () => w };
}

describe('browser sign-in on the cluster', () => {
  const on = clusterWorld();
  let w: SignInWorld;
  beforeAll(() => {
    w = on.world();
  });

  const session = (sid: string) =>
    w.relay.http.get('/api/v1/session').set('Authorization', `Bearer ${API_KEY}`).set('X-Session-Id', sid);
  const token = (sid: string, body: object = {}) =>
    w.relay.http
      .post('/api/v1/session/token')
      .set('Authorization', `Bearer ${API_KEY}`)
      .set('X-Session-Id', sid)
      .send(body);
  const refreshes = () =>
    w.sandbox.identity.stats.refreshes.filter((r) => r.tenantCode === w.acme.tenantCode).length;

  it('signs in, renews the token, and ends the session when authSync cancels the user', async () => {
    const { sid } = await w.signIn('alice');
    // the session lives in its tenant's slot, so revocation can end it in the tenant's write
    const tenantSlot = await cluster.keySlot(w.relay.relay.keys.version(w.acme.tenantId));
    expect(await cluster.keySlot(w.relay.relay.keys.session(sid))).toBe(tenantSlot);

    const me = await session(sid);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({
      user: { userName: 'alice', name: '爱丽丝', role: 'admin' },
      tenant: { tenantId: w.acme.tenantId, tenantCode: w.acme.tenantCode },
      appId: APP_ID,
    });

    const first = await token(sid);
    expect(first.status).toBe(200);
    const before = refreshes();
    const renewed = await token(sid, { forceRefresh: true });
    expect(renewed.status).toBe(200);
    expect(renewed.body.accessToken).not.toBe(first.body.accessToken);
    expect(refreshes()).toBe(before + 1);
    expect((await token(sid)).body.accessToken).toBe(renewed.body.accessToken);

    const other = await w.signIn('bob');
    const reqId = `push-${randomUUID()}`;
    const r = await w.relay.pusher.authSync(
      {
        instanceId: w.acme.instanceId,
        tenantId: w.acme.tenantId,
        appId: APP_ID,
        userList: [{ userName: 'alice' }],
        flag: 3,
      },
      { headers: { 'X-Request-Id': reqId } },
    );
    expect(r.resultCode).toBe('000000');
    // Straight from the cluster, before any API call (which would end a revoked session itself).
    expect(await w.sessionsInStore('alice', [sid])).toEqual({ records: [], indexed: [], listed: false });
    expect(await w.sessionsInStore('bob', [other.sid])).toEqual({
      records: [other.sid],
      indexed: [other.sid],
      listed: true,
    });
    const sessionKeys = (await cluster.keysUnder(w.relay.prefix)).filter((k) => k.includes(':sess:'));
    expect(sessionKeys.some((k) => k.endsWith(sid))).toBe(false);
    expect(sessionKeys.some((k) => k.endsWith(other.sid))).toBe(true);
    expect(await w.relay.logLine(reqId)).toMatchObject({
      interface: 'authSync',
      resultCode: '000000',
      sessionsEnded: 1,
    });

    expect((await session(sid)).status).toBe(401);
    expect((await session(other.sid)).status).toBe(200);
  });
});

describe('instance gating on the cluster', () => {
  const on = clusterWorld();

  it('keeps instances and the tenant in different slots, written slot by slot', async () => {
    const w = on.world();
    expect(on.store().atomicAcrossSlots).toBe(false);
    const keys = w.relay.relay.keys;
    const instanceSlot = await cluster.keySlot(keys.instances());
    expect(await cluster.keySlot(keys.instanceOrders())).toBe(instanceSlot);
    expect(await cluster.keySlot(keys.instanceLinks())).toBe(instanceSlot);
    expect(await cluster.keySlot(keys.gate(w.acme.tenantId))).toBe(
      await cluster.keySlot(keys.version(w.acme.tenantId)),
    );
    expect(await cluster.keySlot(keys.version(w.acme.tenantId))).not.toBe(instanceSlot);
  });

  gatingScenarios(on.world);
});

describe('unusual identifiers on the cluster', () => {
  const on = clusterWorld();
  // every key of a tenant named with braces, Unicode or 64 characters stays in its one slot
  identifierScenarios(on.world, { slotOf: (key) => cluster.keySlot(key) });
});
