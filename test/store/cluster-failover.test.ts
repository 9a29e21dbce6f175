// A master of a private Redis Cluster (three masters, a replica each) is SIGKILLed while two
// relays push to tenants on it; its replica takes over. With REDIS_WAIT_REPLICAS=1 no push
// answered 000000 may be lost; with 0 the loss is only counted (replication on loopback is fast,
// so it is usually none). Both relays must serve those tenants again after the failover; the
// waiting one only once the lost node is back as the new master's replica.
import { describe, expect, it } from '@jest/globals';
import { runFailover } from '../support/failover.js';
import { RedisCluster } from '../support/redis.js';

RedisCluster.requireTools();

describe('a master failover under pushes', () => {
  it('loses no acknowledged push with REDIS_WAIT_REPLICAS=1, and both relays recover', async () => {
    const { runs, promotedMs, restartedMs } = await runFailover({ settings: [1, 0], loops: 3, tenants: 3 });
    const [waiting, notWaiting] = runs;
    process.stderr.write(
      `failover: replica promoted after ${promotedMs} ms, lost node back after ${restartedMs} ms; ` +
        runs
          .map(
            (r) =>
              `WAIT ${r.waitReplicas}: ${r.acknowledged} acknowledged, ${r.lost} lost, ${r.failed} failed, push p50 ${r.pushP50Ms} ms before the kill, first success ${r.recoveryMs} ms after the kill`,
          )
          .join('; ') +
        '\n',
    );
    expect(waiting!.acknowledged).toBeGreaterThan(0);
    expect(waiting!.lost).toBe(0);
    expect(waiting!.recoveryMs).not.toBeNull();
    expect(notWaiting!.recoveryMs).not.toBeNull();
  }, 90_000);
});
