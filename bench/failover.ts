/**
 * `BENCH_ONLY=failover npm run bench`: a Redis Cluster master SIGKILLed under pushes, on a
 * private six-node cluster (test/support/failover.ts, the same scenario as
 * test/store/cluster-failover.test.ts): how long until pushes for the lost master's tenants are
 * answered 000000 again, and how many pushes answered 000000 are lost, with REDIS_WAIT_REPLICAS
 * 0 and 1. The shared Redis is not used.
 */
import { runFailover, type FailoverResult } from '../test/support/failover.js';
import { log } from './common.js';

export async function runFailoverBenchmark(options: { rounds: number }): Promise<FailoverResult[]> {
  const results: FailoverResult[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    log(`failover round ${round} of ${options.rounds}`);
    results.push(
      await runFailover({ settings: [0, 1], loops: 4, tenants: 4, log: (line) => log(`  ${line}`) }),
    );
  }
  return results;
}

export function failoverTable(results: FailoverResult[]): string {
  const lines = [
    '| Round | replica promoted, ms after the kill | lost node back (as a replica), ms | REDIS_WAIT_REPLICAS | push p50 before the kill, ms | kill → first push answered 000000, ms | answered 000000 | of which lost | not 000000 |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  results.forEach((r, i) => {
    for (const run of r.runs)
      lines.push(
        `| ${i + 1} | ${r.promotedMs} | ${r.restartedMs} | ${run.waitReplicas} | ${run.pushP50Ms} | ${run.recoveryMs ?? 'never'} | ${run.acknowledged} | **${run.lost}** | ${run.failed} |`,
      );
  });
  return lines.join('\n');
}
