/** The whole sign-in world on one machine: the sandbox marketplace and IdPs, and a relay provisioned by it. */
import { startSandbox, type RunningSandbox } from '../../src/sandbox/server.js';
import { SandboxWorld, type SandboxTenant } from '../../src/sandbox/world.js';
import { Browser } from './browser.js';
import { freePort } from './redis.js';
import {
  APP_ID,
  BASIC_KEY,
  KIT_KEY,
  SELLER_PUBLIC_KEY,
  startRelay,
  type StartOptions,
  type TestRelay,
} from './relay.js';

export interface SignInWorld {
  world: SandboxWorld;
  sandbox: RunningSandbox;
  relay: TestRelay;
  acme: SandboxTenant;
  password: string;
  browser: () => Browser;
  /** The unified login's JSON call, as its page script makes it; returns the callback URL. */
  unifiedLogin: (browser: Browser, username: string, password?: string) => Promise<string>;
  /** Sign in from /sso/login to the relay's final redirect. */
  signIn: (username: string, returnTo?: string) => Promise<{ browser: Browser; landed: string; sid: string }>;
  /** Restarts the relay with `env` changed (TestRelay.restart); `relay` and `signIn` use the new one. */
  restartRelay: (env: Record<string, string | undefined>) => Promise<TestRelay>;
  /**
   * A user's sessions of KOO_APP_ID as the store holds them, read from the store alone (a read
   * through the session API ends a revoked session by itself, so it cannot tell whether a push
   * did): which of `sids` still have a record, the ids indexed under the user, and whether the
   * user is in the tenant's set of users with sessions.
   */
  sessionsInStore: (
    userName: string,
    sids: readonly string[],
    tenantId?: string,
  ) => Promise<{ records: string[]; indexed: string[]; listed: boolean }>;
  close: () => Promise<void>;
}

export async function startSignInWorld(options: StartOptions = {}): Promise<SignInWorld> {
  const world = new SandboxWorld();
  const sandbox = await startSandbox(world);
  const port = options.port ?? (await freePort());
  let relay = await startRelay({
    ...options,
    port,
    env: {
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      UNIFIED_LOGIN_URL: `${sandbox.url}/unified-login/#/portal-login?ind=UNOP&appId={appId}`,
      // The sandbox's identity servers are plain http on loopback.
      ALLOW_INSECURE_IDP: 'true',
      ...options.env,
    },
  });
  const publicBase = relay.config.publicUrl.href.replace(/\/$/, '');
  world.registerApp({
    appId: APP_ID,
    name: '示例 SaaS 应用',
    callbackUrl: `${publicBase}/sso/callback`,
    publicKey: SELLER_PUBLIC_KEY,
    kitAccessKey: KIT_KEY,
    basicAccessKey: BASIC_KEY,
    productionAddress: relay.url,
  });
  const password = 'Passw0rd!';
  const acme = world.addTenant({
    name: 'Acme 科技',
    tenantCode: `acme${Math.random().toString(36).slice(2, 8)}`,
    departments: [
      { orgCode: 'hq', orgName: '总部', parentCode: '' },
      { orgCode: 'rd', orgName: '研发部', parentCode: 'hq' },
    ],
  });
  const apps = new Set([APP_ID]);
  world.addUser({
    tenantId: acme.tenantId,
    userName: 'alice',
    password,
    name: '爱丽丝',
    role: 'admin',
    orgCode: 'hq',
    email: 'alice@acme.example',
    mobile: '13800000001',
    apps,
  });
  world.addUser({
    tenantId: acme.tenantId,
    userName: 'bob',
    password,
    name: '鲍勃',
    role: 'user',
    orgCode: 'rd',
    apps: new Set(apps),
  });
  world.addUser({
    tenantId: acme.tenantId,
    userName: 'carol',
    password,
    name: '卡罗尔',
    enable: false,
    orgCode: 'rd',
    apps: new Set(apps),
  });
  world.addUser({
    tenantId: acme.tenantId,
    userName: 'dave',
    password,
    name: '戴夫',
    orgCode: 'rd',
    apps: new Set(apps),
  });
  await world.provision(APP_ID);

  const unifiedLogin = async (browser: Browser, username: string, pw = password) => {
    const r = await browser.request(`${sandbox.url}/unified-login/api/login`, {
      method: 'POST',
      json: { appId: APP_ID, username, password: pw },
    });
    if (r.status !== 200) throw new Error(`unified login refused ${username}: ${r.status} ${r.text}`);
    return (JSON.parse(r.text) as { redirect: string }).redirect;
  };

  const signIn = async (username: string, returnTo?: string) => {
    const browser = new Browser();
    const start = await browser.request(
      `${relay.url}/sso/login${returnTo ? `?returnTo=${encodeURIComponent(returnTo)}` : ''}`,
    );
    if (start.status !== 302) throw new Error(`/sso/login answered ${start.status}`);
    const callback = await unifiedLogin(browser, username);
    const landed = await browser.request(callback.replace(publicBase, relay.url));
    if (landed.status !== 302)
      throw new Error(`callback answered ${landed.status}: ${landed.text.slice(0, 200)}`);
    const cookie = browser.cookie(relay.url, relay.config.session.cookieName)!;
    const sid = decodeURIComponent(cookie.value).slice(2, decodeURIComponent(cookie.value).lastIndexOf('.'));
    return { browser, landed: landed.location!, sid };
  };

  const sessionsInStore = async (userName: string, sids: readonly string[], tenantId = acme.tenantId) => {
    const { store } = relay;
    const keys = relay.relay.keys;
    const [records, indexed, users] = await Promise.all([
      Promise.all(sids.map((sid) => store.get(keys.session(sid)))),
      store.sMembers(keys.userSessions(tenantId, APP_ID, userName)),
      store.sMembers(keys.sessionUsers(tenantId, APP_ID)),
    ]);
    return {
      records: sids.filter((_, i) => records[i] !== null),
      indexed: indexed.sort(),
      listed: users.includes(userName),
    };
  };

  return {
    world,
    sandbox,
    get relay() {
      return relay;
    },
    acme,
    password,
    browser: () => new Browser(),
    unifiedLogin,
    signIn,
    restartRelay: async (env) => (relay = await relay.restart(env)),
    sessionsInStore,
    close: async () => {
      await relay.close();
      await sandbox.close();
    },
  };
}
