import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { notes } from '../../../src/ops/log.js';
import { ANSWERED } from '../../../src/sso/callback/context.js';
import { userinfo } from '../../../src/sso/callback/userinfo.js';
import { IdpError } from '../../../src/sso/idp.js';
import { appFields, authFields, newTenantId, tenantFields, user } from '../../support/data.js';
import { APP_ID, startRelay, type TestRelay } from '../../support/relay.js';
import { failureOf, fake, grant, idpConfig, logins, TENANT_ID, userInfo } from './fakes.js';

const found = { tenantId: TENANT_ID, idp: idpConfig, grant: grant() };

describe('callback step: userinfo and tenant check', () => {
  it('reads who signed in with the access token, and names them in the log line', async () => {
    const tokens: string[] = [];
    const f = fake({ found });
    f.deps.idps.userinfo = async (_idp, accessToken) => {
      tokens.push(accessToken);
      return userInfo();
    };
    expect(await userinfo(f.ctx)).toBeUndefined();
    expect(tokens).toEqual(['access-token']);
    expect(f.ctx.user).toEqual(userInfo());
    expect(notes(f.ctx.res).fields).toEqual({ tenantId: TENANT_ID, userName: 'alice' });
  });

  it('takes a userinfo that names no tenant (the documented minimal answer)', async () => {
    const f = fake({ found });
    f.deps.idps.userinfo = async () => userInfo({ tenant: undefined });
    expect(await userinfo(f.ctx)).toBeUndefined();
    expect(f.ctx.user?.userName).toBe('alice');
  });

  it("refuses a userinfo naming another tenant than the callback's: 400 code_rejected", async () => {
    const f = fake({ found });
    f.deps.idps.userinfo = async () => userInfo({ tenant: 'another-tenant' });
    expect(await userinfo(f.ctx)).toBe(ANSWERED);
    expect(f.res.statusCode).toBe(400);
    expect(failureOf(f.res)).toBe('code_rejected');
    expect(notes(f.ctx.res).fields).toMatchObject({ detail: 'userinfo names another tenant' });
    expect(await logins(f.metrics, 'code_rejected')).toBe(1);
  });

  it('answers a failing userinfo with 502 idp_unavailable', async () => {
    const f = fake({ found });
    f.deps.idps.userinfo = async () => {
      throw new IdpError({ kind: 'unavailable', detail: 'userinfo answered HTTP 500' });
    };
    expect(await userinfo(f.ctx)).toBe(ANSWERED);
    expect(f.res.statusCode).toBe(502);
    expect(failureOf(f.res)).toBe('idp_unavailable');
    expect(f.ctx.user).toBeUndefined();
  });
});

// The sandbox's identity servers only ever name their own tenant, so the integration tests
// cannot reach this rule: here an identity server that names another one, over real HTTP. The
// user is authorized in both tenants, so only the tenant check stands in the way.
describe('over HTTP: an identity server naming another tenant in userinfo', () => {
  let relay: TestRelay;
  let idp: Server;
  const tenantId = newTenantId();
  const named = newTenantId();

  beforeAll(async () => {
    idp = createServer((req, res) => {
      res.setHeader('Content-Type', 'application/json');
      if (req.method === 'POST' && req.url === '/api/v1/oauth2/token')
        return void res.end(JSON.stringify({ access_token: 'at', token_type: 'Bearer', expires_in: 7200 }));
      if (req.url === '/api/v1/oauth2/userinfo')
        return void res.end(JSON.stringify({ userName: 'mallory', tenant: named }));
      res.statusCode = 404;
      res.end('{}');
    });
    await new Promise<void>((r) => idp.listen(0, '127.0.0.1', r));
    const domainName = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
    relay = await startRelay({ store: 'memory' });
    for (const id of [tenantId, named])
      for (const pushed of [
        await relay.pusher.tenantSync(tenantFields(id, { domainName })),
        await relay.pusher.applicationSync(appFields(id)),
        await relay.pusher.authSync(authFields(id, [user('mallory')])),
      ])
        expect(pushed.resultCode).toBe('000000');
  });
  afterAll(async () => {
    await relay.close();
    await new Promise((r) => idp.close(r));
  });

  it('400 code_rejected: no session cookie, no session stored in either tenant, the reason logged', async () => {
    const reqId = `userinfo-${newTenantId()}`;
    const page = await relay.http.get(`/sso/callback?code=any&tenant=${tenantId}`).set('X-Request-Id', reqId);
    expect(page.status).toBe(400);
    expect(page.text).toContain('data-failure="code_rejected"');
    const cookies = page.get('Set-Cookie') ?? [];
    expect(cookies.filter((c) => c.startsWith('relay.sid='))).toEqual([]);
    expect(cookies).toEqual([expect.stringMatching(/^relay\.pending=;/)]);

    const keys = Object.keys(await relay.state());
    expect(keys.filter((k) => k.includes(':sess:') || k.includes(':sessions:'))).toEqual([]);
    for (const id of [tenantId, named])
      expect(await relay.store.sMembers(relay.relay.keys.userSessions(id, APP_ID, 'mallory'))).toEqual([]);
    expect(await relay.logLine(reqId)).toMatchObject({
      status: 400,
      tenantId,
      failure: 'code_rejected',
      detail: 'userinfo names another tenant',
    });
  });
});
