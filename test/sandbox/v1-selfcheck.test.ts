// The V1 self-check (`npm run selfcheck -- --v1`) against real relays: one with V1_ACCESS_KEY
// passes every case and is left without the debug tenant; one without it stops at the first case
// naming the variable; one with another V1 key fails the signed cases with a reason, and the
// Body-Sign summary too (mandatory in V1); the command exits 0 and 2 as documented.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { runSelfCheck, type CaseResult } from '../../src/sandbox/selfcheck.js';
import { SELLER_PUBLIC_KEY, startRelay, V1_KEY, type TestRelay } from '../support/relay.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const failures = (results: CaseResult[]) =>
  results.filter((r) => !r.pass).map((r) => `${r.name}: ${r.got} — ${r.why ?? ''}`);

describe('the V1 self-check', () => {
  let t: TestRelay;
  let bare: TestRelay;
  let other: TestRelay;
  beforeAll(async () => {
    [t, bare, other] = await Promise.all([
      startRelay({ store: 'memory', env: { V1_ACCESS_KEY: V1_KEY, PRODUCE_BASE_PATH: '/isv/produce' } }),
      startRelay({ store: 'memory', env: { PRODUCE_BASE_PATH: '/isv/produce' } }),
      startRelay({
        store: 'memory',
        env: { V1_ACCESS_KEY: 'another-v1-key-0000000', PRODUCE_BASE_PATH: '/isv/produce' },
      }),
    ]);
  });
  afterAll(() => Promise.all([t.close(), bare.close(), other.close()]));

  const check = (relay: TestRelay, tenantId?: string) =>
    runSelfCheck({
      url: `${relay.url}/isv/produce`,
      kitKey: '',
      v1: true,
      v1Key: V1_KEY,
      publicKey: SELLER_PUBLIC_KEY,
      ...(tenantId ? { tenantId } : {}),
    });

  it('passes every case against a relay with V1_ACCESS_KEY, and removes its debug data', async () => {
    const tenantId = 'selfcheck-v1-0123456789abcdef0';
    const results = await check(t, tenantId);
    expect(failures(results)).toEqual([]);
    const names = results.map((r) => r.name);
    expect(names.filter((n) => n.startsWith('V1 ')).length).toBeGreaterThanOrEqual(20);
    for (const part of [
      'authToken keyed with the key alone',
      'expireInstance',
      'after the expiry',
      'byte-identical',
    ])
      expect(names.some((n) => n.includes(part))).toBe(true);
    expect(results.find((r) => r.name.startsWith('every V1 answer'))).toMatchObject({ pass: true });
    expect((await t.api(`/api/v1/tenants/${tenantId}`)).status).toBe(404);
    const instanceId = results
      .find((r) => r.name.includes('a new purchase'))!
      .why!.replace('instanceId ', '');
    expect((await t.api(`/api/v1/instances/${instanceId}`)).body).toMatchObject({ status: 'released' });
  });

  it('stops at the first case against a relay without V1_ACCESS_KEY, naming it', async () => {
    const results = await check(bare);
    expect(results.map((r) => [r.pass, r.got])).toEqual([
      [true, expect.any(String)],
      [false, 'HTTP 404'],
      [false, 'not run'],
    ]);
    expect(results[2]!.why).toMatch(/V1_ACCESS_KEY/);
  });

  it('fails the signed cases against a relay with another V1 key, and says which key to check', async () => {
    const results = await check(other);
    const failed = results.filter((r) => !r.pass);
    expect(failed.length).toBeGreaterThan(10);
    expect(failed.find((r) => r.name.startsWith('V1 tenantSync add'))?.why).toMatch(
      /--v1-key .*V1_ACCESS_KEY/,
    );
    expect(results.find((r) => r.name.startsWith('every V1 answer'))).toMatchObject({ pass: false });
  });

  it('runs as npm run selfcheck -- --v1: exit 0 against a good relay, 2 without a V1 key', async () => {
    const run = (args: string[], env: Record<string, string> = {}) =>
      new Promise<{ code: number | null; stdout: string }>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', 'src/sandbox/selfcheck-cli.ts', ...args], {
          cwd: REPO,
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, KIT_ACCESS_KEY: '', BASIC_ACCESS_KEY: '', V1_ACCESS_KEY: '', ...env },
        });
        let stdout = '';
        child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
        child.on('close', (code) => resolve({ code, stdout }));
      });
    const common = [
      '--v1',
      '--url',
      `${t.url}/isv/produce`,
      '--public-key',
      'test/fixtures/seller-rsa-3072.pub.pem',
    ];
    const [good, missing] = await Promise.all([run(common, { V1_ACCESS_KEY: V1_KEY }), run(common)]);
    expect(good.code).toBe(0);
    expect(good.stdout).toMatch(/V1 kit and basic interfaces \(authToken\)/);
    expect(good.stdout).toMatch(/PASS .*V1 expireInstance/);
    expect(missing.code).toBe(2);
  });
});
