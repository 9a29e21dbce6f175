/**
 * A Redis Cluster failover under load, shared by test/store/cluster-failover.test.ts and the
 * failover benchmark (bench/failover.ts): a private six-node cluster (three masters, a replica
 * each, cluster-node-timeout 1 s), one relay per REDIS_WAIT_REPLICAS setting, each with a store
 * of its own, pushing authSync calls (one new user each) for tenants whose slot lives on one
 * master. That master is SIGKILLed while the pushes run; its replica takes over, and the lost
 * node is started again once it has (it rejoins as the new master's replica). Afterwards every
 * user of a push answered 000000 is looked for in the mirror.
 */
import { RedisStore } from '../../src/store/redis/store.js';
import { appFields, authFields, newTenantId, tenantFields, user } from './fixtures.js';
import { RedisCluster } from './redis.js';
import { APP_ID, startRelay, type TestRelay } from './relay.js';

export interface FailoverRun {
  waitReplicas: number;
  /** pushes answered 000000, and of those, the ones whose user is missing afterwards */
  acknowledged: number;
  lost: number;
  /** pushes answered otherwise (000005 while the master was down), or not answered */
  failed: number;
  /** ms from the SIGKILL to the first push for the lost master's tenants answered 000000 */
  recoveryMs: number | null;
  /** median ms of a push answered 000000 before the kill (client-observed) */
  pushP50Ms: number;
}

export interface FailoverResult {
  runs: FailoverRun[];
  /** ms from the SIGKILL until the cluster reported itself whole again, the replica promoted */
  promotedMs: number;
  /** ms from the SIGKILL until the lost node ran again (restarted once the replica was promoted) */
  restartedMs: number;
}

export interface FailoverOptions {
  /** REDIS_WAIT_REPLICAS of each relay, e.g. [0, 1] */
  settings: number[];
  /** pushing loops per relay */
  loops?: number;
  tenants?: number;
  /** pushes before the kill, and after the cluster is whole again */
  beforeMs?: number;
  afterMs?: number;
  log?: (line: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

export async function runFailover(options: FailoverOptions): Promise<FailoverResult> {
  const log = options.log ?? (() => undefined);
  const cluster = await RedisCluster.prepare({ masters: 3, replicas: 1, nodeTimeoutMs: 1000 });
  const stores: RedisStore[] = [];
  const relays: TestRelay[] = [];
  try {
    await cluster.start();
    log(`cluster up: ${cluster.nodes.join(',')}`);
    for (const waitReplicas of options.settings) {
      const store = RedisStore.connect({ clusterNodes: cluster.nodes }, { timeoutMs: 1000 });
      stores.push(store);
      await store.ready(10_000);
      relays.push(
        await startRelay({
          store,
          env: { REDIS_WAIT_REPLICAS: String(waitReplicas), REDIS_WAIT_TIMEOUT_MS: '500' },
        }),
      );
    }
    const keys = relays[0]!.relay.keys;
    // The master to kill: one serving neither the calls' claims nor the instances, so the other
    // tenants go on being served; its tenants are the ones pushed to.
    const probePorts = await Promise.all(
      keys.probes().map(async (k) => cluster.portOfSlot(await cluster.keySlot(k))),
    );
    const victim = (await cluster.masterPorts()).find((p) => !probePorts.includes(p))!;
    const tenants: string[] = [];
    while (tenants.length < (options.tenants ?? 4)) {
      const id = newTenantId();
      if ((await cluster.portOfSlot(await cluster.keySlot(keys.version(id)))) === victim) tenants.push(id);
    }
    for (const t of relays)
      for (const id of tenants) {
        for (const push of [t.pusher.tenantSync(tenantFields(id)), t.pusher.applicationSync(appFields(id))])
          if ((await push).resultCode !== '000000') throw new Error('could not set the tenants up');
      }

    let stop = false;
    let killedAt: number | null = null;
    const runs = options.settings.map((waitReplicas) => ({
      waitReplicas,
      acked: [] as { tenantId: string; userName: string }[],
      failed: 0,
      recoveredAt: null as number | null,
      latencies: [] as number[],
    }));
    const loops = relays.flatMap((t, r) =>
      Array.from({ length: options.loops ?? 4 }, async (_, loop) => {
        const run = runs[r]!;
        for (let i = 0; !stop; i++) {
          const tenantId = tenants[(loop + i) % tenants.length]!;
          const userName = `w${run.waitReplicas}-l${loop}-${i}`;
          const sentAt = Date.now();
          let code: string | null = null;
          try {
            code = (await t.pusher.authSync(authFields(tenantId, [user(userName)]))).resultCode;
          } catch {
            // not answered (the pusher's timeout): a failure
          }
          if (code === '000000') {
            run.acked.push({ tenantId, userName });
            if (killedAt === null) run.latencies.push(Date.now() - sentAt);
            if (killedAt !== null && sentAt > killedAt && run.recoveredAt === null)
              run.recoveredAt = Date.now();
          } else {
            run.failed++;
            await sleep(20);
          }
        }
      }),
    );
    await sleep(options.beforeMs ?? 1500);
    killedAt = Date.now();
    await cluster.kill(victim);
    log(`killed the master on port ${victim}`);
    const promotedMs = await cluster.waitHealthy([victim]);
    log(`replica promoted after ${promotedMs} ms`);
    // The promoted master has no replica until the lost node is back (as its replica): until
    // then a relay with REDIS_WAIT_REPLICAS=1 answers that master's tenants 000005.
    await cluster.startNode(victim, true);
    const restartedMs = Date.now() - killedAt;
    log(`the lost node runs again (a replica now) ${restartedMs} ms after the kill`);
    // until every relay has recovered (or 15 s), then a little longer
    for (let waited = 0; waited < 15_000 && runs.some((r) => r.recoveredAt === null); waited += 100)
      await sleep(100);
    await sleep(options.afterMs ?? 1000);
    stop = true;
    await Promise.all(loops);

    const result: FailoverRun[] = [];
    for (const [r, run] of runs.entries()) {
      const store = stores[r]!;
      let lost = 0;
      for (const id of tenants) {
        const users = await store.hGetAll(relays[r]!.relay.keys.users(id, APP_ID));
        lost += run.acked.filter((a) => a.tenantId === id && !(a.userName in users)).length;
      }
      result.push({
        waitReplicas: run.waitReplicas,
        acknowledged: run.acked.length,
        lost,
        failed: run.failed,
        recoveryMs: run.recoveredAt === null ? null : run.recoveredAt - killedAt,
        pushP50Ms: median(run.latencies),
      });
    }
    return { runs: result, promotedMs, restartedMs };
  } finally {
    for (const t of relays) await t.close().catch(() => undefined);
    for (const s of stores) await s.close().catch(() => undefined);
    await cluster.stop();
  }
}
