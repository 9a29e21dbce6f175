/**
 * V1 bodies read into the V2 pushes (kit-sync-and-signing.md §7.1): a V1 call is a map of signed
 * strings (v1Verify.ts); this turns it into the body a V2 push of the same interface would carry,
 * which the V2 schemas (schemas.ts, basicSchemas.ts) then parse into the same typed pushes, so V1
 * reaches the mirror through the one write path V2 uses. Only what V1 does differently is here:
 *
 * - `flag` and `testFlag` arrive as signed strings (a number and its digits sign alike);
 *   `flag` is 0 or 1 in tenantSync and applicationSync, 0, 1 or 2 in authSync (§7.1);
 * - authSync's `userList` is a JSON string; its `mobile` and `email` may be encrypted (AES with a
 *   key derived from the V1 key, crypto/v1Aes.ts) and are decrypted here; without V2's
 *   `currentSyncTime`, the users are ordered by `timeStamp`;
 * - allOrgSync's departments are `orgInfo`, a JSON string of `[{orgCode, name, parentCode}]`;
 * - the basic activities have other names and no order lines (`v1BasicBody`).
 */
import { parseEmbeddedJson } from './schemas.js';
import { readV1Field, type V1AesBits } from '../crypto/v1Aes.js';
import { V1_ACTIVITIES, type BasicActivity, type KitInterface, type V1Activity } from '../vocabulary.js';
import { KitRefusal, ResultCode } from './resultCodes.js';

const refuse = (message: string) => new KitRefusal(ResultCode.invalidRequest, message);

/** The flags each V1 kit interface defines (§7.1); allOrgSync has none. */
export const V1_FLAGS: Record<KitInterface, readonly number[] | null> = {
  tenantSync: [0, 1],
  applicationSync: [0, 1],
  authSync: [0, 1, 2],
  singleOrgSync: [0, 1, 2],
  allOrgSync: null,
};

export interface V1Reading {
  /** the body of the V2 push this call amounts to */
  body: Record<string, unknown>;
  /** what the log line may say of it: how many contact details were decrypted, with which AES */
  notes: Record<string, unknown>;
}

/** A V1 kit push's signed parameters as the body of the V2 push; refusals are 000002. */
export function v1KitBody(iface: KitInterface, params: Record<string, string>, v1Key: string): V1Reading {
  const body: Record<string, unknown> = { ...params };
  const notes: Record<string, unknown> = {};
  const flags = V1_FLAGS[iface];
  if (flags) {
    if (params.flag === undefined) throw refuse('flag is required');
    body.flag = number(params.flag, flags, 'flag');
  }
  if (params.testFlag !== undefined) body.testFlag = number(params.testFlag, [0, 1], 'testFlag');
  if (iface === 'authSync') {
    // V2 added currentSyncTime; a V1 push orders its users by the time it was signed.
    body.currentSyncTime ??= params.timeStamp;
    const users = jsonText(params.userList, 'userList', 'a list of users');
    body.userList = Array.isArray(users) ? decryptContacts(users, v1Key, notes) : users;
  }
  if (iface === 'allOrgSync') {
    // V1 names the list orgInfo; the V2 name is accepted too.
    const raw = params.orgInfo ?? params.orgInfoList;
    delete body.orgInfo;
    const list = jsonText(raw, 'orgInfo', 'a list of departments');
    // One department sent as an object rather than a list of one.
    body.orgInfoList = list && typeof list === 'object' && !Array.isArray(list) ? [list] : list;
  }
  return { body, notes };
}

function number(value: string, allowed: readonly number[], name: string): number {
  const n = /^\d{1,2}$/.test(value) ? Number(value) : NaN;
  if (!allowed.includes(n)) throw refuse(`${name} must be one of ${allowed.join(', ')} (V1)`);
  return n;
}

/** A member V1 sends as a JSON string; JSON5 (unquoted keys) is accepted as in V2's orgInfoList. */
function jsonText(value: string | undefined, name: string, what: string): unknown {
  if (value === undefined) throw refuse(`${name} is required`);
  try {
    return parseEmbeddedJson(value);
  } catch {
    throw refuse(`${name} must be a JSON string holding ${what}; it is not valid JSON`);
  }
}

/**
 * Each user's `mobile` and `email` decrypted where they are encrypted; plain ones kept. A value
 * shaped like the encrypted form that opens with neither AES-256 nor AES-128 is refused: the
 * relay would otherwise keep ciphertext as a phone number.
 */
function decryptContacts(users: unknown[], v1Key: string, notes: Record<string, unknown>): unknown[] {
  const used = new Set<V1AesBits>();
  let decrypted = 0;
  const out = users.map((u, i) => {
    if (!u || typeof u !== 'object' || Array.isArray(u)) return u;
    const user = { ...(u as Record<string, unknown>) };
    for (const field of ['mobile', 'email'] as const) {
      const value = user[field];
      if (typeof value !== 'string' || value === '') continue;
      const reading = readV1Field(v1Key, value);
      if (reading.kind === 'undecryptable')
        throw refuse(
          `userList.${i}.${field} is encrypted (IV + Base64) but does not decrypt with V1_ACCESS_KEY (AES-256 or AES-128)`,
        );
      if (reading.kind === 'decrypted') {
        user[field] = reading.value;
        used.add(reading.bits);
        decrypted++;
      }
    }
    return user;
  });
  if (decrypted > 0) {
    notes.contactsDecrypted = decrypted;
    notes.contactAes = [...used].sort().map((b) => `aes-${b}`);
  }
  return out;
}

/** A V1 basic call as the V2 basic call it amounts to. */
export interface V1BasicReading {
  /** the activity as V1 named it, for logs and metrics */
  v1: V1Activity;
  /** the V2 activity whose schema reads `body` */
  activity: BasicActivity;
  body: Record<string, unknown>;
}

const isV1Activity = (v: string | undefined): v is V1Activity =>
  v !== undefined && (V1_ACTIVITIES as readonly string[]).includes(v);

/**
 * The V1 basic activities onto the V2 instance operations (§4; the MIW guide's names):
 *
 * - `newInstance`: a purchase, idempotent on its order; V1 has no order lines, so the order is
 *   its own line (`orderLineId` = `orderId`);
 * - `refreshInstance`: a renewal (`trialToFormal` "1": a trial made formal), which also opens an
 *   instance frozen before it (V1 has no UNFREEZE);
 * - `expireInstance`: a freeze (V2's `updateInstanceStatus` FREEZE): the tenant is gated, its
 *   records stay;
 * - `releaseInstance`: a release, final;
 * - `upgrade`: V2's `upgradeInstance`.
 *
 * Parameters a V1 call carries that the relay does not use (customerId, mobilePhone, skuCode…)
 * are signed and otherwise ignored. Refusals are 000002.
 */
export function v1BasicBody(params: Record<string, string>): V1BasicReading {
  const v1 = params.activity;
  if (!isV1Activity(v1))
    throw refuse(
      v1 === undefined
        ? 'activity is required'
        : `unknown V1 activity; expected one of ${V1_ACTIVITIES.join(', ')}`,
    );
  const { instanceId, orderId, productId, expireTime, testFlag } = params;
  const order = orderId === undefined ? {} : { orderId, orderLineId: orderId };
  const common = { instanceId, testFlag };
  switch (v1) {
    case 'newInstance':
      return {
        v1,
        activity: 'newInstance',
        body: { activity: v1, businessId: params.businessId, ...order, productId, expireTime, testFlag },
      };
    case 'refreshInstance':
      return {
        v1,
        activity: 'refreshInstance',
        body: {
          activity: v1,
          ...common,
          ...order,
          scene: params.trialToFormal === '1' ? 'TRIAL_TO_FORMAL' : 'RENEWAL',
          expireTime,
          productId,
        },
      };
    case 'expireInstance':
      return {
        v1,
        activity: 'updateInstanceStatus',
        body: { activity: 'updateInstanceStatus', ...common, status: 'FREEZE' },
      };
    case 'releaseInstance':
      return { v1, activity: 'releaseInstance', body: { activity: v1, ...common, ...order } };
    case 'upgrade':
      return {
        v1,
        activity: 'upgradeInstance',
        body: { activity: 'upgradeInstance', ...common, ...order, productId },
      };
  }
}
