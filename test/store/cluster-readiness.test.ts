// /readyz on a real Redis Cluster (three masters, no replicas, started here) that loses masters:
// degraded (200, naming the node) while the nodes of the relay's probe keys (the {calls} and
// {inst} slots) answer, 503 once one of those is lost. The cluster keeps serving the slots it still has
// (cluster-require-full-coverage no), as a cluster run for partial availability does.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RedisStore } from '../../src/store/redis/store.js';
import { newTenantId, tenantFields } from '../support/data.js';
import { RedisCluster } from '../support/redis.js';
import { startRelay, type TestRelay } from '../support/relay.js';

RedisCluster.requireTools();

let cluster: RedisCluster;
let store: RedisStore;
let t: TestRelay;
/** the master serving the first probe key's slot, and one serving no probe key's */
let probePort: number;
let otherPort: number;

beforeAll(async () => {
  cluster = await RedisCluster.prepare({
    masters: 3,
    nodeTimeoutMs: 1000,
    args: ['--cluster-require-full-coverage', 'no'],
  });
  await cluster.start();
  store = RedisStore.connect({ clusterNodes: cluster.nodes }, { timeoutMs: 500 });
  await store.ready(10_000);
  t = await startRelay({ store });
  const probePorts = await Promise.all(
    t.relay.keys.probes().map(async (key) => cluster.portOfSlot(await cluster.keySlot(key))),
  );
  probePort = probePorts[0]!;
  otherPort = cluster.ports.find((p) => !probePorts.includes(p))!;
}, 60_000);

afterAll(async () => {
  await t?.close();
  await store?.close();
  await cluster?.stop();
});

/** A tenant whose slot lives on `port`. */
async function tenantOn(port: number): Promise<string> {
  for (let i = 0; i < 500; i++) {
    const id = newTenantId();
    if ((await cluster.portOfSlot(await cluster.keySlot(t.relay.keys.version(id)))) === port) return id;
  }
  throw new Error(`no tenant found on port ${port}`);
}

describe('/readyz on a cluster losing masters', () => {
  it('answers 200 ready while every node answers', async () => {
    const r = await t.http.get('/readyz');
    expect([r.status, r.body]).toEqual([200, { status: 'ready', store: 'redis' }]);
  });

  it('answers 200 degraded, naming the node, when a master serving no probe key is down; tenants elsewhere are served', async () => {
    const served = await tenantOn(probePort);
    const lost = await tenantOn(otherPort);
    await cluster.kill(otherPort);
    const r = await t.http.get('/readyz');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      status: 'degraded',
      store: 'redis',
      unreachable: [`127.0.0.1:${otherPort}`],
    });
    expect((await t.pusher.tenantSync(tenantFields(served))).resultCode).toBe('000000');
    expect((await t.pusher.tenantSync(tenantFields(lost))).resultCode).toBe('000005');
    // still so once the cluster has marked the node failed (cluster-node-timeout 1 s)
    await new Promise((r) => setTimeout(r, 2500));
    const later = await t.http.get('/readyz');
    expect([later.status, later.body.status, later.body.unreachable]).toEqual([
      200,
      'degraded',
      [`127.0.0.1:${otherPort}`],
    ]);
    const log = t.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(log.some((l) => l.msg === 'store degraded: some nodes do not answer')).toBe(true);
  });

  it('answers 503 when a probe key’s master is down', async () => {
    await cluster.kill(probePort);
    const r = await t.http.get('/readyz');
    expect([r.status, r.body]).toEqual([
      503,
      { status: 'unavailable', store: 'redis', message: 'The store does not answer.' },
    ]);
  });
});
