import { describe, expect, it } from '@jest/globals';
import { ANSWERED } from '../../../src/sso/callback/context.js';
import { identityServer } from '../../../src/sso/callback/identityServer.js';
import { IdpError, type IdpFailure } from '../../../src/sso/idp.js';
import { failureOf, fake, idpConfig, logins, TENANT_ID, tenantRecord } from './fakes.js';

const refusing = (failure: IdpFailure) => ({
  resolve: async () => {
    throw new IdpError(failure);
  },
});

describe('callback step: identity server', () => {
  it("resolves the callback's tenant to its record and identity server", async () => {
    const asked: string[] = [];
    const f = fake({ found: { tenantId: TENANT_ID } });
    f.deps.idps.resolve = async (tenantId) => {
      asked.push(tenantId);
      return { tenant: tenantRecord(), config: idpConfig };
    };
    expect(await identityServer(f.ctx)).toBeUndefined();
    expect(asked).toEqual([TENANT_ID]);
    expect(f.ctx.tenant).toEqual(tenantRecord());
    expect(f.ctx.idp).toBe(idpConfig);
  });

  it.each([
    [{ kind: 'unknown_tenant' }, 'unknown_tenant', 400],
    [{ kind: 'no_client' }, 'no_client', 400],
    [{ kind: 'unavailable', detail: 'the tenant domainName is not https' }, 'idp_unavailable', 502],
  ] as const)('answers %j with the %s page (%d), counted', async (failure, page, status) => {
    const f = fake({ found: { tenantId: TENANT_ID } });
    Object.assign(f.deps.idps, refusing(failure));
    expect(await identityServer(f.ctx)).toBe(ANSWERED);
    expect(f.res.statusCode).toBe(status);
    expect(failureOf(f.res)).toBe(page);
    expect(f.ctx.idp).toBeUndefined();
    expect(await logins(f.metrics, page)).toBe(1);
  });

  it('lets any other error through (the store is down: a 500, not a sign-in failure)', async () => {
    const f = fake({ found: { tenantId: TENANT_ID } });
    f.deps.idps.resolve = async () => {
      throw new Error('store timed out');
    };
    await expect(identityServer(f.ctx)).rejects.toThrow('store timed out');
    expect(f.res.body).toBeUndefined();
  });
});
