// How an event becomes a write operation (src/feed/eventLog.ts): to the feed's stream where one
// write spans slots, to the slot's outbox where it cannot (Redis Cluster); sessions named by
// their fingerprint only.
import { describe, expect, it } from '@jest/globals';
import { EventLog, JsonText } from '../../src/feed/eventLog.js';
import { Keys } from '../../src/store/keys.js';
import { MemoryStore } from '../../src/store/memory.js';
import type { Store } from '../../src/store/store.js';

const keys = new Keys('unit:');
const at = Date.UTC(2026, 10, 30, 12);
const log = (store: Store) =>
  new EventLog({ store, keys, now: () => at, sessionRef: (sid) => `ref(${sid.length})` });
/** A store that writes slot by slot, as a cluster does. */
const slotBySlot = () => Object.assign(new MemoryStore(), { atomicAcrossSlots: false }) as Store;

describe('EventLog', () => {
  it('appends to the feed stream where one write spans slots', () => {
    const op = log(new MemoryStore()).append({ tenantId: 't1' }, 'tenant.created', 't1', { tenantId: 't1' });
    expect(op).toEqual({ op: 'xadd', key: keys.events(), value: expect.any(String) });
    expect(JSON.parse((op as { value: string }).value)).toEqual({
      type: 'tenant.created',
      occurredAt: '2026-11-30T12:00:00.000Z',
      tenantId: 't1',
      data: { tenantId: 't1' },
    });
  });

  it('prints an event as JSON.stringify would, its data given as an object or as JSON text', () => {
    const events = log(new MemoryStore());
    const data = { userName: 'ann "a" \\', name: '用户', n: 1, nested: { x: [null, true] } };
    for (const tenantId of ['t"1', null]) {
      const expected = JSON.stringify({
        type: 'user.added',
        occurredAt: '2026-11-30T12:00:00.000Z',
        tenantId,
        data,
      });
      expect(events.append({ tenantId: 't1' }, 'user.added', tenantId, data)).toMatchObject({
        value: expected,
      });
      const text = new JsonText(JSON.stringify(data));
      expect(events.append({ tenantId: 't1' }, 'user.added', tenantId, text)).toMatchObject({
        value: expected,
      });
    }
  });

  it("appends to the tenant's or the instances' outbox on a store that writes slot by slot", () => {
    const events = log(slotBySlot());
    expect(events.append({ tenantId: 't1' }, 'user.added', 't1', {})).toMatchObject({
      op: 'xadd',
      key: keys.tenantOutbox('t1'),
    });
    expect(events.append('instances', 'instance.created', null, {})).toMatchObject({
      op: 'xadd',
      key: keys.instanceOutbox(),
    });
  });

  it('names a session by its fingerprint, and an absent instance as null', () => {
    const sid = '{t:t1}.' + 'A'.repeat(43);
    const events = log(new MemoryStore());
    const login = { tenantId: 't1', appId: 'app', userName: 'ann' };
    const started = (instanceId: string) =>
      JSON.parse((events.session(sid, { ...login, instanceId }) as { value: string }).value);
    expect(started('i-1')).toMatchObject({
      type: 'session.started',
      data: { appId: 'app', userName: 'ann', sessionRef: 'ref(50)', instanceId: 'i-1' },
    });
    // a tenant with no instance signs in with '': the feed says null, as GET /session does
    expect(started('').data.instanceId).toBeNull();
    const ended = JSON.parse((events.session(sid, login, 'logout') as { value: string }).value);
    expect(ended).toMatchObject({ type: 'session.ended', data: { reason: 'logout', sessionRef: 'ref(50)' } });
    expect(JSON.stringify([started('i-1'), ended])).not.toContain(sid);
  });
});
