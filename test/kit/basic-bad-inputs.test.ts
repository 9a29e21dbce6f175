// Bad basic-interface calls over real HTTP: each is answered 200 + JSON + a Body-Sign made with
// the basic key, with the contract's result code (000001 signature or reused nonce, 000002 bad
// request) and a sentence saying what is wrong, and each changes nothing: neither the store nor
// what the seller API shows (relay-contract.md §3b; kit-sync-and-signing.md §2.3, §4, §5).
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { basicSign, canonicalPayload, kitSign, newNonce } from '../../src/sandbox/marketplace/index.js';
import type { Fields, PushResult, SendOverrides } from '../../src/sandbox/pusher.js';
import { newTenantId, tenantFields } from '../support/data.js';
import { BASIC_KEY, KIT_KEY, startRelay, type StoreKind, type TestRelay } from '../support/relay.js';

interface Ctx {
  t: TestRelay;
  seed: { instanceId: string; orderId: string; orderLineId: string; tenantId: string };
}

interface BadCase {
  name: string;
  /** the body's fields (activity included) */
  fields: (ctx: Ctx) => Fields;
  /** built from the exact body that is sent */
  overrides?: (body: Fields, ctx: Ctx) => SendOverrides;
  /** runs before the "before" snapshot, e.g. to use a nonce once */
  prepare?: (ctx: Ctx, overrides: SendOverrides) => Promise<void>;
  code: '000001' | '000002';
  msg: RegExp;
}

const order = () => {
  const orderId = `CS${randomBytes(6).toString('hex').toUpperCase()}`;
  return { orderId, orderLineId: `${orderId}-000001` };
};
const purchase = (extra: Fields = {}): Fields => ({
  activity: 'newInstance',
  businessId: randomUUID(),
  ...order(),
  productId: 'P-1',
  expireTime: '20271231235959',
  testFlag: '0',
  ...extra,
});
const freeze = (ctx: Ctx, extra: Fields = {}): Fields => ({
  activity: 'updateInstanceStatus',
  instanceId: ctx.seed.instanceId,
  status: 'FREEZE',
  testFlag: '0',
  ...extra,
});
const renew = (ctx: Ctx, extra: Fields = {}): Fields => ({
  activity: 'refreshInstance',
  instanceId: ctx.seed.instanceId,
  ...order(),
  scene: 'RENEWAL',
  expireTime: '20281231235959',
  testFlag: '0',
  ...extra,
});
const without = (f: Fields, ...names: string[]) => {
  const out = { ...f };
  for (const n of names) delete out[n];
  return out;
};

/** Query credentials for `body`, each part replaceable so one thing at a time can be wrong. */
function signedQuery(
  body: Fields,
  o: { key?: string; nonce?: string; timestamp?: string; signNonce?: string; signTimestamp?: string } = {},
): { query: string; nonce: string } {
  const nonce = o.nonce ?? newNonce();
  const timestamp = o.timestamp ?? String(Date.now());
  const signature = basicSign(
    o.key ?? BASIC_KEY,
    o.signNonce ?? nonce,
    o.signTimestamp ?? timestamp,
    canonicalPayload(JSON.stringify(body)),
  );
  return { query: new URLSearchParams({ signature, timestamp, nonce }).toString(), nonce };
}
const query = (parts: Record<string, string>) => new URLSearchParams(parts).toString();
const long = (n: number) => 'x'.repeat(n);

const cases: BadCase[] = [
  // ---- signature: 000001 -------------------------------------------------------------------
  {
    name: 'signed with the kit key',
    fields: freeze,
    overrides: (body) => ({ query: signedQuery(body, { key: KIT_KEY }).query }),
    code: '000001',
    msg: /^signature does not match the request \(check the basic access key\)$/,
  },
  {
    name: 'signed by the kit rule (no inner HMAC) with the basic key',
    fields: freeze,
    overrides: (body) => {
      const nonce = newNonce();
      const timestamp = String(Date.now());
      const signature = kitSign(BASIC_KEY, nonce, timestamp, canonicalPayload(JSON.stringify(body)));
      return { query: query({ signature, timestamp, nonce }) };
    },
    code: '000001',
    msg: /^signature does not match/,
  },
  {
    name: 'a signature of 64 hex characters that is wrong',
    fields: (ctx) => purchase({ orderId: ctx.seed.orderId }),
    overrides: () => ({ sign: 'A'.repeat(64) }),
    code: '000001',
    msg: /^signature does not match/,
  },
  {
    name: 'a truncated signature (63 of 64 characters)',
    fields: freeze,
    overrides: (body) => {
      const q = new URLSearchParams(signedQuery(body).query);
      q.set('signature', q.get('signature')!.slice(0, -1));
      return { query: q.toString() };
    },
    code: '000001',
    msg: /^signature does not match/,
  },
  {
    name: 'missing signature',
    fields: freeze,
    overrides: () => ({ query: query({ timestamp: String(Date.now()), nonce: newNonce() }) }),
    code: '000001',
    msg: /^signature query parameter is missing$/,
  },
  {
    name: 'a body changed after signing',
    fields: freeze,
    overrides: (body) => ({ rawBody: JSON.stringify({ ...body, status: 'UNFREEZE' }) }),
    code: '000001',
    msg: /^signature does not match/,
  },
  {
    name: 'an unsigned extra member added to the body',
    fields: freeze,
    overrides: (body) => ({ rawBody: `${JSON.stringify(body).slice(0, -1)},"extra":"unsigned"}` }),
    code: '000001',
    msg: /^signature does not match/,
  },
  {
    name: 'signed over another nonce than the one sent',
    fields: freeze,
    overrides: (body) => ({ query: signedQuery(body, { signNonce: newNonce() }).query }),
    code: '000001',
    msg: /^signature does not match/,
  },
  {
    name: 'signed over another timestamp than the one sent',
    fields: freeze,
    overrides: (body) => ({ query: signedQuery(body, { signTimestamp: String(Date.now() - 1000) }).query }),
    code: '000001',
    msg: /^signature does not match/,
  },
  {
    name: 'a nonce already used by a basic call',
    fields: freeze,
    overrides: (body) => ({ query: signedQuery(body, { nonce: `reused-basic-${randomUUID()}` }).query }),
    prepare: async (ctx, o) => {
      const nonce = new URLSearchParams(o.query).get('nonce')!;
      const r = await ctx.t.pusher.queryInstance({ instanceId: ctx.seed.instanceId }, { nonce });
      expect(r.resultCode).toBe('000000');
    },
    code: '000001',
    msg: /^nonce was already used; every call needs a new nonce$/,
  },
  {
    name: 'a nonce already used by a kit push (one namespace for both)',
    fields: freeze,
    overrides: (body) => ({ query: signedQuery(body, { nonce: `reused-kit-${randomUUID()}` }).query }),
    prepare: async (ctx, o) => {
      const nonce = new URLSearchParams(o.query).get('nonce')!;
      const r = await ctx.t.pusher.tenantSync(tenantFields(newTenantId()), { nonce });
      expect(r.resultCode).toBe('000000');
    },
    code: '000001',
    msg: /^nonce was already used/,
  },
  // ---- timestamp and nonce: 000002 ---------------------------------------------------------
  {
    name: 'a timestamp 61 s old',
    fields: freeze,
    overrides: (body) => ({ query: signedQuery(body, { timestamp: String(Date.now() - 61_000) }).query }),
    code: '000002',
    msg: /^timestamp is more than 60 s old$/,
  },
  {
    name: 'a timestamp 10 s in the future',
    fields: freeze,
    overrides: (body) => ({ query: signedQuery(body, { timestamp: String(Date.now() + 10_000) }).query }),
    code: '000002',
    msg: /^timestamp is in the future$/,
  },
  {
    name: 'a timestamp in seconds that is old',
    fields: freeze,
    overrides: (body) => ({
      query: signedQuery(body, { timestamp: String(Math.floor(Date.now() / 1000) - 120) }).query,
    }),
    code: '000002',
    msg: /^timestamp is more than 60 s old$/,
  },
  {
    name: 'a non-numeric timestamp',
    fields: freeze,
    overrides: (body) => ({ query: signedQuery(body, { timestamp: '2024-01-01T00:00:00Z' }).query }),
    code: '000002',
    msg: /^timestamp must be epoch milliseconds: 13 digits, no leading zero \(or 10 digits of seconds\)$/,
  },
  {
    name: 'missing timestamp',
    fields: freeze,
    overrides: () => ({ query: query({ signature: 'A'.repeat(64), nonce: newNonce() }) }),
    code: '000002',
    msg: /^timestamp query parameter is missing$/,
  },
  {
    name: 'the kit headers instead of the query',
    fields: freeze,
    overrides: (body) => {
      const nonce = newNonce();
      const timestamp = String(Date.now());
      const sign = basicSign(BASIC_KEY, nonce, timestamp, canonicalPayload(JSON.stringify(body)));
      return { query: '', headers: { 'x-sign': sign, 'x-timestamp': timestamp, 'x-nonce': nonce } };
    },
    code: '000002',
    msg: /^timestamp query parameter is missing$/,
  },
  {
    name: 'a timestamp given twice',
    fields: freeze,
    overrides: (body) => {
      const q = new URLSearchParams(signedQuery(body).query);
      q.append('timestamp', String(Date.now()));
      return { query: q.toString() };
    },
    code: '000002',
    msg: /^timestamp must be epoch milliseconds/,
  },
  {
    name: 'missing nonce',
    fields: freeze,
    overrides: () => ({ query: query({ signature: 'A'.repeat(64), timestamp: String(Date.now()) }) }),
    code: '000002',
    msg: /^nonce query parameter is missing$/,
  },
  {
    name: 'a nonce with a space',
    fields: freeze,
    overrides: (body) => ({ query: signedQuery(body, { nonce: 'two words' }).query }),
    code: '000002',
    msg: /^nonce must be 1 to 128 printable ASCII characters$/,
  },
  {
    name: 'a nonce of 129 characters',
    fields: freeze,
    overrides: (body) => ({ query: signedQuery(body, { nonce: long(129) }).query }),
    code: '000002',
    msg: /^nonce must be 1 to 128 printable ASCII characters$/,
  },
  // ---- the body: 000002 --------------------------------------------------------------------
  {
    name: 'an unknown activity',
    fields: () => ({ activity: 'deleteInstance', instanceId: 'x' }),
    code: '000002',
    msg: /^unknown activity; expected one of newInstance, queryInstance, refreshInstance, updateInstanceStatus, releaseInstance, upgradeInstance$/,
  },
  {
    name: 'no activity',
    fields: (ctx) => without(freeze(ctx), 'activity'),
    code: '000002',
    msg: /^activity is required$/,
  },
  {
    name: 'activity as a number',
    fields: (ctx) => freeze(ctx, { activity: 3 }),
    code: '000002',
    msg: /^unknown activity/,
  },
  {
    name: 'newInstance without orderId',
    fields: () => without(purchase(), 'orderId'),
    code: '000002',
    msg: /^orderId is required$/,
  },
  {
    name: 'newInstance without orderLineId',
    fields: () => without(purchase(), 'orderLineId'),
    code: '000002',
    msg: /^orderLineId is required$/,
  },
  {
    name: 'newInstance without businessId',
    fields: () => without(purchase(), 'businessId'),
    code: '000002',
    msg: /^businessId is required$/,
  },
  {
    name: 'newInstance with an empty orderId',
    fields: () => purchase({ orderId: '' }),
    code: '000002',
    msg: /^orderId must not be empty$/,
  },
  {
    name: 'newInstance with orderId as a number',
    fields: () => purchase({ orderId: 1906666666 }),
    code: '000002',
    msg: /^orderId must be a string$/,
  },
  {
    name: 'testFlag as the number 1 (kit style) where a string belongs',
    fields: () => purchase({ testFlag: 1 }),
    code: '000002',
    msg: /^testFlag must be the string "0" or "1"$/,
  },
  {
    name: 'testFlag "2"',
    fields: () => purchase({ testFlag: '2' }),
    code: '000002',
    msg: /^testFlag must be the string "0" or "1"$/,
  },
  {
    name: 'an expireTime of 13 digits',
    fields: () => purchase({ expireTime: '2027123123595' }),
    code: '000002',
    msg: /^expireTime must be a real UTC time as yyyyMMddHHmmss/,
  },
  {
    name: 'an expireTime that is no real date (30 February)',
    fields: () => purchase({ expireTime: '20270230120000' }),
    code: '000002',
    msg: /^expireTime must be a real UTC time/,
  },
  {
    name: 'an orderId of 65 characters',
    fields: () => purchase({ orderId: long(65) }),
    code: '000002',
    msg: /^orderId must be at most 64 characters$/,
  },
  {
    name: 'a businessId of 65 characters',
    fields: () => purchase({ businessId: long(65) }),
    code: '000002',
    msg: /^businessId must be at most 64 characters$/,
  },
  {
    name: 'an extra field as a number (all basic values are strings)',
    fields: () => purchase({ amount: 100 }),
    code: '000002',
    msg: /^amount must be a string$/,
  },
  {
    name: 'an extra field of 4097 characters',
    fields: () => purchase({ saasExtendParams: long(4097) }),
    code: '000002',
    msg: /^saasExtendParams must be at most 4096 characters$/,
  },
  {
    name: 'instanceId null',
    fields: (ctx) => freeze(ctx, { instanceId: null }),
    code: '000002',
    msg: /^instanceId must be a string$/,
  },
  {
    name: 'a businessId that already names an instance of another order',
    fields: (ctx) => purchase({ businessId: ctx.seed.instanceId }),
    code: '000002',
    msg: /^businessId already names an instance of another order/,
  },
  {
    name: 'refreshInstance without instanceId',
    fields: (ctx) => without(renew(ctx), 'instanceId'),
    code: '000002',
    msg: /^instanceId is required$/,
  },
  {
    name: 'refreshInstance with an unknown scene',
    fields: (ctx) => renew(ctx, { scene: 'EXTEND' }),
    code: '000002',
    msg: /^scene must be one of TRIAL_TO_FORMAL, RENEWAL, UNSUBSCRIBE_RENEWAL_PERIOD, RENEWAL_CHANGE$/,
  },
  {
    name: 'refreshInstance without expireTime',
    fields: (ctx) => without(renew(ctx), 'expireTime'),
    code: '000002',
    msg: /^expireTime is required$/,
  },
  {
    name: 'updateInstanceStatus with status PAUSE',
    fields: (ctx) => freeze(ctx, { status: 'PAUSE' }),
    code: '000002',
    msg: /^status must be "FREEZE" or "UNFREEZE"$/,
  },
  {
    name: 'updateInstanceStatus without status',
    fields: (ctx) => without(freeze(ctx), 'status'),
    code: '000002',
    msg: /^status is required$/,
  },
  {
    name: 'queryInstance of 101 instances',
    fields: (ctx) => ({
      activity: 'queryInstance',
      instanceId: [ctx.seed.instanceId, ...Array.from({ length: 100 }, (_, i) => `i${i}`)].join(','),
    }),
    code: '000002',
    msg: /^instanceId must name at most 100 instances$/,
  },
  {
    name: 'queryInstance with an empty id in the list',
    fields: (ctx) => ({ activity: 'queryInstance', instanceId: `${ctx.seed.instanceId},,x` }),
    code: '000002',
    msg: /^instanceId must be instance ids of 1 to 64 characters, comma-separated$/,
  },
  {
    name: 'queryInstance with an id of 65 characters',
    fields: () => ({ activity: 'queryInstance', instanceId: long(65) }),
    code: '000002',
    msg: /^instanceId must be instance ids of 1 to 64 characters/,
  },
  {
    name: 'releaseInstance with instanceId as a number',
    fields: () => ({ activity: 'releaseInstance', instanceId: 12345 }),
    code: '000002',
    msg: /^instanceId must be a string$/,
  },
  {
    name: 'upgradeInstance without orderId',
    fields: (ctx) => ({ activity: 'upgradeInstance', instanceId: ctx.seed.instanceId, orderLineId: 'x' }),
    code: '000002',
    msg: /^orderId is required$/,
  },
  {
    name: 'a body that is not JSON',
    fields: freeze,
    overrides: () => ({ rawBody: 'activity=updateInstanceStatus&status=FREEZE' }),
    code: '000002',
    msg: /^body is not valid JSON$/,
  },
  {
    name: 'a JSON array',
    fields: freeze,
    overrides: (body) => ({ rawBody: JSON.stringify([body]) }),
    code: '000002',
    msg: /^body must be a JSON object$/,
  },
  {
    name: 'an empty body',
    fields: freeze,
    overrides: () => ({ rawBody: '' }),
    code: '000002',
    msg: /^body is empty/,
  },
  {
    name: 'a body that is not UTF-8',
    fields: freeze,
    overrides: () => ({ rawBody: Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]) }),
    code: '000002',
    msg: /^body is not valid UTF-8$/,
  },
  {
    name: 'Content-Type text/plain',
    fields: freeze,
    overrides: () => ({ contentType: 'text/plain' }),
    code: '000002',
    msg: /^Content-Type must be application\/json$/,
  },
  {
    name: 'a body nesting 6,000 levels deep (past Jackson’s 1,000)',
    fields: (ctx) => freeze(ctx),
    overrides: (body) => {
      const deep = `${JSON.stringify(body).slice(0, -1)},"x":${'['.repeat(6000)}${']'.repeat(6000)}}`;
      return { rawBody: deep };
    },
    code: '000002',
    msg: /^body nests deeper than 1000 levels$/,
  },
  {
    name: 'a body over the 64 KiB limit of the basic interfaces',
    fields: (ctx) =>
      freeze(ctx, Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`pad${i}`, long(4000)]))),
    code: '000002',
    msg: /^body exceeds the 65536-byte limit$/,
  },
];

const ok = async (result: Promise<PushResult>) => {
  const r = await result;
  expect(r.problem).toBeUndefined();
  return r;
};

describe.each<StoreKind>(['memory', 'redis'])('bad basic calls on the %s store', (kind) => {
  const ctx = {} as Ctx;
  beforeAll(async () => {
    ctx.t = await startRelay({ store: kind });
    const o = order();
    const bought = await ok(
      ctx.t.pusher.newInstance({ ...o, productId: 'P-seed', expireTime: '20271231235959' }),
    );
    const tenantId = newTenantId();
    const instanceId = bought.answer!.instanceId as string;
    await ok(ctx.t.pusher.tenantSync(tenantFields(tenantId, { instanceId })));
    ctx.seed = { instanceId, tenantId, ...o };
  });
  afterAll(() => ctx.t.close());

  const seen = () =>
    Promise.all([
      ctx.t.api(`/api/v1/instances/${ctx.seed.instanceId}`).then((r) => r.body as unknown),
      ctx.t.api(`/api/v1/tenants/${ctx.seed.tenantId}`).then((r) => r.body as unknown),
    ]);

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const fields = c.fields(ctx);
    const body = ctx.t.pusher.basicBody(String(fields.activity ?? ''), fields);
    if (!('activity' in fields)) delete body.activity;
    const overrides = c.overrides?.(body, ctx) ?? {};
    await c.prepare?.(ctx, overrides);
    const [stateBefore, apiBefore] = [await ctx.t.state(), await seen()];
    const r = await ctx.t.pusher.sendBasic(String(fields.activity ?? ''), body, overrides);
    expect(r.status).toBe(200);
    expect(r.contentType).toMatch(/^application\/json/);
    expect(r.bodySignValid).toBe(true);
    expect([r.resultCode, r.resultMsg]).toEqual([c.code, expect.stringMatching(c.msg)]);
    expect(Object.keys(r.answer!)).toEqual(['resultCode', 'resultMsg']);
    expect(await ctx.t.state()).toEqual(stateBefore);
    expect(await seen()).toEqual(apiBefore);
  });

  it('has a table of at least 40 cases covering every activity and both codes', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
    const activities = new Set(cases.map((c) => c.fields(ctx).activity));
    for (const a of [
      'newInstance',
      'queryInstance',
      'refreshInstance',
      'updateInstanceStatus',
      'releaseInstance',
      'upgradeInstance',
    ])
      expect(activities).toContain(a);
    expect(new Set(cases.map((c) => c.code))).toEqual(new Set(['000001', '000002']));
  });

  it('does not remember the nonce of a call refused before its signature held', async () => {
    const body = ctx.t.pusher.basicBody('updateInstanceStatus', freeze(ctx, { status: 'UNFREEZE' }));
    const nonce = `kept-${randomUUID()}`;
    const refused = await ctx.t.pusher.sendBasic('updateInstanceStatus', body, {
      nonce,
      sign: 'B'.repeat(64),
    });
    expect(refused.resultCode).toBe('000001');
    const accepted = await ctx.t.pusher.sendBasic('updateInstanceStatus', body, { nonce });
    expect(accepted.resultCode).toBe('000000');
  });
});
