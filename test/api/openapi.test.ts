// The seller API's contract (src/api/contract.ts) against the relay's real answers, and the OpenAPI
// document generated from it: served without a key, valid, and naming exactly the routes served.
// Every answer below is parsed with the contract's schema for its operation and status, and
// validated against the served document too; an undeclared status fails, and the last test
// fails if a documented status of some operation never happened.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Ajv2020Import from 'ajv/dist/2020.js';
import addFormatsImport from 'ajv-formats';
import type request from 'supertest';
import { z } from 'zod';
import { operations, unknownRoute, type OperationDef } from '../../src/api/contract.js';
import { Handoff } from '../../src/sso/handoff.js';
import { MemoryStore } from '../../src/store/memory.js';
import { StoreUnavailableError, type Store } from '../../src/store/store.js';
import { API_KEY, startRelay, type TestRelay } from '../support/relay.js';
import { startSignInWorld, type SignInWorld } from '../support/world.js';

// ajv and ajv-formats are CommonJS with `exports.default`: take whichever form the loader gives.
type AjvClass = typeof Ajv2020Import.default;
type AddFormats = typeof addFormatsImport.default;
const Ajv2020 =
  (Ajv2020Import as unknown as { default?: AjvClass }).default ?? (Ajv2020Import as unknown as AjvClass);
const addFormats =
  (addFormatsImport as unknown as { default?: AddFormats }).default ??
  (addFormatsImport as unknown as AddFormats);

const METHODS = ['get', 'post', 'delete'] as const;
type Method = (typeof METHODS)[number];
interface Doc {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Partial<Record<Method, { security?: unknown[]; responses: Record<string, Ref> }>>>;
}
type Ref = { $ref?: string };

/** The contract's operations, by `<method> <path below /api/v1>`. */
const contract = new Map<string, OperationDef>(
  Object.values(operations).map((op: OperationDef) => [`${op.method} ${op.path}`, op]),
);
const ROUTES = [...contract.keys()].sort();

const DOC_ID = 'https://relay.invalid/api/v1/openapi.json';

let doc: Doc;
let ajv: InstanceType<AjvClass>;
/** `<method> <path> <status>` of every answer checked, to show every documented status happens. */
const seen = new Set<string>();

const pointer = (parts: string[]) =>
  parts.map((p) => `/${encodeURIComponent(p.replace(/~/g, '~0').replace(/\//g, '~1'))}`).join('');

function validator(parts: string[]) {
  const validate = ajv.getSchema(`${DOC_ID}#${pointer(parts)}`);
  if (!validate) throw new Error(`no schema at #${pointer(parts)}`);
  return validate;
}

/** The document's schema for the body of this answer. */
function documentedBody(method: Method, path: string, status: number) {
  const ref = doc.paths[path]?.[method]?.responses[status]?.$ref;
  const at = ref
    ? ['components', 'responses', ref.replace('#/components/responses/', '')]
    : ['paths', path, method, 'responses', String(status)];
  return validator([...at, 'content', 'application/json', 'schema']);
}

type Answer = Pick<request.Response, 'status' | 'body' | 'text' | 'headers'>;

/** Throws unless the contract declares `res.status` for this operation and the answer is as it says. */
function check(method: Method, path: string, res: Answer): void {
  const name = `${method.toUpperCase()} ${path} ${res.status}`;
  const op = contract.get(`${method} ${path}`);
  if (!op) throw new Error(`${method.toUpperCase()} ${path} is not in the contract`);
  const reply = op.responses[res.status];
  if (!reply) throw new Error(`${name}: a status the contract does not declare: ${res.text.slice(0, 300)}`);
  for (const [header, schema] of Object.entries(reply.headers?.shape ?? {}))
    if (!schema.safeParse(res.headers[header.toLowerCase()]).success)
      throw new Error(`${name}: header ${header} is ${res.headers[header.toLowerCase()]}`);
  if (reply.schema instanceof z.ZodUndefined) {
    if (res.text) throw new Error(`${name} declares no body but sent one`);
  } else {
    expect(res.headers['content-type']).toMatch(/^application\/json\b/);
    const parsed = reply.schema.safeParse(res.body);
    if (!parsed.success)
      throw new Error(
        `${name}: the body does not match the contract:\n${z.prettifyError(parsed.error)}\n${JSON.stringify(res.body)}`,
      );
    const validate = documentedBody(method, path, res.status);
    if (!validate(res.body))
      throw new Error(`${name}: the body does not match the document: ${ajv.errorsText(validate.errors)}`);
  }
  seen.add(`${method} ${path} ${res.status}`);
}

/** A concrete path for a documented template (for calls whose parameters do not matter). */
const concrete = (path: string) =>
  path
    .replace('{tenantId}', 'some-tenant')
    .replace('{userName}', 'some-user')
    .replace('{instanceId}', 'some-instance');

/** The routes an Express app serves below `mount`, found by walking its router. */
function servedRoutes(app: unknown, mount: string): string[] {
  interface Layer {
    match: (path: string) => unknown;
    route?: { path: string; methods: Record<string, boolean> };
    handle: { stack?: Layer[] };
  }
  const top = (app as { router: { stack: Layer[] } }).router.stack;
  const mounted = top.filter((l) => l.handle.stack && l.match(`${mount}/x`) && !l.match('/x'));
  const out: string[] = [];
  const walk = (stack: Layer[]) => {
    for (const layer of stack) {
      if (layer.route)
        for (const [method, on] of Object.entries(layer.route.methods))
          if (on && method !== '_all') out.push(`${method} ${layer.route.path.replace(/:(\w+)/g, '{$1}')}`);
      if (layer.handle.stack) walk(layer.handle.stack);
    }
  };
  for (const layer of mounted) walk(layer.handle.stack!);
  return out.sort();
}

/** JSON pointers (as parts) of every Schema Object in the document, and of every `$ref` in it. */
function walk(node: unknown, at: string[], schemas: string[][], refs: string[]): void {
  if (!node || typeof node !== 'object') return;
  for (const [key, value] of Object.entries(node)) {
    if (key === '$ref' && typeof value === 'string') refs.push(value);
    const inSchemas = at.length === 2 && at[0] === 'components' && at[1] === 'schemas';
    if (key === 'schema' || inSchemas) {
      schemas.push([...at, key]);
      walk(value, [...at, key], [], refs); // refs only: a schema's own members are not OpenAPI's
    } else walk(value, [...at, key], schemas, refs);
  }
}

const resolve = (ref: string) =>
  ref
    .replace(/^#\//, '')
    .split('/')
    .map((p) => decodeURIComponent(p).replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], doc);

describe('the seller API and its OpenAPI document', () => {
  let w: SignInWorld;
  const idp = () => w.world.idp(w.acme.tenantCode);
  const call = (method: Method, path: string, headers: Record<string, string> = {}) => {
    const req = w.relay.http[method](`/api/v1${path}`).set('Authorization', `Bearer ${API_KEY}`);
    return req.set(headers);
  };

  beforeAll(async () => {
    // a short identity-server timeout, so a slow refresh becomes 502 quickly
    w = await startSignInWorld({ env: { IDP_TIMEOUT_MS: '1000' } });
  });
  afterAll(() => w.close());

  it('is served without an API key as OpenAPI 3.1 JSON whose every schema compiles and every $ref resolves', async () => {
    const res = await w.relay.http.get('/api/v1/openapi.json');
    expect(res.status).toBe(200);
    doc = res.body as Doc;
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });

    ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
    addFormats(ajv);
    // The document's own members are not JSON Schema keywords: known, but without meaning.
    ajv.addVocabulary([
      'openapi',
      'jsonSchemaDialect',
      'info',
      'servers',
      'security',
      'tags',
      'paths',
      'webhooks',
      'components',
    ]);
    ajv.addSchema({ ...doc, $id: DOC_ID });
    const schemas: string[][] = [];
    const refs: string[] = [];
    walk(doc, [], schemas, refs);
    // strict mode: every schema compiles, with no unknown keyword and no typo
    for (const at of schemas) validator(at);
    expect(schemas.length).toBeGreaterThan(50);
    for (const ref of new Set(refs)) expect([ref, resolve(ref)]).toEqual([ref, expect.anything()]);

    check('get', '/openapi.json', res);
    // the change feed's webhook: its body is the feed's Event, its signature headers documented
    const hook = (
      doc as unknown as {
        webhooks: Record<
          string,
          {
            post: {
              requestBody: { content: Record<string, { schema: unknown }> };
              parameters: { name: string }[];
            };
          }
        >;
      }
    ).webhooks.relayEvent!.post;
    expect(hook.requestBody.content['application/json']?.schema).toEqual({
      $ref: '#/components/schemas/Event',
    });
    expect(hook.parameters.map((p: { name: string }) => p.name)).toEqual([
      'webhook-id',
      'webhook-timestamp',
      'webhook-signature',
    ]);
  });

  it('documents exactly the routes the app serves under /api/v1, all but the document behind the key', () => {
    const documented = Object.entries(doc.paths)
      .flatMap(([path, item]) => METHODS.filter((m) => item[m]).map((m) => `${m} ${path}`))
      .sort();
    expect(documented).toEqual(ROUTES);
    expect(servedRoutes(w.relay.relay.app, '/api/v1')).toEqual(ROUTES);
    for (const key of ROUTES) {
      const [method, path] = key.split(' ') as [Method, string];
      expect(doc.paths[path]![method]!.security).toEqual(key === 'get /openapi.json' ? [] : undefined);
    }
  });

  it('checks for real: an undeclared status, or a body beside the contract, fails', () => {
    const answer = (status: number, body: object) => ({
      status,
      body,
      text: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
    });
    expect(() => check('get', '/session', answer(418, {}))).toThrow(/does not declare/);
    expect(() => check('get', '/session', answer(401, { error: 'reauthenticate', message: 'x' }))).toThrow(
      /does not match the contract/,
    );
    expect(() => check('post', '/authorize', answer(200, { allowed: true, reason: 'role_missing' }))).toThrow(
      /does not match the contract/,
    );
    expect(() =>
      check('get', '/tenants/{tenantId}/departments', answer(200, { departments: [], more: 1 })),
    ).toThrow(/does not match the contract/);
    // none of these counts as seen
    expect([...seen]).toEqual(['get /openapi.json 200']);
  });

  it('GET /session: 200 by Cookie and by X-Session-Id, 401 without a session', async () => {
    const { browser, sid } = await w.signIn('alice');
    const byCookie = await call('get', '/session', { Cookie: browser.cookieHeader(w.relay.url) });
    check('get', '/session', byCookie);
    expect(byCookie.status).toBe(200);
    expect(byCookie.body.user).toMatchObject({ userName: 'alice', email: 'alice@acme.example' });
    const byId = await call('get', '/session', { 'X-Session-Id': sid });
    check('get', '/session', byId);
    expect(byId.status).toBe(200);
    const anonymous: Record<string, string>[] = [
      {},
      { 'X-Session-Id': `${sid}x` },
      { Cookie: 'relay.sid=s%3Aforged.sig' },
    ];
    for (const headers of anonymous) {
      const none = await call('get', '/session', headers);
      check('get', '/session', none);
      expect(none.status).toBe(401);
      expect(none.body.error).toBe('no_session');
    }
  });

  it('POST /session/token: 200, 400, 401 no_session and reauthenticate, 413, 415, 502', async () => {
    const { sid } = await w.signIn('alice');
    const token = (body: unknown, headers: Record<string, string> = { 'X-Session-Id': sid }) =>
      call('post', '/session/token', headers).send(body as object);
    const statuses: number[] = [];
    const record = (res: Answer) => {
      check('post', '/session/token', res);
      statuses.push(res.status);
      return res;
    };
    record(await call('post', '/session/token', { 'X-Session-Id': sid })); // no body at all
    record(await token({}));
    expect(record(await token({ forceRefresh: true })).body.accessToken).toEqual(expect.any(String));
    expect(record(await token({ forceRefresh: 'yes' })).body.error).toBe('invalid_request');
    expect(record(await token({ forceRefresh: true, other: 1 })).body.error).toBe('invalid_request');
    record(
      await call('post', '/session/token', { 'X-Session-Id': sid, 'Content-Type': 'application/json' }).send(
        '{"forceRefresh":',
      ),
    );
    record(await token({ forceRefresh: false, pad: 'x'.repeat(2048) }));
    record(
      await call('post', '/session/token', {
        'X-Session-Id': sid,
        'Content-Type': 'application/json; charset=latin1',
      }).send('{}'),
    );
    expect(record(await token({}, {})).body.error).toBe('no_session');
    expect(statuses).toEqual([200, 200, 200, 400, 400, 400, 413, 415, 401]);

    const dave = await w.signIn('dave');
    expect(w.sandbox.identity.revokeRefreshTokens('dave')).toBeGreaterThan(0);
    const refused = record(await token({ forceRefresh: true }, { 'X-Session-Id': dave.sid }));
    expect([refused.status, refused.body.error]).toEqual([401, 'reauthenticate']);

    const bob = await w.signIn('bob');
    idp().refreshDelayMs = 1500;
    try {
      const slow = record(await token({ forceRefresh: true }, { 'X-Session-Id': bob.sid }));
      expect([slow.status, slow.body.error]).toEqual([502, 'idp_unavailable']);
    } finally {
      idp().refreshDelayMs = 0;
    }
  });

  it('POST /session/assertion: 200 with an ES256 JWT, 401 without a session', async () => {
    const { sid } = await w.signIn('bob');
    const res = await call('post', '/session/assertion', { 'X-Session-Id': sid }).send({});
    check('post', '/session/assertion', res);
    expect(res.status).toBe(200);
    const header = JSON.parse(Buffer.from(res.body.assertion.split('.')[0], 'base64url').toString());
    expect(header.alg).toBe('ES256');
    const none = await call('post', '/session/assertion').send({});
    check('post', '/session/assertion', none);
    expect([none.status, none.body.error]).toEqual([401, 'no_session']);
  });

  it('POST /session/ticket: 200 once, then 400 invalid_ticket; 400 invalid_request, 401, 413, 415', async () => {
    const { sid } = await w.signIn('alice');
    const handoff = new Handoff(w.relay.store, w.relay.relay.keys);
    const ticket = await handoff.issue(sid);
    const redeem = (body: unknown) => call('post', '/session/ticket').send(body as object);

    const first = await redeem({ ticket });
    check('post', '/session/ticket', first);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ sessionId: sid, session: { user: { userName: 'alice' } } });
    const again = await redeem({ ticket });
    check('post', '/session/ticket', again);
    expect([again.status, again.body.error]).toEqual([400, 'invalid_ticket']);
    const unknown = await redeem({ ticket: 'x'.repeat(43) });
    check('post', '/session/ticket', unknown);
    expect(unknown.body.error).toBe('invalid_ticket');
    for (const body of [{}, { ticket: '' }, { ticket: 'a', more: 1 }]) {
      const bad = await redeem(body);
      check('post', '/session/ticket', bad);
      expect(bad.status).toBe(400);
      expect(bad.body).toEqual({
        error: 'invalid_request',
        message: 'The body must be {"ticket": "<the ticket from the callback>"}.',
      });
    }
    const large = await redeem({ ticket: 'x'.repeat(2048) });
    check('post', '/session/ticket', large);
    expect(large.status).toBe(413);
    const latin1 = await call('post', '/session/ticket', {
      'Content-Type': 'application/json; charset=latin1',
    }).send(JSON.stringify({ ticket }));
    check('post', '/session/ticket', latin1);
    expect(latin1.status).toBe(415);

    // a good ticket for a session that has ended since
    const ended = await w.signIn('bob');
    const late = await handoff.issue(ended.sid);
    check('delete', '/session', await call('delete', '/session', { 'X-Session-Id': ended.sid }));
    const gone = await redeem({ ticket: late });
    check('post', '/session/ticket', gone);
    expect([gone.status, gone.body.error]).toEqual([401, 'no_session']);
  });

  it('DELETE /session: 204, also when there is no session', async () => {
    const { browser, sid } = await w.signIn('alice');
    const out = await call('delete', '/session', { Cookie: browser.cookieHeader(w.relay.url) });
    check('delete', '/session', out);
    expect(out.status).toBe(204);
    const after = await call('get', '/session', { 'X-Session-Id': sid });
    check('get', '/session', after);
    expect(after.status).toBe(401);
    const again = await call('delete', '/session', { 'X-Session-Id': sid });
    check('delete', '/session', again);
    expect(again.status).toBe(204);
    const none = await call('delete', '/session');
    check('delete', '/session', none);
    expect(none.status).toBe(204);
  });

  it('POST /authorize: 200 allowed and denied for every reason, 400, 413, 415', async () => {
    const tenantId = w.acme.tenantId;
    const cases: [object, boolean, string][] = [
      [{ tenantId, userName: 'alice' }, true, 'ok'],
      [{ tenantId, userName: 'alice', role: 'admin', appId: w.relay.config.appId }, true, 'ok'],
      [{ tenantId, userName: 'bob', role: 'admin' }, false, 'role_missing'],
      [{ tenantId, userName: 'carol' }, false, 'user_disabled'],
      [{ tenantId, userName: 'nobody' }, false, 'user_unknown'],
      // no credential for that app in the tenant (applicationSync): checked before the user
      [{ tenantId, userName: 'alice', appId: 'another-app' }, false, 'app_unknown'],
      [{ tenantId: 'no-such-tenant', userName: 'alice' }, false, 'tenant_unknown'],
    ];
    for (const [body, allowed, reason] of cases) {
      const res = await call('post', '/authorize').send(body);
      check('post', '/authorize', res);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ allowed, reason });
    }
    // A blocked tenant, with a known user and an unknown one; then open again.
    for (const [kind, reason] of [
      ['freeze', 'instance_frozen'],
      ['release', 'instance_released'],
    ] as const) {
      const gated = w.world.addTenant({ name: `gated ${kind}` });
      w.world.addUser({
        tenantId: gated.tenantId,
        userName: `${kind}-user`,
        name: `${kind} user`,
        password: 'x',
        apps: new Set([w.relay.config.appId]),
      });
      await w.world.provision(w.relay.config.appId, [gated.tenantId]);
      await w.world.lifecycle(w.relay.config.appId, gated.tenantId, { kind });
      for (const [userName, withUser] of [
        [`${kind}-user`, true],
        ['nobody', false],
      ] as const) {
        const res = await call('post', '/authorize').send({ tenantId: gated.tenantId, userName });
        check('post', '/authorize', res);
        expect(res.body).toMatchObject({ allowed: false, reason });
        expect('user' in res.body).toBe(withUser);
      }
    }
    // A tenant whose app credential was deleted (applicationSync flag 0), its user still mirrored.
    const appless = w.world.addTenant({ name: 'app deleted' });
    w.world.addUser({
      tenantId: appless.tenantId,
      userName: 'appless-user',
      name: 'appless user',
      password: 'x',
      apps: new Set([w.relay.config.appId]),
    });
    await w.world.provision(w.relay.config.appId, [appless.tenantId]);
    const deleted = await w.world.pusher(w.relay.config.appId).applicationSync({
      instanceId: appless.instanceId,
      tenantId: appless.tenantId,
      appId: w.relay.config.appId,
      flag: 0,
    });
    expect(deleted.resultCode).toBe('000000');
    for (const [userName, withUser] of [
      ['appless-user', true],
      ['nobody', false],
    ] as const) {
      const res = await call('post', '/authorize').send({ tenantId: appless.tenantId, userName });
      check('post', '/authorize', res);
      expect(res.body).toMatchObject({ allowed: false, reason: 'app_unknown' });
      expect('user' in res.body).toBe(withUser);
    }
    for (const [body, message] of [
      [{ tenantId }, 'userName: Invalid input: expected string, received undefined'],
      [
        { tenantId, userName: 'alice', role: 'owner' },
        'role: Invalid option: expected one of "user"|"admin"',
      ],
      [{ tenantId, userName: 5 }, 'userName: Invalid input: expected string, received number'],
    ] as const) {
      const res = await call('post', '/authorize').send(body);
      check('post', '/authorize', res);
      expect([res.status, res.body]).toEqual([400, { error: 'invalid_request', message }]);
    }
    const broken = await call('post', '/authorize', { 'Content-Type': 'application/json' }).send('{"t');
    check('post', '/authorize', broken);
    expect(broken.status).toBe(400);
    const large = await call('post', '/authorize').send({
      tenantId,
      userName: 'alice',
      pad: 'x'.repeat(17_000),
    });
    check('post', '/authorize', large);
    expect(large.status).toBe(413);
    const latin1 = await call('post', '/authorize', {
      'Content-Type': 'application/json; charset=latin1',
    }).send(JSON.stringify({ tenantId, userName: 'alice' }));
    check('post', '/authorize', latin1);
    expect(latin1.status).toBe(415);
  });

  it('GET /tenants/{tenantId}: 200, 404, 400', async () => {
    const path = '/tenants/{tenantId}';
    const ok = await call('get', `/tenants/${w.acme.tenantId}`);
    check('get', path, ok);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({
      tenantId: w.acme.tenantId,
      tenantCode: w.acme.tenantCode,
      instanceIds: [w.acme.instanceId],
      instances: [{ instanceId: w.acme.instanceId, status: 'active', productId: w.acme.productId }],
    });
    const unknown = await call('get', '/tenants/no-such-tenant');
    check('get', path, unknown);
    expect(unknown.status).toBe(404);
    for (const bad of ['x'.repeat(65), '%E0%A4%A']) {
      const res = await call('get', `/tenants/${bad}`);
      check('get', path, res);
      expect([res.status, res.body.error]).toEqual([400, 'invalid_request']);
    }
  });

  it('GET /instances/{instanceId}: 200, 404, 400', async () => {
    const path = '/instances/{instanceId}';
    const ok = await call('get', `/instances/${w.acme.instanceId}`);
    check('get', path, ok);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({
      instanceId: w.acme.instanceId,
      status: 'active',
      tenantIds: [w.acme.tenantId],
    });
    const unknown = await call('get', '/instances/no-such-instance');
    check('get', path, unknown);
    expect(unknown.status).toBe(404);
    const bad = await call('get', `/instances/${'x'.repeat(65)}`);
    check('get', path, bad);
    expect([bad.status, bad.body]).toEqual([
      400,
      { error: 'invalid_request', message: 'Too big: expected string to have <=64 characters' },
    ]);
  });

  it('GET /tenants/{tenantId}/users/{userName}: 200 (enabled or not), 404, 400', async () => {
    const path = '/tenants/{tenantId}/users/{userName}';
    for (const userName of ['alice', 'bob', 'carol', 'dave']) {
      const res = await call('get', `/tenants/${w.acme.tenantId}/users/${userName}`);
      check('get', path, res);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ userName, tenantId: w.acme.tenantId });
    }
    for (const [tenantId, userName] of [
      [w.acme.tenantId, 'nobody'],
      ['no-such-tenant', 'alice'],
    ]) {
      const res = await call('get', `/tenants/${tenantId}/users/${userName}`);
      check('get', path, res);
      expect(res.status).toBe(404);
    }
    const long = await call('get', `/tenants/${w.acme.tenantId}/users/${'u'.repeat(65)}`);
    check('get', path, long);
    expect(long.status).toBe(400);
  });

  it('GET /tenants/{tenantId}/departments: 200 (all, one level, top), 404, 400', async () => {
    const path = '/tenants/{tenantId}/departments';
    const base = `/tenants/${w.acme.tenantId}/departments`;
    const expected: [string, string[]][] = [
      ['', ['hq', 'rd']],
      ['?parent=hq', ['rd']],
      ['?parent=', ['hq']],
      ['?parent=rd', []],
    ];
    for (const [query, codes] of expected) {
      const res = await call('get', `${base}${query}`);
      check('get', path, res);
      expect(res.status).toBe(200);
      expect(res.body.departments.map((d: { orgCode: string }) => d.orgCode)).toEqual(codes);
    }
    const unknown = await call('get', '/tenants/no-such-tenant/departments');
    check('get', path, unknown);
    expect(unknown.status).toBe(404);
    for (const [query, message] of [
      [`?parent=${'p'.repeat(65)}`, 'parent: Too big: expected string to have <=64 characters'],
      ['?parent=a&parent=b', 'parent: Invalid input: expected string, received array'],
    ]) {
      const res = await call('get', `${base}${query}`);
      check('get', path, res);
      expect([res.status, res.body]).toEqual([400, { error: 'invalid_request', message }]);
    }
  });

  it('GET /events: 200 (the events of the sign-ins and pushes above, each as declared), 400, 410', async () => {
    const path = '/events';
    // the calls above signed users in and out and pushed: their events, each checked with its schema
    const page = await call('get', '/events?limit=500');
    check('get', path, page);
    expect(page.status).toBe(200);
    const types = new Set((page.body.events as { type: string }[]).map((e) => e.type));
    expect([...types]).toEqual(
      expect.arrayContaining(['session.started', 'session.ended', 'tenant.created']),
    );
    const bad = await call('get', '/events?limit=0');
    check('get', path, bad);
    expect([bad.status, bad.body.error]).toEqual([400, 'invalid_request']);
    // events older than the retention were trimmed after this cursor
    const mark = w.relay.relay.keys.eventsTrimmed();
    await w.relay.store.apply([{ op: 'set', key: mark, value: page.body.next }]);
    try {
      const expired = await call('get', '/events?after=1-0');
      check('get', path, expired);
      expect([expired.status, expired.body.error]).toEqual([410, 'cursor_expired']);
    } finally {
      await w.relay.store.apply([{ op: 'del', key: mark }]);
    }
  });

  it('answers 401 unauthorized on every operation but the document without a valid key', async () => {
    for (const key of ROUTES.filter((k) => k !== 'get /openapi.json')) {
      const [method, path] = key.split(' ') as [Method, string];
      for (const auth of [undefined, 'Bearer not-a-configured-key']) {
        const req = w.relay.http[method](`/api/v1${concrete(path)}`);
        const res = await (auth ? req.set('Authorization', auth) : req);
        check(method, path, res);
        expect([res.status, res.body.error]).toEqual([401, 'unauthorized']);
        expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      }
    }
  });

  it('answers 404 not_found for any other route or method, as the document says', async () => {
    const notFound = validator([
      'components',
      'responses',
      'NotFound',
      'content',
      'application/json',
      'schema',
    ]);
    for (const [method, path] of [
      ['get', '/nope'],
      ['put', '/session'],
      ['post', '/tenants/x'],
      ['get', '/session/token'],
    ] as const) {
      const res = await w.relay.http[method](`/api/v1${path}`).set('Authorization', `Bearer ${API_KEY}`);
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(/^application\/json\b/);
      expect(unknownRoute.schema.parse(res.body)).toEqual(res.body);
      expect(notFound(res.body)).toBe(true);
    }
  });
});

describe('the seller API when the store fails', () => {
  let t: TestRelay;
  let mode: 'up' | 'unavailable' | 'broken' = 'up';
  beforeAll(async () => {
    const inner = new MemoryStore();
    const store = new Proxy(inner, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function' || prop === 'close') return value;
        return (...args: unknown[]) =>
          mode === 'up'
            ? (value as (...a: unknown[]) => unknown).apply(target, args)
            : Promise.reject(
                mode === 'unavailable'
                  ? new StoreUnavailableError('store down (test)')
                  : new Error('store broken (test)'),
              );
      },
    }) as Store;
    t = await startRelay({ store });
  });
  afterAll(() => t.close());

  const sid = `{t:some-tenant}.${'A'.repeat(43)}`;
  const calls: [Method, string, Record<string, string>, object | undefined][] = [
    ['get', '/session', { 'X-Session-Id': sid }, undefined],
    ['delete', '/session', { 'X-Session-Id': sid }, undefined],
    ['post', '/session/token', { 'X-Session-Id': sid }, {}],
    ['post', '/session/assertion', { 'X-Session-Id': sid }, {}],
    ['post', '/session/ticket', {}, { ticket: 'T'.repeat(43) }],
    ['post', '/authorize', {}, { tenantId: 'some-tenant', userName: 'some-user' }],
    ['get', '/tenants/{tenantId}', {}, undefined],
    ['get', '/instances/{instanceId}', {}, undefined],
    ['get', '/tenants/{tenantId}/users/{userName}', {}, undefined],
    ['get', '/tenants/{tenantId}/departments', {}, undefined],
    ['get', '/events', {}, undefined],
  ];

  it.each([
    ['unavailable', 503, 'store_unavailable'],
    ['broken', 500, 'internal_error'],
  ] as const)(
    'answers the declared error on every operation when the store is %s',
    async (m, status, code) => {
      mode = m;
      try {
        for (const [method, path, headers, body] of calls) {
          const req = t.http[method](`/api/v1${concrete(path)}`)
            .set('Authorization', `Bearer ${API_KEY}`)
            .set(headers);
          const res = await (body ? req.send(body) : req);
          check(method, path, res);
          expect([method, path, res.status, res.body.error]).toEqual([method, path, status, code]);
        }
      } finally {
        mode = 'up';
      }
    },
  );
});

describe("the seller API's rate limits", () => {
  let w: SignInWorld;
  beforeAll(async () => {
    w = await startSignInWorld({
      env: {
        RATE_LIMIT_API_KEY_FAILURES_PER_MINUTE: '1',
        RATE_LIMIT_TICKET_FAILURES_PER_MINUTE: '1',
        // a sign-in is two calls: its session's renewal is the third
        RATE_LIMIT_IDP_CALLS_PER_MINUTE: '2',
      },
    });
  });
  afterAll(() => w.close());

  it('answers 429 rate_limited with Retry-After on every operation but the document past the failed-key limit', async () => {
    const first = await w.relay.http.get('/api/v1/session').set('Authorization', 'Bearer not-a-key-at-all');
    expect(first.status).toBe(401);
    for (const key of ROUTES.filter((k) => k !== 'get /openapi.json')) {
      const [method, path] = key.split(' ') as [Method, string];
      const res = await w.relay.http[method](`/api/v1${concrete(path)}`).set('Authorization', 'Bearer nope');
      check(method, path, res);
      expect([res.status, res.body.error]).toEqual([429, 'rate_limited']);
    }
  });

  it('answers 429 to a ticket redemption past the refusal limit, and to a renewal past the tenant limit', async () => {
    const call = (path: string, headers: Record<string, string> = {}) =>
      w.relay.http.post(`/api/v1${path}`).set('Authorization', `Bearer ${API_KEY}`).set(headers);
    const bogus = () => call('/session/ticket').send({ ticket: 'T'.repeat(43) });
    expect((await bogus()).status).toBe(400);
    const limited = await bogus();
    check('post', '/session/ticket', limited);
    expect([limited.status, limited.body.error]).toEqual([429, 'rate_limited']);

    const { sid } = await w.signIn('alice');
    const renewal = await call('/session/token', { 'X-Session-Id': sid }).send({ forceRefresh: true });
    check('post', '/session/token', renewal);
    expect([renewal.status, renewal.body.error]).toEqual([429, 'rate_limited']);
  });
});

describe('coverage of the document by the checks above', () => {
  it('saw every documented status of every operation happen', () => {
    const documented = Object.entries(doc.paths).flatMap(([path, item]) =>
      METHODS.flatMap((m) => Object.keys(item[m]?.responses ?? {}).map((s) => `${m} ${path} ${s}`)),
    );
    expect(documented.length).toBeGreaterThan(ROUTES.length * 3);
    expect(documented.filter((d) => !seen.has(d))).toEqual([]);
  });
});
