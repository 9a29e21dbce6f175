// The kit's change-feed follower (RelayClient.events) against a running relay: order across pages
// and long polls, resuming from a cursor, filters, abort, retries and the typed 410.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  CursorExpiredError,
  RelayClient,
  RelayError,
  type RelayEventsOptions,
  type RelayFeedItem,
} from '../../src/client/index.js';
import type { PushResult } from '../../src/sandbox/pusher.js';
import { appFields, authFields, newTenantId, tenantFields, user } from '../support/data.js';
import { API_KEY, startRelay, type TestRelay } from '../support/relay.js';

const ok = async (push: Promise<PushResult>) => {
  const r = await push;
  expect(r.resultCode).toBe('000000');
};

/** Resolves once `check` holds, polling every 10 ms for at most 5 s. */
async function until(check: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !check(); waited += 10) {
    if (waited > 5000) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('RelayClient.events against a running relay', () => {
  let t: TestRelay;
  let client: RelayClient;
  beforeAll(async () => {
    t = await startRelay();
    client = new RelayClient({ baseUrl: t.url, apiKey: API_KEY });
  });
  afterAll(() => t.close());

  /** Where the feed ends now, read with the plain API. */
  const head = async (): Promise<string | undefined> => {
    let after: string | undefined;
    for (;;) {
      const res = await t.api(`/api/v1/events?limit=500${after ? `&after=${after}` : ''}`);
      expect(res.status).toBe(200);
      if (res.body.events.length === 0) return res.body.next as string;
      after = res.body.next as string;
    }
  };

  /** The first `count` items of `events(options)` (fewer if they take over 5 s), then stops it. */
  const take = async (count: number, options: RelayEventsOptions): Promise<RelayFeedItem[]> => {
    const items: RelayFeedItem[] = [];
    if (count === 0) return items;
    for await (const item of client.events({ signal: AbortSignal.timeout(5000), ...options })) {
      items.push(item);
      if (items.length === count) break;
    }
    return items;
  };

  /** A tenant with its app credential and three users: five events. */
  const provision = async (tenantId: string) => {
    await ok(t.pusher.tenantSync(tenantFields(tenantId)));
    await ok(t.pusher.applicationSync(appFields(tenantId)));
    await ok(t.pusher.authSync(authFields(tenantId, [user('ann'), user('bob'), user('cid')])));
  };

  it('yields every event in order across pages, then one pushed while it waits (long poll)', async () => {
    const start = await head();
    const tenantId = newTenantId();
    await provision(tenantId);
    const items: RelayFeedItem[] = [];
    const controller = new AbortController();
    const requests: string[] = [];
    const counting = new RelayClient({
      baseUrl: t.url,
      apiKey: API_KEY,
      fetch: (input, init) => {
        requests.push(String(input));
        return fetch(input, init);
      },
    });
    const following = (async () => {
      for await (const item of counting.events({
        after: start,
        limit: 2,
        wait: 20,
        signal: controller.signal,
      })) {
        items.push(item);
        if (items.length === 6) controller.abort();
      }
    })();
    await until(() => items.length === 5 && t.relay.feed.waiting === 1, 'five events, then a held request');
    expect(items.map((i) => i.event.type)).toEqual([
      'tenant.created',
      'app.credentials_updated',
      'user.added',
      'user.added',
      'user.added',
    ]);
    // pages of two: three requests, and the fourth is the one held open
    expect(requests).toHaveLength(4);
    expect(new URL(requests[3]!).searchParams.get('wait')).toBe('20');
    await ok(t.pusher.authSync(authFields(tenantId, [user('ann', { name: 'Ann B.' })], { flag: 2 })));
    await following;
    expect(requests).toHaveLength(4);
    const updated = items[5]!.event;
    expect(updated.type).toBe('user.updated');
    if (updated.type === 'user.updated')
      expect(updated.data).toMatchObject({ userName: 'ann', name: 'Ann B.' });
    for (const { event } of items) expect(event.tenantId).toBe(tenantId);
    // ids grow, and each item's cursor is where reading on starts
    const ids = items.map((i) => i.event.id);
    expect([...ids].sort(compareIds)).toEqual(ids);
    expect(items.map((i) => i.cursor)).toEqual(ids);
  });

  it('resumes from a saved cursor without repeating or skipping an event', async () => {
    const start = await head();
    await provision(newTenantId());
    const all = await take(5, { after: start, limit: 3, wait: 1 });
    for (const k of [0, 2, 3]) {
      const rest = await take(4 - k, { after: all[k]!.cursor, wait: 1 });
      expect(rest.map((i) => i.event.id)).toEqual(all.slice(k + 1).map((i) => i.event.id));
    }
    // at the end: nothing to repeat, the next push is the next event
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 1500);
    const none: RelayFeedItem[] = [];
    for await (const item of client.events({ after: all[4]!.cursor, wait: 1, signal: controller.signal }))
      none.push(item);
    expect(none).toEqual([]);
  });

  it('filters by type and tenant, and reports the cursor past the events it skipped', async () => {
    const start = await head();
    const mine = newTenantId();
    const other = newTenantId();
    await provision(mine);
    await provision(other);
    const users = await take(3, { after: start, types: ['user.added'], tenantId: other, wait: 1 });
    expect(users.map((i) => [i.event.type, i.event.tenantId])).toEqual(Array(3).fill(['user.added', other]));
    // only another tenant's events follow: the feed moves on without yielding, and says so
    await ok(t.pusher.authSync(authFields(mine, [{ userName: 'ann' }], { flag: 0 })));
    const end = await head();
    const cursors: string[] = [];
    const controller = new AbortController();
    for await (const item of client.events({
      after: users[2]!.cursor,
      tenantId: other,
      wait: 1,
      signal: controller.signal,
      onCursor: (cursor) => {
        cursors.push(cursor);
        controller.abort();
      },
    }))
      throw new Error(`nothing of ${other} was expected, got ${item.event.type}`);
    expect(cursors).toEqual([end]);
  });

  it('stops when its signal aborts, also while a request is held open', async () => {
    const controller = new AbortController();
    const items: RelayFeedItem[] = [];
    const following = (async () => {
      for await (const item of client.events({ after: await head(), wait: 25, signal: controller.signal }))
        items.push(item);
    })();
    await until(() => t.relay.feed.waiting === 1, 'the request is held');
    const aborted = Date.now();
    controller.abort();
    await following;
    expect(Date.now() - aborted).toBeLessThan(1000);
    expect(items).toEqual([]);
    // the relay let go of the request too
    await until(() => t.relay.feed.waiting === 0, 'the relay sees the request gone');
    // aborted before it starts: no request at all
    let asked = false;
    const idle = new RelayClient({
      baseUrl: t.url,
      apiKey: API_KEY,
      fetch: () => {
        asked = true;
        throw new Error('no request expected');
      },
    });
    for await (const _ of idle.events({ signal: AbortSignal.abort() })) throw new Error('nothing expected');
    expect(asked).toBe(false);
  });

  it('throws CursorExpiredError on 410, and RelayError on a refusal it cannot retry', async () => {
    const mark = t.relay.keys.eventsTrimmed();
    await t.store.apply([{ op: 'set', key: mark, value: (await head())! }]);
    try {
      const error = await take(1, { after: '1-0', wait: 0 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CursorExpiredError);
      expect(error).toBeInstanceOf(RelayError);
      expect(error).toMatchObject({ status: 410, code: 'cursor_expired', cursor: '1-0' });
      expect((error as Error).message).toMatch(/no longer kept/);
    } finally {
      await t.store.apply([{ op: 'del', key: mark }]);
    }
    const wrongKey = new RelayClient({ baseUrl: t.url, apiKey: 'wrong-key-000000000' });
    await expect(wrongKey.events({ wait: 0 }).next()).rejects.toMatchObject({
      status: 401,
      code: 'unauthorized',
    });
    await expect(client.events({ limit: 501 }).next()).rejects.toMatchObject({
      status: 400,
      code: 'invalid_request',
    });
  });

  it('retries with backoff while the relay is unreachable or answers 5xx, then reads on', async () => {
    const start = await head();
    await provision(newTenantId());
    const failures = [
      () => Promise.reject(new TypeError('fetch failed')),
      () =>
        Promise.resolve(
          Response.json(
            { error: 'store_unavailable', message: 'The store is unavailable.' },
            { status: 503 },
          ),
        ),
      () => Promise.resolve(new Response('<html>bad gateway</html>', { status: 200 })),
    ];
    const flaky = new RelayClient({
      baseUrl: t.url,
      apiKey: API_KEY,
      fetch: (input, init) => failures.shift()?.() ?? fetch(input, init),
    });
    const retries: [number, string, number][] = [];
    const items: RelayFeedItem[] = [];
    for await (const item of flaky.events({
      after: start,
      wait: 1,
      minBackoffMs: 20,
      maxBackoffMs: 40,
      onRetry: (error, delay) => retries.push([error.status, error.code, delay]),
    })) {
      items.push(item);
      if (items.length === 5) break;
    }
    expect(retries.map(([status, code]) => [status, code])).toEqual([
      [0, 'relay_unreachable'],
      [503, 'store_unavailable'],
      [502, 'bad_answer'],
    ]);
    // about 20, 40, 40 ms: doubling up to the ceiling, jittered down to half
    const delays = retries.map(([, , d]) => d);
    expect(delays[0]).toBeGreaterThanOrEqual(10);
    expect(delays[0]).toBeLessThanOrEqual(20);
    for (const d of delays.slice(1)) expect(d).toBeGreaterThanOrEqual(20);
    for (const d of delays.slice(1)) expect(d).toBeLessThanOrEqual(40);
    expect(items.map((i) => i.event.type)).toEqual([
      'tenant.created',
      'app.credentials_updated',
      'user.added',
      'user.added',
      'user.added',
    ]);
  });
});

function compareIds(a: string, b: string): number {
  const [am, an] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bm, bn] = b.split('-').map(BigInt) as [bigint, bigint];
  return am === bm ? Number(an - bn) : am < bm ? -1 : 1;
}
