/**
 * The sample app's own table: one workspace per KooGallery tenant, with its users, kept up to
 * date from the relay's change feed. A real app keeps this in its database and saves the cursor
 * in the same transaction as the changes it applied; here both live in memory.
 */
import {
  CursorExpiredError,
  RelayError,
  type RelayClient,
  type RelayEvent,
  type RelayMirrorUser,
} from '../../src/client/index.js';

export interface WorkspaceUser {
  userName: string;
  name: string;
  role: 'admin' | 'user';
  status: 'active' | 'disabled' | 'deauthorized';
}

export interface Workspace {
  tenantId: string;
  name: string;
  tenantCode: string;
  /** the seller's own debug tenant (testFlag 1) */
  debug: boolean;
  instanceIds: string[];
  users: Map<string, WorkspaceUser>;
}

type TenantFields = Pick<Workspace, 'tenantId' | 'name' | 'tenantCode' | 'instanceIds'> & {
  testFlag: number;
};

export class Workspaces {
  readonly byTenant = new Map<string, Workspace>();
  /** Each instance's (subscription's) status: active, frozen or released. */
  readonly subscriptions = new Map<string, string>();
  /** How far the feed has been applied: read on from here after a restart. */
  cursor: string | undefined;

  apply(event: RelayEvent): void {
    switch (event.type) {
      case 'tenant.created':
      case 'tenant.updated':
        this.setTenant(event.data);
        break;
      case 'tenant.deleted':
        this.byTenant.delete(event.data.tenantId);
        break;
      case 'user.added':
      case 'user.updated':
      case 'user.disabled':
      case 'user.deauthorized':
        this.setUser(event.data);
        break;
      case 'user.removed':
        this.byTenant.get(event.data.tenantId)?.users.delete(event.data.userName);
        break;
      case 'instance.created':
      case 'instance.renewed':
      case 'instance.upgraded':
      case 'instance.frozen':
      case 'instance.unfrozen':
      case 'instance.released':
        this.subscriptions.set(event.data.instanceId, event.data.status);
        break;
      // departments, app credentials and sessions: this table does not keep them
    }
  }

  /**
   * After a 410 the app missed events: it reads again what it holds (gone: 404), then replays
   * the events the relay still keeps. Tenants it never heard of stay unknown until they change.
   */
  async refresh(relay: RelayClient): Promise<void> {
    for (const [tenantId, workspace] of this.byTenant) {
      const tenant = await orNull(relay.tenant(tenantId));
      if (!tenant) {
        this.byTenant.delete(tenantId);
        continue;
      }
      this.setTenant(tenant);
      for (const i of tenant.instances) this.subscriptions.set(i.instanceId, i.status);
      for (const userName of workspace.users.keys()) {
        const user = await orNull(relay.user(tenantId, userName));
        if (user) this.setUser(user);
        else workspace.users.delete(userName);
      }
    }
  }

  private setTenant(t: TenantFields): void {
    const workspace = this.byTenant.get(t.tenantId) ?? { tenantId: t.tenantId, users: new Map() };
    this.byTenant.set(t.tenantId, {
      ...workspace,
      name: t.name,
      tenantCode: t.tenantCode,
      debug: t.testFlag === 1,
      instanceIds: t.instanceIds,
    });
  }

  private setUser(u: RelayMirrorUser): void {
    // Within a tenant the feed keeps order, so its tenant.created came first.
    this.byTenant.get(u.tenantId)?.users.set(u.userName, {
      userName: u.userName,
      name: u.name,
      role: u.role,
      status: !u.authorized ? 'deauthorized' : u.enable ? 'active' : 'disabled',
    });
  }
}

/** Applies the feed to `table` until `signal` aborts; the kit retries while the relay is away. */
export async function followFeed(relay: RelayClient, table: Workspaces, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    try {
      for await (const { event, cursor } of relay.events({ after: table.cursor, signal })) {
        table.apply(event);
        table.cursor = cursor; // with the change, in one transaction, in a real app
      }
    } catch (error) {
      if (!(error instanceof CursorExpiredError)) throw error;
      await table.refresh(relay);
      table.cursor = undefined; // from the oldest event kept
    }
  }
}

async function orNull<T>(answer: Promise<T>): Promise<T | null> {
  try {
    return await answer;
  } catch (error) {
    if (error instanceof RelayError && error.status === 404) return null;
    throw error;
  }
}
