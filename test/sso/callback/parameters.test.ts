import { describe, expect, it } from '@jest/globals';
import { notes } from '../../../src/ops/log.js';
import { ANSWERED } from '../../../src/sso/callback/context.js';
import { parameters } from '../../../src/sso/callback/parameters.js';
import { failureOf, fake, logins, TENANT_ID } from './fakes.js';

describe('callback step: parameters', () => {
  it('takes code and tenant, and names the tenant in the log line', async () => {
    const f = fake({ query: { code: 'the-code', tenant: TENANT_ID } });
    expect(await parameters(f.ctx)).toBeUndefined();
    expect([f.ctx.code, f.ctx.tenantId]).toEqual(['the-code', TENANT_ID]);
    expect(notes(f.ctx.res).fields).toEqual({ tenantId: TENANT_ID });
    expect(f.res.body).toBeUndefined();
  });

  it('takes tenant_id for tenant, as one seed page names it', async () => {
    const f = fake({ query: { code: 'c', tenant_id: TENANT_ID } });
    expect(await parameters(f.ctx)).toBeUndefined();
    expect(f.ctx.tenantId).toBe(TENANT_ID);
  });

  it('prefers tenant when both are given', async () => {
    const f = fake({ query: { code: 'c', tenant: TENANT_ID, tenant_id: 'other' } });
    await parameters(f.ctx);
    expect(f.ctx.tenantId).toBe(TENANT_ID);
  });

  it('takes a code of 2048 characters and a tenant of 64', async () => {
    const f = fake({ query: { code: 'c'.repeat(2048), tenant: 't'.repeat(64) } });
    expect(await parameters(f.ctx)).toBeUndefined();
  });

  it.each([
    ['nothing', {}],
    ['no tenant', { code: 'c' }],
    ['no code', { tenant: TENANT_ID }],
    ['an empty code', { code: '', tenant: TENANT_ID }],
    ['an empty tenant', { code: 'c', tenant: '' }],
    ['a code given twice', { code: ['a', 'b'], tenant: TENANT_ID }],
    ['a tenant given twice', { code: 'c', tenant: [TENANT_ID, TENANT_ID] }],
    ['a code of 2049 characters', { code: 'c'.repeat(2049), tenant: TENANT_ID }],
    ['a tenant of 65 characters', { code: 'c', tenant: 't'.repeat(65) }],
  ])('refuses %s: 400 bad_request, counted', async (_name, query) => {
    const f = fake({ query });
    expect(await parameters(f.ctx)).toBe(ANSWERED);
    expect(f.res.statusCode).toBe(400);
    expect(failureOf(f.res)).toBe('bad_request');
    expect(f.ctx.code).toBeUndefined();
    expect(await logins(f.metrics, 'bad_request')).toBe(1);
  });
});
