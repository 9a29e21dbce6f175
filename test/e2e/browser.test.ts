// End to end in headless Chromium: sample app -> relay -> sandbox unified login -> callback ->
// app -> admin page by role -> sign out. The demo is started exactly as `npm run demo` starts it.
// Screenshots go to docs/screenshots when UPDATE_SCREENSHOTS=1 (a temporary folder otherwise).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
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
});
