// End to end in headless Chromium: sample app -> relay -> sandbox unified login -> callback ->
// app -> admin page by role -> sign out; a frozen subscription refused, and gating that follows the
// marketplace's freeze and unfreeze. The demo is started exactly as `npm run demo` starts it.
// Screenshots go to docs/screenshots when UPDATE_SCREENSHOTS=1 (a temporary folder otherwise).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { DEMO_PASSWORD, startDemo, type RunningDemo } from '../../src/demo/demo.js';
import { freePort } from '../support/redis.js';
import { fixture } from '../support/relay.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const shots = process.env.UPDATE_SCREENSHOTS
  ? fileURLToPath(new URL('../../docs/screenshots/', import.meta.url))
  : mkdtempSync(join(tmpdir(), 'relay-shots-'));

describe('a person signing in through a real browser', () => {
  let demo: RunningDemo;
  let browser: Browser;

  beforeAll(async () => {
    const keyDir = mkdtempSync(join(tmpdir(), 'relay-demo-keys-'));
    copyFileSync(fixture('seller-rsa-3072.pem'), join(keyDir, 'seller-private.pem'));
    copyFileSync(fixture('seller-rsa-3072.pub.pem'), join(keyDir, 'seller-public.pem'));
    const [port, relayPort, appPort, sandboxPort] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    demo = await startDemo({ port, relayPort, appPort, sandboxPort, keyDir, logLevel: 'silent' });
    mkdirSync(shots, { recursive: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await demo?.close();
  });

  const signIn = async (page: Page, user: string) => {
    await page.goto(`${demo.url}/`);
    await page.waitForURL((url) => url.pathname === '/unified-login/');
    expect(new URL(page.url()).hash).toBe(`#/portal-login?ind=UNOP&appId=${demo.appId}`);
    await page.locator('#login-form').waitFor({ state: 'visible' });
    await page.fill('#username', user);
    await page.fill('#password', DEMO_PASSWORD);
    await page.click('#submit');
  };

  /** What the relay's private session API says of the browser's relay cookie, as the app would ask. */
  const sessionStatus = async (context: BrowserContext) => {
    const cookie = (await context.cookies(demo.url)).map((c) => `${c.name}=${c.value}`).join('; ');
    const response = await fetch(`${demo.relayApiUrl}/api/v1/session`, {
      headers: { authorization: `Bearer ${demo.apiKey}`, ...(cookie ? { cookie } : {}) },
    });
    return response.status;
  };

  /** The lapsed buyer: bought through newInstance, then frozen by the marketplace when the demo starts. */
  const lapsed = () => demo.tenants.lapsed;

  it('signs an admin in, shows who they are, renews a token, opens the admin page and signs out', async () => {
    const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1100, height: 720 } });
    const page = await context.newPage();
    await page.goto(`${demo.url}/`);
    await page.locator('#login-form').waitFor({ state: 'visible' });
    await page.screenshot({ path: join(shots, 'unified-login.png') });

    await signIn(page, 'zhangsan');
    await page.waitForURL(`${demo.url}/`);
    expect(await page.textContent('[data-testid=user-name]')).toBe('张三');
    expect(await page.textContent('[data-testid=tenant-name]')).toContain('华为示例科技有限公司');
    expect(await page.textContent('[data-testid=user-role]')).toContain('admin');
    expect(await page.textContent('[data-testid=department-path]')).toBe('总部');
    const cookie = (await context.cookies(demo.url)).find((c) => c.name === 'relay.sid');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax' });

    await page.click('[data-testid=fetch-token]');
    await expect(page.locator('[data-testid=token]').textContent()).resolves.toMatch(
      /Fresh access token: [0-9a-f]{8}…/,
    );
    await page.screenshot({ path: join(shots, 'signed-in.png') });

    await page.click('[data-testid=admin-link]');
    expect(await page.textContent('[data-testid=admin-welcome]')).toContain('张三');

    await page.goto(`${demo.url}/`);
    await page.click('[data-testid=sign-out]');
    await page.waitForURL(`${demo.url}/sso/logged-out`);
    expect(await page.textContent('main')).toContain('You are signed out');
    await page.goto(`${demo.url}/`);
    await page.waitForURL((url) => url.pathname === '/unified-login/');
    await context.close();
  });

  it('lets an ordinary user in and keeps the admin page closed to them', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, 'lisi');
    await page.waitForURL(`${demo.url}/`);
    expect(await page.textContent('[data-testid=department-path]')).toBe('总部 / 研发中心 / 平台组');
    const admin = await page.goto(`${demo.url}/admin`);
    expect(admin?.status()).toBe(403);
    expect(await page.textContent('h1')).toContain('Administrators only');
    await context.close();
  });

  it('shows a disabled user the relay’s bilingual error page with a reference', async () => {
    const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1100, height: 640 } });
    const page = await context.newPage();
    const failed = page.waitForResponse((r) => r.url().includes('/sso/callback'));
    await signIn(page, 'wangwu');
    expect((await failed).status()).toBe(403);
    await page.locator('main[data-failure=user_disabled]').waitFor();
    expect(await page.textContent('h1')).toBe('您的账号已被停用');
    expect(await page.textContent('h2')).toBe('Your account is disabled');
    expect(await page.textContent('#reference')).toMatch(/^[0-9a-f-]{36}$/);
    await page.screenshot({ path: join(shots, 'error-user-disabled.png') });
    await context.close();
  });

  it('refuses a member of a frozen subscription with the relay’s frozen page and no session', async () => {
    const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1100, height: 640 } });
    const page = await context.newPage();
    const failed = page.waitForResponse((r) => r.url().includes('/sso/callback'));
    await signIn(page, 'zhaoliu');
    const callback = await failed;
    expect(callback.status()).toBe(403);
    expect(await page.locator('main[data-failure]').getAttribute('data-failure')).toBe('instance_frozen');
    expect(await page.title()).toBe('订阅已冻结 · This subscription is frozen');
    expect(await page.textContent('h1')).toBe('订阅已冻结');
    expect(await page.textContent('h2')).toBe('This subscription is frozen');
    const reference = await page.textContent('#reference');
    expect(reference).toMatch(/^[0-9a-f-]{36}$/);
    expect(await callback.headerValue('x-request-id')).toBe(reference);
    expect((await context.cookies(demo.url)).map((c) => c.name)).not.toContain('relay.sid');
    expect(await sessionStatus(context)).toBe(401);
    await page.screenshot({ path: join(shots, 'error-subscription-frozen.png') });
    await context.close();
  });

  it('follows the marketplace live: unfrozen lets the member in, frozen again ends the session', async () => {
    const tenant = lapsed();
    const context = await browser.newContext();
    const page = await context.newPage();
    let frozen = true;
    try {
      await demo.world.lifecycle(demo.appId, tenant.tenantId, { kind: 'unfreeze' });
      frozen = false;
      await signIn(page, 'zhaoliu');
      await page.waitForURL(`${demo.url}/`);
      expect(await page.textContent('[data-testid=user-name]')).toBe('赵六');
      expect(await page.textContent('[data-testid=tenant-name]')).toContain('过期示例贸易有限公司');
      expect((await context.cookies(demo.url)).map((c) => c.name)).toContain('relay.sid');
      expect(await sessionStatus(context)).toBe(200);

      await demo.world.lifecycle(demo.appId, tenant.tenantId, { kind: 'freeze' });
      frozen = true;
      // At once: the cookie is still in the browser, but the relay no longer honours it.
      expect(await sessionStatus(context)).toBe(401);

      // The page's next request: the app finds no session and sends the browser to sign in; the
      // unified login still knows the user and answers at once, and the relay refuses the tenant.
      const home = page.waitForResponse(`${demo.url}/`);
      const toSignIn = page.waitForResponse((r) => new URL(r.url()).pathname === '/sso/login');
      const refused = page.waitForResponse((r) => r.url().includes('/sso/callback'));
      await page.reload();
      expect((await home).status()).toBe(302);
      expect(await (await home).headerValue('location')).toBe('/sso/login?returnTo=%2F');
      expect((await toSignIn).status()).toBe(302);
      expect((await refused).status()).toBe(403);
      expect(await page.locator('main[data-failure]').getAttribute('data-failure')).toBe('instance_frozen');
      expect(await page.textContent('h2')).toBe('This subscription is frozen');
      expect(await sessionStatus(context)).toBe(401);
    } finally {
      // Leave the demo as it started: the lapsed tenant frozen.
      if (!frozen) await demo.world.lifecycle(demo.appId, tenant.tenantId, { kind: 'freeze' });
      await context.close();
    }
  });
});
