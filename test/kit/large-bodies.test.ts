/**
 * What an unauthenticated caller can make the relay do with a body before its signature is known:
 * each interface reads only up to its own limit (inflated bytes counted), a body with more
 * top-level members than any interface has is refused before sorting, and bodies above
 * OFF_THREAD_BYTES are checked on the worker thread with the same verdicts as inline.
 * (How long the event loop is held is measured by `npm run bench`, the "kit hostile" rows.)
 */
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { OFF_THREAD_BYTES, OffThreadVerifier } from '../../src/kit/offThread.js';
import { kitScheme } from '../../src/kit/verify.js';
import { canonicalPayload, kitSign, newNonce } from '../../src/sandbox/marketplace/index.js';
import { Pusher, type PushResult } from '../../src/sandbox/pusher.js';
import { allOrgFields, authFields, newTenantId, tenantFields, user } from '../support/data.js';
import { KIT_KEY, startRelay, workerPorts, type TestRelay } from '../support/relay.js';

const departments = (n: number, pad = 0) =>
  Array.from({ length: n }, (_, i) => ({
    orgCode: `d${i}`,
    orgName: `部门${i}${'x'.repeat(pad)}`,
    parentCode: i ? `d${i >> 1}` : '',
  }));

const refused = (r: PushResult, code: string, msg: RegExp) => {
  expect(r.status).toBe(200);
  expect(r.bodySignValid).toBe(true);
  expect([r.resultCode, r.resultMsg]).toEqual([code, expect.stringMatching(msg)]);
};

describe('large and hostile kit bodies', () => {
  let t: TestRelay;
  beforeAll(async () => {
    t = await startRelay();
  });
  afterAll(() => t.close());

  it('reads at most 64 KiB of a tenantSync, whatever KIT_BODY_LIMIT_BYTES allows allOrgSync', async () => {
    const state = await t.state();
    const r = await t.pusher.tenantSync(tenantFields(newTenantId(), { name: 'x'.repeat(70 * 1024) }));
    refused(r, '000002', /^body exceeds the 65536-byte limit$/);
    expect(await t.state()).toEqual(state);
  });

  it('takes an authSync of 500 users with long names, and an allOrgSync of megabytes (off the event loop)', async () => {
    const id = newTenantId();
    await t.pusher.tenantSync(tenantFields(id));
    const users = Array.from({ length: 500 }, (_, i) => user(`u${i}`, { name: `用户${i}${'n'.repeat(50)}` }));
    const auth = await t.pusher.authSync(authFields(id, users));
    expect(JSON.stringify(auth.body).length).toBeGreaterThan(OFF_THREAD_BYTES);
    expect([auth.resultCode, auth.resultMsg]).toEqual(['000000', 'Success']);
    const list = departments(12_000, 100);
    expect(JSON.stringify(list).length).toBeGreaterThan(OFF_THREAD_BYTES * 16);
    const all = await t.pusher.allOrgSync(allOrgFields(id, list));
    expect([all.resultCode, all.resultMsg]).toEqual(['000000', 'Success']);
    expect((await t.relay.mirror.departments(id)).length).toBe(12_000);
  });

  it('takes a large push signed in the older JSON.stringify form too (off the event loop)', async () => {
    const id = newTenantId();
    await t.pusher.tenantSync(tenantFields(id));
    const legacy = new Pusher({ ...t.pusher.options, signing: 'legacy' });
    // a control character: Jackson escapes it \u001F, JSON.stringify \u001f, so the forms differ
    const big = allOrgFields(id, [
      ...departments(2999, 100),
      { orgCode: 'c', orgName: 'a\u001fb', parentCode: '' },
    ]);
    expect(JSON.stringify(big).length).toBeGreaterThan(OFF_THREAD_BYTES);
    const r = await legacy.allOrgSync(big);
    expect([r.resultCode, r.resultMsg]).toEqual(['000000', 'Success']);
    expect((await t.relay.mirror.departments(id)).length).toBe(3000);
  });

  it('answers a large call with a used nonce by its signature first, then by its nonce', async () => {
    const id = newTenantId();
    await t.pusher.tenantSync(tenantFields(id));
    const nonce = newNonce();
    const body = (n: number) => allOrgFields(id, departments(n, 100));
    expect((await t.pusher.allOrgSync(body(3000), { nonce })).resultCode).toBe('000000');
    const state = await t.state();
    // the nonce's claim is read while the worker verifies: a wrong signature is still what is said
    refused(
      await t.pusher.allOrgSync(body(3001), { nonce, sign: 'C'.repeat(64) }),
      '000001',
      /^x-sign does not match/,
    );
    refused(await t.pusher.allOrgSync(body(3001), { nonce }), '000001', /^x-nonce was already used/);
    expect(await t.state()).toEqual(state);
  });

  it('refuses more than 64 top-level members before sorting them, inline and off the thread', async () => {
    const state = await t.state();
    for (const count of [65, 100_000]) {
      const wide: Record<string, string> = {};
      for (let i = 0; i < count; i++) wide[`k${i}`] = 'v';
      const r = await t.pusher.send(
        'allOrgSync',
        {},
        { rawBody: JSON.stringify(wide), sign: 'A'.repeat(64) },
      );
      refused(r, '000002', /^body has more than 64 top-level members$/);
    }
    expect(await t.state()).toEqual(state);
  });

  it('gives a large body the same verdicts as a small one: wrong signature, invalid JSON', async () => {
    const id = newTenantId();
    const big = allOrgFields(id, departments(3000, 100));
    refused(await t.pusher.allOrgSync(big, { sign: 'B'.repeat(64) }), '000001', /^x-sign does not match/);
    const raw = `${JSON.stringify(big).slice(0, -1)},`;
    expect(raw.length).toBeGreaterThan(OFF_THREAD_BYTES);
    refused(await t.pusher.send('allOrgSync', big, { rawBody: raw }), '000002', /^body is not valid JSON$/);
    expect(await t.relay.mirror.departments(id)).toEqual([]);
  });

  it('inflates a compressed body only up to the limit, and accepts one within it', async () => {
    const bomb = gzipSync(Buffer.alloc(5 * 1024 * 1024, 0x20));
    expect(bomb.length).toBeLessThan(16 * 1024);
    const r = await t.pusher.send(
      'allOrgSync',
      {},
      { rawBody: bomb, headers: { 'Content-Encoding': 'gzip' } },
    );
    refused(r, '000002', /^body exceeds the 4194304-byte limit$/);

    const id = newTenantId();
    const fields = { ...tenantFields(id), timeStamp: t.pusher.nextSyncTime() };
    const zipped = gzipSync(JSON.stringify(fields));
    const ok = await t.pusher.send('tenantSync', fields, {
      rawBody: zipped,
      headers: { 'Content-Encoding': 'gzip' },
    });
    expect(ok.resultCode).toBe('000000');
  });
});

describe("a relay's verifying worker", () => {
  it("starts with the first large body and ends with the relay's close", async () => {
    const t = await startRelay({ store: 'memory' });
    try {
      const before = workerPorts();
      const big = allOrgFields(newTenantId(), departments(3000, 100));
      refused(await t.pusher.allOrgSync(big, { sign: 'B'.repeat(64) }), '000001', /^x-sign does not match/);
      expect(workerPorts()).toBe(before + 1);
      await t.relay.close();
      expect(workerPorts()).toBe(before);
    } finally {
      await t.close();
    }
  });
});

describe('the off-thread verifier', () => {
  it("hands back the body's text once its signature holds", async () => {
    const verifier = new OffThreadVerifier();
    const text = JSON.stringify({ orgInfoList: departments(2_000), tenantId: '租户' });
    const call = { timestamp: String(Date.now()), nonce: newNonce() };
    const sign = kitSign(KIT_KEY, call.nonce, call.timestamp, canonicalPayload(text));
    await expect(verifier.check(kitScheme(KIT_KEY), { ...call, sign }, Buffer.from(text))).resolves.toBe(
      text,
    );
    await verifier.close();
  });

  /** A large body signed wrongly: the verifier's worker refuses it (000001), whichever worker it is. */
  const refusesWrongSign = (verifier: OffThreadVerifier) =>
    expect(
      verifier.check(
        kitScheme(KIT_KEY),
        { sign: 'A'.repeat(64), timestamp: String(Date.now()), nonce: 'n' },
        Buffer.from(JSON.stringify({ orgInfoList: departments(5_000) })),
      ),
    ).rejects.toMatchObject({ resultCode: '000001' });

  it('keeps its worker between large bodies, however far apart', async () => {
    const verifier = new OffThreadVerifier();
    await refusesWrongSign(verifier);
    // longer than the 500 ms idle after which the worker used to go, taking its compiled code
    await new Promise((resolve) => setTimeout(resolve, 800));
    await refusesWrongSign(verifier);
    expect(verifier.started).toBe(1);
    await verifier.close();
  });

  it('a worker closing never fails the job just given to its successor', async () => {
    const verifier = new OffThreadVerifier();
    await refusesWrongSign(verifier);
    for (let i = 0; i < 5; i++) {
      const closing = verifier.close(); // as at shutdown
      await refusesWrongSign(verifier);
      await closing;
    }
    await verifier.close();
  });

  it('answers 000005 at once when more large bodies wait than it queues', async () => {
    const verifier = new OffThreadVerifier(1);
    const call = { sign: 'A'.repeat(64), timestamp: String(Date.now()), nonce: 'n' };
    const body = Buffer.from(JSON.stringify({ orgInfoList: departments(20_000) }));
    const scheme = kitScheme(KIT_KEY);
    const first = verifier.check(scheme, call, body);
    await expect(verifier.check(scheme, call, body)).rejects.toMatchObject({
      resultCode: '000005',
      message: 'too many large calls are being verified; nothing was changed, please retry shortly',
    });
    await expect(first).rejects.toMatchObject({ resultCode: '000001' });
    await verifier.close();
  });
});
