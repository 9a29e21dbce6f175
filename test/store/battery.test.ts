// One battery, both stores: the embedded store must mean exactly what Redis means.
import { describe, expect, it } from '@jest/globals';
import { MemoryStore } from '../../src/store/memory.js';
import { RedisStore } from '../../src/store/redis/store.js';
import type { Store } from '../../src/store/store.js';
import { connectRedisStore, dropPrefix, uniquePrefix } from '../support/redis.js';
import { storeBattery } from './storeBattery.js';

const stores: [string, () => Store | Promise<Store>][] = [
  ['memory', () => new MemoryStore()],
  ['redis', () => connectRedisStore()],
];

describe.each(stores)('%s store', (kind, make) =>
  storeBattery(make, kind === 'redis' ? (prefix) => dropPrefix(prefix) : undefined),
);

describe('the two stores agree', () => {
  it('on a mixed sequence of batches, read back key by key', async () => {
    const memory = new MemoryStore();
    const redis = await connectRedisStore();
    const p = uniquePrefix();
    const k = (n: string) => `${p}{t:agree}:${n}`;
    const script: Parameters<Store['apply']>[0][] = [
      [
        {
          op: 'hset',
          key: k('h'),
          entries: [
            ['a', '1'],
            ['b', '2'],
            ['c', '3'],
          ],
        },
      ],
      [
        { op: 'hdel', key: k('h'), fields: ['b', 'zz'] },
        { op: 'sadd', key: k('s'), members: ['m1', 'm2'] },
      ],
      [
        { op: 'del', key: k('h') },
        { op: 'hset', key: k('h'), entries: [['z', '26']] },
        { op: 'incr', key: k('v') },
      ],
      [
        { op: 'srem', key: k('s'), members: ['m1'] },
        { op: 'set', key: k('str'), value: 'é' },
        { op: 'incr', key: k('v') },
      ],
    ];
    try {
      for (const ops of script) {
        expect(await memory.apply(ops)).toBe(await redis.apply(ops));
      }
      for (const s of [memory, redis] as Store[]) {
        expect(await s.hGetAll(k('h'))).toEqual({ z: '26' });
        expect(await s.sMembers(k('s'))).toEqual(['m2']);
        expect(await s.get(k('str'))).toBe('é');
        expect(await s.get(k('v'))).toBe('2');
      }
    } finally {
      await memory.close();
      await redis.close();
      await dropPrefix(p);
    }
  });
});

describe('redis store under a stopped server', () => {
  it('answers within its deadline instead of hanging', async () => {
    const store = RedisStore.connect({ url: 'redis://127.0.0.1:1' }, { timeoutMs: 300 });
    const started = Date.now();
    await expect(store.get('x')).rejects.toThrow(/store/);
    expect(Date.now() - started).toBeLessThan(1000);
    await store.close();
  });
});
