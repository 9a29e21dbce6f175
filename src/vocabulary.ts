/**
 * The enumerations the relay's layers share: the mirror decides with them, the kit schemas accept
 * them, and the seller API's contract (src/api/contract.ts) describes them, so the OpenAPI
 * document and the integration kit's types follow. The protocol's own names are here too, which
 * the sandbox may share: they are words, not a reading of the protocol. No imports: the
 * integration kit, built on its own (packages/relay-client), compiles this file and nothing else.
 */

/** Every answer `authorize` can give, in the order its checks run. */
export const AUTHORIZE_REASONS = [
  'ok',
  'tenant_unknown',
  /** the tenant has no app credential for the app: never synced, or deleted (applicationSync flag 0) */
  'app_unknown',
  'instance_frozen',
  'instance_released',
  'user_unknown',
  'not_authorized',
  'user_disabled',
  'role_missing',
] as const;
export type AuthorizeReason = (typeof AUTHORIZE_REASONS)[number];

/** The five kit interfaces, as the marketplace names their sub-paths (kit-sync-and-signing.md §3). */
export const KIT_INTERFACES = [
  'tenantSync',
  'applicationSync',
  'authSync',
  'singleOrgSync',
  'allOrgSync',
] as const;
export type KitInterface = (typeof KIT_INTERFACES)[number];

/** The six basic (instance) activities (§4). */
export const BASIC_ACTIVITIES = [
  'newInstance',
  'queryInstance',
  'refreshInstance',
  'updateInstanceStatus',
  'releaseInstance',
  'upgradeInstance',
] as const;
export type BasicActivity = (typeof BASIC_ACTIVITIES)[number];

/**
 * The V1 basic activities (MIW guide imc_01_0005; kit-sync-and-signing.md §4): `expireInstance`
 * is V2's FREEZE, `upgrade` V2's upgradeInstance; V1 has no query and no UNFREEZE.
 */
export const V1_ACTIVITIES = [
  'newInstance',
  'refreshInstance',
  'expireInstance',
  'releaseInstance',
  'upgrade',
] as const;
export type V1Activity = (typeof V1_ACTIVITIES)[number];

/** An instance's state: `frozen` after FREEZE (until UNFREEZE), `released` for good. */
export const INSTANCE_STATUSES = ['active', 'frozen', 'released'] as const;
export type InstanceStatus = (typeof INSTANCE_STATUSES)[number];

/** The basic interfaces that change an instance (queryInstance only reads). */
export const INSTANCE_ACTIVITIES = BASIC_ACTIVITIES.filter(
  (a): a is Exclude<BasicActivity, 'queryInstance'> => a !== 'queryInstance',
);
export type InstanceActivity = (typeof INSTANCE_ACTIVITIES)[number];

/** refreshInstance's `scene` (kit-sync-and-signing.md §4). */
export const REFRESH_SCENES = [
  'TRIAL_TO_FORMAL',
  'RENEWAL',
  'UNSUBSCRIBE_RENEWAL_PERIOD',
  'RENEWAL_CHANGE',
] as const;

export const ROLES = ['user', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** The change feed's event types (contract §5b): one per kind of change of the mirror or a session. */
export const EVENT_TYPES = [
  'instance.created',
  'instance.renewed',
  'instance.upgraded',
  'instance.frozen',
  'instance.unfrozen',
  'instance.released',
  'tenant.created',
  'tenant.updated',
  'tenant.deleted',
  'app.credentials_updated',
  'app.deleted',
  'user.added',
  'user.updated',
  'user.deauthorized',
  'user.disabled',
  'user.removed',
  'department.created',
  'department.updated',
  'department.deleted',
  'departments.replaced',
  'session.started',
  'session.ended',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/**
 * Why a session ended: `logout` the user signed out; `deleted` the seller app ended it
 * (`DELETE /api/v1/session`); `revoked` the mirror took the user or the app away, the tenant was
 * blocked, or the identity server refused the refresh token.
 */
export const SESSION_END_REASONS = ['logout', 'revoked', 'deleted'] as const;
export type SessionEndReason = (typeof SESSION_END_REASONS)[number];
