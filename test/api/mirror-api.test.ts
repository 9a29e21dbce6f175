// The seller API's read side of the mirror (contract §5), errors included.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { allOrgFields, appFields, authFields, newTenantId, tenantFields, user } from '../support/data.js';
import { API_KEY, startRelay, type TestRelay } from '../support/relay.js';

describe('seller API over the mirror', () => {
  let t: TestRelay;
  const tenantId = newTenantId();

  beforeAll(async () => {
    t = await startRelay({ env: { SELLER_API_KEYS: `old-key-0000000000000,${API_KEY}` } });
    for (const r of [
      await t.pusher.tenantSync(tenantFields(tenantId)),
      await t.pusher.applicationSync(appFields(tenantId)),
      await t.pusher.applicationSync(appFields(tenantId, { appId: 'another-app' })),
      await t.pusher.authSync(
        authFields(tenantId, [
          user('admin1', { role: 'admin' }),
          user('plain1'),
          user('off1', { enable: 'false' }),
        ]),
      ),
      await t.pusher.authSync(authFields(tenantId, [user('other-app-user')], { appId: 'another-app' })),
      await t.pusher.allOrgSync(
        allOrgFields(tenantId, [
          { orgCode: 'root', orgName: '总部', parentCode: '' },
          { orgCode: 'rd', orgName: '研发', parentCode: 'root' },
          { orgCode: 'qa', orgName: '测试', parentCode: 'rd' },
        ]),
      ),
    ])
      expect(r.resultCode).toBe('000000');
  });
  afterAll(() => t.close());

  const authorize = (body: unknown, key = API_KEY) =>
    t.http
      .post('/api/v1/authorize')
      .set('Authorization', `Bearer ${key}`)
      .send(body as object);

  describe('authentication', () => {
    it.each([
      ['no header', undefined],
      ['another scheme', 'Basic Zm9vOmJhcg=='],
      ['a wrong key', 'Bearer not-a-configured-key-000'],
      ['an empty bearer', 'Bearer '],
    ])('answers 401 JSON for %s', async (_label, header) => {
      const req = t.http.get(`/api/v1/tenants/${tenantId}`);
      const res = await (header ? req.set('Authorization', header) : req);
      expect(res.status).toBe(401);
      expect(res.headers['content-type']).toMatch(/application\/json/);
      expect(res.body).toEqual({ error: 'unauthorized', message: expect.any(String) });
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    });

    it('refuses a wrong key after the right one was accepted, even one that only extends it', async () => {
      const path = `/api/v1/tenants/${tenantId}`;
      expect((await t.http.get(path).set('Authorization', `Bearer ${API_KEY}`)).status).toBe(200);
      for (const key of [`${API_KEY}x`, API_KEY.slice(0, -1), API_KEY.toUpperCase()]) {
        // twice: a refused key is not remembered either
        for (const _ of [1, 2])
          expect((await t.http.get(path).set('Authorization', `Bearer ${key}`)).status).toBe(401);
      }
      expect((await t.http.get(path).set('Authorization', `Bearer ${API_KEY}`)).status).toBe(200);
    });

    it('accepts every configured key (rotation)', async () => {
      const res = await t.http
        .get(`/api/v1/tenants/${tenantId}`)
        .set('Authorization', 'Bearer old-key-0000000000000');
      expect(res.status).toBe(200);
    });
  });

  describe('reads', () => {
    it('answers 404 JSON for unknown tenants, users and routes', async () => {
      for (const path of [
        `/api/v1/tenants/${newTenantId()}`,
        `/api/v1/tenants/${tenantId}/users/nobody`,
        `/api/v1/tenants/${newTenantId()}/departments`,
        '/api/v1/nope',
      ]) {
        const res = await t.api(path);
        expect(res.status).toBe(404);
        expect(res.body).toEqual({ error: 'not_found', message: expect.any(String) });
      }
    });

    it('shows users of KOO_APP_ID only', async () => {
      expect((await t.api(`/api/v1/tenants/${tenantId}/users/plain1`)).status).toBe(200);
      expect((await t.api(`/api/v1/tenants/${tenantId}/users/other-app-user`)).status).toBe(404);
    });

    it('lists departments, all or one level', async () => {
      const all = await t.api(`/api/v1/tenants/${tenantId}/departments`);
      expect(all.body.departments.map((d: { orgCode: string }) => d.orgCode)).toEqual(['qa', 'rd', 'root']);
      const top = await t.api(`/api/v1/tenants/${tenantId}/departments?parent=`);
      expect(top.body).toEqual({ departments: [{ orgCode: 'root', orgName: '总部', parentCode: null }] });
      const under = await t.api(`/api/v1/tenants/${tenantId}/departments?parent=rd`);
      expect(under.body).toEqual({ departments: [{ orgCode: 'qa', orgName: '测试', parentCode: 'rd' }] });
    });

    it('refuses identifiers over 64 characters with 400', async () => {
      const res = await t.api(`/api/v1/tenants/${'x'.repeat(65)}`);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_request');
    });
  });

  describe('POST /api/v1/authorize', () => {
    it.each([
      [{ userName: 'admin1' }, true, 'ok'],
      [{ userName: 'admin1', role: 'admin' }, true, 'ok'],
      [{ userName: 'plain1', role: 'user' }, true, 'ok'],
      [{ userName: 'plain1', role: 'admin' }, false, 'role_missing'],
      [{ userName: 'off1' }, false, 'user_disabled'],
      [{ userName: 'nobody' }, false, 'user_unknown'],
      [{ userName: 'other-app-user' }, false, 'user_unknown'],
      [{ userName: 'other-app-user', appId: 'another-app' }, true, 'ok'],
      // no applicationSync for that app in the tenant: checked before the user
      [{ userName: 'admin1', appId: 'third-app' }, false, 'app_unknown'],
    ])('%j → allowed %s (%s)', async (body, allowed, reason) => {
      const res = await authorize({ tenantId, ...body });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ allowed, reason });
    });

    it('names the user when it knows them, and never for an unknown tenant', async () => {
      expect((await authorize({ tenantId, userName: 'off1' })).body.user).toMatchObject({
        userName: 'off1',
        enable: false,
      });
      const unknown = await authorize({ tenantId: newTenantId(), userName: 'admin1' });
      expect(unknown.body).toEqual({ allowed: false, reason: 'tenant_unknown' });
    });

    it.each([
      [{ userName: 'admin1' }, /tenantId/],
      [{ tenantId }, /userName/],
      [{ tenantId, userName: 'admin1', role: 'owner' }, /role/],
      [{ tenantId, userName: 5 }, /userName/],
    ])('answers 400 for %j', async (body, message) => {
      const res = await authorize(body);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_request');
      expect(res.body.message).toMatch(message);
    });

    it('answers 400 for a body that is not JSON', async () => {
      const res = await t.http
        .post('/api/v1/authorize')
        .set('Authorization', `Bearer ${API_KEY}`)
        .set('Content-Type', 'application/json')
        .send('{"tenantId":');
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'invalid_request', message: 'The body is not valid JSON.' });
    });
  });
});
