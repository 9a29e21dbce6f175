/**
 * The enumerations the relay's layers share: the mirror decides with them, the kit schemas accept
 * them, and the seller API's contract (src/api/contract.ts) describes them, so the OpenAPI
 * document and the integration kit's types follow. No imports: the integration kit, built on its
 * own (packages/relay-client), compiles this file and nothing else of the relay.
 */

/** Every answer `authorize` can give, in the order its checks run. */
export const AUTHORIZE_REASONS = [
  'ok',
  'tenant_unknown',
  'instance_frozen',
  'instance_released',
  'user_unknown',
  'not_authorized',
  'user_disabled',
  'role_missing',
] as const;
export type AuthorizeReason = (typeof AUTHORIZE_REASONS)[number];

/** An instance's state: `frozen` after FREEZE (until UNFREEZE), `released` for good. */
export const INSTANCE_STATUSES = ['active', 'frozen', 'released'] as const;
export type InstanceStatus = (typeof INSTANCE_STATUSES)[number];

/** The basic interfaces that change an instance (queryInstance only reads). */
export const INSTANCE_ACTIVITIES = [
  'newInstance',
  'refreshInstance',
  'updateInstanceStatus',
  'releaseInstance',
  'upgradeInstance',
] as const;
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
