// The relay on Redis Sentinel: a private master, its replica and three sentinels (all with
// passwords) on loopback. The store finds the master through the sentinels, runs the store
// battery and a relay push, waits for the replica (REDIS_WAIT_REPLICAS), and after the master is
// SIGKILLed writes again on the promoted replica, with everything written before still there.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/ops/log.js';
import { openStore } from '../../src/server.js';
import { RedisStore } from '../../src/store/redis/store.js';
import { NotReplicatedError } from '../../src/store/store.js';
import { newTenantId, relayEnv, tenantFields } from '../support/fixtures.js';
import { RedisCluster } from '../support/redis.js';
import { startRelay } from '../support/relay.js';
import { MASTER_NAME, RedisSentinelSet } from '../support/sentinel.js';
import { storeBattery } from './storeBattery.js';

// redis-server (run with --sentinel) and redis-cli, or one line saying what to install
RedisCluster.requireTools();

const PASSWORD = 'data-node-password';
const SENTINEL_PASSWORD = 'sentinel-password';
let set: RedisSentinelSet;

beforeAll(async () => {
  set = await RedisSentinelSet.start(PASSWORD, SENTINEL_PASSWORD);
}, 60_000);

afterAll(async () => {
  await set?.stop();
});

const target = () => ({
  sentinel: { nodes: set.sentinelNodes, masterName: MASTER_NAME, password: SENTINEL_PASSWORD },
  credentials: { password: PASSWORD },
});

async function connectSentinelStore(errors?: string[]): Promise<RedisStore> {
  const store = RedisStore.connect(target(), {
    timeoutMs: 1000,
    ...(errors ? { onError: (e: Error) => errors.push(e.message) } : {}),
  });
  await store.ready(10_000);
  return store;
}

const key = (name: string) => `test:sentinel:{t:s}:${name}`;

describe('connecting through Sentinel', () => {
  it('finds the master from REDIS_SENTINEL_NODES, REDIS_SENTINEL_MASTER and the passwords, and writes across slots', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    const config = loadConfig(
      relayEnv({
        REDIS_SENTINEL_NODES: set.sentinelNodes.join(','),
        REDIS_SENTINEL_MASTER: MASTER_NAME,
        REDIS_SENTINEL_PASSWORD: SENTINEL_PASSWORD,
        REDIS_PASSWORD: PASSWORD,
      }),
    );
    const store = openStore(config, createLogger('debug', sink)) as RedisStore;
    try {
      await store.ready(10_000);
      expect(store.atomicAcrossSlots).toBe(true);
      // one script over two slots: a single server takes it
      const [a, b] = [`test:sentinel:{t:a}:${newTenantId()}`, `test:sentinel:{t:b}:${newTenantId()}`];
      expect(
        await store.apply([
          { op: 'set', key: a, value: '1', ttlMs: 60_000 },
          { op: 'set', key: b, value: '2', ttlMs: 60_000 },
        ]),
      ).toBe('applied');
      expect([await store.get(a), await store.get(b)]).toEqual(['1', '2']);
      expect(await store.readiness([])).toEqual({ unreachable: [] });
    } finally {
      await store.close();
    }
    expect(lines.join('')).not.toContain(PASSWORD);
    expect(lines.join('')).not.toContain(SENTINEL_PASSWORD);
  });

  it('reports a wrong sentinel password as an error, without it', async () => {
    const errors: string[] = [];
    const store = RedisStore.connect(
      { ...target(), sentinel: { ...target().sentinel, password: 'not-the-sentinel-password' } },
      { timeoutMs: 300, onError: (e) => errors.push(e.message) },
    );
    try {
      for (let i = 0; i < 100 && errors.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
      await expect(store.ping()).rejects.toThrow(/no Redis master is connected/);
      expect(errors.join('\n')).toMatch(/WRONGPASS|invalid username-password|NOAUTH|sentinel/i);
      expect(errors.join('\n')).not.toContain('not-the-sentinel-password');
    } finally {
      await store.close();
    }
  });
});

describe('the store battery through Sentinel', () => {
  storeBattery(() => connectSentinelStore());
});

describe('a relay through Sentinel', () => {
  it('takes a signed kit push and serves it back', async () => {
    const store = await connectSentinelStore();
    const t = await startRelay({ store });
    try {
      const id = newTenantId();
      expect((await t.pusher.tenantSync(tenantFields(id))).resultCode).toBe('000000');
      expect((await t.api(`/api/v1/tenants/${id}`)).body).toMatchObject({ tenantId: id });
    } finally {
      await t.close();
      await store.close();
    }
  });
});

describe('a master failover', () => {
  it('waits for the replica, then after a SIGKILL of the master writes again on the promoted replica with nothing lost', async () => {
    const errors: string[] = [];
    const store = await connectSentinelStore(errors);
    try {
      // REDIS_WAIT_REPLICAS: one replica acknowledges; two cannot
      const waited = Array.from({ length: 20 }, (_, i) => key(`waited-${i}`));
      for (const k of waited)
        expect(
          await store.apply([{ op: 'set', key: k, value: 'kept' }], {
            waitReplicas: { count: 1, timeoutMs: 1000 },
          }),
        ).toBe('applied');
      await expect(
        store.apply([{ op: 'set', key: key('two'), value: 'x' }], {
          waitReplicas: { count: 2, timeoutMs: 100 },
        }),
      ).rejects.toBeInstanceOf(NotReplicatedError);
      // a blocking read is open on its own connection before the failover
      expect(await store.waitStream(key('stream'), '0-0', 50)).toBe(false);

      const oldMaster = await set.masterPort();
      const killedAt = Date.now();
      await set.server(oldMaster).stop();
      let failed = 0;
      let recoveryMs: number | null = null;
      while (Date.now() - killedAt < 30_000) {
        try {
          if ((await store.apply([{ op: 'incr', key: key('after') }])) === 'applied') {
            recoveryMs = Date.now() - killedAt;
            break;
          }
        } catch {
          failed++;
        }
        await new Promise((r) => setTimeout(r, 25));
      }
      const promoted = await set.waitFailover(oldMaster);
      const promotedMs = Date.now() - killedAt;
      process.stderr.write(
        `sentinel failover: first write on the new master ${recoveryMs} ms after the SIGKILL (${failed} writes refused meanwhile); every sentinel names it after ${promotedMs} ms\n`,
      );
      expect(recoveryMs).not.toBeNull();
      expect(recoveryMs!).toBeLessThan(15_000);
      expect(promoted).not.toBe(oldMaster);
      for (const k of waited) expect(await store.get(k)).toBe('kept');
      expect(await store.get(key('after'))).toBe('1');
      await store.ping();

      // the blocking connection follows the failover too (it may learn of it a moment later)
      let woken: Promise<boolean> | undefined;
      for (let i = 0; !woken; i++) {
        try {
          await store.waitStream(key('stream'), '0-0', 10);
          woken = store.waitStream(key('stream'), '0-0', 5000);
        } catch (error) {
          if (i === 100) throw error;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      await store.apply([{ op: 'xadd', key: key('stream'), value: 'e' }]);
      expect(await woken).toBe(true);

      // the old master, started again, is made the new master's replica by the sentinels:
      // then a write that waits for one replica is acknowledged again
      await set.server(oldMaster).start();
      const rejoined = Date.now();
      let acknowledged = false;
      while (!acknowledged && Date.now() - rejoined < 30_000) {
        try {
          acknowledged =
            (await store.apply([{ op: 'incr', key: key('after') }], {
              waitReplicas: { count: 1, timeoutMs: 500 },
            })) === 'applied';
        } catch (error) {
          if (!(error instanceof NotReplicatedError)) throw error;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      process.stderr.write(
        `sentinel failover: WAIT 1 acknowledged again ${Date.now() - rejoined} ms after the old master restarted\n`,
      );
      expect(acknowledged).toBe(true);
      expect(errors.join('\n')).not.toContain(PASSWORD);
    } finally {
      await store.close();
    }
  }, 90_000);
});
