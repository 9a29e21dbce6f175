// Sign-in failure pages over real HTTP (contract §4): status, bilingual sentence, a reference id
// that is the reqId of the request's log line, no caching, and the login outcome metric.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { userForSync, type SandboxTenant } from '../../src/sandbox/world.js';
import { FAILURES, type Failure } from '../../src/sso/pages.js';
import type { Browser, Page } from '../support/browser.js';
import { newTenantId } from '../support/data.js';
import { freePort } from '../support/redis.js';
import { API_KEY, APP_ID } from '../support/relay.js';
import { InstrumentedStore } from '../support/stores.js';
import { startSignInWorld, type SignInWorld } from '../support/world.js';

const escapeHtml = (v: string) =>
  v.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface LogLine {
  reqId?: string;
  failure?: string;
  detail?: string;
  status?: number;
  [k: string]: unknown;
}

function logLines(w: SignInWorld): LogLine[] {
  return w.relay.logs.map((l) => JSON.parse(l) as LogLine);
}

/** The request log line is written when the response finishes: give it a moment. */
async function linesFor(w: SignInWorld, reqId: string): Promise<LogLine[]> {
  for (let i = 0; i < 50; i++) {
    const lines = logLines(w).filter((l) => l.reqId === reqId);
    if (lines.length > 0) return lines;
    await sleep(20);
  }
  return [];
}

async function loginCount(w: SignInWorld, outcome: string): Promise<number> {
  const text = (await w.relay.http.get('/metrics')).text;
  const m = new RegExp(`^relay_logins_total\\{outcome="${outcome}"\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/** Everything contract §4 says about a failure page, checked on one response. */
async function expectFailurePage(w: SignInWorld, page: Page, kind: Failure): Promise<LogLine> {
  const text = FAILURES[kind];
  expect(/data-failure="([^"]*)"/.exec(page.text)?.[1]).toBe(kind);
  expect(page.status).toBe(text.status);
  expect(page.headers.get('content-type')).toMatch(/^text\/html\b/);
  expect(page.headers.get('cache-control')).toBe('no-store');
  for (const sentence of [text.titleZh, text.messageZh, text.titleEn, text.messageEn])
    expect(page.text).toContain(escapeHtml(sentence));
  expect(page.text).toMatch(/[\u4e00-\u9fff]/);

  const reference = /<code id="reference">([^<]*)<\/code>/.exec(page.text)?.[1];
  expect(reference).toBeTruthy();
  expect(page.headers.get('x-request-id')).toBe(reference);
  const lines = await linesFor(w, reference!);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatchObject({ reqId: reference, failure: kind, status: text.status });
  expect(logLines(w).filter((l) => l.reqId === reference && l.failure === kind)).toHaveLength(1);
  return lines[0]!;
}

/** Runs one failing sign-in and checks its page and that its outcome was counted once. */
async function expectSignInFailure(
  w: SignInWorld,
  kind: Failure,
  run: () => Promise<Page>,
): Promise<{ page: Page; line: LogLine }> {
  const before = await loginCount(w, kind);
  const page = await run();
  const line = await expectFailurePage(w, page, kind);
  expect(await loginCount(w, kind)).toBe(before + 1);
  return { page, line };
}

const callbackPath = (code: string, tenant: string) =>
  `/sso/callback?code=${encodeURIComponent(code)}&tenant=${encodeURIComponent(tenant)}`;

describe('sign-in failure pages', () => {
  let w: SignInWorld;
  beforeAll(async () => {
    w = await startSignInWorld();
  });
  afterAll(() => w.close());

  const cookieName = () => w.relay.config.session.cookieName;
  /** The callback URL the unified login sends a fresh browser to, as it would for `user`. */
  const codeFor = async (user: string): Promise<{ browser: Browser; callback: string }> => {
    const browser = w.browser();
    const callback = await w.unifiedLogin(browser, user);
    return { browser, callback };
  };
  const pushOk = async (result: Promise<{ resultCode: string | null; problem?: string }>) => {
    const r = await result;
    expect(r.problem ?? r.resultCode).toBe('000000');
  };
  /** A tenant the sandbox knows, with one user authorized there for the app. */
  const sandboxTenant = (label: string, userName: string): SandboxTenant => {
    const tenant = w.world.addTenant({
      name: `${label} 有限公司`,
      tenantCode: `${label}${Math.random().toString(36).slice(2, 8)}`,
    });
    w.world.addUser({
      tenantId: tenant.tenantId,
      userName,
      password: w.password,
      name: userName,
      orgCode: '',
      apps: new Set([APP_ID]),
    });
    return tenant;
  };

  describe('400 bad_request when the callback lacks its code or tenant', () => {
    it.each([
      ['no query at all', '/sso/callback'],
      ['no tenant', '/sso/callback?code=abc'],
      ['no code', '/sso/callback?tenant=0123456789abcdef'],
      ['empty code', '/sso/callback?code=&tenant=0123456789abcdef'],
      ['empty tenant', '/sso/callback?code=abc&tenant='],
      ['code given twice', '/sso/callback?code=a&code=b&tenant=0123456789abcdef'],
      ['a code of 2049 characters', callbackPath('c'.repeat(2049), '0123456789abcdef')],
      ['a tenant of 65 characters', callbackPath('abc', 't'.repeat(65))],
    ])('%s', async (_name, path) => {
      const browser = w.browser();
      await expectSignInFailure(w, 'bad_request', () => browser.request(`${w.relay.url}${path}`));
      expect(browser.cookie(w.relay.url, cookieName())).toBeUndefined();
    });
  });

  it('400 unknown_tenant for a tenant no tenantSync ever named', async () => {
    const browser = w.browser();
    await expectSignInFailure(w, 'unknown_tenant', () =>
      browser.request(`${w.relay.url}${callbackPath('any-code', newTenantId())}`),
    );
    expect(browser.cookie(w.relay.url, cookieName())).toBeUndefined();
  });

  it('400 no_client for a tenant pushed by tenantSync but never by applicationSync', async () => {
    const tenant = sandboxTenant('noclient', 'nora');
    await pushOk(
      w.relay.pusher.tenantSync({
        instanceId: tenant.instanceId,
        orderId: tenant.orderId,
        tenantId: tenant.tenantId,
        tenantCode: tenant.tenantCode,
        name: tenant.name,
        domainName: w.world.domainName(tenant),
        flag: 1,
        testFlag: 0,
      }),
    );
    // The relay fails before it calls the identity server: a made-up code does.
    const browser = w.browser();
    await expectSignInFailure(w, 'no_client', () =>
      browser.request(`${w.relay.url}${callbackPath('made-up-code', tenant.tenantId)}`),
    );
    // and so does a real one from the unified login
    const real = await codeFor('nora');
    expect(new URL(real.callback).searchParams.get('tenant')).toBe(tenant.tenantId);
    await expectSignInFailure(w, 'no_client', () => real.browser.request(real.callback));
    expect(real.browser.cookie(w.relay.url, cookieName())).toBeUndefined();
  });

  it('400 code_rejected when a callback URL is used a second time', async () => {
    const { browser, callback } = await codeFor('bob');
    const first = await browser.request(callback);
    expect(first.status).toBe(302);
    // the same browser going back to it
    const { line } = await expectSignInFailure(w, 'code_rejected', () => browser.request(callback));
    expect(line.detail).toMatch(/^400 invalid_grant$/);
    // and someone else replaying it
    const other = w.browser();
    await expectSignInFailure(w, 'code_rejected', () => other.request(callback));
    expect(other.cookie(w.relay.url, cookieName())).toBeUndefined();
  });

  it("400 code_rejected for a code presented with another tenant's id", async () => {
    const globex = sandboxTenant('globex', 'gina');
    await w.world.provision(APP_ID, [globex.tenantId]);
    // gina can sign in at her own tenant
    const own = await codeFor('gina');
    expect((await own.browser.request(own.callback)).status).toBe(302);

    // alice's code (acme's client) sent with globex's tenant id, and the reverse
    const alice = await codeFor('alice');
    const aliceCode = new URL(alice.callback).searchParams.get('code')!;
    const a = await expectSignInFailure(w, 'code_rejected', () =>
      alice.browser.request(`${w.relay.url}${callbackPath(aliceCode, globex.tenantId)}`),
    );
    expect(a.line.detail).toMatch(/invalid_grant/);
    expect(alice.browser.cookie(w.relay.url, cookieName())).toBeUndefined();

    const gina = await codeFor('gina');
    const ginaCode = new URL(gina.callback).searchParams.get('code')!;
    await expectSignInFailure(w, 'code_rejected', () =>
      gina.browser.request(`${w.relay.url}${callbackPath(ginaCode, w.acme.tenantId)}`),
    );
    expect(gina.browser.cookie(w.relay.url, cookieName())).toBeUndefined();
  });

  it('403 not_authorized for a user whose authorization was cancelled (authSync flag 3)', async () => {
    const dave = w.world.users.get('dave')!;
    // dave signs in while authorized
    expect((await w.signIn('dave')).landed).toBe(`${w.relay.url}/`);
    await pushOk(
      w.relay.pusher.authSync({
        instanceId: w.acme.instanceId,
        tenantId: w.acme.tenantId,
        appId: APP_ID,
        userList: [userForSync(dave)],
        flag: 3,
        testFlag: 0,
      }),
    );
    const mirrored = await w.relay.api(`/api/v1/tenants/${w.acme.tenantId}/users/dave`);
    expect(mirrored.body).toMatchObject({ userName: 'dave', authorized: false });
    // the sandbox still lets him through the unified login: the relay must refuse him
    const { browser, callback } = await codeFor('dave');
    await expectSignInFailure(w, 'not_authorized', () => browser.request(callback));
    expect(browser.cookie(w.relay.url, cookieName())).toBeUndefined();
  });

  it('403 not_authorized for a sandbox user no authSync ever named', async () => {
    w.world.addUser({
      tenantId: w.acme.tenantId,
      userName: 'erin',
      password: w.password,
      name: '艾琳',
      orgCode: 'rd',
      apps: new Set([APP_ID]),
    });
    expect((await w.relay.api(`/api/v1/tenants/${w.acme.tenantId}/users/erin`)).status).toBe(404);
    const { browser, callback } = await codeFor('erin');
    await expectSignInFailure(w, 'not_authorized', () => browser.request(callback));
    expect(browser.cookie(w.relay.url, cookieName())).toBeUndefined();
  });

  it('403 user_disabled for a user synced with enable "false"', async () => {
    const { browser, callback } = await codeFor('carol');
    await expectSignInFailure(w, 'user_disabled', () => browser.request(callback));
    expect(browser.cookie(w.relay.url, cookieName())).toBeUndefined();
  });

  it('502 idp_unavailable when the tenant identity server does not listen', async () => {
    const closed = await freePort(); // free: nothing listens there
    const tenant = sandboxTenant('down', 'dan');
    const { clientId, clientSecret } = w.world.client(tenant.tenantId, APP_ID);
    const common = { instanceId: tenant.instanceId, tenantId: tenant.tenantId, testFlag: 0 };
    await pushOk(
      w.relay.pusher.tenantSync({
        ...common,
        orderId: tenant.orderId,
        tenantCode: tenant.tenantCode,
        name: tenant.name,
        domainName: `http://127.0.0.1:${closed}`,
        flag: 1,
      }),
    );
    await pushOk(
      w.relay.pusher.applicationSync({ ...common, appId: APP_ID, clientId, clientSecret, flag: 1 }),
    );
    const browser = w.browser();
    const started = performance.now();
    await expectSignInFailure(w, 'idp_unavailable', () =>
      browser.request(`${w.relay.url}${callbackPath('any-code', tenant.tenantId)}`),
    );
    expect(performance.now() - started).toBeLessThan(5000);
    expect(browser.cookie(w.relay.url, cookieName())).toBeUndefined();
  });

  it('502 idp_unavailable when the token endpoint answers 500', async () => {
    const idp = w.world.idp(w.acme.tenantCode);
    const { browser, callback } = await codeFor('alice');
    idp.failToken = true;
    try {
      await expectSignInFailure(w, 'idp_unavailable', () => browser.request(callback));
    } finally {
      idp.failToken = false;
    }
    expect(browser.cookie(w.relay.url, cookieName())).toBeUndefined();
  });

  it('502 idp_unavailable when userinfo answers 500', async () => {
    const idp = w.world.idp(w.acme.tenantCode);
    const { browser, callback } = await codeFor('alice');
    idp.failUserinfo = true;
    try {
      const { line } = await expectSignInFailure(w, 'idp_unavailable', () => browser.request(callback));
      expect(line.detail).toMatch(/500/);
    } finally {
      idp.failUserinfo = false;
    }
    expect(browser.cookie(w.relay.url, cookieName())).toBeUndefined();
  });

  it('still signs in after each failure above (nothing stuck)', async () => {
    const { browser, landed } = await w.signIn('alice');
    expect(landed).toBe(`${w.relay.url}/`);
    const me = await w.relay.http
      .get('/api/v1/session')
      .set('Authorization', `Bearer ${API_KEY}`)
      .set('Cookie', browser.cookieHeader(w.relay.url));
    expect(me.body.user.userName).toBe('alice');
  });
});

describe('a slow identity server', () => {
  const DELAY_MS = 3000;
  let w: SignInWorld;
  let lastSlowCallAt = 0;
  beforeAll(async () => {
    w = await startSignInWorld({ env: { IDP_TIMEOUT_MS: '800' } });
  });
  afterAll(async () => {
    // Let the sandbox's delayed answers fire before it closes, so no timer outlives the file.
    await sleep(Math.max(0, lastSlowCallAt + DELAY_MS + 100 - performance.now()));
    await w.close();
  });

  it.each([
    ['token endpoint', 'tokenDelayMs'],
    ['userinfo', 'userinfoDelayMs'],
  ] as const)('502 idp_unavailable within a bounded time when the %s is slow', async (_name, knob) => {
    const idp = w.world.idp(w.acme.tenantCode);
    const browser = w.browser();
    const callback = await w.unifiedLogin(browser, 'alice');
    idp[knob] = DELAY_MS;
    try {
      const before = await loginCount(w, 'idp_unavailable');
      lastSlowCallAt = performance.now();
      const page = await browser.request(callback);
      const elapsed = performance.now() - lastSlowCallAt;
      expect(elapsed).toBeLessThan(2000);
      await expectFailurePage(w, page, 'idp_unavailable');
      expect(await loginCount(w, 'idp_unavailable')).toBe(before + 1);
    } finally {
      idp[knob] = 0;
    }
    expect(browser.cookie(w.relay.url, w.relay.config.session.cookieName)).toBeUndefined();
  });
});

describe('the store failing in the middle of a sign-in', () => {
  let w: SignInWorld;
  const store = new InstrumentedStore();
  beforeAll(async () => {
    w = await startSignInWorld({ store });
  });
  afterAll(() => w.close());

  it('503 store_unavailable page, no session cookie, and the next sign-in works', async () => {
    const browser = w.browser();
    const callback = await w.unifiedLogin(browser, 'alice');
    store.failNextTenantWrite = true; // the session's index, written after the session id is new
    const page = await browser.request(callback);
    const line = await expectFailurePage(w, page, 'store_unavailable');
    expect(line.msg).toBe('request');
    expect(page.headers.get('set-cookie') ?? '').not.toContain(`${w.relay.config.session.cookieName}=`);
    expect(browser.cookie(w.relay.url, w.relay.config.session.cookieName)).toBeUndefined();

    const { sid } = await w.signIn('alice');
    expect(sid).toBeTruthy();
  });
});
