// The change feed replays to the mirror (contract §5b: `data` carries the record after the
// change; no change without its event, no event without its change): random sequences of pushes
// across 20 tenants, in random order of their sync times (so many are stale or repeated), are
// sent over HTTP through the sandbox pusher; the whole feed, replayed into empty maps, must then
// equal what the read API answers for every tenant, user, department set, app and instance the
// pushes named.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { RelayEvent } from '../../src/api/contract.js';
import { publicApp } from '../../src/mirror/records.js';
import { formatExpireTime } from '../../src/sandbox/marketplace/index.js';
import type { PushResult } from '../../src/sandbox/pusher.js';
import { at, newTenantId } from '../support/data.js';
import { APP_ID, startRelay, type StoreKind, type TestRelay } from '../support/relay.js';

const TENANTS = 20;
const USERS = ['u0', 'u1', 'u2', 'u3', 'u4'];
const ORGS = ['o0', 'o1', 'o2', 'o3', 'o4', 'o5'];
/** Sync times are this many seconds apart at most: 25 pushes a tenant land on 40 of them. */
const TIMES = 40;

// ---- pushes ---------------------------------------------------------------------------------

const tenant = fc.nat(TENANTS - 1);
const time = fc.nat(TIMES);
/** an instance of the tenant's two, or none (a debug push) */
const instance = fc.constantFrom<0 | 1 | null>(0, 1, 1, 0, null);

const syncUser = fc.record(
  {
    userName: fc.constantFrom(...USERS),
    name: fc.constantFrom('张三', '李四', 'Ann'),
    orgCode: fc.constantFrom(...ORGS),
    role: fc.constantFrom('user', 'admin'),
    enable: fc.constantFrom('true', 'true', 'false'),
    email: fc.constantFrom('a@example.com', 'b@example.com'),
  },
  { requiredKeys: ['userName', 'name', 'orgCode', 'role', 'enable'] },
);

const push = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('tenantSync' as const),
      t: tenant,
      time,
      flag: fc.constantFrom(1, 1, 2, 2, 0),
      inst: instance,
      name: fc.constantFrom('甲公司', '乙公司', 'Acme'),
      code: fc.constantFrom('c1', 'c2'),
      domain: fc.constantFrom('a', 'b'),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('applicationSync' as const),
      t: tenant,
      time,
      flag: fc.constantFrom(1, 1, 2, 0),
      inst: instance,
      clientId: fc.constantFrom('client-a', 'client-b'),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('authSync' as const),
      t: tenant,
      time,
      flag: fc.constantFrom(1, 1, 2, 2, 3, 0),
      users: fc.array(syncUser, { minLength: 1, maxLength: 3 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('singleOrgSync' as const),
      t: tenant,
      time,
      flag: fc.constantFrom(1, 1, 2, 0),
      orgCode: fc.constantFrom(...ORGS),
      orgName: fc.constantFrom('研发', '市场', 'Ops'),
      parentCode: fc.constantFrom('', '', ...ORGS),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('allOrgSync' as const),
      t: tenant,
      time,
      list: fc.uniqueArray(
        fc.record({
          orgCode: fc.constantFrom(...ORGS),
          orgName: fc.constantFrom('总部', '研发', 'Sales'),
          parentCode: fc.constantFrom('', ...ORGS),
        }),
        { selector: (o) => o.orgCode, maxLength: ORGS.length },
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('newInstance' as const),
      t: tenant,
      time,
      inst: fc.constantFrom<0 | 1>(0, 1),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('updateInstanceStatus' as const),
      t: tenant,
      time,
      inst: fc.constantFrom<0 | 1>(0, 1),
      status: fc.constantFrom('FREEZE', 'UNFREEZE'),
    }),
  },
);
type Push = typeof push extends fc.Arbitrary<infer P> ? P : never;

/** One run's tenants, and the names of what the pushes refer to. */
class Names {
  readonly tenantIds = Array.from({ length: TENANTS }, () => newTenantId());
  instanceId = (t: number, i: 0 | 1) => `${this.tenantIds[t]!.slice(0, 12)}-i${i}`;
}

/** Sends one push; the basic calls are signed at `base` plus their time, in tenths of a second. */
function send(t: TestRelay, names: Names, p: Push, base: number): Promise<PushResult> {
  const tenantId = names.tenantIds[p.t]!;
  const timeStamp = at(p.time * 1000);
  const inst = (i: 0 | 1 | null) => (i === null ? '' : names.instanceId(p.t, i));
  const signedAt = { timestamp: String(base + p.time * 100) };
  switch (p.kind) {
    case 'tenantSync':
      return t.pusher.tenantSync({
        instanceId: inst(p.inst),
        orderId: p.inst === null ? '' : `O-${inst(p.inst)}`,
        tenantId,
        tenantCode: `${p.code}-${tenantId.slice(0, 6)}`,
        name: p.name,
        domainName: `https://${p.domain}-${tenantId.slice(0, 8)}.idp.example.com`,
        flag: p.flag,
        timeStamp,
      });
    case 'applicationSync':
      return t.pusher.applicationSync({
        instanceId: inst(p.inst),
        tenantId,
        appId: APP_ID,
        clientId: p.clientId,
        clientSecret: `secret-${p.clientId}`,
        flag: p.flag,
        timeStamp,
      });
    case 'authSync':
      return t.pusher.authSync({
        instanceId: '',
        tenantId,
        appId: APP_ID,
        // a delete or a cancellation may name the users only
        userList: p.flag === 0 || p.flag === 3 ? p.users.map((u) => ({ userName: u.userName })) : p.users,
        currentSyncTime: timeStamp,
        flag: p.flag,
        timeStamp,
      });
    case 'singleOrgSync':
      return t.pusher.singleOrgSync({
        instanceId: '',
        tenantId,
        orgCode: p.orgCode,
        orgName: p.orgName,
        parentCode: p.parentCode,
        flag: p.flag,
        timeStamp,
      });
    case 'allOrgSync':
      return t.pusher.allOrgSync({ instanceId: '', tenantId, orgInfoList: p.list, timeStamp });
    case 'newInstance': {
      const id = inst(p.inst);
      return t.pusher.newInstance(
        {
          businessId: id,
          orderId: `O-${id}`,
          orderLineId: `O-${id}-1`,
          productId: 'P-1',
          expireTime: formatExpireTime(Date.UTC(2030, 0, 1)),
        },
        signedAt,
      );
    }
    case 'updateInstanceStatus':
      return t.pusher.updateInstanceStatus({ instanceId: inst(p.inst), status: p.status }, signedAt);
  }
}

// ---- the feed, replayed -----------------------------------------------------------------------

type Data = Record<string, unknown>;
interface Event {
  id: string;
  type: string;
  tenantId: string | null;
  data: Data;
}

/** The whole feed from its start, page by page, each event checked against the contract. */
async function readFeed(t: TestRelay): Promise<Event[]> {
  const events: Event[] = [];
  let after = '';
  for (let pages = 0; pages < 1000; pages++) {
    const res = await t.api(`/api/v1/events?limit=500${after ? `&after=${after}` : ''}`);
    expect(res.status).toBe(200);
    const page = res.body as { events: Event[]; next: string };
    if (page.events.length === 0) return events;
    for (const e of page.events) RelayEvent.parse(e);
    events.push(...page.events);
    after = page.next;
  }
  throw new Error('the feed did not end');
}

/** What the events say the mirror holds. */
class Replay {
  readonly tenants = new Map<string, Data>();
  /** tenantId -> `appId/userName` -> user */
  readonly users = new Map<string, Map<string, Data>>();
  readonly departments = new Map<string, Map<string, Data>>();
  readonly apps = new Map<string, Map<string, Data>>();
  readonly instances = new Map<string, Data>();

  private of(map: Map<string, Map<string, Data>>, tenantId: string): Map<string, Data> {
    let inner = map.get(tenantId);
    if (!inner) map.set(tenantId, (inner = new Map()));
    return inner;
  }

  apply(e: Event): void {
    const d = e.data;
    const t = e.tenantId!;
    // every mirror event but an instance's names its tenant, the one its data is about
    if (!e.type.startsWith('instance.') && d.tenantId !== undefined) expect(d.tenantId).toBe(t);
    switch (e.type) {
      case 'tenant.created':
      case 'tenant.updated':
        this.tenants.set(t, d);
        return;
      case 'tenant.deleted':
        // everything of the tenant goes with it
        for (const map of [this.tenants, this.users, this.departments, this.apps]) map.delete(t);
        return;
      case 'app.credentials_updated':
        this.of(this.apps, t).set(d.appId as string, d);
        return;
      case 'app.deleted':
        this.of(this.apps, t).delete(d.appId as string);
        return;
      case 'user.added':
      case 'user.updated':
      case 'user.deauthorized':
      case 'user.disabled':
        this.of(this.users, t).set(`${d.appId as string}/${d.userName as string}`, d);
        return;
      case 'user.removed':
        this.of(this.users, t).delete(`${d.appId as string}/${d.userName as string}`);
        return;
      case 'department.created':
      case 'department.updated':
        this.of(this.departments, t).set(d.orgCode as string, d);
        return;
      case 'department.deleted':
        this.of(this.departments, t).delete(d.orgCode as string);
        return;
      case 'departments.replaced':
        this.departments.set(t, new Map((d.departments as Data[]).map((o) => [o.orgCode as string, o])));
        return;
      case 'session.started':
      case 'session.ended':
        return;
      default:
        expect(e.type).toMatch(/^instance\./);
        this.instances.set(d.instanceId as string, d);
    }
  }
}

const byCode = (a: Data, b: Data) => ((a.orgCode as string) < (b.orgCode as string) ? -1 : 1);
const withoutTenantIds = ({ tenantIds: _t, history: _h, ...rest }: Data) => rest;

/**
 * What the read API answers, next to what the replayed feed says, for everything the pushes named
 * (by tenant index, then what): the tenant with its instances, its departments, each user named,
 * the app and the tenant's two instances.
 */
async function compare(t: TestRelay, names: Names, pushes: Push[], replay: Replay) {
  const api = new Map<string, unknown>();
  const feed = new Map<string, unknown>();
  const body = async (path: string) => {
    const res = await t.api(path);
    expect([200, 404]).toContain(res.status);
    return res.status === 200 ? (res.body as Data) : null;
  };
  const usersNamed = new Map<number, Set<string>>();
  for (const p of pushes)
    if (p.kind === 'authSync')
      for (const u of p.users) usersNamed.set(p.t, (usersNamed.get(p.t) ?? new Set()).add(u.userName));

  for (let i = 0; i < TENANTS; i++) {
    const id = names.tenantIds[i]!;
    const record = replay.tenants.get(id) ?? null;
    api.set(`${i} tenant`, await body(`/api/v1/tenants/${id}`));
    feed.set(
      `${i} tenant`,
      record && {
        ...record,
        instances: (record.instanceIds as string[])
          .filter((instanceId) => replay.instances.has(instanceId))
          .sort()
          .map((instanceId) => {
            const { status, expireTime, productId } = replay.instances.get(instanceId)!;
            return { instanceId, status, expireTime, productId };
          }),
      },
    );
    // a tenant's departments are listed while the tenant is known
    api.set(`${i} departments`, (await body(`/api/v1/tenants/${id}/departments`))?.departments ?? null);
    feed.set(`${i} departments`, record && [...(replay.departments.get(id)?.values() ?? [])].sort(byCode));
    for (const name of usersNamed.get(i) ?? []) {
      api.set(`${i} user ${name}`, await body(`/api/v1/tenants/${id}/users/${name}`));
      feed.set(`${i} user ${name}`, replay.users.get(id)?.get(`${APP_ID}/${name}`) ?? null);
    }
    // no read API lists apps: the mirror's record, as events show it
    const app = await t.relay.mirror.app(id, APP_ID);
    api.set(`${i} app`, app && publicApp(app));
    feed.set(`${i} app`, replay.apps.get(id)?.get(APP_ID) ?? null);
    for (const n of [0, 1] as const) {
      const instanceId = names.instanceId(i, n);
      const found = await body(`/api/v1/instances/${instanceId}`);
      // tenantIds in an instance event are those bound when the instance last changed
      api.set(`${i} instance ${n}`, found && withoutTenantIds(found));
      const replayed = replay.instances.get(instanceId);
      feed.set(`${i} instance ${n}`, replayed ? withoutTenantIds(replayed) : null);
    }
  }
  return [...api.keys()]
    .filter((k) => !isDeepStrictEqual(api.get(k), feed.get(k)))
    .map((k) => ({
      what: k,
      tenant: Number(k.split(' ')[0]),
      api: api.get(k),
      feed: feed.get(k),
    }));
}

/**
 * A failure's account: what differs, then the one tenant's pushes (with their answers) and events
 * in order, which is what it takes to see why. Sequences are not shrunk (500 pushes a run, each
 * over HTTP); the seed and path fast-check prints replay the run.
 */
function account(
  names: Names,
  pushes: Push[],
  codes: string[],
  events: Event[],
  diff: Awaited<ReturnType<typeof compare>>,
): string {
  const i = diff[0]!.tenant;
  const id = names.tenantIds[i]!;
  const mine = (e: Event) =>
    e.tenantId === id || (e.data.instanceId as string | undefined)?.startsWith(id.slice(0, 12));
  const compact = ({ kind: _k, t: _t, ...rest }: Push) => JSON.stringify(rest);
  return [
    `${diff.length} difference(s) between the read API and the replayed feed; the first ones:`,
    ...diff
      .slice(0, 3)
      .map((d) => `  ${d.what}\n    api:  ${JSON.stringify(d.api)}\n    feed: ${JSON.stringify(d.feed)}`),
    `tenant ${i} (${id}): its pushes, in the order sent, with their answers`,
    ...pushes.flatMap((p, n) => (p.t === i ? [`  #${n} ${p.kind} ${codes[n]} ${compact(p)}`] : [])),
    `its events, in the feed's order`,
    ...events.filter(mine).map((e) => `  ${e.id} ${e.type} ${JSON.stringify(e.data)}`),
  ].join('\n');
}

async function runOnce(t: TestRelay, pushes: Push[]): Promise<void> {
  const names = new Names();
  // the basic calls' signing times: recent, and within the window until the run ends
  const base = Date.now() - 5000;
  const codes: string[] = [];
  for (const p of pushes) {
    const r = await send(t, names, p, base);
    codes.push(r.resultCode ?? `HTTP ${r.status}`);
    // only a status change of an instance not bought (yet) is refused: 000003
    const expected = p.kind === 'updateInstanceStatus' && r.resultCode === '000003' ? '000003' : '000000';
    expect([p.kind, r.resultCode, r.resultMsg]).toEqual([p.kind, expected, expect.any(String)]);
  }
  const events = await readFeed(t);
  const replay = new Replay();
  for (const e of events) replay.apply(e);
  const diff = await compare(t, names, pushes, replay);
  if (diff.length) throw new Error(account(names, pushes, codes, events, diff));
}

const PUSHES = 500;
/** Printed as its length only: a failure's account (above) says what matters. */
const sequences = fc
  .array(push, { minLength: PUSHES, maxLength: PUSHES })
  .map((pushes) => Object.assign(pushes, { [fc.toStringMethod]: () => `[${pushes.length} pushes]` }));

describe('the change feed replays to the mirror', () => {
  it('on the embedded store, for random sequences of pushes', async () => {
    await fc.assert(
      fc.asyncProperty(sequences, async (pushes) => {
        // a relay of its own for each sequence (and each shrunk one): its feed is the sequence's
        const t = await startRelay({ store: 'memory' });
        try {
          await runOnce(t, pushes);
        } finally {
          await t.close();
        }
      }),
      // a failure is reported as found (see account), not shrunk
      { numRuns: Number(process.env.REPLAY_RUNS ?? 3), endOnFailure: true },
    );
  }, 120_000);
});

describe.each<StoreKind>(['redis'])('the change feed replays to the mirror on the %s store', (kind) => {
  let t: TestRelay;
  beforeAll(async () => {
    t = await startRelay({ store: kind });
  });
  afterAll(() => t.close());

  it('for a random sequence of pushes', async () => {
    // one relay for every run: each run's tenants and instances are new, so earlier runs' events
    // (read with the rest of the feed) are about records this run does not look at
    await fc.assert(
      fc.asyncProperty(sequences, (pushes) => runOnce(t, pushes)),
      { numRuns: 1, endOnFailure: true },
    );
  }, 60_000);
});
