/**
 * The sandbox's view of KooGallery: registered app credentials, buying tenants with their
 * per-app OAuth clients, users and departments. The identity server (identity.ts) serves
 * logins from it, and `provision` pushes it to a relay exactly as the marketplace would.
 */
import { randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { formatExpireTime, newOrder, newOrderId } from './marketplace/index.js';
import { Pusher, type PushResult } from './pusher.js';

export interface SandboxApp {
  appId: string;
  name: string;
  /** The callback registered with the app credential (应用登录地址). */
  callbackUrl: string;
  publicKey: KeyObject | string;
  kitAccessKey: string;
  /** The key bound to the basic (instance) interfaces; Seller Center requires another than the kit's. */
  basicAccessKey?: string;
  /** The production address (生产地址) where kit pushes go. */
  productionAddress: string;
  oaep?: string;
}

export interface SandboxDepartment {
  orgCode: string;
  orgName: string;
  parentCode: string;
}

export interface SandboxTenant {
  tenantId: string;
  tenantCode: string;
  name: string;
  testFlag: 0 | 1;
  /** What the relay answered the purchase with; empty for debug tenants and until bought. */
  instanceId: string;
  orderId: string;
  orderLineId: string;
  productId: string;
  /** The subscription's end (epoch ms), sent as `expireTime`. */
  expiresAt: number;
  departments: SandboxDepartment[];
  /** appId -> the OAuth client the identity centre issued for this tenant */
  clients: Map<string, { clientId: string; clientSecret: string }>;
}

export interface SandboxUser {
  tenantId: string;
  userName: string;
  password: string;
  name: string;
  role: 'user' | 'admin';
  orgCode: string;
  enable: boolean;
  mobile?: string;
  email?: string;
  /** appIds this user is authorized for */
  apps: Set<string>;
}

/** How one tenant's identity server behaves; tests change these to force renewal and failures. */
export interface IdpBehaviour {
  accessTtlSeconds: number;
  refreshTtlSeconds: number;
  codeTtlSeconds: number;
  /** Issue a new refresh token on every refresh (UNCONFIRMED rotation; joint-login.md §4). */
  rotateRefreshTokens: boolean;
  /** Refuse a refresh token once it has been rotated. The strict choice, default on. */
  revokeRotatedRefreshTokens: boolean;
  /** Answer delays, per endpoint, in ms. */
  tokenDelayMs: number;
  refreshDelayMs: number;
  userinfoDelayMs: number;
  /** Answer 500 on the token endpoint / userinfo. */
  failToken: boolean;
  failUserinfo: boolean;
  /** 'minimal' answers only id, name, userName, mobile, email, like the doc example. */
  userinfoMode: 'full' | 'minimal';
}

export const defaultIdpBehaviour = (): IdpBehaviour => ({
  accessTtlSeconds: 7200,
  refreshTtlSeconds: 30 * 24 * 3600,
  codeTtlSeconds: 300,
  rotateRefreshTokens: true,
  revokeRotatedRefreshTokens: true,
  tokenDelayMs: 0,
  refreshDelayMs: 0,
  userinfoDelayMs: 0,
  failToken: false,
  failUserinfo: false,
  userinfoMode: 'full',
});

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

export class SandboxWorld {
  readonly apps = new Map<string, SandboxApp>();
  readonly tenants = new Map<string, SandboxTenant>();
  readonly users = new Map<string, SandboxUser>();
  readonly behaviour = new Map<string, IdpBehaviour>();
  /** Set once the sandbox listens: the base of every tenant's domainName. */
  baseUrl = 'http://127.0.0.1';

  registerApp(app: SandboxApp): SandboxApp {
    this.apps.set(app.appId, app);
    return app;
  }

  addTenant(t: Partial<SandboxTenant> & { name: string }): SandboxTenant {
    const tenantId = t.tenantId ?? hex(16);
    const tenant: SandboxTenant = {
      tenantId,
      tenantCode: t.tenantCode ?? `t${tenantId.slice(0, 8)}`,
      name: t.name,
      testFlag: t.testFlag ?? 0,
      // Debug tenants (the seller's own, testFlag 1) come with empty instance and order ids;
      // a buyer's instanceId is the relay's answer to its purchase (newInstance).
      instanceId: t.instanceId ?? '',
      orderId: t.orderId ?? (t.testFlag === 1 ? '' : newOrderId()),
      orderLineId: t.orderLineId ?? '',
      productId: t.productId ?? 'OFFI00000000001',
      expiresAt: t.expiresAt ?? Date.now() + YEAR_MS,
      departments: t.departments ?? [],
      clients: t.clients ?? new Map(),
    };
    this.tenants.set(tenantId, tenant);
    this.behaviour.set(tenant.tenantCode, defaultIdpBehaviour());
    return tenant;
  }

  /** The client the identity centre issues for (tenant, app), created on first use. */
  client(tenantId: string, appId: string): { clientId: string; clientSecret: string } {
    const tenant = this.tenant(tenantId);
    let c = tenant.clients.get(appId);
    if (!c) tenant.clients.set(appId, (c = { clientId: `cli-${hex(8)}`, clientSecret: `sec-${hex(16)}` }));
    return c;
  }

  addUser(u: Omit<SandboxUser, 'apps' | 'enable' | 'role' | 'orgCode'> & Partial<SandboxUser>): SandboxUser {
    if (this.users.has(u.userName)) throw new Error(`sandbox user ${u.userName} already exists`);
    const user: SandboxUser = { role: 'user', orgCode: '', enable: true, apps: new Set(), ...u };
    this.users.set(user.userName, user);
    return user;
  }

  tenant(tenantId: string): SandboxTenant {
    const t = this.tenants.get(tenantId);
    if (!t) throw new Error(`no sandbox tenant ${tenantId}`);
    return t;
  }

  tenantByCode(code: string): SandboxTenant | undefined {
    for (const t of this.tenants.values()) if (t.tenantCode === code) return t;
    return undefined;
  }

  idp(tenantCode: string): IdpBehaviour {
    const b = this.behaviour.get(tenantCode);
    if (!b) throw new Error(`no sandbox tenant with code ${tenantCode}`);
    return b;
  }

  domainName(tenant: SandboxTenant): string {
    return `${this.baseUrl}/t/${tenant.tenantCode}`;
  }

  pusher(appId: string): Pusher {
    const app = this.apps.get(appId);
    if (!app) throw new Error(`no sandbox app ${appId}`);
    return new Pusher({
      productionAddress: app.productionAddress,
      kitAccessKey: app.kitAccessKey,
      ...(app.basicAccessKey ? { basicAccessKey: app.basicAccessKey } : {}),
      publicKey: app.publicKey,
      ...(app.oaep ? { oaep: app.oaep } : {}),
    });
  }

  /**
   * A buyer's purchase (newInstance), as the marketplace makes it: a new `businessId` on every
   * attempt, retried after a failure, the answered instanceId kept as the tenant's. Debug
   * tenants buy nothing. Returns every attempt's result.
   */
  async purchase(appId: string, tenantId: string, options: PurchaseOptions = {}): Promise<PushResult[]> {
    const t = this.tenant(tenantId);
    if (t.testFlag === 1 || t.instanceId) return [];
    if (!t.orderLineId) t.orderLineId = `${t.orderId}-000001`;
    const pusher = this.pusher(appId);
    const attempts = options.attempts ?? 3;
    const results: PushResult[] = [];
    for (let i = 0; i < attempts; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, options.retryDelayMs ?? 200));
      const r = await pusher.newInstance({
        orderId: t.orderId,
        orderLineId: t.orderLineId,
        productId: t.productId,
        expireTime: formatExpireTime(t.expiresAt),
      });
      results.push(r);
      if (r.ok && typeof r.answer?.instanceId === 'string') {
        t.instanceId = r.answer.instanceId;
        return results;
      }
    }
    const last = results[results.length - 1]!;
    throw new Error(`newInstance for ${tenantId} failed ${attempts} times: ${last.problem}`);
  }

  /**
   * What the tests and the demo need of an instance's later life, as basic calls: expiry
   * (`updateInstanceStatus` FREEZE), a renewal in time (UNFREEZE) and the end
   * (`releaseInstance`). Renewals and upgrades are the sandbox command's (lifecycle.ts).
   */
  async lifecycle(appId: string, tenantId: string, step: LifecycleStep): Promise<PushResult> {
    const t = this.tenant(tenantId);
    if (!t.instanceId) throw new Error(`sandbox tenant ${tenantId} has no purchased instance`);
    const pusher = this.pusher(appId);
    const instanceId = t.instanceId;
    const r =
      step.kind === 'release'
        ? await pusher.releaseInstance({ instanceId, ...newOrder() })
        : await pusher.updateInstanceStatus({
            instanceId,
            status: step.kind === 'freeze' ? 'FREEZE' : 'UNFREEZE',
          });
    if (!r.ok) throw new Error(`${r.interface} for the sandbox failed: ${r.problem}`);
    return r;
  }

  /**
   * What the marketplace sends when a buyer purchases and binds the app and authorizes users
   * (§3 triggers): newInstance (once, for buyers), then tenantSync, applicationSync,
   * allOrgSync, and authSync in batches of at most 500 users.
   */
  async provision(appId: string, tenantIds: string[] = [...this.tenants.keys()]): Promise<PushResult[]> {
    const pusher = this.pusher(appId);
    const results: PushResult[] = [];
    const check = (r: PushResult) => {
      results.push(r);
      if (!r.ok) throw new Error(`${r.interface} for the sandbox failed: ${r.problem}`);
    };
    for (const tenantId of tenantIds) {
      const t = this.tenant(tenantId);
      if (this.apps.get(appId)?.basicAccessKey) results.push(...(await this.purchase(appId, tenantId)));
      // Without a basic key the purchase happens out of sight, as before the relay was deployed.
      else if (!t.instanceId && t.testFlag === 0) t.instanceId = `inst-${hex(6)}`;
      const common = { instanceId: t.instanceId, tenantId: t.tenantId };
      check(
        await pusher.tenantSync({
          ...common,
          orderId: t.orderId,
          tenantCode: t.tenantCode,
          name: t.name,
          domainName: this.domainName(t),
          flag: 1,
          testFlag: t.testFlag,
        }),
      );
      const { clientId, clientSecret } = this.client(t.tenantId, appId);
      check(
        await pusher.applicationSync({
          ...common,
          appId,
          clientId,
          clientSecret,
          flag: 1,
          testFlag: t.testFlag,
        }),
      );
      check(await pusher.allOrgSync({ ...common, orgInfoList: t.departments, testFlag: t.testFlag }));
      const users = [...this.users.values()].filter((u) => u.tenantId === t.tenantId && u.apps.has(appId));
      for (let i = 0; i < users.length; i += 500) {
        check(
          await pusher.authSync({
            ...common,
            appId,
            userList: users.slice(i, i + 500).map(userForSync),
            flag: 1,
            testFlag: t.testFlag,
          }),
        );
      }
    }
    return results;
  }
}

export interface PurchaseOptions {
  /** how many newInstance calls before giving up (the marketplace retries for hours) */
  attempts?: number;
  retryDelayMs?: number;
}

export type LifecycleStep = { kind: 'freeze' | 'unfreeze' | 'release' };

const YEAR_MS = 365 * 24 * 3600 * 1000;

export function userForSync(u: SandboxUser) {
  return {
    userName: u.userName,
    name: u.name,
    orgCode: u.orgCode,
    role: u.role,
    enable: u.enable ? 'true' : 'false',
    ...(u.mobile ? { mobile: u.mobile } : {}),
    ...(u.email ? { email: u.email } : {}),
  };
}
