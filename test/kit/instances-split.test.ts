// Where a store cannot write the instance's slot and its tenants' slots in one step (Redis
// Cluster), a change is applied slot by slot. This runs that path on a store that says so, and
// fails the write between the two slots: the marketplace is answered 000005, and its retry (a
// new nonce, the same call) completes the change, ending the sessions then (mirror/transaction.ts).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { API_KEY, APP_ID } from '../support/relay.js';
import { InstrumentedStore } from '../support/stores.js';
import { startSignInWorld, type SignInWorld } from '../support/world.js';

describe('an instance change applied slot by slot', () => {
  let w: SignInWorld;
  const store = new InstrumentedStore({ slotBySlot: true });
  beforeAll(async () => {
    w = await startSignInWorld({ store });
  });
  afterAll(() => w.close());

  const session = async (sid: string) =>
    (
      await w.relay.http
        .get('/api/v1/session')
        .set('Authorization', `Bearer ${API_KEY}`)
        .set('X-Session-Id', sid)
    ).status;

  it('never writes two slots at once, and a FREEZE cut between them is completed by the retry', async () => {
    const s = await w.signIn('alice');
    const pusher = w.world.pusher(APP_ID);
    store.failNextTenantWrite = true;
    const cut = await pusher.updateInstanceStatus({ instanceId: w.acme.instanceId, status: 'FREEZE' });
    expect(cut.resultCode).toBe('000005');
    // The instance's own record was written, the tenant's copy was not: not blocked yet.
    expect((await w.relay.api(`/api/v1/instances/${w.acme.instanceId}`)).body.status).toBe('frozen');
    expect(await session(s.sid)).toBe(200);

    const retry = await pusher.updateInstanceStatus({ instanceId: w.acme.instanceId, status: 'FREEZE' });
    expect(retry.resultCode).toBe('000000');
    expect(await session(s.sid)).toBe(401);
    const log = w.relay.logs
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.interface === 'updateInstanceStatus')
      .at(-1);
    expect(log).toMatchObject({ outcome: 'unchanged', sessionsEnded: 1 });
    expect(Math.max(...store.slotsPerApply)).toBe(1);

    await pusher.updateInstanceStatus({ instanceId: w.acme.instanceId, status: 'UNFREEZE' });
    expect((await w.signIn('alice')).sid).toBeTruthy();
  });
});

describe('a store that turns out not to write across slots (a cluster behind a proxy)', () => {
  let w: SignInWorld;
  const store = new InstrumentedStore({ proxiedCluster: true });
  beforeAll(async () => {
    w = await startSignInWorld({ store });
  });
  afterAll(() => w.close());

  it('is written slot by slot from the first refusal on, without failing the call', async () => {
    // Provisioning already bought and bound an instance: the first write across slots was refused.
    expect(store.atomicAcrossSlots).toBe(false);
    const s = await w.signIn('alice');
    const r = await w.world
      .pusher(APP_ID)
      .updateInstanceStatus({ instanceId: w.acme.instanceId, status: 'FREEZE' });
    expect(r.resultCode).toBe('000000');
    expect(await store.get(w.relay.relay.keys.session(s.sid))).toBeNull();
  });
});
