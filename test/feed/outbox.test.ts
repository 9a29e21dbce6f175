// The outboxes' sweep (src/feed/outbox.ts) on its own: it moves every listed outbox to the feed's
// stream, in order, and one outbox it cannot read (its master down) does not hold up the others.
import { describe, expect, it } from '@jest/globals';
import { Outboxes } from '../../src/feed/outbox.js';
import { Keys } from '../../src/store/keys.js';
import { MemoryStore } from '../../src/store/memory.js';
import { StoreUnavailableError, type Store } from '../../src/store/store.js';

describe('the outboxes sweep', () => {
  it('moves the outboxes it can, past one whose master is down', async () => {
    const keys = new Keys('unit:');
    const memory = new MemoryStore();
    const [down, up] = [keys.tenantOutbox('on-a-dead-master'), keys.tenantOutbox('on-a-live-master')];
    await memory.apply([
      { op: 'sadd', key: keys.outboxes(), members: [down, up] },
      { op: 'xadd', key: down, value: 'stays' },
      { op: 'xadd', key: up, value: 'first' },
      { op: 'xadd', key: up, value: 'second' },
    ]);
    // reads of the dead master's outbox fail, as on a cluster with that master down
    const store = new Proxy(memory, {
      get(target, prop) {
        if (prop === 'xRange')
          return (...args: Parameters<Store['xRange']>) =>
            args[0] === down
              ? Promise.reject(new StoreUnavailableError('master down (test)'))
              : target.xRange(...args);
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    }) as Store;
    const errors: unknown[] = [];
    // the dead one is listed first, so it is swept first
    await new Outboxes({ store, keys, onError: (e) => errors.push(e) }).sweep();
    expect((await memory.xRange(keys.events(), null, 10)).map((e) => e.value)).toEqual(['first', 'second']);
    expect(await memory.xRange(up, null, 10)).toEqual([]);
    expect((await memory.xRange(down, null, 10)).map((e) => e.value)).toEqual(['stays']);
    expect(errors).toHaveLength(1);
  });
});
