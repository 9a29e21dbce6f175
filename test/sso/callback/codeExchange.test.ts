import { describe, expect, it } from '@jest/globals';
import type * as oidc from 'openid-client';
import { notes } from '../../../src/ops/log.js';
import { codeExchange } from '../../../src/sso/callback/codeExchange.js';
import { ANSWERED } from '../../../src/sso/callback/context.js';
import { IdpError } from '../../../src/sso/idp.js';
import { failureOf, fake, grant, idpConfig, logins, TENANT_ID } from './fakes.js';

const found = { tenantId: TENANT_ID, code: 'the-code', idp: idpConfig };

describe('callback step: code exchange', () => {
  it('exchanges the code at the identity server with the registered callback as redirect_uri', async () => {
    const calls: [oidc.Configuration, string, string][] = [];
    const f = fake({ env: { PUBLIC_URL: 'https://isv.example.com/' }, found });
    f.deps.idps.exchangeCode = async (...args) => {
      calls.push(args);
      return grant();
    };
    expect(await codeExchange(f.ctx)).toBeUndefined();
    expect(calls).toEqual([[idpConfig, 'the-code', 'https://isv.example.com/sso/callback']]);
    expect(f.ctx.grant).toEqual(grant());
  });

  it('answers a refused code (used, expired, another client) with 400 code_rejected and the reason logged', async () => {
    const f = fake({ found });
    f.deps.idps.exchangeCode = async () => {
      throw new IdpError({ kind: 'rejected', error: 'invalid_grant', status: 400 });
    };
    expect(await codeExchange(f.ctx)).toBe(ANSWERED);
    expect(f.res.statusCode).toBe(400);
    expect(failureOf(f.res)).toBe('code_rejected');
    expect(notes(f.ctx.res).fields).toMatchObject({ failure: 'code_rejected', detail: '400 invalid_grant' });
    expect(f.ctx.grant).toBeUndefined();
    expect(await logins(f.metrics, 'code_rejected')).toBe(1);
  });

  it('answers an identity server that fails or is slow with 502 idp_unavailable', async () => {
    const f = fake({ found });
    f.deps.idps.exchangeCode = async () => {
      throw new IdpError({ kind: 'unavailable', detail: 'timed out' });
    };
    expect(await codeExchange(f.ctx)).toBe(ANSWERED);
    expect(f.res.statusCode).toBe(502);
    expect(notes(f.ctx.res).fields).toMatchObject({ failure: 'idp_unavailable', detail: 'timed out' });
  });
});
