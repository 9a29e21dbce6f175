// REDIS_WAIT_REPLICAS on a private master with one replica: a marketplace call is answered 000000
// only once the replica has acknowledged its write; with the replica stopped it is answered
// 000005 although the master applied it (not taken for a lost reply), and the marketplace's
// retry succeeds once the replica is back. Sessions and reads never wait.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { RedisStore } from '../../src/store/redis/store.js';
import { appFields, newTenantId, tenantFields } from '../support/data.js';
import { connectRedisStore, RedisProcess } from '../support/redis.js';
import { startRelay, type TestRelay } from '../support/relay.js';

let master: RedisProcess;
let replica: RedisProcess;
let store: RedisStore;
let waiting: TestRelay;
let notWaiting: TestRelay;
/** the replica's full sync writes an RDB file: into a directory of the test's own */
const dir = mkdtempSync(join(tmpdir(), 'relay-wait-'));

beforeAll(async () => {
  master = await RedisProcess.start(['--dir', dir]);
  replica = await RedisProcess.start(['--dir', dir, '--replicaof', '127.0.0.1', String(master.port)]);
  store = await connectRedisStore(master.url);
  // the replica has synced once
  for (let i = 0; Number(await store.sendCommand(undefined, false, ['WAIT', '1', '100'])) < 1; i++)
    if (i === 100) throw new Error('the replica never synced');
  waiting = await startRelay({ store, env: { REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '300' } });
  notWaiting = await startRelay({ store });
}, 30_000);

afterAll(async () => {
  await waiting?.close();
  await notWaiting?.close();
  await store?.close();
  await replica?.stop();
  await master?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('REDIS_WAIT_REPLICAS=1', () => {
  it('answers 000000 once the replica has the write', async () => {
    const id = newTenantId();
    const r = await waiting.pusher.tenantSync(tenantFields(id));
    expect([r.resultCode, r.problem]).toEqual(['000000', undefined]);
    expect((await waiting.pusher.applicationSync(appFields(id))).resultCode).toBe('000000');
    const onReplica = await connectRedisStore(replica.url);
    try {
      expect(await onReplica.get(waiting.relay.keys.tenant(id))).not.toBeNull();
    } finally {
      await onReplica.close();
    }
  });

  it('answers 000005 while the replica does not acknowledge, though the master has the write; the retry succeeds once it is back', async () => {
    const id = newTenantId();
    replica.pause();
    try {
      const started = Date.now();
      const r = await waiting.pusher.tenantSync(tenantFields(id));
      expect(r.resultCode).toBe('000005');
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
      // applied on the master: the answer is not "done", and not mistaken for a lost reply
      expect(await store.get(waiting.relay.keys.tenant(id))).not.toBeNull();
      const line = waiting.logs
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => (l.err as { name?: string } | undefined)?.name === 'NotReplicatedError');
      expect(String((line?.err as { message: string }).message)).toMatch(/0 of 1 replicas acknowledged/);
      expect(waiting.logs.some((l) => l.includes('"replyLost":true'))).toBe(false);
      // a relay that does not wait answers 000000 meanwhile; the API reads without waiting
      expect((await notWaiting.pusher.tenantSync(tenantFields(newTenantId()))).resultCode).toBe('000000');
      expect((await waiting.api(`/api/v1/tenants/${id}`)).status).toBe(200);
    } finally {
      replica.resume();
    }
    // KooGallery retries (a new nonce): idempotent, and answered 000000 now
    expect((await waiting.pusher.tenantSync(tenantFields(id))).resultCode).toBe('000000');
  });
});
