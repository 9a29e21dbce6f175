// Token renewal: the 5-minute rule, rotation, invalid_grant, and the race across relay processes.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { API_KEY, startRelay, type TestRelay } from '../support/relay.js';
import { startSignInWorld, type SignInWorld } from '../support/world.js';

describe('token renewal', () => {
  let w: SignInWorld;
  let second: TestRelay;
  beforeAll(async () => {
    w = await startSignInWorld();
    // A second relay process on the same Redis, as behind a load balancer.
    second = await startRelay({
      prefix: w.relay.prefix,
      env: { PUBLIC_URL: w.relay.config.publicUrl.href, UNIFIED_LOGIN_URL: w.relay.config.unifiedLoginUrl },
    });
  });
  afterAll(async () => {
    await second.close();
    await w.close();
  });

  const idp = () => w.world.idp(w.acme.tenantCode);
  const refreshes = () =>
    w.sandbox.identity.stats.refreshes.filter((r) => r.tenantCode === w.acme.tenantCode).length;
  const token = (relay: TestRelay, sid: string, body?: object) =>
    relay.http
      .post('/api/v1/session/token')
      .set('Authorization', `Bearer ${API_KEY}`)
      .set('X-Session-Id', sid)
      .send(body ?? {});

  /** Signs in with an access token that has `seconds` left; later tokens live 10 minutes. */
  const signInExpiringIn = async (user: string, seconds: number) => {
    idp().accessTtlSeconds = seconds;
    const s = await w.signIn(user);
    idp().accessTtlSeconds = 600;
    return s;
  };

  afterEach(() => {
    Object.assign(idp(), { refreshDelayMs: 0, accessTtlSeconds: 7200 });
  });

  it('keeps a token with more than 5 minutes left and renews one with less', async () => {
    const { sid } = await signInExpiringIn('alice', 360);
    const before = refreshes();
    const first = await token(w.relay, sid);
    expect(first.status).toBe(200);
    expect(refreshes()).toBe(before);

    const near = await signInExpiringIn('bob', 240);
    const renewed = await token(w.relay, near.sid);
    expect(renewed.status).toBe(200);
    expect(refreshes()).toBe(before + 1);
    expect(Date.parse(renewed.body.expiresAt) - Date.now()).toBeGreaterThan(590_000);
    // the new token is the one the identity server now accepts
    const info = await fetch(`${w.world.domainName(w.acme)}/api/v1/oauth2/userinfo`, {
      headers: { Authorization: `Bearer ${renewed.body.accessToken}` },
    });
    expect(info.status).toBe(200);
  });

  it('renews on demand and keeps the rotated refresh token', async () => {
    const { sid } = await w.signIn('alice');
    const before = refreshes();
    const a = await token(w.relay, sid, { forceRefresh: true });
    const b = await token(w.relay, sid, { forceRefresh: true });
    const c = await token(second, sid, { forceRefresh: true });
    expect([a.status, b.status, c.status]).toEqual([200, 200, 200]);
    expect(new Set([a.body.accessToken, b.body.accessToken, c.body.accessToken]).size).toBe(3);
    expect(refreshes()).toBe(before + 3);
    // every refresh used the previous rotation's token: none was refused
    expect(w.sandbox.identity.stats.refreshes.slice(-3).every((r) => r.ok)).toBe(true);
  });

  it('ends the session when the refresh token is refused: reauthenticate', async () => {
    const { sid } = await w.signIn('dave');
    expect(w.sandbox.identity.revokeRefreshTokens('dave')).toBeGreaterThan(0);
    const refused = await token(w.relay, sid, { forceRefresh: true });
    expect(refused.status).toBe(401);
    expect(refused.body).toEqual({ error: 'reauthenticate', message: expect.any(String) });
    expect((await token(second, sid)).body.error).toBe('reauthenticate');
    const read = await w.relay.http
      .get('/api/v1/session')
      .set('Authorization', `Bearer ${API_KEY}`)
      .set('X-Session-Id', sid);
    expect(read.status).toBe(401);
    expect(read.body.error).toBe('no_session');
    expect((await w.relay.http.get('/metrics')).text).toMatch(
      /relay_token_refreshes_total\{outcome="rejected"\} [1-9]/,
    );
  });

  it.each([
    ['a quick identity server', 0],
    ['an identity server taking 3 s', 3000],
  ])('sends one refresh for 50 concurrent callers on two relays, with %s', async (_label, delay) => {
    const { sid } = await signInExpiringIn('alice', 60);
    idp().refreshDelayMs = delay;
    const before = refreshes();
    const started = Date.now();
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => token(i % 2 ? second : w.relay, sid)),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(50).fill(200));
    expect(refreshes()).toBe(before + 1);
    expect(new Set(answers.map((a) => a.body.accessToken)).size).toBe(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(delay);
    // the rotated refresh token was kept: a forced renewal afterwards still succeeds
    idp().refreshDelayMs = 0;
    const after = await token(second, sid, { forceRefresh: true });
    expect(after.status).toBe(200);
    expect(after.body.accessToken).not.toBe(answers[0]!.body.accessToken);
  });

  it('answers 502 and keeps the session when the identity server cannot renew', async () => {
    const { sid } = await signInExpiringIn('bob', 60);
    idp().failToken = true;
    try {
      const r = await token(w.relay, sid);
      expect(r.status).toBe(502);
      expect(r.body.error).toBe('idp_unavailable');
    } finally {
      idp().failToken = false;
    }
    // the claim was released: the next call renews
    const ok = await token(w.relay, sid);
    expect(ok.status).toBe(200);
  });
});
