/**
 * Tenant ids and user names as the marketplace may send them, within their 64 characters:
 * Unicode, `:`, `{`, `}`, `%`, spaces, and the longest. Keys carry the tenant's hash tag
 * `{t:…}` (src/store/keys.ts) and session ids carry it too (src/sso/sessions.ts), so braces in
 * an id are the interesting case: a tenant named like another's hash tag must stay apart from
 * it. Each identifier goes through every route: the kit pushes, sign-in, the session API,
 * authorize, the read API, revocation and sign-out. Scenarios over a whole sign-in world, run on
 * Redis (identifiers.test.ts) and on a Redis Cluster (test/store/cluster.test.ts).
 */
import { randomBytes } from 'node:crypto';
import { expect, it } from '@jest/globals';
import type { PushResult } from '../../src/sandbox/pusher.js';
import { API_KEY, APP_ID } from '../support/relay.js';
import type { SignInWorld } from '../support/world.js';

export interface IdentifierOptions {
  /** On a Redis Cluster: the slot of a key, to check that a tenant's keys share one. */
  slotOf?: (key: string) => Promise<number>;
}

/** The identifier cases: a tenant id and a user name each, unique per run (the sandbox's user names are global). */
function cases(acmeTenantId: string) {
  const r = randomBytes(3).toString('hex');
  return [
    // the acme tenant's own hash tag as a tenant id, and braces in the user name
    [`another tenant's hash tag`, `{t:${acmeTenantId}}`, `{u}:${r}}{`],
    ['Unicode, spaces, % and :', `租户 %41%20 ü:${r}`, `张 三 %2F:${r} 🙂`],
    // 64 UTF-16 units each: the longest ids the pushes accept, and the longest keys they make
    ['the longest, in three-byte characters', `${r}${'租'.repeat(58)}`, `${r}${'用'.repeat(58)}`],
    [
      'the longest, all of them',
      `{t:}${r} %:ü${'租'.repeat(64 - 12 - r.length)}{}`,
      `{}:% ü${r}${'x'.repeat(52)}`,
    ],
  ].map(([label, tenantId, userName]) => {
    expect([label, tenantId!.length <= 64, userName!.length <= 64]).toEqual([label, true, true]);
    return { label: label!, tenantId: tenantId!, userName: userName! };
  });
}

export function identifierScenarios(world: () => SignInWorld, options: IdentifierOptions = {}): void {
  const w = () => world();
  const api = (method: 'get' | 'post', path: string) =>
    w().relay.http[method](path).set('Authorization', `Bearer ${API_KEY}`);
  const ok = (r: PushResult) =>
    expect([r.interface, r.resultCode, r.problem]).toEqual([r.interface, '000000', undefined]);

  it('keeps every such tenant and user apart, through every route', async () => {
    const acme = w().acme;
    for (const { label, tenantId, userName } of cases(acme.tenantId)) {
      const tenantCode = `id${randomBytes(4).toString('hex')}`;
      const tenant = w().world.addTenant({
        tenantId,
        name: `${label} 科技`,
        tenantCode,
        departments: [
          { orgCode: 'hq', orgName: '总部', parentCode: '' },
          { orgCode: 'rd', orgName: '研发', parentCode: 'hq' },
        ],
      });
      w().world.addUser({
        tenantId,
        userName,
        password: w().password,
        name: `${label} 用户`,
        role: 'admin',
        orgCode: 'rd',
        apps: new Set([APP_ID]),
      });
      const at = (what: string) => `${label}: ${what}`;

      // Kit pushes: tenantSync, applicationSync, allOrgSync, authSync (provision), singleOrgSync.
      for (const r of await w().world.provision(APP_ID, [tenantId])) ok(r);
      ok(
        await w().relay.pusher.singleOrgSync({
          instanceId: tenant.instanceId,
          tenantId,
          orgCode: 'qa',
          orgName: '测试',
          parentCode: 'hq',
          flag: 1,
        }),
      );

      // The read API, the ids as URL path segments.
      const base = `/api/v1/tenants/${encodeURIComponent(tenantId)}`;
      const read = await api('get', base);
      expect([at('tenant'), read.status, read.body.tenantId, read.body.tenantCode]).toEqual([
        at('tenant'),
        200,
        tenantId,
        tenantCode,
      ]);
      const userRead = await api('get', `${base}/users/${encodeURIComponent(userName)}`);
      expect([at('user'), userRead.status, userRead.body.userName, userRead.body.tenantId]).toEqual([
        at('user'),
        200,
        userName,
        tenantId,
      ]);
      const departments = (await api('get', `${base}/departments`)).body.departments as { orgCode: string }[];
      expect([at('departments'), departments.map((d) => d.orgCode).sort()]).toEqual([
        at('departments'),
        ['hq', 'qa', 'rd'],
      ]);
      const allowed = await api('post', '/api/v1/authorize').send({ tenantId, userName });
      expect([at('authorize'), allowed.body.allowed, allowed.body.reason]).toEqual([
        at('authorize'),
        true,
        'ok',
      ]);

      // Sign-in, and the session API by id and by the browser's cookie.
      const { browser, sid } = await w().signIn(userName);
      const cookie = browser.cookieHeader(w().relay.url);
      for (const [how, headers] of [
        ['X-Session-Id', { 'X-Session-Id': sid }],
        ['Cookie', { Cookie: cookie }],
      ] as const) {
        const me = await api('get', '/api/v1/session').set(headers);
        expect([
          at(`session by ${how}`),
          me.status,
          me.body.user?.userName,
          me.body.tenant?.tenantId,
        ]).toEqual([at(`session by ${how}`), 200, userName, tenantId]);
      }
      const token = await api('post', '/api/v1/session/token').set('X-Session-Id', sid).send({});
      expect([at('token'), token.status]).toEqual([at('token'), 200]);
      const assertion = await api('post', '/api/v1/session/assertion').set('X-Session-Id', sid).send({});
      expect([at('assertion'), assertion.status]).toEqual([at('assertion'), 200]);
      expect(await w().sessionsInStore(userName, [sid], tenantId)).toEqual({
        records: [sid],
        indexed: [sid],
        listed: true,
      });

      if (options.slotOf) {
        const keys = w().relay.relay.keys;
        const slot = await options.slotOf(keys.version(tenantId));
        for (const key of [
          keys.session(sid),
          keys.tenant(tenantId),
          keys.users(tenantId, APP_ID),
          keys.userSessions(tenantId, APP_ID, userName),
        ])
          expect([at(key), await options.slotOf(key)]).toEqual([at(key), slot]);
      }

      // Revocation by a push ends the session in the store, before any API call.
      ok(
        await w().relay.pusher.authSync({
          instanceId: tenant.instanceId,
          tenantId,
          appId: APP_ID,
          userList: [{ userName }],
          flag: 3,
        }),
      );
      expect([at('revoked'), await w().sessionsInStore(userName, [sid], tenantId)]).toEqual([
        at('revoked'),
        { records: [], indexed: [], listed: false },
      ]);
      expect((await api('get', '/api/v1/session').set('X-Session-Id', sid)).status).toBe(401);
      const refused = await api('post', '/api/v1/authorize').send({ tenantId, userName });
      expect([at('authorize after revocation'), refused.body.allowed]).toEqual([
        at('authorize after revocation'),
        false,
      ]);

      // Authorized again: a second sign-in, ended by signing out with its cookie.
      for (const r of await w().world.provision(APP_ID, [tenantId])) ok(r);
      const again = await w().signIn(userName);
      const out = await again.browser.request(`${w().relay.url}/sso/logout`, { method: 'POST' });
      expect([at('sign-out'), out.location]).toEqual([
        at('sign-out'),
        `${w().world.domainName(tenant)}/api/v1/logout?redirect_url=${encodeURIComponent(`${w().relay.config.publicBase}/sso/logged-out`)}`,
      ]);
      expect(await w().sessionsInStore(userName, [again.sid], tenantId)).toMatchObject({ records: [] });
    }

    // The tenant named like acme's hash tag left acme alone.
    const acmeRead = await api('get', `/api/v1/tenants/${acme.tenantId}`);
    expect(acmeRead.body).toMatchObject({ tenantId: acme.tenantId, name: acme.name });
    const alice = await w().signIn('alice');
    const me = await api('get', '/api/v1/session').set('X-Session-Id', alice.sid);
    expect(me.body).toMatchObject({ user: { userName: 'alice' }, tenant: { tenantId: acme.tenantId } });
  });
}
