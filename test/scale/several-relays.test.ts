/**
 * Several relays behind one TCP round-robin load balancer (test/support/loadBalancer.ts), the
 * balancer's address being their PUBLIC_URL: no sticky sessions, so every step of a sign-in and
 * every session call may land on a different relay. Three relays are built as main.ts builds
 * them, in this process, on one Redis under one prefix. Each request here goes on a connection
 * of its own (`Connection: close`), so the balancer's log says which relay took which request.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Pusher, type PushResult } from '../../src/sandbox/pusher.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/server.js';
import { SandboxWorld, userForSync } from '../../src/sandbox/world.js';
import { Browser } from '../support/browser.js';
import { LoadBalancer } from '../support/loadBalancer.js';
import { dropPrefix, freePort, sharedRedisUrl, uniquePrefix } from '../support/redis.js';
import {
  API_KEY,
  APP_ID,
  BASIC_KEY,
  KIT_KEY,
  SELLER_PUBLIC_KEY,
  startRelay,
  testEnv,
  type TestRelay,
} from '../support/relay.js';
import { startSignInWorld, type SignInWorld } from '../support/world.js';

/** A connection of its own per request: the balancer sends each to the next relay. */
const CLOSE = { connection: 'close' } as const;

describe('three relays behind a round-robin balancer', () => {
  let lb: LoadBalancer;
  let w: SignInWorld;
  let relays: TestRelay[];
  let pusher: Pusher;

  beforeAll(async () => {
    lb = await LoadBalancer.start();
    w = await startSignInWorld({ env: { PUBLIC_URL: lb.url } });
    const env = {
      PUBLIC_URL: lb.url,
      UNIFIED_LOGIN_URL: w.relay.config.unifiedLoginUrl,
    };
    relays = [
      w.relay,
      await startRelay({ prefix: w.relay.prefix, env }),
      await startRelay({ prefix: w.relay.prefix, env }),
    ];
    lb.setBackends(relays.map(portOf));
    // The marketplace, pushing to the public address (the balancer).
    pusher = new Pusher({
      productionAddress: `${lb.url}${w.relay.config.produceBasePath}`,
      kitAccessKey: KIT_KEY,
      basicAccessKey: BASIC_KEY,
      publicKey: SELLER_PUBLIC_KEY,
    });
  });
  afterAll(async () => {
    for (const relay of relays.slice(1)) await relay.close();
    await w.close();
    await lb.close();
  });

  const portOf = (relay: TestRelay) => Number(new URL(relay.url).port);
  const nameOf = (port: number | null) => relays.findIndex((r) => portOf(r) === port);
  /** Which relay (0, 1, 2) took each connection the balancer accepted since `from`. */
  const takenBy = (from: number) => lb.connections.slice(from).map((c) => nameOf(c.backend));

  const idp = () => w.world.idp(w.acme.tenantCode);
  const refreshes = () =>
    w.sandbox.identity.stats.refreshes.filter((r) => r.tenantCode === w.acme.tenantCode).length;
  afterEach(() => {
    Object.assign(idp(), { refreshDelayMs: 0, accessTtlSeconds: 7200 });
  });

  /** The seller app's call, to `base` (a relay or the balancer), on a fresh connection. */
  const sessionCall = async (base: string, sid: string, method: 'GET' | 'POST' = 'GET', body?: object) => {
    const r = await fetch(`${base}/api/v1/session${method === 'POST' ? '/token' : ''}`, {
      method,
      headers: {
        ...CLOSE,
        authorization: `Bearer ${API_KEY}`,
        'x-session-id': sid,
        ...(method === 'POST' ? { 'content-type': 'application/json' } : {}),
      },
      ...(method === 'POST' ? { body: JSON.stringify(body ?? {}) } : {}),
    });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };

  /** Sign-in through the balancer from /sso/login to the final redirect; which relays took its steps. */
  const signIn = async (userName: string) => {
    const from = lb.connections.length;
    const browser = w.browser();
    const start = await browser.request(`${lb.url}/sso/login`, { headers: CLOSE });
    expect(start.status).toBe(302);
    const callback = await w.unifiedLogin(browser, userName);
    expect(callback.startsWith(`${lb.url}/sso/callback?`)).toBe(true);
    const landed = await browser.request(callback, { headers: CLOSE });
    expect([landed.status, landed.location]).toEqual([302, `${lb.url}/`]);
    const cookie = decodeURIComponent(browser.cookie(lb.url, w.relay.config.session.cookieName)!.value);
    const sid = cookie.slice(2, cookie.lastIndexOf('.'));
    return { sid, browser, steps: takenBy(from) };
  };

  const ok = (r: PushResult) => expect([r.resultCode, r.resultMsg]).toEqual(['000000', 'Success']);

  it('the balancer sends each new connection to the next relay, and skips one that refuses', async () => {
    const from = lb.connections.length;
    for (let i = 0; i < 6; i++) {
      const r = await fetch(`${lb.url}/healthz`, { headers: CLOSE });
      expect(r.status).toBe(200);
      await r.arrayBuffer();
    }
    const taken = takenBy(from);
    expect(new Set(taken)).toEqual(new Set([0, 1, 2]));
    expect(taken.slice(3)).toEqual(taken.slice(0, 3));

    // A closed port in the list: its turn goes to the next relay.
    const closed = await LoadBalancer.start();
    const refusing = closed.port;
    await closed.close();
    lb.setBackends([refusing, ...relays.map(portOf)]);
    try {
      const before = lb.connections.length;
      for (let i = 0; i < 4; i++) {
        const r = await fetch(`${lb.url}/healthz`, { headers: CLOSE });
        expect(r.status).toBe(200);
        await r.arrayBuffer();
      }
      const made = lb.connections.slice(before);
      expect(made.filter((c) => c.refusedBy.includes(refusing))).toHaveLength(1);
      expect(made.every((c) => c.backend !== refusing && c.backend !== null)).toBe(true);
    } finally {
      lb.setBackends(relays.map(portOf));
    }
  });

  it('a sign-in whose steps land on different relays works, and every relay answers for the session', async () => {
    const { sid, steps } = await signIn('alice');
    // /sso/login on one relay, the callback on the next: the login state is in Redis.
    expect(steps).toHaveLength(2);
    expect(steps[0]).not.toBe(steps[1]);

    // Through the balancer, one call after another: each on the next relay.
    const from = lb.connections.length;
    const reads = [];
    for (let i = 0; i < 3; i++) reads.push(await sessionCall(lb.url, sid));
    expect(new Set(takenBy(from))).toEqual(new Set([0, 1, 2]));
    for (const read of reads) {
      expect(read.status).toBe(200);
      expect(read.body).toMatchObject({ user: { userName: 'alice' }, tenant: { tenantId: w.acme.tenantId } });
    }
    const tokens = [];
    for (let i = 0; i < 3; i++) tokens.push(await sessionCall(lb.url, sid, 'POST'));
    expect(tokens.map((t) => t.status)).toEqual([200, 200, 200]);
    expect(new Set(tokens.map((t) => t.body.accessToken)).size).toBe(1);

    // And each relay asked directly.
    for (const relay of relays) expect((await sessionCall(relay.url, sid)).status).toBe(200);
  });

  it('renewal is single-flight across all the relays: one refresh for 60 concurrent callers', async () => {
    idp().accessTtlSeconds = 60;
    const { sid } = await signIn('bob');
    idp().accessTtlSeconds = 600;
    idp().refreshDelayMs = 1000;
    const before = refreshes();
    const from = lb.connections.length;
    const answers = await Promise.all(Array.from({ length: 60 }, () => sessionCall(lb.url, sid, 'POST')));
    expect(answers.map((a) => a.status)).toEqual(Array(60).fill(200));
    expect(refreshes()).toBe(before + 1);
    expect(new Set(answers.map((a) => a.body.accessToken)).size).toBe(1);
    expect(Date.parse(answers[0]!.body.expiresAt as string) - Date.now()).toBeGreaterThan(500_000);
    // spread evenly: 20 callers on each relay
    const taken = takenBy(from);
    expect([0, 1, 2].map((i) => taken.filter((t) => t === i).length)).toEqual([20, 20, 20]);
  });

  it('a nonce used on one relay is refused on the others; a verbatim replay changes nothing', async () => {
    const tenantId = w.acme.tenantId;
    const nonce = randomBytes(32).toString('hex').toUpperCase();
    const sent = { nonce, timestamp: String(Date.now()), headers: CLOSE };
    const fields = (name: string) => ({
      instanceId: w.acme.instanceId,
      orderId: w.acme.orderId,
      tenantId,
      tenantCode: w.acme.tenantCode,
      name,
      domainName: w.world.domainName(w.acme),
      flag: 2,
      testFlag: w.acme.testFlag,
    });
    const from = lb.connections.length;
    const first = await pusher.tenantSync(fields('Acme 科技 (renamed)'), sent);
    ok(first);
    const state = await w.relay.state();
    const reused = await pusher.tenantSync(fields('Acme 科技 (forged)'), sent);
    expect([reused.resultCode, reused.resultMsg]).toEqual([
      '000001',
      'x-nonce was already used; every call needs a new nonce',
    ]);
    const replay = await pusher.send('tenantSync', first.body, sent);
    ok(replay);
    // three relays, one each
    expect(new Set(takenBy(from))).toEqual(new Set([0, 1, 2]));
    expect(await w.relay.state()).toEqual(state);
    for (const relay of relays)
      expect((await relay.api(`/api/v1/tenants/${tenantId}`)).body.name).toBe('Acme 科技 (renamed)');

    // Three different bodies under one fresh nonce, at once, one to each relay: one is applied.
    const raced = randomBytes(32).toString('hex').toUpperCase();
    const results = await Promise.all(
      relays.map((relay, i) =>
        relay.pusher.tenantSync(fields(`Acme 科技 (race ${i})`), {
          nonce: raced,
          timestamp: String(Date.now()),
        }),
      ),
    );
    expect(results.map((r) => r.resultCode).sort()).toEqual(['000000', '000001', '000001']);
    const winner = results.findIndex((r) => r.resultCode === '000000');
    for (const relay of relays)
      expect((await relay.api(`/api/v1/tenants/${tenantId}`)).body.name).toBe(`Acme 科技 (race ${winner})`);
  });

  it('revocation is seen by every relay at once: a removed user’s sessions answer 401 on all of them', async () => {
    const a = await signIn('dave');
    const b = await signIn('dave');
    const other = await signIn('alice');
    for (const relay of relays)
      for (const sid of [a.sid, b.sid]) expect((await sessionCall(relay.url, sid)).status).toBe(200);

    const common = { instanceId: w.acme.instanceId, tenantId: w.acme.tenantId, appId: APP_ID };
    ok(await pusher.authSync({ ...common, userList: [{ userName: 'dave' }], flag: 0 }, { headers: CLOSE }));
    // Right after the answer, every relay at the same moment, both kinds of session call.
    const after = await Promise.all(
      relays.flatMap((relay) => [
        sessionCall(relay.url, a.sid),
        sessionCall(relay.url, b.sid, 'POST'),
        sessionCall(relay.url, other.sid),
      ]),
    );
    expect(after.map((r) => [r.status, r.body.error ?? null])).toEqual(
      relays.flatMap(() => [
        [401, 'no_session'],
        [401, 'no_session'],
        [200, null],
      ]),
    );

    // Authorized again, dave signs in anew; the old sessions stay ended.
    ok(
      await pusher.authSync(
        { ...common, userList: [userForSync(w.world.users.get('dave')!)], flag: 1 },
        { headers: CLOSE },
      ),
    );
    const again = await signIn('dave');
    for (const relay of relays) {
      expect((await sessionCall(relay.url, again.sid)).status).toBe(200);
      expect((await sessionCall(relay.url, a.sid)).status).toBe(401);
    }
  });
});

/** A relay process started from its entry point, src/main.ts, configured by the environment alone. */
interface RelayProcess {
  port: number;
  url: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  out: () => string;
}

async function startRelayProcess(env: Record<string, string | undefined>): Promise<RelayProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { PATH: process.env.PATH, ...env, PORT: String(port), HOST: '127.0.0.1' } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  for (let i = 0; i < 300 && !out.includes('relay listening'); i++) {
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!out.includes('relay listening')) {
    child.kill('SIGKILL');
    throw new Error(`the relay process did not start:\n${out.slice(-2000)}`);
  }
  return { port, url: `http://127.0.0.1:${port}`, child, exited, out: () => out };
}

/**
 * Two relay processes behind the balancer, under steady traffic; SIGTERM to one. The balancer
 * routes by readiness (it asks each relay's /readyz every 100 ms), as Kubernetes or a cloud
 * balancer does. Every request must be answered as it would have been without the signal: the
 * relay stops being ready at once, still answers what reaches it for DRAIN_GRACE_MS (closing each
 * connection after its answer, so keep-alive clients move on), then closes its listener (a
 * connection that still reaches it is refused, and the balancer sends it on), finishes what it
 * has and exits 0.
 */
describe('SIGTERM to one of two relay processes under traffic', () => {
  const GRACE_MS = 1000;
  const CHECK_MS = 100;
  const prefix = uniquePrefix();
  let lb: LoadBalancer;
  let sandbox: RunningSandbox | undefined;
  let relays: RelayProcess[] = [];

  beforeAll(async () => {
    lb = await LoadBalancer.start([], { healthCheck: { path: '/readyz', intervalMs: CHECK_MS } });
  });
  afterAll(async () => {
    for (const relay of relays) if (relay.child.exitCode === null) relay.child.kill('SIGKILL');
    await Promise.all(relays.map((r) => r.exited));
    await lb.close();
    await sandbox?.close();
    await dropPrefix(prefix);
  });

  it('loses no request and exits 0; readiness turns 503 before the listener closes', async () => {
    const world = new SandboxWorld();
    sandbox = await startSandbox(world);
    const env = testEnv({
      REDIS_URL: sharedRedisUrl(),
      REDIS_PREFIX: prefix,
      PUBLIC_URL: lb.url,
      UNIFIED_LOGIN_URL: `${sandbox.url}/unified-login/#/portal-login?ind=UNOP&appId={appId}`,
      LOG_LEVEL: 'info',
      DRAIN_GRACE_MS: String(GRACE_MS),
    });
    relays = await Promise.all([startRelayProcess(env), startRelayProcess(env)]);
    lb.setBackends(relays.map((r) => r.port));
    const [staying, leaving] = relays as [RelayProcess, RelayProcess];

    world.registerApp({
      appId: APP_ID,
      name: '示例 SaaS 应用',
      callbackUrl: `${lb.url}/sso/callback`,
      publicKey: SELLER_PUBLIC_KEY,
      kitAccessKey: KIT_KEY,
      basicAccessKey: BASIC_KEY,
      productionAddress: lb.url,
    });
    const password = 'Passw0rd!';
    const acme = world.addTenant({
      name: 'Acme 科技',
      tenantCode: `acme${randomBytes(3).toString('hex')}`,
      departments: [{ orgCode: 'hq', orgName: '总部', parentCode: '' }],
    });
    world.addUser({
      tenantId: acme.tenantId,
      userName: 'alice',
      password,
      name: '爱丽丝',
      orgCode: 'hq',
      apps: new Set([APP_ID]),
    });
    await world.provision(APP_ID);

    // Signed in through the balancer, as a browser would be.
    const browser = new Browser();
    expect((await browser.request(`${lb.url}/sso/login`)).status).toBe(302);
    const login = await browser.request(`${sandbox.url}/unified-login/api/login`, {
      method: 'POST',
      json: { appId: APP_ID, username: 'alice', password },
    });
    const callback = (JSON.parse(login.text) as { redirect: string }).redirect;
    expect((await browser.request(callback)).status).toBe(302);
    const cookie = browser.cookieHeader(lb.url);

    const pusher = new Pusher({
      productionAddress: lb.url,
      kitAccessKey: KIT_KEY,
      basicAccessKey: BASIC_KEY,
      publicKey: SELLER_PUBLIC_KEY,
    });
    const api = { authorization: `Bearer ${API_KEY}`, cookie };
    const json = { ...api, 'content-type': 'application/json' };
    // What the seller app sends, over keep-alive connections (fetch's pool), and the marketplace's
    // pushes, each asking for its connection to be closed after it.
    const kinds: [string, () => Promise<boolean>][] = [
      [
        'GET /api/v1/session',
        async () => {
          const r = await fetch(`${lb.url}/api/v1/session`, { headers: api });
          return (
            r.status === 200 && ((await r.json()) as { user: { userName: string } }).user.userName === 'alice'
          );
        },
      ],
      [
        'POST /api/v1/session/token',
        async () => {
          const r = await fetch(`${lb.url}/api/v1/session/token`, {
            method: 'POST',
            headers: json,
            body: '{}',
          });
          return (
            r.status === 200 && typeof ((await r.json()) as { accessToken: unknown }).accessToken === 'string'
          );
        },
      ],
      [
        'POST /api/v1/authorize',
        async () => {
          const r = await fetch(`${lb.url}/api/v1/authorize`, {
            method: 'POST',
            headers: json,
            body: JSON.stringify({ tenantId: acme.tenantId, userName: 'alice' }),
          });
          return r.status === 200 && ((await r.json()) as { allowed: boolean }).allowed;
        },
      ],
      [
        'singleOrgSync',
        async () => {
          const r = await pusher.singleOrgSync(
            {
              instanceId: acme.instanceId,
              tenantId: acme.tenantId,
              orgCode: 'hq',
              orgName: `总部 ${Date.now()}`,
              parentCode: '',
              flag: 2,
              testFlag: acme.testFlag,
            },
            { headers: CLOSE },
          );
          return r.resultCode === '000000';
        },
      ],
    ];

    let stop = false;
    let signalledAt = Infinity;
    const sent: { kind: string; at: number; outcome: string }[] = [];
    const worker = async (w: number) => {
      for (let n = w; !stop; n++) {
        const [kind, send] = kinds[n % kinds.length]!;
        const at = Date.now();
        let outcome: string;
        try {
          outcome = (await send()) ? 'ok' : 'unexpected answer';
        } catch (error) {
          const cause = (error as { cause?: { code?: string; message?: string } }).cause;
          outcome = `no answer: ${cause?.code ?? cause?.message ?? (error as Error).message}`;
        }
        sent.push({ kind, at, outcome });
        await new Promise((r) => setTimeout(r, 5));
      }
    };

    // The leaving relay's /readyz, asked directly on a new connection every 20 ms.
    const readiness: { state: string; at: number }[] = [];
    let probing = true;
    const probe = (async () => {
      while (probing) {
        const at = Date.now();
        try {
          const r = await fetch(`${leaving.url}/readyz`, { headers: CLOSE });
          readiness.push({ state: `${r.status} ${((await r.json()) as { status: string }).status}`, at });
        } catch (error) {
          readiness.push({
            state: `${(error as { cause?: { code?: string } }).cause?.code ?? 'failed'}`,
            at,
          });
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    const workers = Array.from({ length: 6 }, (_, i) => worker(i));
    await new Promise((r) => setTimeout(r, 1500));
    signalledAt = Date.now();
    leaving.child.kill('SIGTERM');
    const code = await leaving.exited;
    const exitedAt = Date.now();
    // the other relay carries on alone for a while
    await new Promise((r) => setTimeout(r, 1000));
    stop = true;
    probing = false;
    await Promise.all([...workers, probe]);

    const failed = sent.filter((o) => o.outcome !== 'ok');
    const after = sent.filter((o) => o.at >= signalledAt);
    const took = lb.connections.filter((c) => c.at >= signalledAt);
    const takenOut = lb.health.find((h) => h.backend === leaving.port && h.change === 'out');
    const firstRefused = readiness.find((r) => r.state === 'ECONNREFUSED');
    process.stderr.write(
      `SIGTERM under traffic: ${sent.length} requests, ${after.length} sent after the signal, ${failed.length} failed; ` +
        `not ready ${readiness.find((r) => r.state.startsWith('503'))!.at - signalledAt} ms after the signal, ` +
        `out of the balancer after ${takenOut!.at - signalledAt} ms, listener closed after ~${firstRefused!.at - signalledAt} ms, ` +
        `exit ${code} after ${exitedAt - signalledAt} ms; after the signal ${took.length} new connections, ` +
        `${took.filter((c) => c.backend === leaving.port).length} of them to the leaving relay\n`,
    );
    expect(failed).toEqual([]);
    expect(code).toBe(0);
    expect(leaving.out()).toContain('"msg":"stopped"');
    expect(after.length).toBeGreaterThan(100);
    // Ready; then 503 "stopping" from the signal on, for the grace; then no listener.
    const states = runs(readiness.map((r) => r.state));
    expect(states).toEqual(['200 ready', '503 stopping', 'ECONNREFUSED']);
    expect(firstRefused!.at - signalledAt).toBeGreaterThanOrEqual(GRACE_MS - 50);
    // The balancer took it out on its 503, before the listener closed, and sent it nothing more.
    expect(takenOut).toMatchObject({ answer: '503' });
    expect(takenOut!.at).toBeLessThan(firstRefused!.at);
    expect(lb.connections.filter((c) => c.at > takenOut!.at && c.backend === leaving.port)).toEqual([]);
    expect(lb.connections.every((c) => c.backend !== null)).toBe(true);
    // the relay that stayed still serves
    expect((await fetch(`${staying.url}/readyz`)).status).toBe(200);
  });
});

/** The distinct states of a list in order: `a, a, b, b, c` → `a, b, c`. */
function runs(list: readonly string[]): string[] {
  return list.filter((item, i) => i === 0 || list[i - 1] !== item);
}
