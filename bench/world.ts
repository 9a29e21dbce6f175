/**
 * The sign-in world of the session benchmarks: the sandbox marketplace (unified login and the
 * tenant's identity server, src/sandbox) with one app, one tenant and its users, and a relay
 * that the sandbox provisions through real kit pushes. Modelled on the tests' sign-in world
 * (test/support/world.ts); the keys and builders come from the fixtures both share
 * (test/support/fixtures.ts).
 *
 * The sandbox runs in a child process (bench/servers/sandbox.ts), as does the relay. Both this
 * process and the child build the same SandboxWorld from one `WorldSpec`: the child serves
 * logins from it, this process provisions the relay from it and pushes through its Pusher.
 */
import { randomBytes } from 'node:crypto';
import { SandboxWorld } from '../src/sandbox/world.js';
import { APP_ID, KIT_KEY, SELLER_PUBLIC_KEY } from '../test/support/fixtures.js';

export interface WorldSpec {
  appId: string;
  /** PUBLIC_URL of the relay + /sso/callback: the callback registered with the app credential */
  callbackUrl: string;
  /** where kit pushes go: the relay's own address */
  productionAddress: string;
  tenant: {
    tenantId: string;
    tenantCode: string;
    name: string;
    instanceId: string;
    orderId: string;
  };
  client: { clientId: string; clientSecret: string };
  password: string;
  users: number;
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/** `bench-00001`… : the users of the world, all authorized for the app. */
export const worldUserName = (i: number) => `bench-${String(i).padStart(5, '0')}`;

export function newWorldSpec(relayUrl: string, users: number): WorldSpec {
  return {
    appId: APP_ID,
    callbackUrl: `${relayUrl}/sso/callback`,
    productionAddress: relayUrl,
    tenant: {
      tenantId: hex(16),
      tenantCode: `bench${hex(3)}`,
      name: 'Bench 科技',
      instanceId: `inst-${hex(6)}`,
      orderId: `CS${hex(6).toUpperCase()}`,
    },
    client: { clientId: `cli-${hex(8)}`, clientSecret: `sec-${hex(16)}` },
    password: 'Passw0rd!',
    users,
  };
}

export function buildWorld(spec: WorldSpec): SandboxWorld {
  const world = new SandboxWorld();
  world.registerApp({
    appId: spec.appId,
    name: '示例 SaaS 应用',
    callbackUrl: spec.callbackUrl,
    publicKey: SELLER_PUBLIC_KEY,
    kitAccessKey: KIT_KEY,
    productionAddress: spec.productionAddress,
  });
  const tenant = world.addTenant({
    ...spec.tenant,
    departments: [
      { orgCode: 'hq', orgName: '总部', parentCode: '' },
      { orgCode: 'rd', orgName: '研发部', parentCode: 'hq' },
    ],
    clients: new Map([[spec.appId, { ...spec.client }]]),
  });
  for (let i = 0; i < spec.users; i++) {
    const userName = worldUserName(i);
    world.addUser({
      tenantId: tenant.tenantId,
      userName,
      password: spec.password,
      name: `用户 ${i}`,
      role: i % 50 === 0 ? 'admin' : 'user',
      orgCode: i % 2 === 0 ? 'hq' : 'rd',
      email: `${userName}@bench.example`,
      mobile: `138${String(i).padStart(8, '0')}`,
      apps: new Set([spec.appId]),
    });
  }
  return world;
}

/** Set-Cookie headers → name=value pairs (attributes dropped; empty values are deletions). */
function cookiesOf(response: Response): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of response.headers.getSetCookie()) {
    const pair = raw.split(';', 1)[0]!;
    const eq = pair.indexOf('=');
    out.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
  }
  return out;
}

export interface SignedInSession {
  userName: string;
  /** the Cookie header a browser would now send to the relay: `relay.sid=s%3A…` */
  cookie: string;
  /** ms of each request: GET /sso/login, the unified-login API, the callback */
  loginMs: number;
  unifiedLoginMs: number;
  callbackMs: number;
  totalMs: number;
}

/** What one sign-in attempt came to: the callback's answer, and the session cookie if it set one. */
export interface SignInAttempt {
  userName: string;
  /** the callback's HTTP status: 302 when signed in */
  status: number;
  contentType: string | null;
  /** the callback's body (a failure page, or a JSON error) */
  body: string;
  /** the Cookie header a browser would now send to the relay, when the callback set the session cookie */
  cookie: string | null;
  /** ms of each request: GET /sso/login, the unified-login API, the callback */
  loginMs: number;
  unifiedLoginMs: number;
  callbackMs: number;
  totalMs: number;
}

/**
 * One browser sign-in over HTTP, as the tests' `signIn` does it: GET /sso/login (the pending
 * sign-in cookie), the unified login's JSON call (what its page script does) for the callback
 * URL with `code` and `tenant`, then that callback on the relay, which exchanges the code and
 * reads userinfo at the tenant's identity server and sets the session cookie. Throws when
 * /sso/login or the unified login fails; the callback's answer, whatever it is, is returned.
 */
export async function attemptSignIn(
  relayUrl: string,
  sandboxUrl: string,
  spec: Pick<WorldSpec, 'appId' | 'password'>,
  userName: string,
  options: { cookieName?: string; timeoutMs?: number } = {},
): Promise<SignInAttempt> {
  const cookieName = options.cookieName ?? 'relay.sid';
  const signal = () => AbortSignal.timeout(options.timeoutMs ?? 30_000);
  const t0 = performance.now();
  const start = await fetch(`${relayUrl}/sso/login`, { redirect: 'manual', signal: signal() });
  await start.arrayBuffer();
  if (start.status !== 302) throw new Error(`/sso/login answered ${start.status}`);
  const pending = [...cookiesOf(start)].map(([k, v]) => `${k}=${v}`).join('; ');
  const t1 = performance.now();

  const login = await fetch(`${sandboxUrl}/unified-login/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ appId: spec.appId, username: userName, password: spec.password }),
    signal: signal(),
  });
  const answer = (await login.json()) as { redirect?: string };
  if (login.status !== 200 || !answer.redirect)
    throw new Error(`unified login refused ${userName}: ${login.status} ${JSON.stringify(answer)}`);
  const t2 = performance.now();

  const callback = await fetch(answer.redirect, {
    redirect: 'manual',
    headers: { cookie: pending },
    signal: signal(),
  });
  const body = await callback.text();
  const t3 = performance.now();
  const sid = cookiesOf(callback).get(cookieName);
  return {
    userName,
    status: callback.status,
    contentType: callback.headers.get('content-type'),
    body,
    cookie: sid ? `${cookieName}=${sid}` : null,
    loginMs: t1 - t0,
    unifiedLoginMs: t2 - t1,
    callbackMs: t3 - t2,
    totalMs: t3 - t0,
  };
}

/** `attemptSignIn`, which must end signed in (the callback's 302 with the session cookie). */
export async function signIn(
  relayUrl: string,
  sandboxUrl: string,
  spec: WorldSpec,
  userName: string,
  cookieName = 'relay.sid',
): Promise<SignedInSession> {
  const a = await attemptSignIn(relayUrl, sandboxUrl, spec, userName, { cookieName });
  if (a.status !== 302) throw new Error(`callback answered ${a.status}: ${a.body.slice(0, 200)}`);
  if (!a.cookie) throw new Error(`the callback set no ${cookieName} cookie`);
  const { loginMs, unifiedLoginMs, callbackMs, totalMs } = a;
  return { userName, cookie: a.cookie, loginMs, unifiedLoginMs, callbackMs, totalMs };
}
