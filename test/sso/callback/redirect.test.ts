import { describe, expect, it } from '@jest/globals';
import { ANSWERED } from '../../../src/sso/callback/context.js';
import { redirect } from '../../../src/sso/callback/redirect.js';
import { fake, NOW } from './fakes.js';

describe('callback step: redirect', () => {
  it('sends the browser to the returnTo of the sign-in it began, not cached', async () => {
    const f = fake({ env: { POST_LOGIN_PATH: '/app/home' } });
    f.ctx.pending = { returnTo: '/reports?year=2026#q3', nonce: 'n', at: NOW };
    expect(await redirect(f.ctx)).toBe(ANSWERED);
    expect([f.res.statusCode, f.res.location]).toEqual([302, '/reports?year=2026#q3']);
    expect(f.res.headers['cache-control']).toBe('no-store');
  });

  it.each([
    ['no pending sign-in', null],
    ['a pending sign-in without returnTo', { nonce: 'n', at: NOW }],
  ])('sends the browser to POST_LOGIN_PATH with %s', async (_name, pending) => {
    const f = fake({ env: { POST_LOGIN_PATH: '/app/home' } });
    f.ctx.pending = pending;
    expect(await redirect(f.ctx)).toBe(ANSWERED);
    expect([f.res.statusCode, f.res.location]).toEqual([302, '/app/home']);
  });

  it('with HANDOFF_URL, sends the browser to the seller app with a ticket for this session and where to go', async () => {
    const issued: string[] = [];
    const f = fake({ env: { HANDOFF_URL: 'https://app.example.com/auth/relay?from=relay' } });
    f.deps.handoff.issue = async (sid) => {
      issued.push(sid);
      return 'ticket-for-sid';
    };
    (f.req as { sessionID: string }).sessionID = 'sid-signed-in';
    f.ctx.pending = { returnTo: '/reports', nonce: 'n', at: NOW };
    expect(await redirect(f.ctx)).toBe(ANSWERED);
    expect(issued).toEqual(['sid-signed-in']);
    expect(f.res.statusCode).toBe(302);
    expect(f.res.location).toBe(
      'https://app.example.com/auth/relay?from=relay&ticket=ticket-for-sid&returnTo=%2Freports',
    );
    expect(f.res.headers['cache-control']).toBe('no-store');
  });
});
