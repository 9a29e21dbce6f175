// What a stream read costs Redis now that a write's appends are stored as entries of up to
// RUN_VALUES values (store/streamRuns.ts): reading `count` values fetches about that many, not
// RUN_VALUES times as many, and a backlog of single values still takes few round trips. A private
// redis-server, so its statistics are this test's alone.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RedisStore } from '../../src/store/redis/store.js';
import type { WriteOp } from '../../src/store/store.js';
import { RUN_VALUES } from '../../src/store/streamRuns.js';
import { RedisProcess } from '../support/redis.js';

describe('stream reads on Redis', () => {
  let redis: RedisProcess;
  let store: RedisStore;
  let stats: Awaited<ReturnType<RedisProcess['client']>>;
  const value = (i: number) => JSON.stringify({ n: i, pad: 'x'.repeat(290) });

  /** The XRANGE calls and bytes Redis sent while `read` ran. */
  const measure = async (read: () => Promise<unknown>) => {
    await stats.configResetStat();
    const sent = async () => Number(/total_net_output_bytes:(\d+)/.exec(await stats.info('stats'))![1]);
    const before = await sent();
    await read();
    const bytes = (await sent()) - before;
    const calls = /cmdstat_xrange:calls=(\d+)/.exec(await stats.info('commandstats'));
    return { bytes, xranges: calls ? Number(calls[1]) : 0 };
  };

  beforeAll(async () => {
    redis = await RedisProcess.start();
    store = RedisStore.connect({ url: redis.url });
    await store.ready();
    stats = await redis.client();
  });
  afterAll(async () => {
    await stats.quit();
    await store.close();
    await redis.stop();
  });

  it('reads `count` values of a backlog of full entries without fetching many times as many', async () => {
    for (let w = 0; w < 20; w++) {
      const values = Array.from({ length: RUN_VALUES }, (_, i) => value(w * RUN_VALUES + i));
      await store.apply(values.map((v): WriteOp => ({ op: 'xadd', key: 'full', value: v })));
    }
    let read: unknown[] = [];
    const cost = await measure(async () => (read = await store.xRange('full', null, 40)));
    expect(read).toHaveLength(40);
    // 40 values are 12 KB; asking XRANGE for 40 entries would fetch 640 values (190 KB)
    expect(cost.bytes).toBeLessThan(3 * 40 * value(0).length);
    expect(cost.xranges).toBe(1);
  });

  it('reads a backlog of single values in two round trips, then in one', async () => {
    for (let i = 0; i < 600; i++) await store.apply([{ op: 'xadd', key: 'singles', value: value(i) }]);
    let read: { id: string; value: string }[] = [];
    const first = await measure(async () => (read = await store.xRange('singles', null, 250)));
    expect(read.map((e) => e.value)).toEqual(Array.from({ length: 250 }, (_, i) => value(i)));
    expect(first.xranges).toBeLessThanOrEqual(2);
    // the rate learned: the next read asks for as many entries as it wants values
    const next = await measure(async () => (read = await store.xRange('singles', read.at(-1)!.id, 250)));
    expect(read.map((e) => e.value)).toEqual(Array.from({ length: 250 }, (_, i) => value(250 + i)));
    expect(next.xranges).toBe(1);
  });
});
