import { describe, expect, it } from '@jest/globals';
import type { Pending } from '../../../src/sso/callback/context.js';
import {
  PENDING_COOKIE,
  PENDING_MAX_AGE_MS,
  pending,
  setPending,
} from '../../../src/sso/callback/pending.js';
import { deriveSessionKeys } from '../../../src/crypto/sessionKeys.js';
import { signValue } from '../../../src/sso/signedValue.js';
import { fake, NOW, type Fake } from './fakes.js';

/** The cookie /sso/login sets, as the browser sends it back. */
function cookieFrom(f: Fake, value: Pending): string {
  const login = fake();
  setPending(login.ctx.res, f.deps.config, value);
  const set = login.res.cookies.find((c) => c.name === PENDING_COOKIE)!;
  return `other=1; ${PENDING_COOKIE}=${encodeURIComponent(set.value)}`;
}

const started = (at: number, returnTo?: string): Pending => ({
  ...(returnTo ? { returnTo } : {}),
  nonce: 'n0nce',
  at,
});

describe('callback step: pending sign-in', () => {
  it('finds the sign-in this browser began at /sso/login, with its returnTo', async () => {
    const base = fake();
    const f = fake({ headers: { Cookie: cookieFrom(base, started(NOW - 1000, '/reports')) } });
    expect(await pending(f.ctx)).toBeUndefined();
    expect(f.ctx.pending).toEqual(started(NOW - 1000, '/reports'));
  });

  it('finds none without the cookie (a workbench sign-in)', async () => {
    const f = fake();
    await pending(f.ctx);
    expect(f.ctx.pending).toBeNull();
  });

  it('takes none older than ten minutes by its signed time, whatever the browser kept', async () => {
    const base = fake();
    const f = fake({ headers: { Cookie: cookieFrom(base, started(NOW - PENDING_MAX_AGE_MS, '/x')) } });
    await pending(f.ctx);
    expect(f.ctx.pending).toBeNull();
    const g = fake({ headers: { Cookie: cookieFrom(base, started(NOW - PENDING_MAX_AGE_MS + 1, '/x')) } });
    await pending(g.ctx);
    expect(g.ctx.pending).toMatchObject({ returnTo: '/x' });
  });

  it('takes none that is not signed by a SESSION_SECRET', async () => {
    const forged = signValue(
      started(NOW, '/evil'),
      deriveSessionKeys(['not-the-relay-secret-000000']).pendingCookie,
    );
    const f = fake({ headers: { Cookie: `${PENDING_COOKIE}=${encodeURIComponent(forged)}` } });
    await pending(f.ctx);
    expect(f.ctx.pending).toBeNull();
  });

  it("takes none signed with the same secret's key for another use (the session cookie's)", async () => {
    const { config } = fake().deps;
    for (const keys of [config.sessionKeys.sessionCookie, [config.sessionKeys.sessionFingerprint] as const]) {
      const forged = signValue(started(NOW, '/evil'), keys);
      const f = fake({ headers: { Cookie: `${PENDING_COOKIE}=${encodeURIComponent(forged)}` } });
      await pending(f.ctx);
      expect(f.ctx.pending).toBeNull();
    }
  });

  it('takes one signed with an older secret still listed (rotation)', async () => {
    const old = 'the-old-session-secret-0001';
    const signed = signValue(started(NOW, '/kept'), deriveSessionKeys([old]).pendingCookie);
    const f = fake({
      env: { SESSION_SECRET: `the-new-session-secret-0002,${old}` },
      headers: { Cookie: `${PENDING_COOKIE}=${encodeURIComponent(signed)}` },
    });
    await pending(f.ctx);
    expect(f.ctx.pending).toMatchObject({ returnTo: '/kept' });
  });

  it('clears the cookie with the flags it was set with, valid or not', async () => {
    const f = fake({ env: { PUBLIC_URL: 'https://isv.example.com' } });
    await pending(f.ctx);
    expect(f.res.cleared).toEqual([
      { name: PENDING_COOKIE, options: { httpOnly: true, sameSite: 'lax', secure: true, path: '/sso' } },
    ]);
  });
});
