// Where a store cannot write the instance's slot and its tenants' slots in one step (Redis
// Cluster), a change is applied slot by slot. This runs that path on a store that says so, and
// fails the write between the two slots: the marketplace is answered 000005, and its retry (a
// new nonce, the same call) completes the change, ending the sessions then (mirror/transaction.ts).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MemoryStore } from '../../src/store/memory.js';
import { StoreUnavailableError, type ApplyOptions, type Store, type WriteOp } from '../../src/store/store.js';
import { API_KEY, APP_ID } from '../support/relay.js';
import { startSignInWorld, type SignInWorld } from '../support/world.js';

/** The embedded store, but slot by slot like a cluster, with the next tenant-slot write failing on demand. */
class SlotByslotStore extends MemoryStore {
  override readonly atomicAcrossSlots = false;
  failNextTenantWrite = false;
  readonly slotsPerApply: number[] = [];

  override async apply(ops: readonly WriteOp[], options?: ApplyOptions) {
    const slots = new Set(
      [...ops.map((o) => o.key), ...(options?.guards ?? []).map((g) => g.key)].map(slotOf),
    );
    this.slotsPerApply.push(slots.size);
    if (slots.size > 1) throw new Error(`CROSSSLOT: one write spans ${[...slots].join(', ')}`);
    if (this.failNextTenantWrite && [...slots][0]!.startsWith('t:')) {
      this.failNextTenantWrite = false;
      throw new StoreUnavailableError('store failed between the slots (test)');
    }
    return super.apply(ops, options);
  }
}
const slotOf = (key: string) => /\{([^}]*)\}/.exec(key)?.[1] ?? key;

describe('an instance change applied slot by slot', () => {
  let w: SignInWorld;
  const store = new SlotByslotStore();
  beforeAll(async () => {
    w = await startSignInWorld({ store: store as Store });
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
