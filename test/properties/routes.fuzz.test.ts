// Route fuzzing of the marketplace's signed calls: the five kit routes and the basic route (each
// activity), in process, over one keep-alive connection, on the embedded store. Most bodies are
// signed by the sandbox's marketplace (so they pass the signature and reach the schemas and the
// mirror): valid pushes and purchases, and the same with fields dropped, mistyped, huge, deeply
// nested, repeated or added. The rest are unsigned, badly signed, replayed, tampered with, or
// not JSON at all. Every answer must be what the marketplace can read (kit-sync-and-signing.md
// §3, §5, §7.3): HTTP 200, application/json, a Body-Sign that the sandbox verifies over the exact
// bytes, a documented resultCode and a resultMsg of 1 to 255 characters, only the fields the
// interface defines; never 000005 or a logged error (the embedded store does not fail); and a
// call not answered 000000 changes nothing in the store (replay bookkeeping aside).
//
// FUZZ_RUNS bodies per route: 1,700 by default, over 10,000 in all (about 25 s on the 2-core CI
// machine: a call costs the relay about 1 ms in process, so 10,000 per route would take minutes);
// `npm run fuzz` runs 200,000 per route (about an hour on 2 cores).
import { request as httpRequest, Agent, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { buildApp, type Relay } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/ops/log.js';
import {
  basicSign,
  canonicalPayload,
  checkBodySign,
  encryptClientSecret,
  formatExpireTime,
  formatSyncTime,
  kitSign,
  newNonce,
  OAEP_VARIANT_IDS,
} from '../../src/sandbox/marketplace/index.js';
import { MemoryStore } from '../../src/store/memory.js';
import type { ApplyOptions, ApplyResult, WriteOp } from '../../src/store/store.js';
import { BASIC_ACTIVITIES, KIT_INTERFACES, REFRESH_SCENES } from '../../src/vocabulary.js';
import { signsTheSame } from '../support/properties.js';
import { APP_ID, BASIC_KEY, KIT_KEY, SELLER_PUBLIC_KEY, snapshot, testEnv } from '../support/relay.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 1_700);
const KIT_LIMIT = 256 * 1024;
const BASIC_LIMIT = 64 * 1024; // fixed in the configuration
const PREFIX = 'fuzz:';
const BASE = '/isv/produce';

// ---- the relay under test ---------------------------------------------------------------------

/** Replay bookkeeping (used nonces, signed calls): written for calls that are refused later on. */
const REPLAY_KEY = /\{calls\}:(nonce|signed):/;

/** The embedded store, counting every write that reaches data (anything but replay bookkeeping). */
class CountingStore extends MemoryStore {
  writes = 0;
  override async apply(ops: readonly WriteOp[], options?: ApplyOptions): Promise<ApplyResult> {
    const result = await super.apply(ops, options);
    if (result === 'applied' && ops.some((o) => !REPLAY_KEY.test(o.key))) this.writes++;
    return result;
  }
  override async stage(key: string, entries: readonly (readonly [string, string])[], ttlMs: number) {
    this.writes++;
    return super.stage(key, entries, ttlMs);
  }
}

const store = new CountingStore();
const logged: string[] = [];
let server: Server;
let relay: Relay;
let port = 0;
const agent = new Agent({ keepAlive: true, maxSockets: 1 });

beforeAll(async () => {
  const config = loadConfig(
    testEnv({ REDIS_PREFIX: PREFIX, PRODUCE_BASE_PATH: BASE, KIT_BODY_LIMIT_BYTES: String(KIT_LIMIT) }),
  );
  // Errors are what the fuzzing looks for; the request lines of 60,000 calls are not kept.
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n'))
        if (/"level":"(error|fatal)"/.test(line)) logged.push(line);
      done();
    },
  });
  relay = buildApp({ config, store, logger: createLogger('error', sink) });
  server = relay.app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  agent.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await relay.close();
});

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  bytes: Buffer;
}

function post(path: string, headers: Record<string, string>, body: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        agent,
        host: '127.0.0.1',
        port,
        method: 'POST',
        path,
        headers: { ...headers, 'Content-Length': body.length },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

// ---- what the marketplace sends ---------------------------------------------------------------

type Fields = Record<string, unknown>;

const TENANTS = [
  '68cbc86abc2018ab880d92f36422fa0e',
  '0f1e2d3c4b5a69788796a5b4c3d2e1f0',
  'a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6',
  '租户-中文-1',
  '{t:brace}',
];
const APPS = [APP_ID, 'app-other-0002'];
const USERS = ['zhangsan01', 'lisi', 'wang.wu@example.com', '用户四', 'u'.repeat(64)];
const ORGS = ['10000', '10001', '10002', '研发部', 'o'.repeat(64)];
const ORDERS = ['CS2211181819B4LVS', 'CS1906666666ABCDE', 'CS0000000000FUZZ1'];
const INSTANCE_HINTS = ['inst-fuzz-1', 'inst-fuzz-2', ''];

/** Instance ids the relay gave out (newInstance answers), for the calls that name one. */
const instances: string[] = ['unknown-instance-0001'];
/** The last call answered 000000 on each route, to replay. */
const lastSuccess = new Map<string, { path: string; headers: Record<string, string>; body: Buffer }>();

// Sync times move forward, so the mirror's ordering lets most valid pushes apply; some are old.
let syncClock = Date.now() - 3_600_000;
const syncTime = fc.oneof(
  { weight: 9, arbitrary: fc.constant(null).map(() => formatSyncTime((syncClock += 1))) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 1, max: 10_000_000 }).map((ago) => formatSyncTime(syncClock - ago)),
  },
);

const pick = <T>(list: readonly T[]) => fc.constantFrom(...list);
const text = (max: number) =>
  fc
    .oneof(
      { weight: 4, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }) },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }) },
      { weight: 1, arbitrary: fc.constant('x'.repeat(max)) },
    )
    .filter((s) => s.length <= max);

// Ciphertexts made once: each decryption costs the relay RSA-3072 operations (about 2 ms each).
const plaintexts = ['fuzz-secret-0001', '密钥-fuzz-2', 'x'.repeat(200)];
const secrets = OAEP_VARIANT_IDS.flatMap((variant, i) =>
  (['base64', 'hex'] as const).map((encoding) =>
    encryptClientSecret(plaintexts[i % plaintexts.length]!, SELLER_PUBLIC_KEY, { variant, encoding }),
  ),
);
const clientSecret = fc.oneof(
  { weight: 6, arbitrary: pick(secrets) },
  { weight: 1, arbitrary: fc.constantFrom('', 'not-a-ciphertext', 'A'.repeat(512), 'f'.repeat(768)) },
);

const flagOf = (...values: number[]) => pick(values);
const testFlag = flagOf(0, 1);

const user = fc.record(
  {
    userName: pick(USERS),
    name: text(64),
    orgCode: pick(ORGS),
    role: pick(['user', 'admin', 'ADMIN']),
    enable: pick(['true', 'false', true, false]),
    position: text(64),
    employeeCode: text(64),
    employeeType: pick([1, 2, 3, 4, '2']),
    mobile: pick(['13800000000', '+86 138 0000 0000']),
    email: pick(['a@example.com', '用户@例子.中国']),
    extension: fc.record(
      { entryDate: pick(['2022-11-9', '2026-01-01']), workPlace: text(255), employeeType: pick([1, 4]) },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: ['userName', 'name', 'orgCode', 'role', 'enable'] },
);

const department = fc.record(
  {
    orgCode: pick(ORGS),
    orgName: text(128),
    parentCode: pick(['', ...ORGS, null]),
  },
  { requiredKeys: ['orgCode', 'orgName'] },
);

/** orgInfoList in the encodings the document shows: an array, or a string holding JSON or JSON5. */
const orgInfoList = fc
  .tuple(fc.array(department, { maxLength: 12 }), pick(['array', 'json', 'json5']))
  .map(([list, how]) =>
    how === 'array'
      ? list
      : how === 'json'
        ? JSON.stringify(list)
        : `[${list
            .map(
              (d) =>
                `{${Object.entries(d)
                  .map(([k, v]) => `${k}:${JSON.stringify(v)}`)
                  .join(', ')}}`,
            )
            .join(', ')}]`,
  );

const instanceHint = pick(INSTANCE_HINTS);

const KIT_BODIES: Record<(typeof KIT_INTERFACES)[number], fc.Arbitrary<Fields>> = {
  tenantSync: fc.record({
    instanceId: instanceHint,
    orderId: pick(['', ...ORDERS]),
    tenantId: pick(TENANTS),
    tenantCode: text(64),
    name: text(255),
    domainName: pick([
      'https://idp.example.com',
      'idp.example.cn/',
      'http://127.0.0.1:9',
      'https://x.example.com/base',
    ]),
    flag: flagOf(0, 1, 1, 2),
    testFlag,
    timeStamp: syncTime,
  }),
  applicationSync: fc.record({
    instanceId: instanceHint,
    tenantId: pick(TENANTS),
    appId: pick(APPS),
    clientId: text(64),
    clientSecret,
    flag: flagOf(0, 1, 2),
    testFlag,
    timeStamp: syncTime,
  }),
  authSync: fc.record({
    instanceId: instanceHint,
    tenantId: pick(TENANTS),
    appId: pick(APPS),
    userList: fc.array(user, { minLength: 1, maxLength: 4 }),
    currentSyncTime: syncTime,
    flag: flagOf(0, 1, 1, 2, 3),
    testFlag,
    timeStamp: syncTime,
  }),
  singleOrgSync: fc.record({
    instanceId: instanceHint,
    tenantId: pick(TENANTS),
    orgCode: pick(ORGS),
    orgName: text(128),
    parentCode: pick(['', ...ORGS]),
    flag: flagOf(0, 1, 2),
    testFlag,
    timeStamp: syncTime,
  }),
  allOrgSync: fc.record({
    instanceId: instanceHint,
    tenantId: pick(TENANTS),
    orgInfoList,
    testFlag,
    timeStamp: syncTime,
  }),
};

/** An index into the instances the relay gave out, resolved when the call is made. */
const knownInstance = fc.nat().map((i) => ({ instance: i }));
const basicTestFlag = pick(['0', '1']);
const orderLine = fc
  .tuple(pick(ORDERS), pick(['-000001', '-000002']))
  .map(([o, l]) => [o, `${o}${l}`] as const);
const expireTime = fc
  .tuple(fc.integer({ min: -30, max: 800 }), pick([14, 17] as const))
  .map(([days, digits]) => formatExpireTime(Date.now() + days * 86_400_000, digits));

const BASIC_BODIES: Record<(typeof BASIC_ACTIVITIES)[number], fc.Arbitrary<Fields>> = {
  newInstance: fc
    .record({
      line: orderLine,
      businessId: fc.uuid(),
      productId: pick(['00301-666666-0--0', 'prod-2']),
      expireTime,
      testFlag: basicTestFlag,
    })
    .map(({ line: [orderId, orderLineId], ...f }) => ({
      activity: 'newInstance',
      orderId,
      orderLineId,
      ...f,
    })),
  queryInstance: fc
    .array(knownInstance, { minLength: 1, maxLength: 4 })
    .map((ids) => ({ activity: 'queryInstance', instanceId: ids, testFlag: '0' })),
  refreshInstance: fc
    .record({
      instanceId: knownInstance,
      line: orderLine,
      scene: pick(REFRESH_SCENES),
      expireTime,
      productId: pick(['00301-666666-0--0', 'prod-3']),
      testFlag: basicTestFlag,
    })
    .map(({ line: [orderId, orderLineId], ...f }) => ({
      activity: 'refreshInstance',
      orderId,
      orderLineId,
      ...f,
    })),
  updateInstanceStatus: fc.record({
    activity: fc.constant('updateInstanceStatus'),
    instanceId: knownInstance,
    status: pick(['FREEZE', 'UNFREEZE']),
    testFlag: basicTestFlag,
  }),
  releaseInstance: fc.record({
    activity: fc.constant('releaseInstance'),
    instanceId: knownInstance,
    orderId: pick(ORDERS),
    testFlag: basicTestFlag,
  }),
  upgradeInstance: fc
    .record({
      instanceId: knownInstance,
      line: orderLine,
      productId: pick(['prod-4', 'prod-5']),
      testFlag: basicTestFlag,
    })
    .map(({ line: [orderId, orderLineId], ...f }) => ({
      activity: 'upgradeInstance',
      orderId,
      orderLineId,
      ...f,
    })),
};

/** Instance references become ids of instances the relay gave out (or one it never did). */
function resolveInstances(body: Fields): Fields {
  const id = (v: unknown) =>
    typeof v === 'object' && v !== null && 'instance' in v
      ? instances[(v as { instance: number }).instance % instances.length]!
      : v;
  const out: Fields = {};
  for (const [k, v] of Object.entries(body))
    out[k] = Array.isArray(v) && k === 'instanceId' ? v.map(id).join(',') : id(v);
  return out;
}

// ---- what goes wrong with it ------------------------------------------------------------------

const deep = (depth: number): unknown => {
  let v: unknown = 'bottom';
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { d: v };
  return v;
};

/** Values of every type and size, for fields that expect something else. */
const weird: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    null,
    true,
    false,
    0,
    -1,
    1.5,
    2 ** 53 + 2,
    1e308,
    -0,
    '',
    ' ',
    '0',
    '1',
    'null',
    '[]',
    '{}',
  ),
  fc.constantFrom('x'.repeat(300), '中'.repeat(5000), 'x'.repeat(70_000)),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'binary-ascii', maxLength: 20 }),
  fc.integer({ min: 1, max: 120 }).map(deep),
  fc.jsonValue({ maxDepth: 3 }),
  fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 5 }),
);

/** One change to a body's fields: a field dropped, set to anything, or added; a list item broken. */
const fieldChange = fc.oneof(
  fc.record({ kind: fc.constant('drop' as const), at: fc.nat(), value: fc.constant(undefined) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: weird }),
  fc.record({
    kind: fc.constant('add' as const),
    at: fc.constantFrom(
      'extra',
      '__proto__',
      'constructor',
      'toString',
      '',
      '中文',
      'flag ',
      'Flag',
      'x'.repeat(300),
    ),
    value: weird,
  }),
  fc.record({ kind: fc.constant('item' as const), at: fc.nat(), value: weird }),
);
type FieldChange = typeof fieldChange extends fc.Arbitrary<infer T> ? T : never;

function changeFields(body: Fields, change: FieldChange): Fields {
  const keys = Object.keys(body);
  const out: Fields = { ...body };
  const key = typeof change.at === 'number' ? keys[change.at % keys.length]! : change.at;
  switch (change.kind) {
    case 'drop':
      delete out[key];
      return out;
    case 'set':
    case 'add':
      Object.defineProperty(out, key, {
        value: change.value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
      return out;
    case 'item': {
      const list = Object.entries(out).find(([, v]) => Array.isArray(v) && v.length > 0);
      if (!list) return out;
      const items = [...(list[1] as unknown[])];
      const i = (change.at as number) % items.length;
      const item = items[i];
      if (
        typeof item === 'object' &&
        item !== null &&
        typeof change.value === 'object' &&
        change.value !== null
      ) {
        items[i] = change.value;
      } else if (typeof item === 'object' && item !== null) {
        const fields = Object.keys(item);
        items[i] = { ...item, [fields[(change.at as number) % fields.length]!]: change.value };
      } else items[i] = change.value;
      out[list[0]] = items;
      return out;
    }
  }
}

/** How the body's JSON is written: compact, spaced, with a member repeated, or a number respelled. */
const writing = fc.record({
  pretty: fc.boolean(),
  repeat: fc.option(fc.tuple(fc.nat(), weird), { nil: undefined, freq: 8 }),
  bom: fc.nat(49).map((n) => n === 0),
});

function write(body: Fields, how: typeof writing extends fc.Arbitrary<infer T> ? T : never): string {
  let text = JSON.stringify(body, null, how.pretty ? 2 : undefined);
  if (how.repeat && text.length > 2) {
    const keys = Object.keys(body);
    const [at, value] = how.repeat;
    const key = keys.length ? keys[at % keys.length]! : 'x';
    const member = `${JSON.stringify(key)}:${JSON.stringify(value) ?? 'null'}`;
    // the repeated member first (its value is overridden) or last (its value wins)
    text = at % 2 ? `{${member},${text.slice(1)}` : `${text.slice(0, text.lastIndexOf('}'))},${member}}`;
  }
  return text;
}

/** Bytes that are not a JSON object at all (signed as if they were `{}`). */
const notAnObject = fc.constantFrom(
  Buffer.from(''),
  Buffer.from('null'),
  Buffer.from('[]'),
  Buffer.from('"text"'),
  Buffer.from('{'),
  Buffer.from('{"a":1} x'),
  Buffer.from("{'a':1}"),
  Buffer.from('{"a":01}'),
  Buffer.from('{"a":NaN}'),
  Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), // invalid UTF-8
  Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d]), // UTF-8 of a lone surrogate
  Buffer.from(`{"a":${'['.repeat(1001)}${']'.repeat(1001)}}`),
  Buffer.from(`{"a":${'['.repeat(100_000)}`),
);

/** How the call is signed and sent: mostly well, every way of doing it wrong sometimes. */
const SIGNINGS = [
  'good',
  'lower-case',
  'unsigned',
  'no-sign',
  'no-nonce',
  'no-timestamp',
  'wrong-key',
  'stale',
  'future',
  'seconds',
  'leading-zero',
  'bad-nonce',
  'tampered',
  'replay-other-body',
  'replay-identical',
  'oversized',
  'not-an-object',
  'content-type',
] as const;
type Signing = (typeof SIGNINGS)[number];
const signing = fc.oneof(
  { weight: 120, arbitrary: fc.constant('good' as Signing) },
  { weight: 1, arbitrary: fc.constant('oversized' as Signing) },
  ...SIGNINGS.filter((s) => s !== 'good' && s !== 'oversized').map((s) => ({
    weight: 4,
    arbitrary: fc.constant(s as Signing),
  })),
);
/** Signings that must never be answered 000000 (`tampered`: unless the change means the same). */
const REFUSED: ReadonlySet<Signing> = new Set([
  'unsigned',
  'no-sign',
  'no-nonce',
  'no-timestamp',
  'wrong-key',
  'stale',
  'future',
  'leading-zero',
  'bad-nonce',
  'tampered',
  'replay-other-body',
  'oversized',
  'not-an-object',
  'content-type',
]);

const call = (bodies: fc.Arbitrary<Fields>) =>
  fc.record({
    body: bodies,
    changes: fc.oneof(
      { weight: 2, arbitrary: fc.constant([] as FieldChange[]) },
      { weight: 3, arbitrary: fc.array(fieldChange, { minLength: 1, maxLength: 3 }) },
    ),
    writing,
    signing,
    contentType: fc.constantFrom('application/json; charset=utf-8', 'APPLICATION/JSON', 'application/json'),
    badContentType: fc.constantFrom(
      'text/plain',
      'application/x-www-form-urlencoded',
      'application/jsonx',
      '',
    ),
    badNonce: fc.constantFrom('', ' ', 'a b', 'n'.repeat(129), 'caf\u00e9', '\t'),
    junk: notAnObject,
    flip: fc.record({ index: fc.nat(), flip: fc.integer({ min: 1, max: 255 }) }),
  });
type Call = typeof call extends (b: never) => fc.Arbitrary<infer T> ? T : never;

interface Sent {
  path: string;
  headers: Record<string, string>;
  body: Buffer;
  /** the marketplace never signed this: it must not be answered 000000 */
  mustRefuse: boolean;
}

/** Builds the request of `c` for `route`: kit calls sign in headers, basic calls in the query. */
function build(route: Route, c: Call): Sent {
  let fields = route.kind === 'basic' ? resolveInstances(c.body) : c.body;
  for (const change of c.changes) fields = changeFields(fields, change);
  const text = write(fields, c.writing);
  let bytes: Buffer = Buffer.from(c.writing.bom ? `\ufeff${text}` : text, 'utf8');
  let signedText = text;
  if (c.signing === 'not-an-object') {
    bytes = c.junk;
    signedText = '{}';
  }
  if (c.signing === 'oversized') {
    const limit = route.kind === 'kit' ? KIT_LIMIT : BASIC_LIMIT;
    signedText = JSON.stringify({ ...fields, padding: 'p'.repeat(limit) });
    bytes = Buffer.from(signedText);
  }
  const key = route.kind === 'kit' ? KIT_KEY : BASIC_KEY;
  const signKey = c.signing === 'wrong-key' ? (route.kind === 'kit' ? BASIC_KEY : KIT_KEY) : key;
  const now = Date.now();
  let timestamp = String(now);
  if (c.signing === 'stale') timestamp = String(now - 61_000);
  if (c.signing === 'future') timestamp = String(now + 30_000);
  if (c.signing === 'seconds') timestamp = String(Math.floor(now / 1000));
  if (c.signing === 'leading-zero') timestamp = `0${now}`;
  let nonce = c.signing === 'bad-nonce' ? c.badNonce : newNonce();
  const previous = lastSuccess.get(route.name);
  if (c.signing === 'replay-other-body' && previous)
    nonce =
      route.kind === 'kit'
        ? previous.headers['x-nonce']!
        : new URLSearchParams(previous.path.split('?')[1]).get('nonce')!;
  let payload = '{}'; // an oversized body is refused unread: not worth signing
  if (c.signing !== 'oversized')
    try {
      payload = canonicalPayload(signedText);
    } catch {
      // nothing the marketplace would sign (nesting beyond Jackson's limit)
    }
  const sign = (route.kind === 'kit' ? kitSign : basicSign)(signKey, nonce, timestamp, payload);
  let mustRefuse = REFUSED.has(c.signing) || (c.signing === 'seconds' && route.kind === 'kit');
  if (c.signing === 'replay-other-body') mustRefuse = previous !== undefined;
  if (c.signing === 'tampered') {
    bytes = flipByte(bytes, c.flip);
    mustRefuse = !signsTheSame(bytes, payload);
  }
  const sent: Sent = { path: route.path, headers: {}, body: bytes, mustRefuse };
  const contentType = c.signing === 'content-type' ? c.badContentType : c.contentType;
  if (contentType) sent.headers['Content-Type'] = contentType;
  const creds: [string, string][] = [
    ['sign', c.signing === 'lower-case' ? sign.toLowerCase() : sign],
    ['timestamp', timestamp],
    ['nonce', nonce],
  ];
  const present = creds.filter(([name]) => c.signing !== 'unsigned' && c.signing !== `no-${name}`);
  if (route.kind === 'kit') for (const [name, value] of present) sent.headers[`x-${name}`] = value;
  else {
    const query = new URLSearchParams(
      present.map(([name, value]): [string, string] => [name === 'sign' ? 'signature' : name, value]),
    );
    sent.path = `${route.path}${present.length ? `?${query}` : ''}`;
  }
  if (c.signing === 'replay-identical' && previous) return { ...previous, mustRefuse: false };
  return sent;
}

function flipByte(bytes: Buffer, change: { index: number; flip: number }): Buffer {
  const out = Buffer.from(bytes);
  if (out.length === 0) return Buffer.from('{');
  const i = change.index % out.length;
  out[i] = out[i]! ^ change.flip;
  return out;
}

// ---- the routes and what every answer must be ---------------------------------------------------

interface Route {
  name: string;
  kind: 'kit' | 'basic';
  path: string;
  bodies: fc.Arbitrary<Fields>;
}

const kitRoutes: Route[] = KIT_INTERFACES.map((iface) => ({
  name: iface,
  kind: 'kit',
  path: `${BASE}/produceAPI/v2/${iface}`,
  bodies: KIT_BODIES[iface],
}));
// One route for the basic interfaces: the activity is in the body, every one of them fuzzed.
const basicRoute: Route = {
  name: 'basic',
  kind: 'basic',
  path: BASE,
  bodies: fc.oneof(...BASIC_ACTIVITIES.map((a) => BASIC_BODIES[a])),
};

const KIT_CODES = ['000000', '000001', '000002'];
const BASIC_CODES = [...KIT_CODES, '000003'];

interface Tally {
  codes: Record<string, number>;
  [signing: string]: Record<string, number>;
}

/**
 * What is wrong with one answer, as sentences (checked by hand, not with one `expect` each: the
 * fuzzing makes tens of thousands of calls), and its resultCode.
 */
function judge(route: Route, sent: Sent, answer: Answer): { code: string; problems: string[] } {
  const problems: string[] = [];
  if (answer.status !== 200) problems.push(`HTTP ${answer.status}`);
  if (!/^application\/json/.test(answer.headers['content-type'] ?? ''))
    problems.push(`Content-Type ${answer.headers['content-type']}`);
  const key = route.kind === 'kit' ? KIT_KEY : BASIC_KEY;
  if (!checkBodySign(answer.headers['body-sign'] as string | undefined, key, answer.bytes))
    problems.push(`Body-Sign ${answer.headers['body-sign']} does not sign the answer`);
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(answer.bytes.toString('utf8')) as Record<string, unknown>;
  } catch {
    problems.push(`not JSON: ${answer.bytes.subarray(0, 200).toString('utf8')}`);
    return { code: '', problems };
  }
  const { resultCode, resultMsg, ...extras } = parsed;
  const code = String(resultCode);
  if (!(route.kind === 'kit' ? KIT_CODES : BASIC_CODES).includes(code)) problems.push(`resultCode ${code}`);
  // resultMsg: String(255) in the document, and a sentence
  if (typeof resultMsg !== 'string' || resultMsg.trim() === '' || resultMsg.length > 255)
    problems.push(`resultMsg ${JSON.stringify(resultMsg)}`);
  // only the fields the interface defines (§7.4)
  let allowed: string[] = [];
  if (route.kind === 'basic' && code === '000000') {
    const activity = (JSON.parse(sent.body.toString('utf8').replace(/^\ufeff/, '')) as Fields).activity;
    if (activity === 'newInstance') {
      allowed = ['instanceId'];
      if (typeof extras.instanceId !== 'string') problems.push('newInstance answered without an instanceId');
    } else if (activity === 'queryInstance') {
      allowed = ['info'];
      if (!Array.isArray(extras.info)) problems.push('queryInstance answered without info');
    }
  }
  const extra = Object.keys(extras).filter((k) => !allowed.includes(k));
  if (extra.length) problems.push(`fields beyond the interface: ${extra.join(', ')}`);
  return { code, problems };
}

const nonReplayKeys = () => store.keys().filter((k) => !REPLAY_KEY.test(k));

async function fuzz(route: Route): Promise<Tally> {
  const tally: Tally = { codes: {} };
  let n = 0;
  await fc.assert(
    fc.asyncProperty(call(route.bodies), async (c) => {
      const sent = build(route, c);
      // Every call: no write reached data unless it succeeded. One call in fifty: the whole
      // store compared, before and after, as well.
      const replayedIdentical = c.signing === 'replay-identical' && lastSuccess.has(route.name);
      const full = n++ % 50 === 0 || replayedIdentical;
      const before = full ? await snapshot(store, nonReplayKeys()) : undefined;
      const writes = store.writes;
      const answer = await post(sent.path, sent.headers, sent.body);
      const { code, problems } = judge(route, sent, answer);
      if (sent.mustRefuse && code === '000000')
        problems.push(`a call signed "${c.signing}" was answered 000000`);
      if (code !== '000000' && store.writes !== writes)
        problems.push(`answered ${code} but wrote ${store.writes - writes} time(s) to the store`);
      // An identical replay of an applied call, answered or refused, changes nothing either.
      if (before && (code !== '000000' || replayedIdentical)) {
        const after = await snapshot(store, nonReplayKeys());
        if (JSON.stringify(after) !== JSON.stringify(before))
          problems.push(`answered ${code} (${c.signing}) but the store changed`);
      }
      if (logged.length) problems.push(`logged: ${logged.splice(0).join('\n')}`);
      if (problems.length)
        throw new Error(
          `${problems.join('; ')}\n  sent: ${sent.path} ${sent.body.subarray(0, 500).toString('utf8')}` +
            `\n  answer: ${answer.bytes.subarray(0, 500).toString('utf8')}`,
        );
      tally.codes[code] = (tally.codes[code] ?? 0) + 1;
      (tally[c.signing] ??= {})[code] = (tally[c.signing]![code] ?? 0) + 1;
      if (code === '000000' && !replayedIdentical) {
        lastSuccess.set(route.name, sent);
        const id = (JSON.parse(answer.bytes.toString('utf8')) as Fields).instanceId;
        if (typeof id === 'string' && !instances.includes(id)) instances.push(id);
      }
    }),
    { numRuns: RUNS },
  );
  return tally;
}

const timeout = Math.max(120_000, RUNS * 10);

describe(`route fuzzing, ${RUNS} bodies per route`, () => {
  it.each([...kitRoutes, basicRoute].map((r) => [r.name, r] as const))(
    '%s: every answer is a signed 200 with a documented code, and only 000000 changes the store',
    async (_name, route) => {
      const started = performance.now();
      const tally = await fuzz(route);
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      console.warn(
        `fuzz ${route.name}: ${RUNS} bodies in ${seconds} s, resultCodes ${JSON.stringify(tally.codes)}`,
      );
      // The mix reaches the mirror: a good share of calls succeeds, and refusals of each kind occur.
      expect((tally.codes['000000'] ?? 0) / RUNS).toBeGreaterThan(0.05);
      expect((tally.codes['000002'] ?? 0) / RUNS).toBeGreaterThan(0.05);
      expect((tally.codes['000001'] ?? 0) / RUNS).toBeGreaterThan(0.01);
    },
    timeout,
  );
});
