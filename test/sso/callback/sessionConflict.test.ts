import { describe, expect, it } from '@jest/globals';
import { ANSWERED } from '../../../src/sso/callback/context.js';
import { sessionConflict } from '../../../src/sso/callback/sessionConflict.js';
import { fake, logins, NOW, signedIn, TENANT_ID, userInfo } from './fakes.js';

const bob = { tenantId: TENANT_ID, user: userInfo({ userName: 'bob' }) };
const began = { nonce: 'n', at: NOW };

describe('callback step: session conflict', () => {
  it('without a pending sign-in, for another user: 409 naming both, the session untouched', async () => {
    const alice = signedIn();
    const f = fake({ login: alice, found: bob, env: { POST_LOGIN_PATH: '/app' } });
    f.ctx.pending = null;
    expect(await sessionConflict(f.ctx)).toBe(ANSWERED);
    expect(f.res.statusCode).toBe(409);
    expect(f.res.headers['cache-control']).toBe('no-store');
    expect(f.res.body).toContain('data-page="session-conflict"');
    expect(f.res.body).toContain('<strong>alice</strong>');
    expect(f.res.body).toContain('<strong>bob</strong>');
    expect(f.res.body).toContain('<code id="reference">req-fake-0001</code>');
    expect(f.res.body).toContain('href="/app"');
    expect(f.req.session.login).toBe(alice);
    expect(f.session.regenerated).toBe(0);
    expect(await logins(f.metrics, 'session_conflict')).toBe(1);
  });

  it('without a pending sign-in, for the same user name in another tenant: the same 409', async () => {
    const f = fake({ login: signedIn({ tenantId: 'another-tenant' }), found: { ...bob, user: userInfo() } });
    f.ctx.pending = null;
    expect(await sessionConflict(f.ctx)).toBe(ANSWERED);
    expect(f.res.statusCode).toBe(409);
  });

  it('without a pending sign-in, for the same user: on to a new session', async () => {
    const f = fake({ login: signedIn(), found: { ...bob, user: userInfo() } });
    f.ctx.pending = null;
    expect(await sessionConflict(f.ctx)).toBeUndefined();
    expect(f.res.body).toBeUndefined();
  });

  it('with a pending sign-in, for another user: the same 409 (any page can start one)', async () => {
    const alice = signedIn();
    const f = fake({ login: alice, found: bob });
    f.ctx.pending = began;
    expect(await sessionConflict(f.ctx)).toBe(ANSWERED);
    expect(f.res.statusCode).toBe(409);
    expect(f.req.session.login).toBe(alice);
    expect(await logins(f.metrics, 'session_conflict')).toBe(1);
  });

  it('with a pending sign-in, for the same user: on to a new session', async () => {
    const f = fake({ login: signedIn(), found: { ...bob, user: userInfo() } });
    f.ctx.pending = began;
    expect(await sessionConflict(f.ctx)).toBeUndefined();
    expect(await logins(f.metrics, 'session_conflict')).toBe(0);
  });

  it('with no session in the browser: on', async () => {
    const f = fake({ found: bob });
    f.ctx.pending = null;
    expect(await sessionConflict(f.ctx)).toBeUndefined();
  });
});
