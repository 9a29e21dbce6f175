// `npm run sandbox -- buy|renew|freeze|unfreeze|release|upgrade|query` against a real relay: the
// factored-out parser and runner for every command (the relay's read API shows each change), the
// marketplace's retry with a new businessId, bad flags, and one run of the real CLI process.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { addMonths, parseLifecycle, runLifecycle, UsageError } from '../../src/sandbox/lifecycle.js';
import { BASIC_KEY, startRelay, type TestRelay } from '../support/relay.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const CALL_OK = (label: string) =>
  new RegExp(`^${label} → HTTP 200 000000 Success \\(\\d+ ms, Body-Sign ok\\) ok$`);

function cli(args: string[]) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/sandbox/cli.ts', ...args], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('the sandbox instance commands against a relay', () => {
  let t: TestRelay;
  let address: string;
  beforeAll(async () => {
    t = await startRelay();
    address = `${t.url}${t.config.produceBasePath}`;
  });
  afterAll(() => t.close());

  let lastSigned = 0;
  const run = async (command: string, args: string[], io: { fetch?: typeof fetch; key?: string } = {}) => {
    const lines: string[] = [];
    const request = parseLifecycle(command, [
      '--relay',
      address,
      '--basic-key',
      io.key ?? BASIC_KEY,
      ...args,
    ]);
    const outcome = await runLifecycle(request, {
      print: (line) => lines.push(line),
      retryDelayMs: 10,
      // The relay orders an instance's calls by their signed millisecond: keep them apart.
      now: () => (lastSigned = Math.max(Date.now(), lastSigned + 1)),
      ...(io.fetch ? { fetch: io.fetch } : {}),
    });
    return { ...outcome, lines };
  };
  const instance = async (id: string) => {
    const r = await t.api(`/api/v1/instances/${encodeURIComponent(id)}`);
    expect(r.status).toBe(200);
    return r.body as Record<string, unknown>;
  };
  const buy = async (...args: string[]) => {
    const r = await run('buy', ['--attempts', '1', '--expire-time', '20300101000000', ...args]);
    expect(r.lines).toEqual([expect.stringMatching(CALL_OK('newInstance')), `instanceId=${r.instanceId}`]);
    return r.instanceId!;
  };

  it('buy: creates the instance and ends with instanceId=<id>; the same order again answers it again', async () => {
    const r = await run('buy', ['--test', '--product-id', 'P-cli', '--expire-time', '20300101000000']);
    expect(r.ok).toBe(true);
    expect(r.lines).toEqual([
      expect.stringMatching(CALL_OK('newInstance \\(attempt 1/3\\)')),
      `instanceId=${r.instanceId}`,
    ]);
    const record = await instance(r.instanceId!);
    expect(record).toMatchObject({
      instanceId: r.instanceId,
      productId: 'P-cli',
      status: 'active',
      expireTime: '2030-01-01T00:00:00.000Z',
      testFlag: 1,
    });
    expect(record.orderId).toMatch(/^CS[0-9A-F]{15}$/);
    expect(record.orderLineId).toBe(`${String(record.orderId)}-000001`);

    const again = await run('buy', ['--order-id', String(record.orderId)]);
    expect(again.instanceId).toBe(r.instanceId);
  });

  it('buy: after a lost answer, retries the same order with a new businessId and gets the first instance', async () => {
    const businessIds: string[] = [];
    let calls = 0;
    // The first attempt reaches the relay, its answer is lost on the way back.
    const lossy: typeof fetch = async (input, init) => {
      businessIds.push((JSON.parse(String(init?.body)) as { businessId: string }).businessId);
      const response = await fetch(input, init);
      if (++calls === 1) throw new TypeError('fetch failed', { cause: new Error('socket hang up') });
      return response;
    };
    const r = await run('buy', ['--attempts', '3'], { fetch: lossy });
    expect(r.ok).toBe(true);
    expect(r.lines).toEqual([
      'newInstance (attempt 1/3) → FAILED: fetch failed: socket hang up',
      expect.stringMatching(CALL_OK('newInstance \\(attempt 2/3\\)')),
      `instanceId=${businessIds[0]}`,
    ]);
    expect(businessIds).toHaveLength(2);
    expect(businessIds[1]).not.toBe(businessIds[0]);
    expect((await instance(businessIds[0]!)).status).toBe('active');
  });

  it('buy: gives up after --attempts refusals, each a FAILED line', async () => {
    const r = await run('buy', ['--attempts', '2'], { key: 'not-the-basic-key' });
    expect(r.ok).toBe(false);
    expect(r.lines).toEqual([
      expect.stringMatching(/^newInstance \(attempt 1\/2\) → HTTP 200 000001 .*Body-Sign WRONG\) FAILED: /),
      expect.stringMatching(/^newInstance \(attempt 2\/2\) → HTTP 200 000001 .*FAILED: /),
      'newInstance: no instance after 2 attempts',
    ]);
  });

  it('renew: a new expireTime (and product, scene) under a new order', async () => {
    const id = await buy();
    const r = await run('renew', ['--instance-id', id, '--expire-time', '20310101000000']);
    expect(r.lines).toEqual([
      expect.stringMatching(CALL_OK('refreshInstance RENEWAL')),
      'expireTime=20310101000000',
    ]);
    expect((await instance(id)).expireTime).toBe('2031-01-01T00:00:00.000Z');

    const change = await run('renew', [
      '--instance-id',
      id,
      '--scene',
      'RENEWAL_CHANGE',
      '--months',
      '1',
      '--product-id',
      'P-monthly',
    ]);
    expect(change.ok).toBe(true);
    const after = await instance(id);
    expect(after).toMatchObject({ productId: 'P-monthly' });
    expect((after.history as { scene?: string; orderId?: string }[]).at(-1)).toMatchObject({
      scene: 'RENEWAL_CHANGE',
      orderId: expect.stringMatching(/^CS/),
    });
    // --months counts from now: about a month ahead, not from the old end.
    const ahead = Date.parse(after.expireTime as string) - Date.now();
    expect(ahead).toBeGreaterThan(27 * 86_400_000);
    expect(ahead).toBeLessThan(32 * 86_400_000);
  });

  it('freeze, unfreeze, release: the status follows; release is final and repeatable', async () => {
    const id = await buy();
    for (const [command, label, status] of [
      ['freeze', 'updateInstanceStatus FREEZE', 'frozen'],
      ['unfreeze', 'updateInstanceStatus UNFREEZE', 'active'],
      ['release', 'releaseInstance', 'released'],
      ['release', 'releaseInstance', 'released'],
    ] as const) {
      const r = await run(command, ['--instance-id', id]);
      expect(r.lines).toEqual([expect.stringMatching(CALL_OK(label))]);
      expect((await instance(id)).status).toBe(status);
    }
  });

  it('upgrade: the new product, under a new order', async () => {
    const id = await buy('--product-id', 'P-basic');
    const r = await run('upgrade', ['--instance-id', id, '--product-id', 'P-pro']);
    expect(r.lines).toEqual([expect.stringMatching(CALL_OK('upgradeInstance'))]);
    const after = await instance(id);
    expect(after.productId).toBe('P-pro');
    expect((after.history as { activity: string; orderId?: string }[]).at(-1)).toMatchObject({
      activity: 'upgradeInstance',
      orderId: expect.not.stringMatching(String(after.orderId)),
    });
  });

  it('query: prints the info of the known instances and names the unknown ones', async () => {
    const a = await buy();
    const b = await buy();
    const r = await run('query', ['--instance-id', `${a},no-such-instance,${b}`]);
    const appInfo = { frontEndUrl: new URL('/', t.config.publicUrl).href };
    expect(r.info).toEqual([
      { instanceId: a, appInfo },
      { instanceId: b, appInfo },
    ]);
    expect(r.lines).toEqual([
      expect.stringMatching(CALL_OK('queryInstance')),
      'not known to the relay: no-such-instance',
      `info=${JSON.stringify(r.info)}`,
    ]);
  });

  it('fails (exit status 1) on answers the marketplace would not accept: unknown instance, no relay', async () => {
    const unknown = await run('freeze', ['--instance-id', 'no-such-instance']);
    expect(unknown.ok).toBe(false);
    expect(unknown.lines).toEqual([
      expect.stringMatching(/^updateInstanceStatus FREEZE → HTTP 200 000003 .*FAILED: resultCode 000003/),
    ]);
    const query = await run('query', ['--instance-id', 'no-such-instance']);
    expect(query.ok).toBe(false);

    const refused: typeof fetch = () =>
      Promise.reject(
        new TypeError('fetch failed', {
          cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }),
        }),
      );
    const down = await run('release', ['--instance-id', 'x'], { fetch: refused });
    expect(down).toMatchObject({ ok: false, results: [] });
    expect(down.lines).toEqual(['releaseInstance → FAILED: fetch failed: connect ECONNREFUSED 127.0.0.1:9']);
  });

  it('refuses bad flags with one clear line', () => {
    const base = ['--relay', 'https://isv.example.com/isv/produce', '--basic-key', 'k'];
    const cases: [string, string[], RegExp][] = [
      ['buy', ['--relay', 'https://isv.example.com'], /^--basic-key is required/],
      ['freeze', ['--basic-key', 'k'], /^--relay is required/],
      ['freeze', base, /^--instance-id is required for freeze$/],
      ['buy', [...base, '--bogus'], /^buy: Unknown option '--bogus'$/],
      ['buy', [...base, '--instance-id', 'x'], /^buy: Unknown option '--instance-id'$/],
      ['freeze', [...base, '--instance-id', 'x', '--product-id', 'p'], /Unknown option '--product-id'/],
      ['buy', [...base, '--expire-time', '20300101000000', '--months', '2'], /not both/],
      ['buy', [...base, '--expire-time', '20300231000000'], /^--expire-time must be a UTC time/],
      ['buy', [...base, '--expire-time', '2030-01-01'], /^--expire-time must be a UTC time/],
      ['buy', [...base, '--months', '0'], /^--months must be a positive integer/],
      ['buy', [...base, '--attempts', 'many'], /^--attempts must be a positive integer/],
      ['buy', [...base, '--timeout-ms', '0'], /^--timeout-ms must be a positive integer/],
      ['buy', [...base, '--timeout-ms', '-1'], /^buy: Option '--timeout-ms' argument is ambiguous$/],
      ['buy', [...base, '--order-id', 'x'.repeat(65)], /^--order-id must be 1 to 64 characters/],
      [
        'renew',
        [...base, '--instance-id', 'x', '--scene', 'LATER'],
        /^--scene must be one of TRIAL_TO_FORMAL/,
      ],
      ['query', ['--relay', 'ftp://x', '--basic-key', 'k', '--instance-id', 'x'], /must be http\(s\)/],
      ['query', ['--relay', 'https://x/p?a=1', '--basic-key', 'k', '--instance-id', 'x'], /no.* query/],
      ['query', ['--relay', 'not a url', '--basic-key', 'k', '--instance-id', 'x'], /is not a URL/],
    ];
    for (const [command, argv, message] of cases) {
      let error: unknown;
      try {
        parseLifecycle(command, argv);
      } catch (e) {
        error = e;
      }
      expect({ command, argv, error }).toEqual({ command, argv, error: expect.any(UsageError) });
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toContain('\n');
    }
  });

  it('fills in what the marketplace would: a new order, expireTime 12 months ahead, testFlag', () => {
    const now = Date.UTC(2026, 0, 31, 8, 30, 0);
    const base = ['--relay', 'https://isv.example.com/isv/produce', '--basic-key', 'k'];
    expect(parseLifecycle('buy', base, now)).toEqual({
      command: 'buy',
      relay: 'https://isv.example.com/isv/produce',
      basicKey: 'k',
      timeoutMs: 5000,
      testFlag: '0',
      orderId: expect.stringMatching(/^CS[0-9A-F]{15}$/),
      orderLineId: expect.stringMatching(/^CS[0-9A-F]{15}-000001$/),
      expireTime: '20270131083000',
      attempts: 3,
    });
    expect(
      parseLifecycle('renew', [...base, '--instance-id', 'i', '--months', '1', '--test'], now),
    ).toMatchObject({
      scene: 'RENEWAL',
      expireTime: '20260228083000',
      testFlag: '1',
    });
    expect(new Date(addMonths(Date.UTC(2028, 0, 31), 1)).toISOString()).toBe('2028-02-29T00:00:00.000Z');
    expect(new Date(addMonths(Date.UTC(2026, 10, 30), 3)).toISOString()).toBe('2027-02-28T00:00:00.000Z');
  });

  it('runs as a command: buy prints instanceId=…, a wrong key exits 1, a missing flag exits 2', async () => {
    const common = ['--relay', address, '--basic-key', BASIC_KEY];
    const [bought, wrongKey, missing] = await Promise.all([
      cli(['buy', ...common, '--test', '--product-id', 'P-cli-process']),
      cli(['freeze', '--relay', address, '--basic-key', 'not-the-basic-key', '--instance-id', 'any']),
      cli(['freeze', '--relay', address, '--instance-id', 'any']),
    ]);

    expect({ code: bought.code, stderr: bought.stderr }).toEqual({ code: 0, stderr: '' });
    const lines = bought.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(CALL_OK('newInstance \\(attempt 1/3\\)'));
    const id = /^instanceId=(.+)$/.exec(lines.at(-1)!)?.[1];
    expect(await instance(id!)).toMatchObject({ productId: 'P-cli-process', testFlag: 1, status: 'active' });

    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stdout).toMatch(
      /^updateInstanceStatus FREEZE → HTTP 200 000001 signature does not match the request \(check the basic access key\) .*FAILED: resultCode 000001/,
    );

    expect({ code: missing.code, stdout: missing.stdout }).toEqual({ code: 2, stdout: '' });
    const [first, ...rest] = missing.stderr.split('\n');
    expect(first).toBe('--basic-key is required: the access key bound to the basic interfaces');
    expect(rest.join('\n')).toMatch(/^usage:\n[\s\S]*\n {2}npm run sandbox -- buy /);
  }, 60_000);
});
