/**
 * The mirror of KooGallery's joint-operation data in the store: writes by kit pushes, reads by
 * the seller API and by sign-in. One instance per process; it holds no state of its own.
 */
import type { AllOrgSync, ApplicationSync, AuthSync, SingleOrgSync, TenantSync } from '../kit/schemas.js';
import type { EventLog } from '../feed/eventLog.js';
import type { Keys } from '../store/keys.js';
import type { Store } from '../store/store.js';
import { applyApplicationSync } from './apps.js';
import { applyAllOrgSync, applySingleOrgSync, compareOrgCodes } from './departments.js';
import { isGateReason } from './gate.js';
import {
  applyNewInstance,
  applyRefreshInstance,
  applyReleaseInstance,
  applyUpdateInstanceStatus,
  applyUpgradeInstance,
  readInstances,
} from './instances.js';
import {
  decodeOrg,
  parseFrozen,
  parseJson,
  type AppRecord,
  type InstanceCopy,
  type InstanceRecord,
  type OrgRecord,
  type TenantRecord,
  type UserRecord,
} from './records.js';
import { applyTenantSync } from './tenants.js';
import type { Claim, MirrorContext, SyncOutcome } from './transaction.js';
import { applyAuthSync } from './users.js';

export { AUTHORIZE_REASONS, type AuthorizeReason } from '../vocabulary.js';
import type { AuthorizeReason } from '../vocabulary.js';

export interface AuthorizeAnswer {
  allowed: boolean;
  reason: AuthorizeReason;
  user?: UserRecord;
  tenant?: TenantRecord;
}

/** A mirror operation as the Mirror offers it: its context given. */
type WithContext<F> = F extends (ctx: MirrorContext, ...rest: infer A) => infer R ? (...rest: A) => R : never;

export class Mirror {
  private readonly ctx: MirrorContext;

  constructor(
    readonly store: Store,
    readonly keys: Keys,
    /** INSTANCE_GATING: blocked tenants are refused, and lose their sessions when blocked. */
    readonly gating = true,
    /** `events`: the change feed every change is written with (none: no events, for unit tests). */
    private readonly parts: { claim?: Claim | null; events?: EventLog | undefined } = {},
  ) {
    this.ctx = { store, keys, gating, claim: this.parts.claim ?? null, events: this.parts.events };
  }

  /** This mirror for one marketplace call: its changes are written with the call's `claim`. */
  claiming(claim: Claim | null): Mirror {
    return claim ? new Mirror(this.store, this.keys, this.gating, { ...this.parts, claim }) : this;
  }

  tenantSync(push: TenantSync, notAfter: number): Promise<SyncOutcome> {
    return applyTenantSync(this.ctx, push, notAfter);
  }

  applicationSync(
    push: ApplicationSync,
    sealedSecret: string | null,
    notAfter: number,
  ): Promise<SyncOutcome> {
    return applyApplicationSync(this.ctx, push, sealedSecret, notAfter);
  }

  authSync(push: AuthSync, notAfter: number): Promise<SyncOutcome> {
    return applyAuthSync(this.ctx, push, notAfter);
  }

  singleOrgSync(push: SingleOrgSync, notAfter: number): Promise<SyncOutcome> {
    return applySingleOrgSync(this.ctx, push, notAfter);
  }

  allOrgSync(push: AllOrgSync, notAfter: number): Promise<SyncOutcome> {
    return applyAllOrgSync(this.ctx, push, notAfter);
  }

  // The basic interfaces' changes (instances.ts), with this mirror's context.
  readonly newInstance: WithContext<typeof applyNewInstance> = (...a) => applyNewInstance(this.ctx, ...a);
  readonly refreshInstance: WithContext<typeof applyRefreshInstance> = (...a) =>
    applyRefreshInstance(this.ctx, ...a);
  readonly updateInstanceStatus: WithContext<typeof applyUpdateInstanceStatus> = (...a) =>
    applyUpdateInstanceStatus(this.ctx, ...a);
  readonly releaseInstance: WithContext<typeof applyReleaseInstance> = (...a) =>
    applyReleaseInstance(this.ctx, ...a);
  readonly upgradeInstance: WithContext<typeof applyUpgradeInstance> = (...a) =>
    applyUpgradeInstance(this.ctx, ...a);

  /** The known ones among `ids`. */
  instances(ids: readonly string[]): Promise<InstanceRecord[]> {
    return readInstances(this.ctx, ids);
  }

  /** An instance and the tenants bound to it. */
  async instance(instanceId: string): Promise<{ record: InstanceRecord; tenantIds: string[] } | null> {
    const [raw, links] = await Promise.all([
      this.store.hGet(this.keys.instances(), instanceId),
      this.store.hGet(this.keys.instanceLinks(), instanceId),
    ]);
    const record = parseJson<InstanceRecord>(raw);
    return record ? { record, tenantIds: parseJson<string[]>(links) ?? [] } : null;
  }

  /** The tenant's copies of its known instances, by instanceId. */
  async tenantInstances(tenantId: string): Promise<Map<string, InstanceCopy>> {
    const raw = await this.store.hGetAll(this.keys.tenantInstances(tenantId));
    return new Map(
      Object.entries(raw)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([id, v]) => [id, JSON.parse(v) as InstanceCopy]),
    );
  }

  async tenant(tenantId: string): Promise<TenantRecord | null> {
    return parseJson<TenantRecord>(await this.store.get(this.keys.tenant(tenantId)));
  }

  async app(tenantId: string, appId: string): Promise<AppRecord | null> {
    return parseJson<AppRecord>(await this.store.hGet(this.keys.apps(tenantId), appId));
  }

  async user(tenantId: string, appId: string, userName: string): Promise<UserRecord | null> {
    return parseJson<UserRecord>(await this.store.hGet(this.keys.users(tenantId, appId), userName));
  }

  /** The tenant's departments ordered by orgCode; `parent` '' lists the top level. */
  async departments(tenantId: string, parent?: string): Promise<OrgRecord[]> {
    const all = await this.store.hGetAll(this.keys.orgs(tenantId));
    const list = Object.entries(all).map(([code, raw]) => decodeOrg(code, raw));
    const filtered = parent === undefined ? list : list.filter((o) => (o.parentCode ?? '') === parent);
    return filtered.sort(compareOrgCodes);
  }

  /**
   * The mirror's answer to "may this user use the app": the tenant exists and holds the app's
   * credential (applicationSync), the user is authorized and enabled, and holds `role` when one
   * is asked for (admin includes user).
   */
  async authorize(
    tenantId: string,
    appId: string,
    userName: string,
    role?: 'user' | 'admin',
  ): Promise<AuthorizeAnswer> {
    // One read of the tenant's slot (one script on Redis): the tenant, then its app, the user and
    // the gate. One command instead of four is what this hot path spends least on.
    const { keys } = this;
    const found = await this.store.readRecordWithRefs(keys.tenant(tenantId), [], keys.apps(tenantId), [
      { key: keys.apps(tenantId), field: appId },
      { key: keys.users(tenantId, appId), field: userName },
      ...(this.gating ? [keys.gate(tenantId)] : []),
    ]);
    const [app, user, gate] = found.also;
    return decideAuthorization(
      {
        tenant: parseFrozen<TenantRecord>(found.value),
        appKnown: app !== null && app !== undefined,
        user: parseFrozen<UserRecord>(user),
        gate: gate ?? null,
      },
      role,
    );
  }
}

/** What the mirror holds that decides whether a user may use the app. */
export interface AuthorizationFacts {
  tenant: TenantRecord | null;
  /** whether the tenant holds an app record (credential) for the app */
  appKnown: boolean;
  user: UserRecord | null;
  /** the tenant's gate value (gate.ts), or null where gating is off */
  gate?: string | null;
}

export function decideAuthorization(
  { tenant, appKnown, user, gate }: AuthorizationFacts,
  role?: 'user' | 'admin',
): AuthorizeAnswer {
  if (!tenant) return { allowed: false, reason: 'tenant_unknown' };
  // Without its credential the app cannot sign anyone in or renew a token: its users are refused.
  if (!appKnown) return { allowed: false, reason: 'app_unknown', ...(user ? { user } : {}), tenant };
  if (isGateReason(gate)) return { allowed: false, reason: gate, ...(user ? { user } : {}), tenant };
  if (!user) return { allowed: false, reason: 'user_unknown', tenant };
  if (!user.authorized) return { allowed: false, reason: 'not_authorized', user, tenant };
  if (!user.enable) return { allowed: false, reason: 'user_disabled', user, tenant };
  if (role === 'admin' && user.role !== 'admin')
    return { allowed: false, reason: 'role_missing', user, tenant };
  return { allowed: true, reason: 'ok', user, tenant };
}
