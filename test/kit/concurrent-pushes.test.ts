// Concurrent pushes for one tenant on a real Redis: every write of a tenant is guarded by its
// version counter, so pushes arriving together conflict, and the losers decide again from fresh
// reads (mirror/transaction.ts). All of them must be answered 000000 and all must be in the
// mirror. The pushes' first writes are sent to Redis together, so all of them have read the same
// version and all but one lose, whatever the timing of the requests.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { RedisStore } from '../../src/store/redis/store.js';
import { appFields, authFields, newTenantId, tenantFields, user } from '../support/data.js';
import { connectRedisStore, dropPrefix } from '../support/redis.js';
import { APP_ID, startRelay, type TestRelay } from '../support/relay.js';
import { watchApplies } from '../support/stores.js';

describe('concurrent authSync pushes for one tenant on Redis', () => {
  let store: RedisStore;
  let writes: ReturnType<typeof watchApplies>;
  let t: TestRelay;
  beforeAll(async () => {
    store = await connectRedisStore();
    writes = watchApplies(store);
    t = await startRelay({ store });
  });
  afterAll(async () => {
    await t.close();
    await store.close();
    await dropPrefix(t.prefix);
  });

  it('answers every one of 30 pushes 000000, each after retrying if it lost, and keeps all their users', async () => {
    const id = newTenantId();
    expect((await t.pusher.tenantSync(tenantFields(id))).resultCode).toBe('000000');
    expect((await t.pusher.applicationSync(appFields(id))).resultCode).toBe('000000');
    const names = Array.from({ length: 30 }, (_, i) => `user${String(i).padStart(2, '0')}`);

    const usersKey = t.relay.keys.users(id, APP_ID);
    writes.gather(names.length, (ops) => ops.some((o) => o.key === usersKey));
    const conflictsBefore = writes.outcomes.conflict;
    const results = await Promise.all(names.map((n) => t.pusher.authSync(authFields(id, [user(n)]))));
    expect(results.map((r) => [r.resultCode, r.problem])).toEqual(names.map(() => ['000000', undefined]));
    // the retry path ran: every first write but one lost, and was decided again
    expect(writes.outcomes.conflict - conflictsBefore).toBeGreaterThanOrEqual(names.length - 1);

    expect(Object.keys(await store.hGetAll(usersKey)).sort()).toEqual(names);
    for (const n of names) {
      const u = await t.api(`/api/v1/tenants/${id}/users/${n}`);
      expect([n, u.status, u.body.authorized]).toEqual([n, 200, true]);
    }
  });
});
