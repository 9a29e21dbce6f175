// The five V1 kit pushes over real HTTP (kit-sync-and-signing.md §7.1; contract §8), sandbox
// pusher -> relay -> mirror, read back through the API, on both stores: add, modify, delete,
// repeat and out-of-order arrival, V1 body shapes, encrypted contacts, and V1 and V2 feeding one
// mirror.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { clientSecretContext } from '../../src/mirror/records.js';
import { bodySignature } from '../../src/sandbox/marketplace/index.js';
import { Pusher, type PushResult } from '../../src/sandbox/pusher.js';
import type { KitInterface } from '../../src/vocabulary.js';
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
import { APP_ID, startRelay, V1_KEY, type StoreKind, type TestRelay } from '../support/relay.js';

describe.each<StoreKind>(['redis', 'memory'])('V1 kit pushes on the %s store', (kind) => {
  let t: TestRelay;
  beforeAll(async () => {
    t = await startRelay({ store: kind, env: { V1_ACCESS_KEY: V1_KEY }, pusher: { v1Key: V1_KEY } });
  });
  afterAll(() => t.close());

  const ok = async (result: Promise<PushResult>) => {
    const r = await result;
    expect(r.problem).toBeUndefined();
    expect(r.resultCode).toBe('000000');
    expect(r.bodySignValid).toBe(true);
    return r;
  };
  const v1 = (iface: KitInterface, f: Record<string, unknown>) => ok(t.pusher.v1Push(iface, f));
  const tenant = async (id: string) => t.api(`/api/v1/tenants/${id}`);
  const userOf = async (id: string, name: string) =>
    t.api(`/api/v1/tenants/${id}/users/${encodeURIComponent(name)}`);
  const departments = async (id: string) =>
    (await t.api(`/api/v1/tenants/${id}/departments`)).body.departments as {
      orgCode: string;
      orgName: string;
      parentCode: string | null;
    }[];
  const authorize = async (tenantId: string, userName: string) =>
    (
      await t.http
        .post('/api/v1/authorize')
        .set('Authorization', `Bearer ${t.config.sellerApiKeys[0]}`)
        .send({ tenantId, userName })
    ).body as { allowed: boolean; reason: string };

  it('answers with the exact bytes signed in Body-Sign with the V1 key alone', async () => {
    const r = await t.http
      .post('/produceAPI/tenantSync')
      .set('Content-Type', 'application/json')
      .set('authToken', 'not-a-token');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(r.text).toBe('{"resultCode":"000002","resultMsg":"body is empty; a JSON object is required"}');
    expect(r.headers['body-sign']).toBe(
      `sign_type="HMAC-SHA256", signature= "${bodySignature(V1_KEY, r.text)}"`,
    );
  });

  describe('tenantSync', () => {
    it('adds, modifies (flag 1 again: V1 has no 2) and deletes a tenant, deletes repeated', async () => {
      const id = newTenantId();
      await v1('tenantSync', tenantFields(id));
      expect((await tenant(id)).body).toEqual({
        tenantId: id,
        tenantCode: `code-${id.slice(0, 6)}`,
        name: '华为测试企业',
        domainName: `https://${id.slice(0, 8)}.idp.example.com`,
        testFlag: 0,
        instanceIds: [`inst-${id.slice(0, 8)}`],
        instances: [],
      });
      await v1('tenantSync', tenantFields(id, { name: '新名字', domainName: 'new.idp.example.com/' }));
      expect((await tenant(id)).body).toMatchObject({
        name: '新名字',
        domainName: 'https://new.idp.example.com',
      });
      for (let i = 0; i < 2; i++) {
        await v1('tenantSync', tenantFields(id, { flag: 0 }));
        expect((await tenant(id)).status).toBe(404);
      }
    });

    it('changes nothing when the same push arrives three times, byte-identical or re-signed', async () => {
      const id = newTenantId();
      const body = t.pusher.v1KitBody('tenantSync', tenantFields(id));
      await ok(t.pusher.sendV1('tenantSync', body));
      const before = await t.state();
      for (let i = 0; i < 3; i++) await ok(t.pusher.sendV1('tenantSync', body));
      await ok(t.pusher.v1Push('tenantSync', tenantFields(id, { timeStamp: body.timeStamp })));
      expect(await t.state()).toEqual(before);
      const replays = t.logs
        .map((l) => JSON.parse(l))
        .filter((l) => l.interface === 'v1.tenantSync' && l.replay);
      expect(replays.length).toBeGreaterThanOrEqual(3);
    });

    it('ignores an older push arriving after a newer one, deletes included', async () => {
      const id = newTenantId();
      await v1('tenantSync', tenantFields(id, { name: 'newer', timeStamp: at(2000) }));
      await v1('tenantSync', tenantFields(id, { name: 'older', timeStamp: at(1000) }));
      expect((await tenant(id)).body.name).toBe('newer');
      await v1('tenantSync', tenantFields(id, { flag: 0, timeStamp: at(3000) }));
      await v1('tenantSync', tenantFields(id, { name: 'late add', timeStamp: at(2500) }));
      expect((await tenant(id)).status).toBe(404);
      await v1('tenantSync', tenantFields(id, { name: 'back', timeStamp: at(4000) }));
      expect((await tenant(id)).body.name).toBe('back');
    });

    it('accepts debug data: empty instanceId and orderId, testFlag 1, flag and testFlag as strings', async () => {
      const id = newTenantId();
      await v1('tenantSync', tenantFields(id, { instanceId: '', orderId: '', testFlag: '1', flag: '1' }));
      expect((await tenant(id)).body).toMatchObject({ testFlag: 1, instanceIds: [] });
    });
  });

  describe('applicationSync', () => {
    it('adds, modifies, deletes, repeats and ignores older pushes; the secret sealed', async () => {
      const id = newTenantId();
      await v1('tenantSync', tenantFields(id));
      await v1('applicationSync', appFields(id, { timeStamp: at(1000) }));
      await v1(
        'applicationSync',
        appFields(id, { clientId: 'client-2', clientSecret: 'second', timeStamp: at(2000) }),
      );
      await v1(
        'applicationSync',
        appFields(id, { clientId: 'client-old', clientSecret: 'old', timeStamp: at(1500) }),
      );
      const app = await t.relay.mirror.app(id, APP_ID);
      expect(app?.clientId).toBe('client-2');
      expect(t.config.dataKeys.open(app!.clientSecretSealed, clientSecretContext(id, APP_ID))).toBe('second');
      expect(JSON.stringify(await t.state())).not.toContain('second"');

      const del = appFields(id, {
        flag: 0,
        clientId: undefined,
        clientSecret: undefined,
        timeStamp: at(3000),
      });
      for (let i = 0; i < 3; i++) await v1('applicationSync', del);
      expect(await t.relay.mirror.app(id, APP_ID)).toBeNull();
      await v1('applicationSync', appFields(id, { timeStamp: at(2500) }));
      expect(await t.relay.mirror.app(id, APP_ID)).toBeNull();
    });
  });

  describe('authSync', () => {
    it('adds users from userList as an escaped JSON string, extension fields and encrypted contacts', async () => {
      const id = newTenantId();
      await v1('tenantSync', tenantFields(id));
      await v1('applicationSync', appFields(id));
      const body = t.pusher.v1KitBody(
        'authSync',
        authFields(id, [
          user('zhangsan01', {
            name: '张三',
            role: 'admin',
            position: '经理',
            employeeCode: 'E001',
            mobile: '13800000000',
            email: 'zs@example.com',
            extension: { entryDate: '2022-11-9', employeeType: '1', workPlace: '深圳' },
          }),
          user('lisi', { enable: 'false', mobile: '+86 139-0000-0000' }),
        ]),
      );
      expect(typeof body.userList).toBe('string');
      expect(body.userList).not.toContain('13800000000');
      expect('currentSyncTime' in body).toBe(false);
      await ok(t.pusher.sendV1('authSync', body));
      expect((await userOf(id, 'zhangsan01')).body).toMatchObject({
        name: '张三',
        role: 'admin',
        enable: true,
        authorized: true,
        position: '经理',
        employeeCode: 'E001',
        employeeType: 1,
        mobile: '13800000000',
        email: 'zs@example.com',
        workPlace: '深圳',
        entryDate: '2022-11-9',
      });
      expect((await userOf(id, 'lisi')).body).toMatchObject({ enable: false, mobile: '+86 139-0000-0000' });
      expect(await authorize(id, 'zhangsan01')).toMatchObject({ allowed: true, reason: 'ok' });
      expect(await authorize(id, 'lisi')).toMatchObject({ allowed: false, reason: 'user_disabled' });
      const log = t.logs
        .map((l) => JSON.parse(l))
        .find((l) => l.interface === 'v1.authSync' && l.tenantId === id);
      expect(log).toMatchObject({ v1: true, contactsDecrypted: 3, contactAes: ['aes-256'] });
      expect(t.logs.join('\n')).not.toContain('13800000000');
    });

    it.each([
      ['AES-128 (encryptType 2)', '2'],
      ['plain', 'plain'],
    ] as const)('accepts contacts sent %s', async (_label, mode) => {
      const id = newTenantId();
      const pusher = new Pusher({ ...t.pusher.options, v1Contacts: mode });
      await ok(
        pusher.v1Push('authSync', authFields(id, [user('u', { mobile: '13700000000', email: 'u@例子.cn' })])),
      );
      expect((await userOf(id, 'u')).body).toMatchObject({ mobile: '13700000000', email: 'u@例子.cn' });
    });

    it('modifies (flag 2) and deletes (flag 0) users, repeats and ignores older pushes', async () => {
      const id = newTenantId();
      await v1('tenantSync', tenantFields(id));
      await v1('applicationSync', appFields(id));
      await v1('authSync', authFields(id, [user('u1'), user('u2')], { timeStamp: at(1000) }));
      await v1(
        'authSync',
        authFields(id, [user('u1', { role: 'admin', name: 'Renamed' })], { flag: 2, timeStamp: at(2000) }),
      );
      await v1('authSync', authFields(id, [user('u1', { name: 'Older' })], { flag: 2, timeStamp: at(1500) }));
      expect((await userOf(id, 'u1')).body).toMatchObject({
        role: 'admin',
        name: 'Renamed',
        authorized: true,
      });

      const deletion = authFields(id, [{ userName: 'u2' }], { flag: 0, timeStamp: at(3000) });
      for (let i = 0; i < 3; i++) await v1('authSync', deletion);
      expect((await userOf(id, 'u2')).status).toBe(404);
      await v1('authSync', authFields(id, [user('u2')], { timeStamp: at(2500) }));
      expect((await userOf(id, 'u2')).status).toBe(404);
      expect(await authorize(id, 'u2')).toMatchObject({ allowed: false, reason: 'user_unknown' });
    });

    it('keeps users pushed before their tenant, and takes 500 in one push', async () => {
      const id = newTenantId();
      await v1(
        'authSync',
        authFields(
          id,
          Array.from({ length: 500 }, (_, i) => user(`bulk${i}`)),
        ),
      );
      expect(await authorize(id, 'bulk499')).toMatchObject({ allowed: false, reason: 'tenant_unknown' });
      await v1('tenantSync', tenantFields(id));
      await v1('applicationSync', appFields(id));
      expect(await authorize(id, 'bulk499')).toMatchObject({ allowed: true, reason: 'ok' });
    });
  });

  describe('singleOrgSync', () => {
    it('adds, renames, moves, deletes, repeats and ignores older pushes', async () => {
      const id = newTenantId();
      await v1('tenantSync', tenantFields(id));
      await v1('singleOrgSync', orgFields(id, '100', { timeStamp: at(1000) }));
      await v1('singleOrgSync', orgFields(id, '200', { parentCode: '100', timeStamp: at(1000) }));
      await v1(
        'singleOrgSync',
        orgFields(id, '200', { flag: 2, orgName: '研发', parentCode: '', timeStamp: at(2000) }),
      );
      await v1('singleOrgSync', orgFields(id, '200', { flag: 2, orgName: '旧', timeStamp: at(1500) }));
      expect(await departments(id)).toEqual([
        { orgCode: '100', orgName: '部门100', parentCode: null },
        { orgCode: '200', orgName: '研发', parentCode: null },
      ]);
      const deletion = orgFields(id, '100', { flag: 0, timeStamp: at(3000) });
      for (let i = 0; i < 3; i++) await v1('singleOrgSync', deletion);
      await v1('singleOrgSync', orgFields(id, '100', { timeStamp: at(2500) }));
      expect((await departments(id)).map((d) => d.orgCode)).toEqual(['200']);
    });
  });

  describe('allOrgSync', () => {
    it('replaces the set from orgInfo (a JSON string with name), repeats and ignores an older list', async () => {
      const id = newTenantId();
      await v1('tenantSync', tenantFields(id));
      const list = [
        { orgCode: '00000001', orgName: '产品部', parentCode: '' },
        { orgCode: '00000002', orgName: '研发部', parentCode: '00000001' },
      ];
      const body = t.pusher.v1KitBody('allOrgSync', allOrgFields(id, list, { timeStamp: at(2000) }));
      expect(body.orgInfo).toBe(
        '[{"orgCode":"00000001","name":"产品部","parentCode":""},{"orgCode":"00000002","name":"研发部","parentCode":"00000001"}]',
      );
      await ok(t.pusher.sendV1('allOrgSync', body));
      const before = await t.state();
      for (let i = 0; i < 3; i++) await ok(t.pusher.sendV1('allOrgSync', body));
      expect(await t.state()).toEqual(before);
      expect(await departments(id)).toEqual([
        { orgCode: '00000001', orgName: '产品部', parentCode: null },
        { orgCode: '00000002', orgName: '研发部', parentCode: '00000001' },
      ]);
      await v1('allOrgSync', allOrgFields(id, [{ orgCode: 'old', orgName: 'Old' }], { timeStamp: at(1500) }));
      await v1('allOrgSync', allOrgFields(id, [{ orgCode: 'c', orgName: 'C' }], { timeStamp: at(3000) }));
      expect(await departments(id)).toEqual([{ orgCode: 'c', orgName: 'C', parentCode: null }]);
    });

    it('takes orgInfo holding one department as an object rather than a list of one', async () => {
      const id = newTenantId();
      await v1('tenantSync', tenantFields(id));
      const body = t.pusher.v1KitBody('allOrgSync', allOrgFields(id, [], { timeStamp: at(2000) }));
      body.orgInfo = '{"orgCode":"solo","name":"独立部","parentCode":""}';
      await ok(t.pusher.sendV1('allOrgSync', body));
      expect(await departments(id)).toEqual([{ orgCode: 'solo', orgName: '独立部', parentCode: null }]);
    });

    it('takes a list above 64 KiB (checked off the event loop)', async () => {
      const id = newTenantId();
      const many = Array.from({ length: 3000 }, (_, i) => ({
        orgCode: `d${i}`,
        orgName: `部门${i}`,
        parentCode: '',
      }));
      const body = t.pusher.v1KitBody('allOrgSync', allOrgFields(id, many));
      expect(Buffer.byteLength(JSON.stringify(body))).toBeGreaterThan(64 * 1024);
      await ok(t.pusher.sendV1('allOrgSync', body));
      expect(await t.store.hLen(t.relay.keys.orgs(id))).toBe(3000);
    });
  });

  describe('one mirror for V1 and V2', () => {
    it('keeps a tenant pushed by V1 and later by V2 as one tenant, its app, users and departments', async () => {
      const id = newTenantId();
      await v1('tenantSync', tenantFields(id, { name: 'from V1' }));
      await ok(t.pusher.applicationSync(appFields(id)));
      await v1('authSync', authFields(id, [user('alice')]));
      await ok(t.pusher.authSync(authFields(id, [user('bob')])));
      await v1('allOrgSync', allOrgFields(id, [{ orgCode: '1', orgName: 'One' }]));
      await ok(t.pusher.singleOrgSync(orgFields(id, '2')));
      await ok(t.pusher.tenantSync(tenantFields(id, { flag: 2, name: 'from V2' })));
      expect((await tenant(id)).body).toMatchObject({ tenantId: id, name: 'from V2' });
      expect(await authorize(id, 'alice')).toMatchObject({ allowed: true });
      expect(await authorize(id, 'bob')).toMatchObject({ allowed: true });
      expect((await departments(id)).map((d) => d.orgCode)).toEqual(['1', '2']);
      const tenantKeys = Object.keys(await t.state()).filter((k) => k.includes(id) && k.endsWith(':tenant'));
      expect(tenantKeys).toHaveLength(1);
      // and a V1 delete removes what V2 pushed
      await v1('tenantSync', tenantFields(id, { flag: 0 }));
      expect((await tenant(id)).status).toBe(404);
      expect((await userOf(id, 'bob')).status).toBe(404);
    });
  });
});

describe('V1 routes without V1_ACCESS_KEY', () => {
  let t: TestRelay;
  beforeAll(async () => {
    t = await startRelay({ store: 'memory', pusher: { v1Key: V1_KEY } });
  });
  afterAll(() => t.close());

  it.each(['tenantSync', 'applicationSync', 'authSync', 'singleOrgSync', 'allOrgSync'] as const)(
    'answers a plain 404 to a V1 %s and changes nothing',
    async (iface) => {
      const id = newTenantId();
      const before = await t.state();
      const r = await t.pusher.v1Push(
        iface,
        iface === 'allOrgSync' ? allOrgFields(id, []) : tenantFields(id),
      );
      expect(r.status).toBe(404);
      expect(r.contentType).toMatch(/^text\/plain/);
      expect(r.bodySignValid).toBeNull();
      expect(await t.state()).toEqual(before);
    },
  );
});
