/**
 * `npm run demo`: the whole flow on one machine. Starts the sandbox (KooGallery's unified
 * login, two tenants' identity servers, the marketplace pusher), the relay (embedded store
 * unless REDIS_URL is set) and the sample seller app behind one public origin, provisions
 * everything through real signed kit pushes, and prints where to go and who to sign in as.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createSellerApp } from '../../examples/seller-app/app.js';
import { followFeed, Workspaces } from '../../examples/seller-app/workspaces.js';
import { RelayClient } from '../client/index.js';
import { loadConfig } from '../config.js';
import { createLogger } from '../ops/log.js';
import { generateSellerKeyPair, writeSellerKeyPair } from '../sandbox/keys.js';
import { startSandbox, type RunningSandbox } from '../sandbox/server.js';
import { SandboxWorld, type SandboxTenant } from '../sandbox/world.js';
import { start } from '../server.js';
import { startProxy } from './proxy.js';

export interface DemoOptions {
  /** the public origin's port (the app and the relay's browser routes) */
  port?: number;
  relayPort?: number;
  appPort?: number;
  sandboxPort?: number;
  keyDir?: string;
  logLevel?: string;
  redisUrl?: string;
}

export const DEMO_PASSWORD = 'Demo@2026';

export interface RunningDemo {
  url: string;
  sandbox: RunningSandbox;
  world: SandboxWorld;
  tenants: { production: SandboxTenant; debug: SandboxTenant; lapsed: SandboxTenant };
  appId: string;
  apiKey: string;
  relayApiUrl: string;
  /** The sample app's own table, kept from the relay's change feed (shown at /workspaces). */
  workspaces: Workspaces;
  /** The production address registered for the demo, and its two access keys (demo only). */
  productionAddress: string;
  kitKey: string;
  basicKey: string;
  close: () => Promise<void>;
}

export async function startDemo(options: DemoOptions = {}): Promise<RunningDemo> {
  const port = options.port ?? 3000;
  const relayPort = options.relayPort ?? port + 1;
  const appPort = options.appPort ?? port + 2;
  const sandboxPort = options.sandboxPort ?? port + 3;
  const publicUrl = `http://localhost:${port}`;
  const appId = 'demo-saas-app';
  // The production address registered in Seller Center: the relay's part of the public origin.
  const produceBasePath = '/isv/produce';
  const kitKey = randomBytes(18).toString('base64url');
  const basicKey = randomBytes(18).toString('base64url');
  const apiKey = randomBytes(18).toString('base64url');

  // The seller's key pair, kept across runs like a real one (the folder is git-ignored).
  const keyDir = options.keyDir ?? join(process.cwd(), '.demo', 'keys');
  const privateFile = join(keyDir, 'seller-private.pem');
  if (!existsSync(privateFile)) writeSellerKeyPair(keyDir, generateSellerKeyPair());
  const publicPem = readFileSync(join(keyDir, 'seller-public.pem'), 'utf8');

  const world = new SandboxWorld();
  const sandbox = await startSandbox(world, { port: sandboxPort, host: '127.0.0.1' });

  const config = loadConfig({
    NODE_ENV: 'development',
    PORT: String(relayPort),
    HOST: '127.0.0.1',
    PUBLIC_URL: publicUrl,
    KOO_APP_ID: appId,
    KIT_ACCESS_KEY: kitKey,
    BASIC_ACCESS_KEY: basicKey,
    RSA_PRIVATE_KEY_FILE: privateFile,
    SELLER_API_KEYS: apiKey,
    PRODUCE_BASE_PATH: produceBasePath,
    UNIFIED_LOGIN_URL: `${sandbox.url}/unified-login/#/portal-login?ind=UNOP&appId={appId}`,
    // The sandbox's identity servers are plain http on loopback.
    ALLOW_INSECURE_IDP: 'true',
    ...(options.redisUrl ? { REDIS_URL: options.redisUrl } : {}),
  });
  const relay = await start(config, createLogger(options.logLevel ?? 'warn'));
  const relayApiUrl = `http://127.0.0.1:${relayPort}`;

  // The app keeps its own table of workspaces from the change feed, from the first event on.
  const workspaces = new Workspaces();
  const following = new AbortController();
  const feed = followFeed(
    new RelayClient({ baseUrl: relayApiUrl, apiKey }),
    workspaces,
    following.signal,
  ).catch((error: unknown) =>
    console.error(`the sample app stopped following the change feed: ${String(error)}`),
  );
  const app = createSellerApp({ relayApiUrl, relayApiKey: apiKey, workspaces }).listen(appPort, '127.0.0.1');
  await new Promise((r) => app.once('listening', r));
  const proxy = await startProxy(
    port,
    { relay: relayApiUrl, app: `http://127.0.0.1:${(app.address() as AddressInfo).port}`, produceBasePath },
    'localhost',
  );

  world.registerApp({
    appId,
    name: '示例 SaaS 应用 (demo)',
    callbackUrl: `${publicUrl}/sso/callback`,
    publicKey: publicPem,
    kitAccessKey: kitKey,
    basicAccessKey: basicKey,
    productionAddress: `${publicUrl}${produceBasePath}`,
  });
  const tenants = seed(world, appId);
  // Each buyer's purchase (newInstance) first, then its binding and users, as KooGallery sends them.
  await world.provision(appId);
  // The lapsed buyer: its subscription expired and the marketplace froze the instance.
  await world.lifecycle(appId, tenants.lapsed.tenantId, { kind: 'freeze' });

  const close = async () => {
    following.abort();
    await feed;
    await Promise.all([closeServer(proxy), closeServer(app)]);
    await relay.stop();
    await sandbox.close();
  };
  return {
    url: publicUrl,
    sandbox,
    world,
    tenants,
    appId,
    apiKey,
    relayApiUrl,
    workspaces,
    productionAddress: `${publicUrl}${produceBasePath}`,
    kitKey,
    basicKey,
    close,
  };
}

/**
 * Three tenants as KooGallery would bind them: a buyer (production data), the seller's own debug
 * tenant, and a buyer whose subscription lapsed (its instance is frozen after provisioning).
 */
function seed(world: SandboxWorld, appId: string) {
  const apps = () => new Set([appId]);
  const production = world.addTenant({
    name: '华为示例科技有限公司',
    tenantCode: 'huaweidemo',
    departments: [
      { orgCode: 'hq', orgName: '总部', parentCode: '' },
      { orgCode: 'rd', orgName: '研发中心', parentCode: 'hq' },
      { orgCode: 'rd-platform', orgName: '平台组', parentCode: 'rd' },
      { orgCode: 'mkt', orgName: '市场部', parentCode: 'hq' },
    ],
  });
  const debug = world.addTenant({
    name: '卖家调测租户',
    tenantCode: 'sellerdebug',
    testFlag: 1,
    departments: [{ orgCode: 'debug', orgName: '调测部门', parentCode: '' }],
  });
  const lapsed = world.addTenant({
    name: '过期示例贸易有限公司',
    tenantCode: 'lapseddemo',
    departments: [{ orgCode: 'hq', orgName: '总部', parentCode: '' }],
  });
  const p = DEMO_PASSWORD;
  world.addUser({
    tenantId: production.tenantId,
    userName: 'zhangsan',
    password: p,
    name: '张三',
    role: 'admin',
    orgCode: 'hq',
    email: 'zhangsan@example.com',
    mobile: '13800000001',
    apps: apps(),
  });
  world.addUser({
    tenantId: production.tenantId,
    userName: 'lisi',
    password: p,
    name: '李四',
    role: 'user',
    orgCode: 'rd-platform',
    email: 'lisi@example.com',
    apps: apps(),
  });
  world.addUser({
    tenantId: production.tenantId,
    userName: 'wangwu',
    password: p,
    name: '王五',
    role: 'user',
    orgCode: 'mkt',
    enable: false,
    apps: apps(),
  });
  world.addUser({
    tenantId: debug.tenantId,
    userName: 'tester',
    password: p,
    name: '调测账号',
    role: 'admin',
    orgCode: 'debug',
    apps: apps(),
  });
  world.addUser({
    tenantId: lapsed.tenantId,
    userName: 'zhaoliu',
    password: p,
    name: '赵六',
    role: 'admin',
    orgCode: 'hq',
    apps: apps(),
  });
  return { production, debug, lapsed };
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((r) => server.close(() => r()));
}
