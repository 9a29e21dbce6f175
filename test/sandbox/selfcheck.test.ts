// The deployment self-check against real relays: a correctly configured one passes every case,
// one with another kit key fails the signature-dependent cases with a reason, the CLI exits 0.
import { spawn } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { oaepDecrypt, oaepVariant } from '../../src/crypto/oaep.js';
import { bodySignHeader } from '../../src/kit/signature.js';
import { runSelfCheck, type CaseResult } from '../../src/sandbox/selfcheck.js';
import {
  KIT_KEY,
  OTHER_PUBLIC_KEY,
  SELLER_PRIVATE_KEY,
  SELLER_PUBLIC_KEY,
  startRelay,
  type TestRelay,
} from '../support/relay.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const named = (results: CaseResult[], part: string) => {
  const found = results.filter((r) => r.name.includes(part));
  expect(found.length).toBeGreaterThan(0);
  return found;
};
const failures = (results: CaseResult[]) =>
  results.filter((r) => !r.pass).map((r) => `${r.name}: ${r.got} — ${r.why ?? ''}`);

describe('selfcheck against a correctly configured relay', () => {
  let t: TestRelay;
  beforeAll(async () => {
    t = await startRelay();
  });
  afterAll(() => t.close());

  it('passes every case, and cleans up its debug tenant', async () => {
    const seen: CaseResult[] = [];
    const results = await runSelfCheck({
      url: t.url,
      kitKey: KIT_KEY,
      publicKey: SELLER_PUBLIC_KEY,
      tenantId: 'selfcheck-test-tenant-0001',
      onResult: (r) => seen.push(r),
    });
    expect(failures(results)).toEqual([]);
    expect(seen).toEqual(results);

    for (const part of [
      'tenantSync add: debug data',
      'instanceId and orderId missing entirely',
      'applicationSync add: clientSecret RSA-OAEP encrypted (sha256-mgf1sha1)',
      'OAEP sha256-mgf1sha1',
      'OAEP sha256-mgf1sha256',
      'OAEP sha1-mgf1sha1',
      'authSync add (flag 1)',
      'authSync modify (flag 2)',
      'authSync cancel authorization (flag 3)',
      'authSync delete (flag 0)',
      'orgInfoList as a JSON array',
      'orgInfoList as a string with unquoted keys and OrgName',
      'singleOrgSync add',
      'singleOrgSync modify',
      'singleOrgSync delete',
      'repeated delivery',
      'bad x-sign',
      'missing x-sign',
      'replayed nonce',
      'stale x-timestamp',
      'cleanup: applicationSync delete',
      'cleanup: tenantSync delete',
      'every answer within 5000 ms',
      'every answer: HTTP 200',
      'every answer: Body-Sign',
    ])
      named(results, part);

    // Expected codes are what the relay contract fixes, and they were what came back.
    for (const r of results.filter((c) => /^\d{6}$/.test(c.expected))) expect(r.got).toBe(r.expected);
    expect(named(results, 'bad x-sign')[0]!.got).toBe('000001');
    expect(named(results, 'missing x-sign')[0]!.got).toBe('000001');
    expect(named(results, 'replayed nonce')[0]!.got).toBe('000001');
    expect(named(results, 'stale x-timestamp')[0]!.got).toBe('000002');

    // The relay accepts every OAEP variant and signs every answer: no warning but the local address.
    expect(results.filter((r) => r.warn).map((r) => r.name)).toEqual([
      'production address: https, port 443, a domain name',
    ]);
    expect(named(results, 'Body-Sign')[0]!.got).toMatch(/^\d+ valid, 0 missing, 0 invalid$/);
    for (const r of results) expect(r.ms).toBeLessThanOrEqual(5000);

    // Nothing is left behind.
    expect((await t.api('/api/v1/tenants/selfcheck-test-tenant-0001')).status).toBe(404);
  });

  it('says which clientSecret problem a wrong public key causes, and still cleans up', async () => {
    const results = await runSelfCheck({ url: t.url, kitKey: KIT_KEY, publicKey: OTHER_PUBLIC_KEY });
    const app = named(results, 'applicationSync add: clientSecret')[0]!;
    expect(app).toMatchObject({ pass: false, got: '000002' });
    expect(app.why).toMatch(/public key/);
    const variants = named(results, 'applicationSync clientSecret with OAEP');
    expect(variants).toHaveLength(3);
    for (const v of variants) expect(v).toMatchObject({ pass: false, got: '000002' });
    expect(variants[0]!.why).toMatch(/no OAEP variant was accepted/);
    // The rest of the run is unaffected, cleanup included.
    expect(named(results, 'bad x-sign')[0]!.pass).toBe(true);
    expect(named(results, 'cleanup: tenantSync delete')[0]!.pass).toBe(true);
  });

  it('reports an OAEP variant the relay refuses as WARN, unless it is the one asked for', async () => {
    // In front of the real relay: an applicationSync whose clientSecret is not OAEP SHA-256/MGF1-SHA-256
    // is answered 000002, as a relay that only knows Node's default would answer.
    const privateKey = createPrivateKey(readFileSync(SELLER_PRIVATE_KEY, 'utf8'));
    const onlySha256: typeof fetch = async (input, init) => {
      if (String(input).endsWith('/applicationSync')) {
        const secret = (JSON.parse(String(init?.body)) as { clientSecret?: string }).clientSecret;
        if (
          secret &&
          !oaepDecrypt(privateKey, Buffer.from(secret, 'base64'), oaepVariant('sha256-mgf1sha256'))
        ) {
          const body = JSON.stringify({
            resultCode: '000002',
            resultMsg: 'clientSecret could not be decrypted',
          });
          return new Response(body, {
            headers: { 'Content-Type': 'application/json', 'Body-Sign': bodySignHeader(KIT_KEY, body) },
          });
        }
      }
      return fetch(input, init);
    };
    const base = { url: t.url, kitKey: KIT_KEY, publicKey: SELLER_PUBLIC_KEY, fetch: onlySha256 };

    const byDefault = await runSelfCheck(base);
    expect(failures(byDefault)).toEqual([
      expect.stringMatching(
        /^applicationSync add: clientSecret RSA-OAEP encrypted \(sha256-mgf1sha1\): 000002/,
      ),
    ]);
    const variant = (results: CaseResult[], id: string) =>
      named(results, `applicationSync clientSecret with OAEP ${id}`)[0]!;
    expect(variant(byDefault, 'sha256-mgf1sha1')).toMatchObject({ pass: true, warn: true, got: '000002' });
    expect(variant(byDefault, 'sha256-mgf1sha1').why).toMatch(/accepts sha256-mgf1sha256/);
    expect(variant(byDefault, 'sha1-mgf1sha1')).toMatchObject({ pass: true, warn: true, got: '000002' });
    expect(variant(byDefault, 'sha256-mgf1sha256')).toMatchObject({ pass: true, got: '000000' });
    expect(variant(byDefault, 'sha256-mgf1sha256').warn).toBeUndefined();

    const asked = await runSelfCheck({ ...base, oaep: 'sha256-mgf1sha256' });
    expect(failures(asked)).toEqual([]);
    expect(asked.filter((r) => r.warn)).toHaveLength(3);
  });

  it('runs the CLI end to end, exit status 0 and PASS lines', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/sandbox/selfcheck-cli.ts',
        '--url',
        t.url,
        '--kit-key',
        KIT_KEY,
        '--public-key',
        'test/fixtures/seller-rsa-3072.pub.pem',
      ],
      { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KIT_ACCESS_KEY: '' } },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toMatch(/^PASS .*tenantSync add: debug data.* → 000000$/m);
    expect(stdout).toMatch(/^PASS .*replayed nonce.* → 000001$/m);
    expect(stdout).not.toMatch(/^FAIL /m);
    expect(stdout.match(/^PASS /gm)!.length).toBeGreaterThan(20);
    expect(stdout).toMatch(/\d+ passed \(1 with a warning\), 0 failed/);
  }, 60_000);

  it('exits 1 and 2 from the CLI when a case fails or the usage is wrong', async () => {
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', 'src/sandbox/selfcheck-cli.ts', ...args], {
          cwd: REPO,
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, KIT_ACCESS_KEY: '' },
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
        child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
        child.on('close', (code) => resolve({ code, stdout, stderr }));
      });
    const usage = await run(['--url', t.url]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/--kit-key is required/);

    const wrong = await run([
      '--url',
      t.url,
      '--kit-key',
      'not-the-kit-key',
      '--public-key',
      'test/fixtures/seller-rsa-3072.pub.pem',
      '--json',
    ]);
    expect(wrong.code).toBe(1);
    const doc = JSON.parse(wrong.stdout) as { ok: boolean; results: CaseResult[] };
    expect(doc.ok).toBe(false);
    expect(doc.results.find((r) => r.name.startsWith('tenantSync add'))).toMatchObject({
      pass: false,
      got: '000001',
    });
  }, 60_000);
});

describe('selfcheck against a relay with another kit key', () => {
  let t: TestRelay;
  beforeAll(async () => {
    t = await startRelay({ env: { KIT_ACCESS_KEY: 'another-key-0000' } });
  });
  afterAll(() => t.close());

  it('fails the signature-dependent cases, each with a reason, without throwing', async () => {
    const results = await runSelfCheck({ url: t.url, kitKey: KIT_KEY, publicKey: SELLER_PUBLIC_KEY });
    expect(results.length).toBeGreaterThan(20);

    // Every push the marketplace would send is refused as unauthenticated; the reason names the key.
    const accepted = results.filter((r) => r.expected === '000000');
    expect(accepted.length).toBeGreaterThan(15);
    for (const r of accepted) {
      expect(r).toMatchObject({ pass: false, got: '000001' });
      expect(r.why).toMatch(/kit-key|kit key|KIT_ACCESS_KEY/);
    }
    const first = named(results, 'tenantSync add: debug data')[0]!;
    expect(first.why).toMatch(/expected 000000, got 000001/);
    expect(first.why).toMatch(/--kit-key/);

    // The replay case cannot be judged when nothing is accepted, and says so.
    expect(named(results, 'replayed nonce')[0]).toMatchObject({ pass: false, got: 'not run' });
    expect(named(results, 'replayed nonce')[0]!.why).toMatch(/original request was not accepted/);

    // Refusals get the expected codes, but their Body-Sign (made with the relay's key) does not verify.
    for (const part of ['bad x-sign', 'missing x-sign', 'stale x-timestamp']) {
      const r = named(results, part)[0]!;
      expect(r.got).toBe(part === 'stale x-timestamp' ? '000002' : '000001');
      expect(r.pass).toBe(false);
      expect(r.why).toMatch(/Body-Sign does not verify/);
    }
    const bodySign = named(results, 'Body-Sign')[0]!;
    expect(bodySign).toMatchObject({
      pass: false,
      got: expect.stringMatching(/^0 valid, 0 missing, \d+ invalid$/),
    });
    // Answers are still well-formed and fast: those cases pass.
    expect(named(results, 'every answer: HTTP 200')[0]!.pass).toBe(true);
    expect(named(results, 'every answer within')[0]!.pass).toBe(true);
  });
});

describe('selfcheck without a usable relay or options', () => {
  it('reports an unreachable relay as one failed case and sends nothing more', async () => {
    let calls = 0;
    const refused: typeof fetch = async () => {
      calls++;
      throw new TypeError('fetch failed', {
        cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }),
      });
    };
    const results = await runSelfCheck({
      url: 'https://isv.example.com/isv/produce',
      kitKey: KIT_KEY,
      publicKey: SELLER_PUBLIC_KEY,
      fetch: refused,
    });
    expect(calls).toBe(1);
    expect(results.map((r) => [r.pass, r.got])).toEqual([
      [true, 'https://isv.example.com'],
      [false, 'no answer'],
      [false, 'not run'],
    ]);
    expect(results[0]!.warn).toBeUndefined();
    expect(results[1]!.why).toMatch(/ECONNREFUSED/);
  });

  it('reports a timeout per answer', async () => {
    const hanging: typeof fetch = (_url, init) =>
      new Promise((_resolve, reject) =>
        init?.signal?.addEventListener('abort', () => reject(init.signal!.reason)),
      );
    const results = await runSelfCheck({
      url: 'https://isv.example.com/isv/produce',
      kitKey: KIT_KEY,
      publicKey: SELLER_PUBLIC_KEY,
      timeoutMs: 50,
      fetch: hanging,
    });
    expect(results[1]).toMatchObject({ pass: false, got: 'timeout', ms: 50 });
    expect(results[1]!.why).toMatch(/no answer within 50 ms/);
  });

  it('reports unusable options instead of throwing', async () => {
    for (const options of [
      { url: 'not a url', kitKey: KIT_KEY, publicKey: SELLER_PUBLIC_KEY },
      { url: 'https://isv.example.com', kitKey: '', publicKey: SELLER_PUBLIC_KEY },
      { url: 'https://isv.example.com', kitKey: KIT_KEY, publicKey: 'not a key' },
      { url: 'https://isv.example.com', kitKey: KIT_KEY, publicKey: SELLER_PUBLIC_KEY, oaep: 'md5' },
    ]) {
      const results = await runSelfCheck(options);
      expect(results).toHaveLength(1);
      expect(results[0]).toMatchObject({ name: 'options', pass: false });
      expect(results[0]!.why).toBeTruthy();
    }
  });
});
