// Redis taken away mid-flight: a redis-server of the test's own is paused, killed and restarted.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { RedisStore } from '../../src/store/redis/store.js';
import { StoreUnavailableError } from '../../src/store/store.js';
import { authFields, newTenantId, tenantFields, user } from '../support/data.js';
import type { RedisProcess } from '../support/redis.js';
import { startOutageWorld, waitFor, WriteHooks, type OutageWorld } from '../support/writeHooks.js';
import type { TestRelay } from '../support/relay.js';

const hooks = new WriteHooks();

describe('when the store goes away', () => {
  let redis: RedisProcess;
  let store: RedisStore;
  let t: TestRelay;
  const tenantId = newTenantId();

  let world: OutageWorld;

  beforeAll(async () => {
    world = await startOutageWorld(hooks, tenantId);
    ({ redis, store, t } = world);
  });

  afterAll(() => world.close());

  const ready = async () => (await t.http.get('/readyz')).status;

  it('answers 000005 in time while Redis hangs, reports not ready, and writes nothing afterwards', async () => {
    redis.pause();
    try {
      const started = Date.now();
      const r = await t.pusher.authSync(authFields(tenantId, [user('during-pause')]));
      const took = Date.now() - started;
      expect(r.status).toBe(200);
      expect(r.resultCode).toBe('000005');
      expect(r.resultMsg).toMatch(/nothing was changed/);
      expect(r.bodySignValid).toBe(true);
      expect(took).toBeLessThan(2500);
      expect(await ready()).toBe(503);
      expect((await t.http.get('/metrics')).text).toMatch(/relay_store_errors_total [1-9]/);
    } finally {
      redis.resume();
    }
    expect(await waitFor(async () => (await ready()) === 200, 5000)).toBe(true);
    // Whatever was queued during the pause has now reached Redis: it must have been skipped.
    await new Promise((r) => setTimeout(r, 200));
    expect((await t.api(`/api/v1/tenants/${tenantId}/users/during-pause`)).status).toBe(404);
    const again = await t.pusher.authSync(authFields(tenantId, [user('after-pause')]));
    expect(again.resultCode).toBe('000000');
    expect((await t.api(`/api/v1/tenants/${tenantId}/users/after-pause`)).status).toBe(200);
  });

  it('a push whose own write reaches Redis after its deadline: 000005, and the late write is skipped there', async () => {
    // Redis is paused at the moment the push's mirror write is sent: every read before it
    // (claim, tenant, users) has been answered, so the write itself is what arrives late.
    const name = 'late-write';
    let writesSent = 0;
    hooks.pauseAtNextWrite = () => {
      writesSent++;
      redis.pause();
    };
    const sent = { nonce: randomBytes(32).toString('hex').toUpperCase(), timestamp: String(Date.now()) };
    let r;
    try {
      r = await t.pusher.authSync(authFields(tenantId, [user(name)]), sent);
      expect(r.resultCode).toBe('000005');
      expect(writesSent).toBe(1);
      // past the push's deadline (KIT_DEADLINE_MS 1200) before Redis sees the write
      await new Promise((resolve) => setTimeout(resolve, 1500));
    } finally {
      redis.resume();
    }
    expect(await waitFor(async () => (await ready()) === 200, 5000)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await t.api(`/api/v1/tenants/${tenantId}/users/${name}`)).status).toBe(404);

    // It consumed nothing, its nonce included: the marketplace's verbatim retry lands.
    const retry = await t.pusher.send('authSync', r.body, sent);
    expect(retry.resultCode).toBe('000000');
    expect((await t.api(`/api/v1/tenants/${tenantId}/users/${name}`)).status).toBe(200);
  });

  it('a push whose write was applied but whose reply was lost: 000000, as the replay it now is', async () => {
    const name = 'reply-lost';
    hooks.loseNextReply = true;
    const reqId = `reply-lost-${Date.now()}`;
    const r = await t.pusher.authSync(authFields(tenantId, [user(name)]), {
      headers: { 'X-Request-Id': reqId },
    });
    expect(hooks.loseNextReply).toBe(false);
    expect([r.resultCode, r.resultMsg]).toEqual(['000000', 'Success']);
    expect((await t.api(`/api/v1/tenants/${tenantId}/users/${name}`)).status).toBe(200);
    expect(await t.logLine(reqId)).toMatchObject({ replyLost: true, resultCode: '000000' });
  });

  it('skips, on the server, a write that reaches Redis after its deadline', async () => {
    const key = `${t.prefix}{t:late}:probe`;
    redis.pause();
    const write = store.apply([{ op: 'set', key, value: 'late' }], { notAfter: Date.now() + 300 });
    await expect(write).rejects.toBeInstanceOf(StoreUnavailableError);
    await new Promise((r) => setTimeout(r, 700));
    redis.resume();
    expect(await waitFor(async () => (await ready()) === 200, 5000)).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
    expect(await store.get(key)).toBeNull();
  });

  it('answers 000005 fast while Redis is down, then recovers without a restart', async () => {
    await redis.stop();
    const started = Date.now();
    const r = await t.pusher.tenantSync(tenantFields(newTenantId()));
    expect(r.resultCode).toBe('000005');
    expect(Date.now() - started).toBeLessThan(2500);
    expect(await ready()).toBe(503);
    expect((await t.api(`/api/v1/tenants/${tenantId}`)).status).toBe(503);

    await redis.start();
    expect(await waitFor(async () => (await ready()) === 200, 8000)).toBe(true);
    // The restarted server is empty (no persistence) and has no script cache: both must be fine.
    const id = newTenantId();
    const back = await t.pusher.tenantSync(tenantFields(id));
    expect(back.resultCode).toBe('000000');
    expect((await t.api(`/api/v1/tenants/${id}`)).status).toBe(200);
  });
});
