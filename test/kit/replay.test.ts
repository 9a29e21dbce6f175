/**
 * The call claim (src/kit/replay.ts) on both stores: what is refused, what is a replay, and that
 * a claim is written with the change it rides on, or not at all.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { claimFor, writeClaim } from '../../src/kit/replay.js';
import { KitRefusal } from '../../src/kit/resultCodes.js';
import { kitScheme } from '../../src/kit/verify.js';
import { transactSlots } from '../../src/mirror/transaction.js';
import { Keys } from '../../src/store/keys.js';
import { MemoryStore } from '../../src/store/memory.js';
import type { Store } from '../../src/store/store.js';
import { newTenantId, tenantFields } from '../support/data.js';
import { connectRedisStore, dropPrefix, uniquePrefix } from '../support/redis.js';
import { startRelay, type TestRelay } from '../support/relay.js';

const scheme = kitScheme('k'.repeat(32));
const SIGN = 'AB'.repeat(32);

describe.each(['memory', 'redis'] as const)('call claims on the %s store', (kind) => {
  let store: Store;
  const prefix = uniquePrefix();
  const keys = new Keys(prefix);
  const deps = () => ({ store, keys, nonceTtlMs: 120_000 });
  beforeAll(async () => {
    store = kind === 'memory' ? new MemoryStore() : await connectRedisStore();
  });
  afterAll(async () => {
    if (kind === 'redis') await dropPrefix(prefix);
    await store.close();
  });

  const refusal = (p: Promise<unknown>) =>
    p.then(
      () => null,
      (e: unknown) => (e instanceof KitRefusal ? [e.resultCode, e.message] : e),
    );

  it('a fresh call: nothing written until its change is', async () => {
    const claim = await claimFor(deps(), scheme, 'n-fresh', SIGN);
    expect(claim.replay).toBe(false);
    expect(claim.written).toBe(false);
    expect(await store.get(keys.nonce('n-fresh'))).toBeNull();
  });

  it('rides on the change: one atomic apply writes both, and the claim is marked written', async () => {
    const claim = await claimFor(deps(), scheme, 'n-ride', 'CD'.repeat(32));
    const ctx = { store, keys, claim };
    await transactSlots(
      ctx,
      Date.now() + 5_000,
      async () => null,
      () => ({ writes: [{ guards: [], ops: [{ op: 'set', key: `${prefix}x`, value: '1' }] }], result: 1 }),
    );
    expect(claim.written).toBe(true);
    expect(await store.get(`${prefix}x`)).toBe('1');
    expect(await store.get(keys.nonce('n-ride'))).not.toBeNull();
  });

  it('a change refused by its guard writes no claim either', async () => {
    const claim = await claimFor(deps(), scheme, 'n-refused', 'EF'.repeat(32));
    await store.apply([{ op: 'set', key: `${prefix}guarded`, value: 'other' }]);
    await expect(
      transactSlots(
        { store, keys, claim },
        Date.now() + 5_000,
        async () => null,
        () => ({
          writes: [
            {
              guards: [{ key: `${prefix}guarded`, equals: null }],
              ops: [{ op: 'set', key: `${prefix}y`, value: '1' }],
            },
          ],
          result: 1,
        }),
      ),
    ).rejects.toThrow(/kept changing/);
    expect(await store.get(keys.nonce('n-refused'))).toBeNull();
    expect(claim.written).toBe(false);
  });

  it('a nonce taken by another call while the change was planned: 000001, and the change not written', async () => {
    const mine = await claimFor(deps(), scheme, 'n-taken', '0A'.repeat(32));
    await writeClaim(store, await claimFor(deps(), scheme, 'n-taken', '0B'.repeat(32)), Date.now() + 5_000);
    expect(
      await refusal(
        transactSlots(
          { store, keys, claim: mine },
          Date.now() + 5_000,
          async () => null,
          () => ({
            writes: [{ guards: [], ops: [{ op: 'set', key: `${prefix}z`, value: '1' }] }],
            result: 1,
          }),
        ),
      ),
    ).toEqual(['000001', 'x-nonce was already used; every call needs a new nonce']);
    expect(await store.get(`${prefix}z`)).toBeNull();
  });

  it('the same nonce and signature again: a replay, with nothing more to write', async () => {
    await writeClaim(store, await claimFor(deps(), scheme, 'n-twice', '12'.repeat(32)), Date.now() + 5_000);
    const again = await claimFor(deps(), scheme, 'n-twice', '12'.repeat(32).toLowerCase());
    expect(again.replay).toBe(true);
    expect(again.written).toBe(true);
  });

  it('the same nonce with another signature: 000001', async () => {
    await writeClaim(store, await claimFor(deps(), scheme, 'n-other', '34'.repeat(32)), Date.now() + 5_000);
    expect(await refusal(claimFor(deps(), scheme, 'n-other', '56'.repeat(32)))).toEqual([
      '000001',
      'x-nonce was already used; every call needs a new nonce',
    ]);
  });

  it('the same signature under another nonce (what was signed, not the nonce alone): 000001', async () => {
    await writeClaim(store, await claimFor(deps(), scheme, 'n-abc0', '78'.repeat(32)), Date.now() + 5_000);
    expect(await refusal(claimFor(deps(), scheme, 'n-abc', '78'.repeat(32)))).toEqual([
      '000001',
      'this call was already received under another x-nonce',
    ]);
  });

  it('two different calls racing for one nonce: one claim wins, the other is refused', async () => {
    const a = await claimFor(deps(), scheme, 'n-race', '9A'.repeat(32));
    const b = await claimFor(deps(), scheme, 'n-race', 'BC'.repeat(32));
    await writeClaim(store, a, Date.now() + 5_000);
    expect(await refusal(writeClaim(store, b, Date.now() + 5_000))).toEqual([
      '000001',
      'x-nonce was already used; every call needs a new nonce',
    ]);
  });

  it('two identical calls racing: the second finds the first claim and writes nothing', async () => {
    const a = await claimFor(deps(), scheme, 'n-twin', 'DE'.repeat(32));
    const b = await claimFor(deps(), scheme, 'n-twin', 'DE'.repeat(32));
    await writeClaim(store, a, Date.now() + 5_000);
    await writeClaim(store, b, Date.now() + 5_000);
    expect(b.written).toBe(true);
  });

  it('claims expire with the nonce TTL', async () => {
    await writeClaim(store, await claimFor(deps(), scheme, 'n-ttl', 'F0'.repeat(32)), Date.now() + 5_000);
    const ttl = await store.pTtl(keys.nonce('n-ttl'));
    expect(ttl).toBeGreaterThan(100_000);
    expect(ttl).toBeLessThanOrEqual(120_000);
  });
});

describe('call claims across two relay replicas on one Redis', () => {
  let a: TestRelay;
  let b: TestRelay;
  beforeAll(async () => {
    a = await startRelay();
    b = await startRelay({ prefix: a.prefix });
  });
  afterAll(async () => {
    await b.close();
    await a.close();
  });

  it('a nonce used on one replica is refused on the other; a verbatim replay there changes nothing', async () => {
    const id = newTenantId();
    const sent = { nonce: randomBytes(32).toString('hex').toUpperCase(), timestamp: String(Date.now()) };
    const first = await a.pusher.tenantSync(tenantFields(id, { name: 'on a' }), sent);
    expect(first.resultCode).toBe('000000');

    const reused = await b.pusher.tenantSync(tenantFields(id, { name: 'on b' }), sent);
    expect([reused.resultCode, reused.resultMsg]).toEqual([
      '000001',
      'x-nonce was already used; every call needs a new nonce',
    ]);
    const state = await b.state();
    const replay = await b.pusher.send('tenantSync', first.body, sent);
    expect(replay.resultCode).toBe('000000');
    expect(await b.state()).toEqual(state);
    expect((await b.api(`/api/v1/tenants/${id}`)).body.name).toBe('on a');
  });
});

describe('the embedded store', () => {
  it('sweeps expired claims on its own, so unused nonces do not pile up', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] });
    try {
      let now = Date.now();
      const store = new MemoryStore(() => now);
      const keys = new Keys('sweep:');
      const claim = await claimFor({ store, keys, nonceTtlMs: 120_000 }, scheme, 'n-sweep', 'AA'.repeat(32));
      await writeClaim(store, claim, now + 5_000);
      expect(store.size).toBe(2);
      now += 120_001;
      expect(store.size).toBe(2); // expired, not yet swept
      jest.advanceTimersByTime(10_000);
      expect(store.size).toBe(0);
      await store.close();
    } finally {
      jest.useRealTimers();
    }
  });
});
