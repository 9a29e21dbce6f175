// The deployment self-check against real relays: a correctly configured one passes every case,
// kit and basic; one with another kit key fails the signature-dependent cases with a reason; the
// basic cases are skipped without a basic key and fail, with reasons, under a wrong basic key or
// in front of a relay that checks basic calls carelessly; the CLI exits 0.
import { spawn } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { oaepDecrypt, oaepVariant } from '../../src/crypto/oaep.js';
import { bodySignHeader } from '../../src/kit/signature.js';
import {
  basicSign,
  canonicalPayload,
  newNonce,
  OAEP_VARIANT_IDS,
} from '../../src/sandbox/marketplace/index.js';
import { caseNames, runSelfCheck, SELF_CHECK_CASES, type CaseResult } from '../../src/sandbox/selfcheck.js';
import {
  BASIC_KEY,
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
/** A kit answer as the relay would sign it, from a stand-in put in front of the relay. */
const kitAnswer = (resultCode: string, resultMsg: string) => {
  const body = JSON.stringify({ resultCode, resultMsg });
  return new Response(body, {
    headers: { 'Content-Type': 'application/json', 'Body-Sign': bodySignHeader(KIT_KEY, body) },
  });
};
const failures = (results: CaseResult[]) =>
  results.filter((r) => !r.pass).map((r) => `${r.name}: ${r.got} — ${r.why ?? ''}`);

/** The basic-interface cases, by a part of their names, in the order they run. */
const BASIC = {
  purchase: 'newInstance: a new purchase',
  retry: 'newInstance retry',
  query: 'queryInstance of that instance',
  renewal: 'refreshInstance RENEWAL',
  freeze: 'updateInstanceStatus FREEZE',
  unfreeze: 'updateInstanceStatus UNFREEZE',
  upgrade: 'upgradeInstance',
  unknown: 'refreshInstance of an unknown instance',
  kitSigned: 'basic call signed with the kit key',
  nonceKit: 'the kit call whose nonce the next case reuses',
  nonceReuse: 'reused nonce: a basic call',
  stale: 'stale timestamp on a basic call',
  release: 'releaseInstance (the end',
  releaseAgain: 'releaseInstance again',
  bodySign: 'every basic answer: Body-Sign',
} as const;
const basicCase = (results: CaseResult[], key: keyof typeof BASIC) => {
  const found = named(results, BASIC[key]);
  expect(found).toHaveLength(1);
  return found[0]!;
};

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
      basicKey: BASIC_KEY,
      publicKey: SELLER_PUBLIC_KEY,
      tenantId: 'selfcheck-test-tenant-0001',
      onResult: (r) => seen.push(r),
      // The relay orders an instance's calls by their signed millisecond; two back-to-back calls
      // in one millisecond (FREEZE, UNFREEZE) would make the second a stale no-op and the history
      // below flaky. The marketplace never sends them that close.
      now: (() => {
        let last = 0;
        return () => (last = Math.max(Date.now(), last + 1));
      })(),
    });
    expect(failures(results)).toEqual([]);
    expect(seen).toEqual(results);
    // Every case of the table ran once, in table order, between the address and the summaries.
    expect(results.slice(1, -4).map((r) => r.name)).toEqual(caseNames());

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
      'reused nonce: another request',
      'stale x-timestamp',
      'cleanup: applicationSync delete',
      'cleanup: tenantSync delete',
      'every answer within 5000 ms',
      'every answer: HTTP 200',
      'every kit answer: Body-Sign',
    ])
      named(results, part);
    for (const key of Object.keys(BASIC) as (keyof typeof BASIC)[]) basicCase(results, key);
    expect(results.filter((r) => r.skipped)).toEqual([]);

    // Expected codes are what the relay contract fixes, and they were what came back.
    for (const r of results.filter((c) => /^\d{6}$/.test(c.expected))) expect(r.got).toBe(r.expected);
    expect(named(results, 'bad x-sign')[0]!.got).toBe('000001');
    expect(named(results, 'missing x-sign')[0]!.got).toBe('000001');
    expect(named(results, 'reused nonce: another request')[0]!.got).toBe('000001');
    expect(named(results, 'stale x-timestamp')[0]!.got).toBe('000002');
    expect(basicCase(results, 'unknown').got).toBe('000003');
    expect(basicCase(results, 'kitSigned').got).toBe('000001');
    expect(basicCase(results, 'nonceReuse').got).toBe('000001');
    expect(basicCase(results, 'stale').got).toBe('000002');

    // The relay accepts every OAEP variant and signs every answer: no warning but the local
    // addresses (the production address, and the frontEndUrl the test relay reports).
    expect(results.filter((r) => r.warn).map((r) => r.name)).toEqual([
      'production address: https, port 443, a domain name',
      expect.stringContaining(BASIC.query),
    ]);
    expect(basicCase(results, 'query').why).toMatch(
      /^frontEndUrl http:\/\/localhost:0\/: not https, port 0, not a public domain name; buyers open it/,
    );
    expect(named(results, 'every kit answer: Body-Sign')[0]!.got).toMatch(
      /^\d+ valid, 0 missing, 0 invalid$/,
    );
    expect(basicCase(results, 'bodySign')).toMatchObject({
      pass: true,
      got: '13 valid, 0 missing, 0 invalid',
    });
    for (const r of results) expect(r.ms).toBeLessThanOrEqual(5000);

    // The debug instance was really bought under a fresh order, lived, and was released.
    const instanceId = /^instanceId (\S+)$/.exec(basicCase(results, 'purchase').why!)![1]!;
    expect(basicCase(results, 'retry').why).toBe(`instanceId ${instanceId} again`);
    const instance = (await t.api(`/api/v1/instances/${instanceId}`)).body as {
      history: { activity: string; status?: string; scene?: string }[];
    };
    expect(instance).toMatchObject({
      status: 'released',
      testFlag: 1,
      productId: 'selfcheck-product-pro',
      orderId: expect.stringMatching(/^CS[0-9A-F]{15}$/),
      tenantIds: [],
    });
    expect(instance.history.map((h) => [h.activity, h.status ?? h.scene ?? ''])).toEqual([
      ['newInstance', 'active'],
      ['refreshInstance', 'RENEWAL'],
      ['updateInstanceStatus', 'frozen'],
      ['updateInstanceStatus', 'active'],
      ['upgradeInstance', ''],
      ['releaseInstance', 'released'],
    ]);

    // Nothing is left behind.
    expect((await t.api('/api/v1/tenants/selfcheck-test-tenant-0001')).status).toBe(404);
  });

  it('skips the basic cases without a basic key, sends no basic call, and still passes', async () => {
    const urls: string[] = [];
    const recording: typeof fetch = (input, init) => {
      urls.push(String(input));
      return fetch(input, init);
    };
    const results = await runSelfCheck({
      url: t.url,
      kitKey: KIT_KEY,
      publicKey: SELLER_PUBLIC_KEY,
      fetch: recording,
    });
    expect(failures(results)).toEqual([]);
    expect(results.slice(1, -4).map((r) => r.name)).toEqual(caseNames());
    const skipped = results.filter((r) => r.skipped);
    expect(skipped.map((r) => r.name)).toEqual(
      (Object.keys(BASIC) as (keyof typeof BASIC)[]).map((key) => expect.stringContaining(BASIC[key])),
    );
    for (const r of skipped) {
      expect(r).toMatchObject({ pass: true, got: 'skipped' });
      expect(r.warn).toBeUndefined();
      expect(r.why).toMatch(/no basic access key given \(--basic-key, or BASIC_ACCESS_KEY/);
    }
    expect(urls.length).toBeGreaterThan(20);
    for (const url of urls) expect(url).toContain('/produceAPI/v2/');
  });

  it('fails the basic cases under a wrong basic key, each with a reason, the kit cases unaffected', async () => {
    const results = await runSelfCheck({
      url: t.url,
      kitKey: KIT_KEY,
      basicKey: 'not-the-basic-key',
      publicKey: SELLER_PUBLIC_KEY,
    });
    // Only basic cases fail; the kit key is right.
    const basicNames = Object.values(BASIC);
    for (const r of results.filter((c) => !c.pass))
      expect(basicNames.some((part) => r.name.includes(part))).toBe(true);

    const purchase = basicCase(results, 'purchase');
    expect(purchase).toMatchObject({ pass: false, got: '000001' });
    expect(purchase.why).toMatch(
      /expected 000000, got 000001 .*check that --basic-key is the access key bound to the basic/,
    );
    expect(purchase.why).toMatch(/BASIC_ACCESS_KEY/);
    expect(basicCase(results, 'unknown')).toMatchObject({ pass: false, got: '000001' });
    expect(basicCase(results, 'unknown').why).toMatch(/--basic-key/);

    // Without an instance the life of one cannot be tested, and each case says so.
    for (const key of [
      'retry',
      'query',
      'renewal',
      'freeze',
      'unfreeze',
      'upgrade',
      'nonceKit',
      'nonceReuse',
      'release',
      'releaseAgain',
    ] as const) {
      expect(basicCase(results, key)).toMatchObject({ pass: false, got: 'not run' });
      expect(basicCase(results, key).why).toMatch(/the purchase \(newInstance\) was not accepted \(000001\)/);
    }
    // Refusals with the expected codes fail all the same: their Body-Sign is made with another key.
    for (const [key, code] of [
      ['kitSigned', '000001'],
      ['stale', '000002'],
    ] as const) {
      expect(basicCase(results, key)).toMatchObject({ pass: false, got: code });
      expect(basicCase(results, key).why).toMatch(/Body-Sign does not verify with this basic key/);
    }
    expect(basicCase(results, 'bodySign')).toMatchObject({
      pass: false,
      got: '0 valid, 0 missing, 4 invalid',
    });
    expect(basicCase(results, 'bodySign').why).toMatch(/key = basic access key/);
  });

  it('fails the security cases in front of a relay that checks basic calls carelessly', async () => {
    // What such a relay would do, put in front of the real one: it takes any basic call as if it
    // were correctly signed, fresh and new (re-signed here with the right key, a new nonce, now),
    // and does not recognise a resent purchase (a new order line every time).
    const base = t.url;
    const careless: typeof fetch = (input, init) => {
      const url = String(input);
      if (url.includes('/produceAPI/')) return fetch(input, init);
      const body = JSON.parse(String(init?.body)) as Record<string, string>;
      if (body.activity === 'newInstance') body.orderLineId = `${body.orderLineId}-${newNonce().slice(0, 6)}`;
      const text = JSON.stringify(body);
      const nonce = newNonce();
      const timestamp = String(Date.now());
      const signature = basicSign(BASIC_KEY, nonce, timestamp, canonicalPayload(text));
      return fetch(`${base}?${new URLSearchParams({ signature, timestamp, nonce }).toString()}`, {
        ...init,
        body: text,
      });
    };
    const results = await runSelfCheck({
      url: t.url,
      kitKey: KIT_KEY,
      basicKey: BASIC_KEY,
      publicKey: SELLER_PUBLIC_KEY,
      fetch: careless,
    });
    expect(results.filter((r) => !r.pass).map((r) => [r.name, r.got])).toEqual([
      [expect.stringContaining(BASIC.retry), '000000'],
      [expect.stringContaining(BASIC.kitSigned), '000000'],
      [expect.stringContaining(BASIC.nonceReuse), '000000'],
      [expect.stringContaining(BASIC.stale), '000000'],
    ]);
    expect(basicCase(results, 'retry').why).toMatch(
      /^answered instanceId "[^"]+", not \S+: a purchase resent with a new businessId must answer the instance of its order/,
    );
    expect(basicCase(results, 'kitSigned').why).toMatch(
      /answered 000000: the relay accepted a basic call signed with the kit key/,
    );
    expect(basicCase(results, 'nonceReuse').why).toMatch(/must share one nonce store/);
    expect(basicCase(results, 'stale').why).toMatch(/10-minute-old timestamp/);
  });

  it('stops after the first case when the address has no kit route, and sends nothing more', async () => {
    let calls = 0;
    const counting: typeof fetch = (input, init) => {
      calls++;
      return fetch(input, init);
    };
    const results = await runSelfCheck({
      url: `${t.url}/not-the-production-address`,
      kitKey: KIT_KEY,
      publicKey: SELLER_PUBLIC_KEY,
      fetch: counting,
    });
    expect(calls).toBe(1);
    expect(results.map((r) => [r.pass, r.got])).toEqual([
      [true, t.url],
      [false, 'HTTP 404'],
      [false, 'not run'],
    ]);
    expect(results[1]!.why).toMatch(/^HTTP 404: no kit route here/);
    expect(results[2]!.why).toBe(
      `no kit route at ${t.url}/not-the-production-address/produceAPI/v2/… (HTTP 404), so nothing else was sent; fix --url first`,
    );
  });

  it('does not run the replay or the nonce reuse when the kit call they repeat was refused', async () => {
    // In front of the real relay: the two tenantSync edits whose nonce a later case reuses are
    // refused, as a relay with a broken store would refuse them.
    const refusing: typeof fetch = async (input, init) => {
      const body = String(init?.body ?? '');
      if (/replay original|nonce shared with a basic call/.test(body))
        return kitAnswer('000005', 'could not store');
      return fetch(input, init);
    };
    const results = await runSelfCheck({
      url: t.url,
      kitKey: KIT_KEY,
      basicKey: BASIC_KEY,
      publicKey: SELLER_PUBLIC_KEY,
      fetch: refusing,
    });
    expect(results.filter((r) => !r.pass).map((r) => [r.name, r.got])).toEqual([
      ['tenantSync modify (flag 2): the request whose nonce the next case reuses', '000005'],
      [expect.stringContaining('reused nonce: another request'), 'not run'],
      [expect.stringContaining(BASIC.nonceKit), '000005'],
      [expect.stringContaining(BASIC.nonceReuse), 'not run'],
    ]);
    expect(named(results, 'reused nonce: another request')[0]!.why).toBe(
      'not tested: the original request was not accepted (000005), so a refusal of the reuse would prove nothing',
    );
    expect(basicCase(results, 'nonceReuse').why).toBe(
      'not tested: the kit call whose nonce it reuses was not accepted (000005), so a refusal would prove nothing',
    );
    // The instance's life and the cleanup are unaffected.
    expect(basicCase(results, 'release').pass).toBe(true);
    expect(named(results, 'cleanup: tenantSync delete')[0]!.pass).toBe(true);
  });

  it('after a case that throws, sends only the cleanup cases, then reports the error', async () => {
    // As a bug in one case's checks would: the instance is still released, the tenant deleted.
    const upgrade = SELF_CHECK_CASES[caseNames().findIndex((name) => name.includes(BASIC.upgrade))]!;
    upgrade.inspect = () => {
      throw new Error('a broken check');
    };
    let results: CaseResult[];
    try {
      results = await runSelfCheck({
        url: t.url,
        kitKey: KIT_KEY,
        basicKey: BASIC_KEY,
        publicKey: SELLER_PUBLIC_KEY,
        tenantId: 'selfcheck-test-tenant-0002',
      });
    } finally {
      delete upgrade.inspect;
    }
    expect(results.slice(-6).map((r) => [r.name, r.pass])).toEqual([
      [expect.stringContaining(BASIC.unfreeze), true],
      [expect.stringContaining(BASIC.release), true],
      [expect.stringContaining(BASIC.releaseAgain), true],
      ['cleanup: applicationSync delete (flag 0)', true],
      ['cleanup: tenantSync delete (flag 0)', true],
      ['self-check', false],
    ]);
    expect(results.at(-1)!.why).toBe('the self-check stopped unexpectedly: a broken check');
    const instanceId = /^instanceId (\S+)$/.exec(basicCase(results, 'purchase').why!)![1]!;
    expect((await t.api(`/api/v1/instances/${instanceId}`)).body).toMatchObject({ status: 'released' });
    expect((await t.api('/api/v1/tenants/selfcheck-test-tenant-0002')).status).toBe(404);
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
        )
          return kitAnswer('000002', 'clientSecret could not be decrypted');
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
        '--basic-key',
        BASIC_KEY,
        '--public-key',
        'test/fixtures/seller-rsa-3072.pub.pem',
      ],
      {
        cwd: REPO,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, KIT_ACCESS_KEY: '', BASIC_ACCESS_KEY: '' },
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toMatch(/^PASS .*tenantSync add: debug data.* → 000000$/m);
    expect(stdout).toMatch(/^PASS .*reused nonce: another request.* → 000001$/m);
    expect(stdout).toMatch(/^PASS .*newInstance: a new purchase.* → 000000\n {17}instanceId \S+$/m);
    expect(stdout).toMatch(/^PASS .*reused nonce: a basic call.* → 000001$/m);
    expect(stdout).not.toMatch(/^(FAIL|SKIP) /m);
    expect(stdout.match(/^PASS /gm)!.length).toBeGreaterThan(35);
    expect(stdout).toMatch(
      /\n\d+ passed \(2 with a warning\), 0 failed: the relay should pass Seller Center’s interface debugging \(接口调试\)\.\n$/,
    );
  }, 60_000);

  it('exits 1 and 2 from the CLI when a case fails or the usage is wrong', async () => {
    const run = (args: string[], env: Record<string, string> = {}) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', 'src/sandbox/selfcheck-cli.ts', ...args], {
          cwd: REPO,
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, KIT_ACCESS_KEY: '', BASIC_ACCESS_KEY: '', ...env },
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
        child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
        child.on('close', (code) => resolve({ code, stdout, stderr }));
      });
    const publicKey = ['--public-key', 'test/fixtures/seller-rsa-3072.pub.pem'];
    const [usage, sameKeys, wrong, noBasic] = await Promise.all([
      run(['--url', t.url]),
      run(['--url', t.url, '--kit-key', KIT_KEY, '--basic-key', KIT_KEY, ...publicKey]),
      // The basic key from the environment: those cases pass while every kit case fails.
      run(['--url', t.url, '--kit-key', 'not-the-kit-key', ...publicKey, '--json'], {
        BASIC_ACCESS_KEY: BASIC_KEY,
      }),
      run(['--url', t.url, '--kit-key', KIT_KEY, ...publicKey]),
    ]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/--kit-key is required/);
    expect(sameKeys.code).toBe(2);
    expect(sameKeys.stderr).toMatch(/^--basic-key must differ from the kit key/);

    expect(wrong.code).toBe(1);
    const doc = JSON.parse(wrong.stdout) as { ok: boolean; results: CaseResult[] };
    expect(doc.ok).toBe(false);
    expect(doc.results.find((r) => r.name.startsWith('tenantSync add'))).toMatchObject({
      pass: false,
      got: '000001',
    });
    expect(basicCase(doc.results, 'purchase')).toMatchObject({ pass: true, got: '000000' });
    expect(basicCase(doc.results, 'nonceReuse')).toMatchObject({ pass: false, got: 'not run' });

    // No basic key: SKIP lines, the reason printed once for the run of them, exit status 0.
    expect({ code: noBasic.code, stderr: noBasic.stderr }).toEqual({ code: 0, stderr: '' });
    expect(noBasic.stdout.match(/^SKIP /gm)).toHaveLength(15);
    expect(noBasic.stdout.match(/no basic access key given/g)).toHaveLength(2);
    expect(noBasic.stdout).toMatch(/^SKIP .*newInstance: a new purchase.* → skipped$/m);
    expect(noBasic.stdout).toMatch(
      /, 0 failed, 15 skipped: the relay should pass Seller Center’s interface debugging \(接口调试\) of the kit interfaces; give --basic-key to check the basic interfaces too\.\n$/,
    );
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
    const accepted = results.filter((r) => r.expected === '000000' && !r.skipped);
    expect(accepted.length).toBeGreaterThan(15);
    for (const r of accepted) {
      expect(r).toMatchObject({ pass: false, got: '000001' });
      expect(r.why).toMatch(/kit-key|kit key|KIT_ACCESS_KEY/);
    }
    const first = named(results, 'tenantSync add: debug data')[0]!;
    expect(first.why).toMatch(/expected 000000, got 000001/);
    expect(first.why).toMatch(/--kit-key/);

    // The replay case cannot be judged when nothing is accepted, and says so.
    expect(named(results, 'reused nonce: another request')[0]).toMatchObject({ pass: false, got: 'not run' });
    expect(named(results, 'reused nonce: another request')[0]!.why).toMatch(
      /original request was not accepted/,
    );

    // Refusals get the expected codes, but their Body-Sign (made with the relay's key) does not verify.
    for (const part of ['bad x-sign', 'missing x-sign', 'stale x-timestamp']) {
      const r = named(results, part)[0]!;
      expect(r.got).toBe(part === 'stale x-timestamp' ? '000002' : '000001');
      expect(r.pass).toBe(false);
      expect(r.why).toMatch(/Body-Sign does not verify/);
    }
    const bodySign = named(results, 'every kit answer: Body-Sign')[0]!;
    expect(bodySign).toMatchObject({
      pass: false,
      got: expect.stringMatching(/^0 valid, 0 missing, \d+ invalid$/),
    });
    // Answers are still well-formed and fast: those cases pass.
    expect(named(results, 'every answer: HTTP 200')[0]!.pass).toBe(true);
    expect(named(results, 'every answer within')[0]!.pass).toBe(true);
  });
});

describe('the self-check case table', () => {
  it('names every case once, whatever the OAEP variant asked for', () => {
    for (const oaep of OAEP_VARIANT_IDS) {
      const names = caseNames(oaep);
      expect(names).toHaveLength(SELF_CHECK_CASES.length);
      expect(new Set(names).size).toBe(names.length);
      expect(names).toContain(`applicationSync add: clientSecret RSA-OAEP encrypted (${oaep})`);
    }
  });

  it('expects a six-digit code of every case, and makes cases depend only on earlier ones', () => {
    const names = caseNames();
    SELF_CHECK_CASES.forEach((entry, i) => {
      expect(entry.expected).toMatch(/^\d{6}$/);
      for (const need of entry.needs ?? []) expect(names.slice(0, i)).toContain(need.case);
    });
  });

  it('puts the cleanup cases last, so that nothing after them needs the debug data', () => {
    const first = SELF_CHECK_CASES.findIndex((entry) => entry.cleanup);
    expect(first).toBeGreaterThan(0);
    expect(SELF_CHECK_CASES.slice(first).every((entry) => entry.cleanup)).toBe(true);
    expect(caseNames().slice(first)).toEqual([
      expect.stringContaining(BASIC.release),
      expect.stringContaining(BASIC.releaseAgain),
      'cleanup: applicationSync delete (flag 0)',
      'cleanup: tenantSync delete (flag 0)',
    ]);
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
      { url: 'https://isv.example.com', kitKey: KIT_KEY, basicKey: KIT_KEY, publicKey: SELLER_PUBLIC_KEY },
    ]) {
      const results = await runSelfCheck(options);
      expect(results).toHaveLength(1);
      expect(results[0]).toMatchObject({ name: 'options', pass: false });
      expect(results[0]!.why).toBeTruthy();
    }
  });
});
