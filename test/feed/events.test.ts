// The change feed (contract §5b): each event type from real pushes over HTTP, with its data;
// repeats, stale and refused pushes make none; the cursor, filters and errors of GET /events.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { PushResult } from '../../src/sandbox/pusher.js';
import { formatExpireTime } from '../../src/sandbox/marketplace/index.js';
import { MemoryStore } from '../../src/store/memory.js';
import {
  allOrgFields,
  appFields,
  at,
  authFields,
  newTenantId,
  orgFields,
  tenantFields,
  user,
} from '../support/data.js';
import { startRelay, V1_KEY, type StoreKind, type TestRelay } from '../support/relay.js';

interface Event {
  id: string;
  type: string;
  occurredAt: string;
  tenantId: string | null;
  data: Record<string, unknown>;
}

const ok = async (push: Promise<PushResult>) => {
  const r = await push;
  expect([r.resultCode, r.resultMsg]).toEqual(['000000', expect.any(String)]);
  return r;
};

/** Every event of the feed from `after`, page by page. */
async function readAll(t: TestRelay, query = '', after?: string): Promise<{ events: Event[]; next: string }> {
  const events: Event[] = [];
  let next = after;
  for (let pages = 0; pages < 1000; pages++) {
    const res = await t.api(`/api/v1/events?limit=7${next ? `&after=${next}` : ''}${query}`);
    expect(res.status).toBe(200);
    const page = res.body as { events: Event[]; next: string };
    events.push(...page.events);
    if (page.events.length === 0) return { events, next: page.next };
    next = page.next;
  }
  throw new Error('the feed did not end');
}

describe.each<StoreKind>(['memory', 'redis'])('change feed on the %s store', (kind) => {
  let t: TestRelay;
  beforeAll(async () => {
    t = await startRelay({ store: kind });
  });
  afterAll(() => t.close());

  it('records each kit push as its events, with the record after the change and no secret', async () => {
    const tenantId = newTenantId();
    const start = (await readAll(t)).next;
    await ok(t.pusher.tenantSync(tenantFields(tenantId)));
    await ok(t.pusher.tenantSync(tenantFields(tenantId, { flag: 2, name: '改名企业' })));
    await ok(t.pusher.applicationSync(appFields(tenantId)));
    await ok(t.pusher.authSync(authFields(tenantId, [user('ann'), user('bob')])));
    await ok(t.pusher.authSync(authFields(tenantId, [user('ann', { name: 'Ann B.' })], { flag: 2 })));
    await ok(t.pusher.authSync(authFields(tenantId, [user('bob', { enable: 'false' })], { flag: 2 })));
    await ok(t.pusher.authSync(authFields(tenantId, [{ userName: 'ann' }], { flag: 3 })));
    await ok(t.pusher.authSync(authFields(tenantId, [{ userName: 'bob' }], { flag: 0 })));
    // removing a user the mirror never held is bookkeeping, not an event
    await ok(t.pusher.authSync(authFields(tenantId, [{ userName: 'nobody' }], { flag: 0 })));
    await ok(t.pusher.singleOrgSync(orgFields(tenantId, 'd1')));
    await ok(t.pusher.singleOrgSync(orgFields(tenantId, 'd1', { orgName: '新名' })));
    await ok(t.pusher.singleOrgSync(orgFields(tenantId, 'd1', { flag: 0 })));
    await ok(
      t.pusher.allOrgSync(
        allOrgFields(tenantId, [
          { orgCode: 'root', orgName: '总部', parentCode: '' },
          { orgCode: 'rd', orgName: '研发', parentCode: 'root' },
        ]),
      ),
    );
    await ok(t.pusher.applicationSync(appFields(tenantId, { flag: 0 })));
    await ok(t.pusher.tenantSync(tenantFields(tenantId, { flag: 0 })));

    const { events } = await readAll(t, '', start);
    expect(events.map((e) => e.type)).toEqual([
      'tenant.created',
      'tenant.updated',
      'app.credentials_updated',
      'user.added',
      'user.added',
      'user.updated',
      'user.disabled',
      'user.deauthorized',
      'user.removed',
      'department.created',
      'department.updated',
      'department.deleted',
      'departments.replaced',
      'app.deleted',
      'tenant.deleted',
    ]);
    for (const e of events) {
      expect(e.tenantId).toBe(tenantId);
      expect(Date.parse(e.occurredAt)).toBeGreaterThan(Date.now() - 60_000);
    }
    const [created, renamed, app, ann, bob, annRenamed, bobOff, annOut, bobGone] = events;
    expect(created!.data).toEqual({
      tenantId,
      tenantCode: expect.any(String),
      name: '华为测试企业',
      domainName: expect.stringMatching(/^https:\/\//),
      testFlag: 0,
      instanceIds: [expect.any(String)],
    });
    expect(renamed!.data).toMatchObject({ tenantId, name: '改名企业' });
    expect(app!.data).toEqual({
      tenantId,
      appId: expect.any(String),
      clientId: `client-${tenantId.slice(0, 8)}`,
      testFlag: 0,
      instanceIds: [expect.any(String)],
    });
    expect(JSON.stringify(events)).not.toContain(`secret-${tenantId.slice(0, 8)}`);
    expect(JSON.stringify(events)).not.toContain('clientSecret');
    expect([ann!.data.userName, bob!.data.userName]).toEqual(['ann', 'bob']);
    expect(annRenamed!.data).toMatchObject({
      userName: 'ann',
      name: 'Ann B.',
      authorized: true,
      enable: true,
    });
    expect(bobOff!.data).toMatchObject({ userName: 'bob', enable: false });
    expect(annOut!.data).toMatchObject({ userName: 'ann', authorized: false });
    expect(bobGone!.data).toEqual({ tenantId, appId: expect.any(String), userName: 'bob' });
    expect(events[9]!.data).toEqual({ orgCode: 'd1', orgName: '部门d1', parentCode: null });
    expect(events[10]!.data).toMatchObject({ orgCode: 'd1', orgName: '新名' });
    expect(events[11]!.data).toEqual({ orgCode: 'd1' });
    expect(events[12]!.data).toEqual({
      departments: [
        { orgCode: 'rd', orgName: '研发', parentCode: 'root' },
        { orgCode: 'root', orgName: '总部', parentCode: null },
      ],
    });
    expect(events[14]!.data).toEqual({ tenantId });
    // ids grow: the order the feed serves
    const ids = events.map((e) => e.id.split('-').map(Number) as [number, number]);
    for (let i = 1; i < ids.length; i++) {
      const [[ms, seq], [pms, pseq]] = [ids[i]!, ids[i - 1]!];
      expect(ms > pms || (ms === pms && seq > pseq)).toBe(true);
    }
  });

  it('records the instance interfaces as instance events, with the tenants bound', async () => {
    const tenantId = newTenantId();
    const orderId = `CS${randomBytes(6).toString('hex').toUpperCase()}`;
    const start = (await readAll(t)).next;
    const bought = await ok(
      t.pusher.newInstance({
        orderId,
        orderLineId: `${orderId}-1`,
        productId: 'P-1',
        expireTime: formatExpireTime(Date.UTC(2027, 0, 1)),
      }),
    );
    const instanceId = bought.answer!.instanceId as string;
    await ok(t.pusher.tenantSync(tenantFields(tenantId, { instanceId })));
    await ok(
      t.pusher.refreshInstance({
        instanceId,
        orderId: `${orderId}R`,
        orderLineId: `${orderId}R-1`,
        scene: 'RENEWAL',
        expireTime: formatExpireTime(Date.UTC(2028, 0, 1)),
      }),
    );
    await ok(t.pusher.updateInstanceStatus({ instanceId, status: 'FREEZE' }));
    await ok(t.pusher.updateInstanceStatus({ instanceId, status: 'UNFREEZE' }));
    await ok(
      t.pusher.upgradeInstance({
        instanceId,
        orderId: `${orderId}U`,
        orderLineId: `${orderId}U-1`,
        productId: 'P-2',
      }),
    );
    await ok(t.pusher.releaseInstance({ instanceId, orderId: null, orderLineId: null }));
    // repeats change nothing, and say nothing
    await ok(t.pusher.releaseInstance({ instanceId, orderId: null, orderLineId: null }));
    await ok(t.pusher.updateInstanceStatus({ instanceId, status: 'FREEZE' }));

    const { events } = await readAll(t, '', start);
    expect(events.map((e) => e.type)).toEqual([
      'instance.created',
      'tenant.created',
      'instance.renewed',
      'instance.frozen',
      'instance.unfrozen',
      'instance.upgraded',
      'instance.released',
    ]);
    const [created, , renewed, , , upgraded, released] = events;
    // created before any tenant was bound to it
    expect(created!.tenantId).toBeNull();
    expect(created!.data).toMatchObject({
      instanceId,
      orderId,
      status: 'active',
      productId: 'P-1',
      tenantIds: [],
    });
    expect(created!.data).not.toHaveProperty('history');
    expect(renewed!.tenantId).toBe(tenantId);
    expect(renewed!.data).toMatchObject({ tenantIds: [tenantId], expireTime: '2028-01-01T00:00:00.000Z' });
    expect(upgraded!.data).toMatchObject({ productId: 'P-2' });
    expect(released!.data).toMatchObject({ status: 'released' });
    // the tenant filter finds instance events through the tenants bound to them
    const mine = await readAll(t, `&tenantId=${tenantId}`, start);
    expect(mine.events.map((e) => e.type)).toEqual(events.slice(1).map((e) => e.type));
  });

  it('reports a full list ordered by orgCode, a code given twice once, with its later entry, as the mirror holds it', async () => {
    const tenantId = newTenantId();
    await ok(t.pusher.tenantSync(tenantFields(tenantId)));
    const start = (await readAll(t)).next;
    const list = [
      { orgCode: 'b', orgName: 'B1' },
      { orgCode: 'a', orgName: 'A' },
      { orgCode: 'b', orgName: 'B2', parentCode: 'a' },
    ];
    await ok(t.pusher.allOrgSync(allOrgFields(tenantId, list)));
    const departments = [
      { orgCode: 'a', orgName: 'A', parentCode: null },
      { orgCode: 'b', orgName: 'B2', parentCode: 'a' },
    ];
    const { events } = await readAll(t, `&tenantId=${tenantId}`, start);
    expect(events.map((e) => [e.type, e.data])).toEqual([['departments.replaced', { departments }]]);
    expect(await t.relay.mirror.departments(tenantId)).toEqual(
      departments.map((d) => ({ ...d, at: expect.any(Number) })),
    );
  });

  it('makes no event for a repeated, stale or refused push', async () => {
    const tenantId = newTenantId();
    await ok(t.pusher.tenantSync(tenantFields(tenantId, { timeStamp: at(2000) })));
    await ok(
      t.pusher.authSync(
        authFields(tenantId, [user('ann')], { timeStamp: at(2000), currentSyncTime: at(2000) }),
      ),
    );
    const before = await readAll(t);
    const state = await t.state();
    // the same push again, re-signed under new nonces
    for (let i = 0; i < 3; i++) {
      await ok(t.pusher.tenantSync(tenantFields(tenantId, { timeStamp: at(2000) })));
      await ok(
        t.pusher.authSync(
          authFields(tenantId, [user('ann')], { timeStamp: at(2000), currentSyncTime: at(2000) }),
        ),
      );
    }
    // older than what the mirror holds
    await ok(t.pusher.tenantSync(tenantFields(tenantId, { name: 'older', timeStamp: at(1000) })));
    await ok(
      t.pusher.authSync(
        authFields(tenantId, [user('ann', { name: 'old' })], {
          timeStamp: at(1000),
          currentSyncTime: at(1000),
        }),
      ),
    );
    // refused: a wrong signature, an invalid body
    const wrong = await t.pusher.tenantSync(tenantFields(tenantId, { name: 'forged' }), {
      key: 'not-the-key-0000000',
    });
    expect(wrong.resultCode).toBe('000001');
    const invalid = await t.pusher.tenantSync(tenantFields(tenantId, { flag: 7 }));
    expect(invalid.resultCode).toBe('000002');
    const after = await readAll(t, '', before.next);
    expect(after.events).toEqual([]);
    expect(after.next).toBe(before.next);
    expect(await t.state()).toEqual(state);
  });

  it('pages by cursor without a gap or a repeat, filters by type and tenant, and advances past what it filtered', async () => {
    const a = newTenantId();
    const b = newTenantId();
    const start = (await readAll(t)).next;
    for (const id of [a, b]) {
      await ok(t.pusher.tenantSync(tenantFields(id)));
      await ok(t.pusher.authSync(authFields(id, [user('u1'), user('u2'), user('u3')])));
    }
    const all = await readAll(t, '', start);
    expect(all.events).toHaveLength(8);
    expect(new Set(all.events.map((e) => e.id)).size).toBe(8);
    // one page of 3, then the rest from its `next`
    const first = (await t.api(`/api/v1/events?after=${start}&limit=3`)).body as {
      events: Event[];
      next: string;
    };
    expect(first.events.map((e) => e.id)).toEqual(all.events.slice(0, 3).map((e) => e.id));
    expect(first.next).toBe(all.events[2]!.id);
    const rest = await readAll(t, '', first.next);
    expect(rest.events.map((e) => e.id)).toEqual(all.events.slice(3).map((e) => e.id));

    const users = await readAll(t, `&types=user.added&tenantId=${b}`, start);
    expect(users.events.map((e) => [e.type, e.tenantId, e.data.userName])).toEqual([
      ['user.added', b, 'u1'],
      ['user.added', b, 'u2'],
      ['user.added', b, 'u3'],
    ]);
    // a filtered read that found nothing still moves on
    const none = (await t.api(`/api/v1/events?after=${start}&types=tenant.deleted`)).body as {
      events: Event[];
      next: string;
    };
    expect(none.events).toEqual([]);
    expect(none.next).toBe(all.next);
    const tenants = await readAll(t, '&types=tenant.created,tenant.updated', start);
    expect(tenants.events.map((e) => e.tenantId)).toEqual([a, b]);
  });

  it.each([
    ['after=yesterday', 'after'],
    ['after=1-2-3', 'after'],
    // matches the shape, but is past JavaScript's safe integers: no id is
    ['after=9999999999999999-0', 'after'],
    ['after=0-9999999999999999', 'after'],
    ['limit=0', 'limit'],
    ['limit=501', 'limit'],
    ['limit=ten', 'limit'],
    ['wait=31', 'wait'],
    ['wait=-1', 'wait'],
    ['types=user.added,user.exploded', 'unknown event type "user.exploded"'],
    [`tenantId=${'x'.repeat(65)}`, 'tenantId'],
  ])('answers 400 invalid_request for %s', async (query, said) => {
    const res = await t.api(`/api/v1/events?${query}`);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_request', message: expect.stringContaining(said) });
  });

  it('needs the API key', async () => {
    const res = await t.http.get('/api/v1/events');
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('unauthorized');
  });
});

describe('change feed retention', () => {
  let clock = Date.now();
  const now = () => clock;
  let t: TestRelay;
  beforeAll(async () => {
    t = await startRelay({ store: new MemoryStore(now), now, env: { EVENTS_RETENTION_HOURS: '1' } });
  });
  afterAll(() => t.close());

  it('answers 410 cursor_expired for a cursor before trimmed events, and serves the rest', async () => {
    const tenantId = newTenantId();
    const start = (await readAll(t)).next;
    await ok(t.pusher.tenantSync(tenantFields(tenantId)));
    const first = await readAll(t, '', start);
    expect(first.events).toHaveLength(1);
    // two hours on, a new event trims the old one
    clock += 2 * 3_600_000;
    await ok(t.pusher.tenantSync(tenantFields(tenantId, { name: 'later' }), { timestamp: String(clock) }));
    // trimming (every replica runs it each minute) removes what is older than an hour
    expect(await t.relay.feed.trim()).toBe(1);
    const expired = await t.api(`/api/v1/events?after=${start}`);
    expect(expired.status).toBe(410);
    expect(expired.body).toEqual({
      error: 'cursor_expired',
      message: expect.stringContaining('EVENTS_RETENTION_HOURS'),
    });
    // a reader that had seen the first event has missed nothing
    const fresh = await t.api(`/api/v1/events?after=${first.next}`);
    expect(fresh.status).toBe(200);
    expect((fresh.body as { events: Event[] }).events.map((e) => e.data.name)).toEqual(['later']);
    // and a read without `after` starts at the oldest kept event
    const oldest = await t.api('/api/v1/events');
    expect((oldest.body as { events: Event[] }).events.map((e) => e.data.name)).toEqual(['later']);
  });
});

describe('change feed from the V1 interfaces', () => {
  let t: TestRelay;
  beforeAll(async () => {
    t = await startRelay({ store: 'memory', env: { V1_ACCESS_KEY: V1_KEY }, pusher: { v1Key: V1_KEY } });
  });
  afterAll(() => t.close());

  it('records V1 pushes and basic calls as the same events as V2', async () => {
    const tenantId = newTenantId();
    const start = (await readAll(t)).next;
    await ok(t.pusher.v1Push('tenantSync', tenantFields(tenantId)));
    await ok(t.pusher.v1Push('authSync', authFields(tenantId, JSON.stringify([user('ann')]))));
    const orderId = `CS${randomBytes(6).toString('hex').toUpperCase()}`;
    const bought = await ok(
      t.pusher.v1Basic('newInstance', {
        customerId: tenantId,
        mobilePhone: '13800138000',
        email: 'buyer@example.com',
        orderId,
        productId: 'P-v1',
        expireTime: formatExpireTime(Date.UTC(2027, 0, 1)),
      }),
    );
    await ok(t.pusher.v1Basic('expireInstance', { instanceId: bought.answer!.instanceId as string }));
    const { events } = await readAll(t, '', start);
    expect(events.map((e) => e.type)).toEqual([
      'tenant.created',
      'user.added',
      'instance.created',
      'instance.frozen',
    ]);
    expect(events[1]!.data).toMatchObject({ userName: 'ann', authorized: true });
  });
});
