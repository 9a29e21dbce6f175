// The five pushes over real HTTP, sandbox pusher -> relay -> mirror, read back through the API.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { clientSecretContext } from '../../src/mirror/records.js';
import type { PushResult } from '../../src/sandbox/pusher.js';
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
import { APP_ID, startRelay, type StoreKind, type TestRelay } from '../support/relay.js';

describe.each<StoreKind>(['redis', 'memory'])('kit pushes on the %s store', (kind) => {
  let t: TestRelay;
  beforeAll(async () => {
    t = await startRelay({ store: kind });
  });
  afterAll(() => t.close());

  const ok = async (result: Promise<PushResult>) => {
    const r = await result;
    expect(r.problem).toBeUndefined();
    expect(r.resultCode).toBe('000000');
    return r;
  };
  const tenant = async (id: string) => t.api(`/api/v1/tenants/${id}`);
  const userOf = async (id: string, name: string) =>
    t.api(`/api/v1/tenants/${id}/users/${encodeURIComponent(name)}`);
  const departments = async (id: string, parent?: string) =>
    (
      await t.api(
        `/api/v1/tenants/${id}/departments${parent === undefined ? '' : `?parent=${encodeURIComponent(parent)}`}`,
      )
    ).body.departments as { orgCode: string; orgName: string; parentCode: string | null }[];
  const authorize = async (tenantId: string, userName: string, role?: string) =>
    (
      await t.http
        .post('/api/v1/authorize')
        .set('Authorization', `Bearer ${t.config.sellerApiKeys[0]}`)
        .send({ tenantId, userName, ...(role ? { role } : {}) })
    ).body as { allowed: boolean; reason: string };

  describe('tenantSync', () => {
    it('adds, modifies and deletes a tenant', async () => {
      const id = newTenantId();
      const r = await ok(t.pusher.tenantSync(tenantFields(id)));
      expect(r.bodySignValid).toBe(true);
      const added = await tenant(id);
      expect(added.status).toBe(200);
      expect(added.body).toEqual({
        tenantId: id,
        tenantCode: `code-${id.slice(0, 6)}`,
        name: '华为测试企业',
        domainName: `https://${id.slice(0, 8)}.idp.example.com`,
        testFlag: 0,
        instanceIds: [`inst-${id.slice(0, 8)}`],
        instances: [],
      });

      await ok(
        t.pusher.tenantSync(
          tenantFields(id, {
            flag: 2,
            name: '新名字',
            domainName: 'https://new.idp.example.com/',
            tenantCode: 'ignored',
          }),
        ),
      );
      expect((await tenant(id)).body).toMatchObject({
        name: '新名字',
        domainName: 'https://new.idp.example.com',
        tenantCode: `code-${id.slice(0, 6)}`,
      });

      await ok(t.pusher.tenantSync(tenantFields(id, { flag: 0 })));
      expect((await tenant(id)).status).toBe(404);
      await ok(t.pusher.tenantSync(tenantFields(id, { flag: 0 })));
      expect((await tenant(id)).status).toBe(404);
    });

    it('changes nothing when the same push arrives three times', async () => {
      const id = newTenantId();
      const fields = tenantFields(id, { timeStamp: t.pusher.nextSyncTime() });
      await ok(t.pusher.tenantSync(fields));
      const before = await t.state();
      for (let i = 0; i < 3; i++) await ok(t.pusher.tenantSync(fields));
      expect(await t.state()).toEqual(before);
    });

    it('ignores an older push arriving after a newer one, deletes included', async () => {
      const id = newTenantId();
      await ok(t.pusher.tenantSync(tenantFields(id, { name: 'newer', timeStamp: at(2000) })));
      await ok(t.pusher.tenantSync(tenantFields(id, { name: 'older', timeStamp: at(1000) })));
      expect((await tenant(id)).body.name).toBe('newer');

      await ok(t.pusher.tenantSync(tenantFields(id, { flag: 0, timeStamp: at(3000) })));
      await ok(t.pusher.tenantSync(tenantFields(id, { name: 'late add', timeStamp: at(2500) })));
      expect((await tenant(id)).status).toBe(404);
      await ok(t.pusher.tenantSync(tenantFields(id, { name: 'back', timeStamp: at(4000) })));
      expect((await tenant(id)).body.name).toBe('back');
    });

    it('accepts debug data: empty or missing instanceId and orderId, testFlag 1, domain without scheme', async () => {
      const a = newTenantId();
      await ok(
        t.pusher.tenantSync(
          tenantFields(a, { instanceId: '', orderId: '', testFlag: 1, domainName: 'debug.idp.example.com' }),
        ),
      );
      expect((await tenant(a)).body).toMatchObject({
        testFlag: 1,
        instanceIds: [],
        domainName: 'https://debug.idp.example.com',
      });
      const b = newTenantId();
      const { instanceId: _i, orderId: _o, ...rest } = tenantFields(b, { testFlag: 1 });
      await ok(t.pusher.tenantSync(rest));
      expect((await tenant(b)).body.instanceIds).toEqual([]);
      const c = newTenantId();
      await ok(t.pusher.tenantSync(tenantFields(c, { instanceId: null, orderId: null })));
      expect((await tenant(c)).status).toBe(200);
    });

    it('keeps a tenant bound by another instance when one instance is deleted', async () => {
      const id = newTenantId();
      await ok(t.pusher.tenantSync(tenantFields(id, { instanceId: 'inst-A' })));
      await ok(t.pusher.tenantSync(tenantFields(id, { instanceId: 'inst-B' })));
      expect((await tenant(id)).body.instanceIds).toEqual(['inst-A', 'inst-B']);
      await ok(t.pusher.tenantSync(tenantFields(id, { instanceId: 'inst-A', flag: 0 })));
      expect((await tenant(id)).body.instanceIds).toEqual(['inst-B']);
      await ok(t.pusher.tenantSync(tenantFields(id, { instanceId: 'inst-B', flag: 0 })));
      expect((await tenant(id)).status).toBe(404);
    });

    it('deletes the tenant with its apps, users and departments', async () => {
      const id = newTenantId();
      await ok(t.pusher.tenantSync(tenantFields(id)));
      await ok(t.pusher.applicationSync(appFields(id)));
      await ok(t.pusher.authSync(authFields(id, [user('alice')])));
      await ok(t.pusher.allOrgSync(allOrgFields(id, [{ orgCode: '1', orgName: 'R&D', parentCode: '' }])));
      expect(await t.relay.mirror.app(id, APP_ID)).not.toBeNull();

      await ok(t.pusher.tenantSync(tenantFields(id, { flag: 0 })));
      expect((await tenant(id)).status).toBe(404);
      expect((await userOf(id, 'alice')).status).toBe(404);
      expect((await t.api(`/api/v1/tenants/${id}/departments`)).status).toBe(404);
      expect(await t.relay.mirror.app(id, APP_ID)).toBeNull();
      expect(await t.relay.mirror.departments(id)).toEqual([]);
      const left = Object.keys(await t.state()).filter((k) => k.includes(`{t:${id}}`));
      expect(left.map((k) => k.slice(k.indexOf('}') + 1)).sort()).toEqual([':meta', ':v']);
    });
  });

  describe('applicationSync', () => {
    it.each([
      ['sha256-mgf1sha1', 'base64'],
      ['sha256-mgf1sha256', 'base64'],
      ['sha1-mgf1sha1', 'base64'],
      ['sha256-mgf1sha1', 'hex'],
    ] as const)('stores a client secret sent with OAEP %s in %s, sealed', async (variant, encoding) => {
      const id = newTenantId();
      const plaintext = `secret-${variant}-${encoding}-密`;
      const encrypted = t.pusher.encryptSecret(plaintext, variant);
      const clientSecretEncrypted =
        encoding === 'hex' ? Buffer.from(encrypted, 'base64').toString('hex') : encrypted;
      await ok(t.pusher.applicationSync(appFields(id, { clientSecretEncrypted })));
      const app = await t.relay.mirror.app(id, APP_ID);
      expect(app?.clientId).toBe(`client-${id.slice(0, 8)}`);
      expect(t.config.dataKeys.open(app!.clientSecretSealed, clientSecretContext(id, APP_ID))).toBe(
        plaintext,
      );
      expect(JSON.stringify(await t.state())).not.toContain(plaintext);
      const log = t.logs
        .map((l) => JSON.parse(l))
        .find((l) => l.interface === 'applicationSync' && l.tenantId === id);
      expect(log).toMatchObject({ oaep: variant, ciphertext: encoding, resultCode: '000000' });
      expect(t.logs.join('\n')).not.toContain(plaintext);
    });

    it('modifies, deletes, repeats and ignores older pushes', async () => {
      const id = newTenantId();
      await ok(t.pusher.applicationSync(appFields(id, { timeStamp: at(1000) })));
      await ok(
        t.pusher.applicationSync(
          appFields(id, { flag: 2, clientId: 'client-2', clientSecret: 'second', timeStamp: at(2000) }),
        ),
      );
      await ok(
        t.pusher.applicationSync(
          appFields(id, { clientId: 'client-old', clientSecret: 'old', timeStamp: at(1500) }),
        ),
      );
      const app = await t.relay.mirror.app(id, APP_ID);
      expect(app?.clientId).toBe('client-2');
      expect(t.config.dataKeys.open(app!.clientSecretSealed, clientSecretContext(id, APP_ID))).toBe('second');

      const del = appFields(id, {
        flag: 0,
        clientId: undefined,
        clientSecret: undefined,
        timeStamp: at(3000),
      });
      await ok(t.pusher.tenantSync(tenantFields(id)));
      await ok(t.pusher.authSync(authFields(id, [user('u1')])));
      expect(await authorize(id, 'u1')).toMatchObject({ allowed: true, reason: 'ok' });
      for (let i = 0; i < 3; i++) await ok(t.pusher.applicationSync(del));
      expect(await t.relay.mirror.app(id, APP_ID)).toBeNull();
      expect(await authorize(id, 'u1')).toMatchObject({ allowed: false, reason: 'app_unknown' });
      await ok(t.pusher.applicationSync(appFields(id, { timeStamp: at(2500) })));
      expect(await t.relay.mirror.app(id, APP_ID)).toBeNull();
    });

    it('never shows a client secret through the API', async () => {
      const id = newTenantId();
      await ok(t.pusher.tenantSync(tenantFields(id)));
      await ok(t.pusher.applicationSync(appFields(id)));
      const body = JSON.stringify((await tenant(id)).body);
      expect(body).not.toMatch(/secret/i);
    });
  });

  describe('authSync', () => {
    it('adds users with every documented field, read back as the API shows them', async () => {
      const id = newTenantId();
      await ok(t.pusher.tenantSync(tenantFields(id)));
      await ok(t.pusher.applicationSync(appFields(id)));
      await ok(
        t.pusher.authSync(
          authFields(id, [
            user('zhangsan01', {
              name: '张三',
              role: 'admin',
              position: '经理',
              employeeCode: 'E001',
              employeeType: 1,
              mobile: '13800000000',
              email: 'zs@example.com',
              workPlace: '深圳',
              entryDate: '2022-11-9',
            }),
            user('lisi', {
              enable: 'false',
              extension: { entryDate: '2023-1-2', employeeType: '2', workPlace: '上海', custom: 'x' },
            }),
          ]),
        ),
      );
      const zs = await userOf(id, 'zhangsan01');
      expect(zs.status).toBe(200);
      expect(zs.body).toMatchObject({
        tenantId: id,
        appId: APP_ID,
        userName: 'zhangsan01',
        name: '张三',
        role: 'admin',
        enable: true,
        authorized: true,
        orgCode: '10000',
        position: '经理',
        employeeCode: 'E001',
        employeeType: 1,
        mobile: '13800000000',
        email: 'zs@example.com',
        workPlace: '深圳',
        entryDate: '2022-11-9',
      });
      const ls = (await userOf(id, 'lisi')).body;
      expect(ls).toMatchObject({
        enable: false,
        authorized: true,
        entryDate: '2023-1-2',
        employeeType: 2,
        workPlace: '上海',
      });
      expect(ls.extension).toMatchObject({ custom: 'x' });
      expect(await authorize(id, 'zhangsan01', 'admin')).toMatchObject({ allowed: true, reason: 'ok' });
      expect(await authorize(id, 'lisi')).toMatchObject({ allowed: false, reason: 'user_disabled' });
    });

    it('modifies (flag 2), cancels (flag 3) and deletes (flag 0) users', async () => {
      const id = newTenantId();
      await ok(t.pusher.tenantSync(tenantFields(id)));
      await ok(t.pusher.applicationSync(appFields(id)));
      await ok(t.pusher.authSync(authFields(id, [user('u1'), user('u2')])));
      await ok(
        t.pusher.authSync(authFields(id, [user('u1', { role: 'admin', name: 'Renamed' })], { flag: 2 })),
      );
      expect((await userOf(id, 'u1')).body).toMatchObject({
        role: 'admin',
        name: 'Renamed',
        authorized: true,
      });

      await ok(t.pusher.authSync(authFields(id, [{ userName: 'u1' }], { flag: 3 })));
      expect((await userOf(id, 'u1')).body).toMatchObject({
        role: 'admin',
        name: 'Renamed',
        authorized: false,
      });
      expect(await authorize(id, 'u1')).toMatchObject({ allowed: false, reason: 'not_authorized' });

      await ok(t.pusher.authSync(authFields(id, [{ userName: 'u2' }], { flag: 0 })));
      expect((await userOf(id, 'u2')).status).toBe(404);
      expect(await authorize(id, 'u2')).toMatchObject({ allowed: false, reason: 'user_unknown' });
      await ok(
        t.pusher.authSync(authFields(id, [{ userName: 'u2' }, { userName: 'never-existed' }], { flag: 0 })),
      );

      await ok(t.pusher.authSync(authFields(id, [user('u1')], { flag: 1 })));
      expect(await authorize(id, 'u1')).toMatchObject({ allowed: true });
    });

    it('orders by currentSyncTime: an older push never overwrites or resurrects', async () => {
      const id = newTenantId();
      await ok(
        t.pusher.authSync(
          authFields(id, [user('u', { name: 'v2' })], { currentSyncTime: at(2000), timeStamp: at(2000) }),
        ),
      );
      await ok(
        t.pusher.authSync(
          authFields(id, [user('u', { name: 'v1' })], { currentSyncTime: at(1000), timeStamp: at(1000) }),
        ),
      );
      expect((await userOf(id, 'u')).body.name).toBe('v2');
      await ok(
        t.pusher.authSync(
          authFields(id, [{ userName: 'u' }], { flag: 0, currentSyncTime: at(3000), timeStamp: at(3000) }),
        ),
      );
      await ok(
        t.pusher.authSync(
          authFields(id, [user('u', { name: 'late' })], { currentSyncTime: at(2500), timeStamp: at(2500) }),
        ),
      );
      expect((await userOf(id, 'u')).status).toBe(404);
    });

    it('changes nothing when the same push arrives three times', async () => {
      const id = newTenantId();
      const fields = authFields(id, [user('a'), user('b')], { timeStamp: t.pusher.nextSyncTime() });
      await ok(t.pusher.authSync(fields));
      const before = await t.state();
      for (let i = 0; i < 3; i++) await ok(t.pusher.authSync(fields));
      expect(await t.state()).toEqual(before);
    });

    it('accepts userList as a JSON string (V1 form) and 500 users in one push', async () => {
      const id = newTenantId();
      await ok(t.pusher.tenantSync(tenantFields(id)));
      await ok(t.pusher.authSync(authFields(id, JSON.stringify([user('from-string')]))));
      expect((await userOf(id, 'from-string')).status).toBe(200);
      const many = Array.from({ length: 500 }, (_, i) => user(`bulk${i}`));
      await ok(t.pusher.authSync(authFields(id, many)));
      expect((await userOf(id, 'bulk499')).status).toBe(200);
    });

    it('keeps users pushed before their tenant and app, and authorizes them once both arrive', async () => {
      const id = newTenantId();
      await ok(t.pusher.authSync(authFields(id, [user('early')])));
      expect(await authorize(id, 'early')).toMatchObject({ allowed: false, reason: 'tenant_unknown' });
      await ok(t.pusher.tenantSync(tenantFields(id)));
      // the app's credential (applicationSync) not there yet: no one can sign in
      expect(await authorize(id, 'early')).toMatchObject({ allowed: false, reason: 'app_unknown' });
      await ok(t.pusher.applicationSync(appFields(id)));
      expect(await authorize(id, 'early')).toMatchObject({ allowed: true, reason: 'ok' });
    });
  });

  describe('singleOrgSync', () => {
    it('adds, renames, moves and deletes a department; OrgName and name are aliases', async () => {
      const id = newTenantId();
      await ok(t.pusher.tenantSync(tenantFields(id)));
      await ok(t.pusher.singleOrgSync(orgFields(id, '100')));
      await ok(
        t.pusher.singleOrgSync({
          ...orgFields(id, '200', { orgName: undefined, parentCode: '100' }),
          OrgName: '研发',
        }),
      );
      await ok(
        t.pusher.singleOrgSync({
          ...orgFields(id, '300', { orgName: undefined, parentCode: null }),
          name: '市场',
        }),
      );
      expect(await departments(id)).toEqual([
        { orgCode: '100', orgName: '部门100', parentCode: null },
        { orgCode: '200', orgName: '研发', parentCode: '100' },
        { orgCode: '300', orgName: '市场', parentCode: null },
      ]);
      await ok(
        t.pusher.singleOrgSync(orgFields(id, '200', { flag: 2, orgName: '研发中心', parentCode: '300' })),
      );
      expect(await departments(id, '300')).toEqual([
        { orgCode: '200', orgName: '研发中心', parentCode: '300' },
      ]);
      expect((await departments(id, '')).map((d) => d.orgCode)).toEqual(['100', '300']);
      const deletion = orgFields(id, '200', { flag: 0, timeStamp: t.pusher.nextSyncTime() });
      for (let i = 0; i < 3; i++) await ok(t.pusher.singleOrgSync(deletion));
      await ok(t.pusher.singleOrgSync(orgFields(id, '200', { timeStamp: at(1000) })));
      expect((await departments(id)).map((d) => d.orgCode)).toEqual(['100', '300']);
    });
  });

  describe('allOrgSync', () => {
    const list = [
      { orgCode: '00000001', orgName: '产品部', parentCode: '' },
      { orgCode: '00000002', orgName: '研发部', parentCode: '00000001' },
    ];

    it.each([
      ['an array', list],
      ['a JSON string', JSON.stringify(list)],
      [
        'a string with unquoted keys and OrgName',
        '[{orgCode:"00000001", OrgName:"产品部", parentCode:""}, {orgCode:"00000002", OrgName:"研发部", parentCode:"00000001"}]',
      ],
      ['an array using name', list.map(({ orgName, ...o }) => ({ ...o, name: orgName }))],
    ])('accepts orgInfoList as %s', async (_label, orgInfoList) => {
      const id = newTenantId();
      await ok(t.pusher.tenantSync(tenantFields(id)));
      await ok(t.pusher.allOrgSync(allOrgFields(id, orgInfoList, { flag: 1 })));
      expect(await departments(id)).toEqual([
        { orgCode: '00000001', orgName: '产品部', parentCode: null },
        { orgCode: '00000002', orgName: '研发部', parentCode: '00000001' },
      ]);
    });

    it('replaces the set, ignores an older full list, and keeps newer incremental changes', async () => {
      const id = newTenantId();
      await ok(t.pusher.tenantSync(tenantFields(id)));
      await ok(
        t.pusher.allOrgSync(
          allOrgFields(
            id,
            [
              { orgCode: 'a', orgName: 'A' },
              { orgCode: 'b', orgName: 'B' },
            ],
            { timeStamp: at(1000) },
          ),
        ),
      );
      await ok(
        t.pusher.allOrgSync(
          allOrgFields(
            id,
            [
              { orgCode: 'c', orgName: 'C' },
              { orgCode: 'd', orgName: 'D' },
              { orgCode: 'e', orgName: 'E' },
            ],
            { timeStamp: at(2000) },
          ),
        ),
      );
      expect((await departments(id)).map((d) => d.orgCode)).toEqual(['c', 'd', 'e']);
      await ok(
        t.pusher.allOrgSync(allOrgFields(id, [{ orgCode: 'old', orgName: 'Old' }], { timeStamp: at(1500) })),
      );
      expect((await departments(id)).map((d) => d.orgCode)).toEqual(['c', 'd', 'e']);

      // incremental changes at 4000 (rename d, delete e, add f) are newer than a full list at 3000
      await ok(
        t.pusher.singleOrgSync(orgFields(id, 'd', { orgName: 'D-renamed', flag: 2, timeStamp: at(4000) })),
      );
      await ok(t.pusher.singleOrgSync(orgFields(id, 'e', { flag: 0, timeStamp: at(4000) })));
      await ok(t.pusher.singleOrgSync(orgFields(id, 'f', { orgName: 'F', timeStamp: at(4000) })));
      await ok(
        t.pusher.allOrgSync(
          allOrgFields(
            id,
            [
              { orgCode: 'c', orgName: 'C' },
              { orgCode: 'd', orgName: 'D' },
              { orgCode: 'e', orgName: 'E' },
              { orgCode: 'g', orgName: 'G' },
            ],
            { timeStamp: at(3000) },
          ),
        ),
      );
      expect(await departments(id)).toEqual([
        { orgCode: 'c', orgName: 'C', parentCode: null },
        { orgCode: 'd', orgName: 'D-renamed', parentCode: null },
        { orgCode: 'f', orgName: 'F', parentCode: null },
        { orgCode: 'g', orgName: 'G', parentCode: null },
      ]);
      // and an incremental push older than the last full list changes nothing
      await ok(t.pusher.singleOrgSync(orgFields(id, 'zz', { timeStamp: at(2500) })));
      expect((await departments(id)).map((d) => d.orgCode)).toEqual(['c', 'd', 'f', 'g']);
      await ok(t.pusher.allOrgSync(allOrgFields(id, [], { timeStamp: at(5000) })));
      expect(await departments(id)).toEqual([]);
    });

    it('changes nothing when the same list arrives three times', async () => {
      const id = newTenantId();
      const fields = allOrgFields(id, list, { timeStamp: t.pusher.nextSyncTime() });
      await ok(t.pusher.allOrgSync(fields));
      const before = await t.state();
      for (let i = 0; i < 3; i++) await ok(t.pusher.allOrgSync(fields));
      expect(await t.state()).toEqual(before);
    });

    it('takes a list of 40,000 departments in one push', async () => {
      const id = newTenantId();
      await ok(t.pusher.tenantSync(tenantFields(id)));
      const many = Array.from({ length: 40_000 }, (_, i) => ({
        orgCode: `d${i}`,
        orgName: `部门${i}`,
        parentCode: i ? 'd0' : '',
      }));
      await ok(t.pusher.allOrgSync(allOrgFields(id, many)));
      expect(await t.store.hLen(t.relay.keys.orgs(id))).toBe(40_000);
      // no staging key is left behind
      expect(Object.keys(await t.state()).filter((k) => k.includes(':staging:'))).toEqual([]);
    });

    it('never lets a reader see half of a replaced set', async () => {
      const id = newTenantId();
      await ok(t.pusher.tenantSync(tenantFields(id)));
      const setOf = (p: string) =>
        Array.from({ length: 3000 }, (_, i) => ({ orgCode: `${p}${i}`, orgName: `${p}${i}` }));
      await ok(t.pusher.allOrgSync(allOrgFields(id, setOf('x'))));
      let stop = false;
      const seen = new Set<string>();
      const reader = (async () => {
        while (!stop) {
          const codes = (await t.relay.mirror.departments(id)).map((d) => d.orgCode[0]!);
          const kinds = [...new Set(codes)].sort().join('');
          seen.add(`${kinds}:${codes.length}`);
          await new Promise((r) => setImmediate(r));
        }
      })();
      await ok(t.pusher.allOrgSync(allOrgFields(id, setOf('y'))));
      await ok(t.pusher.allOrgSync(allOrgFields(id, setOf('x'))));
      stop = true;
      await reader;
      for (const s of seen) expect(['x:3000', 'y:3000']).toContain(s);
    });
  });
});
