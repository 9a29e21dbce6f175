/**
 * Every Redis key the relay writes, in one place.
 *
 * All keys of one tenant carry the hash tag `{t:<tenantId>}`, so they live in one Redis Cluster
 * slot and one push can be applied by one atomic script. Identifiers are used verbatim when they
 * are plain, otherwise encoded, so no identifier can forge another's key.
 */
const PLAIN = /^[A-Za-z0-9._@-]{1,128}$/;

export function keyPart(id: string): string {
  return PLAIN.test(id) ? id : `~${Buffer.from(id, 'utf8').toString('base64url')}`;
}

/** The identifier a `keyPart` stands for. */
export function fromKeyPart(part: string): string {
  return part.startsWith('~') ? Buffer.from(part.slice(1), 'base64url').toString('utf8') : part;
}

export class Keys {
  constructor(readonly prefix = 'relay:') {
    if (/[{}]/.test(prefix))
      throw new Error('the key prefix must not contain braces (they select the cluster slot)');
  }

  private t(tenantId: string): string {
    return `${this.prefix}{t:${keyPart(tenantId)}}`;
  }

  /** Bumped by every write to the tenant; writers guard on it (optimistic concurrency). */
  version(tenantId: string) {
    return `${this.t(tenantId)}:v`;
  }
  /** String: the tenant record (JSON). */
  tenant(tenantId: string) {
    return `${this.t(tenantId)}:tenant`;
  }
  /** Hash: bookkeeping that outlives the records (deletion and full-sync times). */
  meta(tenantId: string) {
    return `${this.t(tenantId)}:meta`;
  }
  /** Hash appId -> application record (client id, sealed client secret). */
  apps(tenantId: string) {
    return `${this.t(tenantId)}:apps`;
  }
  /** Hash userName -> user record, one per app. */
  users(tenantId: string, appId: string) {
    return `${this.t(tenantId)}:users:${keyPart(appId)}`;
  }
  /** Set of appIds that have a users hash (so a tenant delete finds them without SCAN). */
  userApps(tenantId: string) {
    return `${this.t(tenantId)}:userapps`;
  }
  /** Hash orgCode -> department record. */
  orgs(tenantId: string) {
    return `${this.t(tenantId)}:orgs`;
  }
  /** A full department list being written, before it replaces `orgs` in one step. */
  orgsStaging(tenantId: string, id: string) {
    return `${this.t(tenantId)}:orgs:staging:${id}`;
  }
  /** Hashes id -> sync time of its deletion, so an older add arriving late stays deleted. */
  appTombs(tenantId: string) {
    return `${this.t(tenantId)}:tomb:apps`;
  }
  userTombs(tenantId: string, appId: string) {
    return `${this.t(tenantId)}:tomb:users:${keyPart(appId)}`;
  }
  orgTombs(tenantId: string) {
    return `${this.t(tenantId)}:tomb:orgs`;
  }
  /** Set of session ids of one user, so revocation finds them without SCAN. */
  userSessions(tenantId: string, appId: string, userName: string) {
    return `${this.t(tenantId)}:sessions:${keyPart(appId)}:${keyPart(userName)}`;
  }
  /** Set of userNames with sessions in the tenant, for revoking a whole tenant or app. */
  sessionUsers(tenantId: string, appId: string) {
    return `${this.t(tenantId)}:sessionusers:${keyPart(appId)}`;
  }
  /** Hash instanceId -> the tenant's view of that instance (status, expireTime, productId, rev). */
  tenantInstances(tenantId: string) {
    return `${this.t(tenantId)}:instances`;
  }
  /**
   * String: why the tenant is blocked (`instance_frozen` | `instance_released`), absent when it is
   * not; derived from `tenantInstances` in the same write, read beside the tenant on hot paths.
   */
  gate(tenantId: string) {
    return `${this.t(tenantId)}:gate`;
  }

  /**
   * All instances share one slot, `{inst}`: a purchase's order index and its record are written
   * together, and instance calls are rare (purchases, renewals), so one slot is no hot spot.
   */
  private i(): string {
    return `${this.prefix}{inst}`;
  }
  /** Hash instanceId -> instance record (JSON). */
  instances() {
    return `${this.i()}:instances`;
  }
  /** Hash orderKey(orderId, orderLineId) -> instanceId: newInstance is idempotent on it. */
  instanceOrders() {
    return `${this.i()}:orders`;
  }
  /** Hash instanceId -> JSON list of the tenantIds bound to it (written by tenantSync). */
  instanceLinks() {
    return `${this.i()}:links`;
  }

  /**
   * A marketplace call's claim (kit/replay.ts): its nonce, one namespace for kit and basic calls,
   * and what it signed. Both in the `{calls}` slot, so a claim is one atomic write on a cluster
   * too; a claim is two small keys per call, which one node carries easily.
   */
  nonce(nonce: string) {
    return `${this.prefix}{calls}:nonce:${keyPart(nonce)}`;
  }
  signedCall(digest: string) {
    return `${this.prefix}{calls}:signed:${keyPart(digest)}`;
  }
  /**
   * The change feed (feed/): one stream in the `{events}` slot holds every event in the order the
   * API serves it. Where one write may span slots (a single server, the embedded store) events
   * are appended to it directly; on a Redis Cluster each write appends to the outbox of its own
   * slot, and the outbox is moved to the stream right after (feed/outbox.ts).
   */
  events() {
    return `${this.prefix}{events}:stream`;
  }
  /** String: id of the newest event trimmed from `events()`; a cursor before it has expired. */
  eventsTrimmed() {
    return `${this.prefix}{events}:trimmed`;
  }
  /** Stream: events written with the tenant's changes, waiting to be moved to `events()`. */
  tenantOutbox(tenantId: string) {
    return `${this.t(tenantId)}:outbox`;
  }
  /** Stream: the same, for changes of the `{inst}` slot. */
  instanceOutbox() {
    return `${this.i()}:outbox`;
  }
  /** Hash outbox key -> id of its last entry moved to `events()`: a move is guarded on it. */
  outboxMoved() {
    return `${this.prefix}{events}:moved`;
  }
  /** Set of outbox keys ever written, so a sweep finds what a crashed relay left unmoved. */
  outboxes() {
    return `${this.prefix}{events}:outboxes`;
  }
  /** String: the replica delivering webhooks and until when (feed/webhooks.ts). */
  webhookLease() {
    return `${this.prefix}{events}:webhook:lease`;
  }
  /** String: id of the last event the webhook receiver acknowledged. */
  webhookCursor() {
    return `${this.prefix}{events}:webhook:cursor`;
  }
  /**
   * Read by `/readyz`, never written: one key in each slot that is not a tenant's, `{calls}`
   * (every marketplace call's claim) and `{inst}` (purchases, and the links tenantSync reads),
   * so on a cluster readiness follows the nodes the relay cannot serve without.
   */
  probes() {
    return [`${this.prefix}{calls}:probe`, `${this.i()}:probe`];
  }
  /** rate-limit-redis prefix: one limit's counters (limits/counterStore.ts). */
  rateLimit(name: string) {
    return `${this.prefix}rl:${name}:`;
  }
  /** connect-redis prefix; session ids carry the tenant's hash tag (sso/sessions.ts). */
  sessionPrefix() {
    return `${this.prefix}sess:`;
  }
  session(sid: string) {
    return `${this.sessionPrefix()}${sid}`;
  }
}
