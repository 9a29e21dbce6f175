// Operations (contract §7): health, readiness, metrics, request logs without secrets, SIGTERM drain.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import request from 'supertest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger, LOG_FLUSH_MS } from '../../src/ops/log.js';
import { canonicalPayload, kitSign } from '../../src/sandbox/marketplace/index.js';
import { Pusher } from '../../src/sandbox/pusher.js';
import { start } from '../../src/server.js';
import { Keys } from '../../src/store/keys.js';
import { MemoryStore } from '../../src/store/memory.js';
import { allOrgFields, appFields, newTenantId, tenantFields } from '../support/data.js';
import { connectRedisStore, dropPrefix, freePort, sharedRedisUrl, uniquePrefix } from '../support/redis.js';
import {
  API_KEY,
  BASIC_KEY,
  KIT_KEY,
  SELLER_PUBLIC_KEY,
  startRelay,
  testEnv,
  workerPorts,
  type TestRelay,
} from '../support/relay.js';

describe('operator endpoints and logs', () => {
  let t: TestRelay;
  beforeAll(async () => {
    t = await startRelay();
  });
  afterAll(() => t.close());

  it('answers /healthz and /readyz', async () => {
    expect((await t.http.get('/healthz')).body).toEqual({ status: 'ok' });
    expect((await t.http.get('/readyz')).body).toEqual({ status: 'ready', store: 'redis' });
  });

  it('exposes the contract metric names, counting kit pushes by interface and result', async () => {
    await t.pusher.tenantSync(tenantFields(newTenantId()));
    await t.pusher.tenantSync(tenantFields(newTenantId()), { sign: 'BAD' });
    const text = (await t.http.get('/metrics')).text;
    for (const name of [
      'relay_http_requests_total',
      'relay_http_request_duration_seconds',
      'relay_kit_pushes_total',
      'relay_logins_total',
      'relay_token_refreshes_total',
      'relay_store_errors_total',
    ])
      expect(text).toContain(`# TYPE ${name}`);
    expect(text).toMatch(/relay_kit_pushes_total\{interface="tenantSync",resultCode="000000"\} [1-9]/);
    expect(text).toMatch(/relay_kit_pushes_total\{interface="tenantSync",resultCode="000001"\} [1-9]/);
    expect(text).toMatch(
      /relay_http_requests_total\{route="\/produceAPI\/v2\/tenantSync",status="200"\} [1-9]/,
    );
  });

  it('logs one JSON line per request with its reqId, echoed in X-Request-Id', async () => {
    const res = await t.http.get('/healthz').set('X-Request-Id', 'probe-request-0001');
    expect(res.headers['x-request-id']).toBe('probe-request-0001');
    const lines = t.logs.map((l) => JSON.parse(l)).filter((l) => l.reqId === 'probe-request-0001');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ msg: 'request', method: 'GET', path: '/healthz', status: 200 });
    const generated = await t.http.get('/healthz').set('X-Request-Id', 'bad id with spaces');
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('never writes a secret to the log', async () => {
    const id = newTenantId();
    const plaintext = 'never-log-this-client-secret';
    const r = await t.pusher.applicationSync(appFields(id, { clientSecret: plaintext }), {
      nonce: 'NONCE-SHOULD-BE-OK-TO-LOG',
    });
    expect(r.resultCode).toBe('000000');
    await t.api(`/api/v1/tenants/${id}?token=query-value-secret`);
    const all = t.logs.join('\n');
    for (const secret of [
      plaintext,
      KIT_KEY,
      API_KEY,
      'query-value-secret',
      r.body.clientSecret as string,
      t.config.sessionSecrets[0]!,
    ])
      expect(all).not.toContain(secret);
  });
});

describe('the relay process', () => {
  const startProcess = (env: Record<string, string | undefined>) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { PATH: process.env.PATH, ...env } as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    return { child, exited, out: () => out, err: () => err };
  };

  it('stops with one line naming a missing variable', async () => {
    const p = startProcess(testEnv({ KIT_ACCESS_KEY: undefined }));
    expect(await p.exited).toBe(1);
    expect(p.err().trim().split('\n')).toEqual(['configuration error: KIT_ACCESS_KEY: is required']);
  });

  it('refuses the embedded store in production', async () => {
    const p = startProcess(testEnv({ NODE_ENV: 'production', PUBLIC_URL: 'https://isv.example.com' }));
    expect(await p.exited).toBe(1);
    expect(p.err()).toMatch(/^configuration error: REDIS_URL: is required in production/);
  });

  it('warns at start about generated secrets, a missing basic key and insecure identity servers, each once', async () => {
    const p = startProcess(testEnv({ BASIC_ACCESS_KEY: undefined, SESSION_SECRET: undefined }));
    for (let i = 0; i < 100 && !p.out().includes('relay listening'); i++)
      await new Promise((r) => setTimeout(r, 100));
    p.child.kill('SIGTERM');
    await p.exited;
    const lines = p
      .out()
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { level: string; msg: string; generated?: string[] });
    const warnings = lines.filter((l) => l.level === 'warn');
    // The generated key that only closes routes is not among the secrets that lose sessions.
    expect(warnings.find((l) => l.msg.startsWith('generated random secrets'))?.generated).toEqual([
      'SESSION_SECRET',
    ]);
    expect(warnings.filter((l) => l.msg.startsWith('BASIC_ACCESS_KEY is not set'))).toHaveLength(1);
    expect(warnings.filter((l) => l.msg.startsWith('ALLOW_INSECURE_IDP=true'))).toHaveLength(1);
  });

  it("starts the change feed's background rounds once Redis answers: the first trim runs at start, and no round fails", async () => {
    const port = await freePort();
    const prefix = uniquePrefix();
    const keys = new Keys(prefix);
    // An event long past the retention, written as the relay writes events (field `e`).
    const redis = await connectRedisStore();
    await redis.sendCommand(keys.events(), false, ['XADD', keys.events(), '1-0', 'e', '{}']);
    const p = startProcess(
      testEnv({ PORT: String(port), REDIS_URL: sharedRedisUrl(), REDIS_PREFIX: prefix }),
    );
    try {
      for (let i = 0; i < 100 && !p.out().includes('relay listening'); i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(p.out()).toContain('relay listening');
      // The first rounds (trim, outbox sweep and retry) run as soon as the workers start; the
      // next trim would come 60 s later, so only a first round run against a connected store trims.
      for (let i = 0; i < 50 && (await redis.get(keys.eventsTrimmed())) === null; i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(await redis.get(keys.eventsTrimmed())).toBe('1-0');
      expect(await redis.xRange(keys.events(), null, 10)).toEqual([]);
      p.child.kill('SIGTERM');
      expect(await p.exited).toBe(0);
      const lines = p
        .out()
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { level: string; msg: string });
      expect(lines.filter((l) => l.msg.endsWith('failed; retried later'))).toEqual([]);
      expect(lines.at(-1)?.msg).toBe('stopped');
    } finally {
      p.child.kill('SIGKILL');
      await redis.close();
      await dropPrefix(prefix);
    }
  });

  it('writes stdout in batches, yet a lone request line within LOG_FLUSH_MS, and the rest on SIGTERM', async () => {
    const port = await freePort();
    const p = startProcess(testEnv({ PORT: String(port) }));
    try {
      for (let i = 0; i < 100 && !p.out().includes('relay listening'); i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(p.out()).toContain('relay listening');
      const seen = (reqId: string) => p.out().includes(`"reqId":"${reqId}"`);
      // One request, then nothing: its line is far below LOG_BATCH_BYTES, so only the timer sends it.
      await fetch(`http://127.0.0.1:${port}/healthz`, { headers: { 'X-Request-Id': 'lone-request-0001' } });
      const sent = Date.now();
      while (!seen('lone-request-0001') && Date.now() - sent < 2000)
        await new Promise((r) => setTimeout(r, 10));
      expect(seen('lone-request-0001')).toBe(true);
      expect(Date.now() - sent).toBeLessThan(LOG_FLUSH_MS + 900);
      // Lines still waiting for their batch when SIGTERM comes are written before the exit.
      await fetch(`http://127.0.0.1:${port}/healthz`, { headers: { 'X-Request-Id': 'last-request-0001' } });
      p.child.kill('SIGTERM');
      expect(await p.exited).toBe(0);
      expect(seen('last-request-0001')).toBe(true);
    } finally {
      p.child.kill('SIGKILL');
    }
  });

  it('on SIGTERM finishes the request in flight, then exits 0', async () => {
    const port = await freePort();
    const p = startProcess(testEnv({ PORT: String(port), REDIS_URL: process.env.TEST_REDIS_URL }));
    for (let i = 0; i < 100 && !p.out().includes('relay listening'); i++)
      await new Promise((r) => setTimeout(r, 100));
    expect(p.out()).toContain('relay listening');

    const body = JSON.stringify(tenantFields(newTenantId(), { timeStamp: '20260101000000000' }));
    const nonce = 'DRAIN' + Date.now();
    const ts = String(Date.now());
    const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/produceAPI/v2/tenantSync',
          headers: {
            'Content-Type': 'application/json',
            'Content-Length': Buffer.byteLength(body),
            'x-sign': kitSign(KIT_KEY, nonce, ts, canonicalPayload(body)),
            'x-timestamp': ts,
            'x-nonce': nonce,
          },
        },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      // Half the body now; SIGTERM arrives while the request is in flight; the rest after.
      req.write(body.slice(0, 20));
      setTimeout(() => {
        p.child.kill('SIGTERM');
        setTimeout(() => req.end(body.slice(20)), 300);
      }, 200);
    });
    const res = await answer;
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual({ resultCode: '000000', resultMsg: 'Success' });
    expect(await p.exited).toBe(0);
    expect(p.out()).toContain('"msg":"stopped"');
  });
});

/** Whether something accepts TCP connections at 127.0.0.1:port. */
const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

const OPS_PATHS = ['/healthz', '/readyz', '/metrics'];

describe('OPS_PORT (contract §2, issue 9 §10)', () => {
  const quiet = () =>
    createLogger(
      'silent',
      new Writable({
        write: (_c, _e, done) => done(),
      }),
    );

  it('buildApp: with OPS_PORT the operator routes are on their own app, and the main one answers 404 for them', async () => {
    const config = loadConfig(testEnv({ OPS_PORT: '9464' }));
    expect(config.ops).toEqual({ port: 9464, host: '127.0.0.1' });
    const relay = buildApp({ config, store: new MemoryStore(), logger: quiet() });
    expect(relay.ops).not.toBeNull();
    for (const path of OPS_PATHS) {
      expect([path, (await request(relay.app).get(path)).status]).toEqual([path, 404]);
      expect([path, (await request(relay.ops!).get(path)).status]).toEqual([path, 200]);
    }
    expect((await request(relay.ops!).get('/readyz')).body).toEqual({ status: 'ready', store: 'memory' });
    expect((await request(relay.ops!).get('/metrics')).text).toContain('# TYPE relay_http_requests_total');
    // the ops app serves nothing else
    for (const path of ['/sso/login', '/api/v1/openapi.json', '/.well-known/jwks.json'])
      expect([path, (await request(relay.ops!).get(path)).status]).toEqual([path, 404]);
    expect((await request(relay.app).get('/sso/login')).status).toBe(302);
  });

  it('buildApp: without OPS_PORT the operator routes are on the main app, as before', async () => {
    const config = loadConfig(testEnv({ OPS_PORT: undefined }));
    expect(config.ops).toBeUndefined();
    const relay = buildApp({ config, store: new MemoryStore(), logger: quiet() });
    expect(relay.ops).toBeNull();
    for (const path of OPS_PATHS)
      expect([path, (await request(relay.app).get(path)).status]).toEqual([path, 200]);
  });

  it.each([
    [{ OPS_PORT: 'metrics' }, 'OPS_PORT: must be a whole number from 0 to 65535'],
    [{ PORT: '3000', OPS_PORT: '3000' }, 'OPS_PORT: must differ from PORT'],
  ])('refuses %j', (env, message) => {
    expect(() => loadConfig(testEnv(env))).toThrow(message);
  });

  it('server: listens on both ports, binds the ops port to OPS_HOST, and stop() closes both listeners and the verifying worker', async () => {
    const [port, opsPort] = [await freePort(), await freePort()];
    const config = loadConfig(testEnv({ PORT: String(port), OPS_PORT: String(opsPort) }));
    const ports = workerPorts();
    const running = await start(config, quiet());
    try {
      expect(running.opsServer?.address()).toMatchObject({ address: '127.0.0.1', port: opsPort });
      expect(await listening(port)).toBe(true);
      expect(await listening(opsPort)).toBe(true);
      expect((await request(`http://127.0.0.1:${opsPort}`).get('/healthz')).status).toBe(200);
      expect((await request(`http://127.0.0.1:${port}`).get('/healthz')).status).toBe(404);
      // a body above 64 KiB starts the worker that verifies large bodies
      const pusher = new Pusher({
        productionAddress: `http://127.0.0.1:${port}${config.produceBasePath}`,
        kitAccessKey: KIT_KEY,
        basicAccessKey: BASIC_KEY,
        publicKey: SELLER_PUBLIC_KEY,
      });
      const list = Array.from({ length: 1000 }, (_, i) => ({ orgCode: `d${i}`, orgName: 'x'.repeat(100) }));
      const r = await pusher.allOrgSync(allOrgFields(newTenantId(), list), { sign: 'B'.repeat(64) });
      expect(r.resultCode).toBe('000001');
      expect(workerPorts()).toBe(ports + 1);
    } finally {
      await running.stop();
    }
    expect(await listening(port)).toBe(false);
    expect(await listening(opsPort)).toBe(false);
    expect(workerPorts()).toBe(ports);
  });

  it('a relay process with OPS_PORT serves the probes and metrics only there, and exits 0 on SIGTERM with both ports closed', async () => {
    const [port, opsPort] = [await freePort(), await freePort()];
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: {
        PATH: process.env.PATH,
        ...testEnv({ PORT: String(port), OPS_PORT: String(opsPort), REDIS_URL: process.env.TEST_REDIS_URL }),
      } as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      for (let i = 0; i < 100 && !out.includes('relay listening'); i++)
        await new Promise((r) => setTimeout(r, 100));
      const lines = out
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.find((l) => l.msg === 'relay listening')).toMatchObject({
        port,
        opsPort,
        opsHost: '127.0.0.1',
      });
      const main = request(`http://127.0.0.1:${port}`);
      const ops = request(`http://127.0.0.1:${opsPort}`);
      for (const path of OPS_PATHS) {
        expect([path, (await main.get(path)).status]).toEqual([path, 404]);
        expect([path, (await ops.get(path)).status]).toEqual([path, 200]);
      }
      expect((await ops.get('/readyz')).body).toEqual({ status: 'ready', store: 'redis' });
      expect((await ops.get('/sso/login')).status).toBe(404);
      expect((await main.get('/sso/login')).status).toBe(302);
      // the ops port's own requests are counted in its metrics, as on the main port
      expect((await ops.get('/metrics')).text).toMatch(
        /relay_http_requests_total\{route="\/readyz",status="200"\} [1-9]/,
      );
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(out).toContain('"msg":"stopped"');
    expect(await listening(port)).toBe(false);
    expect(await listening(opsPort)).toBe(false);
  });
});
