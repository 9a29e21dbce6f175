/**
 * Replay protection for signed marketplace calls (§2.2: a nonce is good once, on any route).
 *
 * A call is claimed by two keys: its nonce, holding the digest of what was signed, and that
 * digest, holding the nonce. The claim is written in the same atomic write as the call's change
 * (mirror/transaction.ts), or right after a read-only call, so:
 * - a call that failed (refused, or `000005`) consumed nothing and may be sent again verbatim;
 * - a byte-identical replay of a call that was applied (same nonce, same signature) is run again
 *   without a new claim: every change is idempotent and ordered by its signed time, so it changes
 *   nothing and answers what the first one answered;
 * - the nonce with anything else signed is refused (`000001`), and so is the same signed material
 *   under another spelling of its nonce.
 * On a Redis Cluster the claim lives in its own slot and is written right after the change: a
 * lost race between two different calls signed with one nonce lets both through there, which a
 * marketplace that signs every call with a fresh nonce never causes.
 */
import { createHash } from 'node:crypto';
import type { Claim } from '../mirror/transaction.js';
import type { Keys } from '../store/keys.js';
import { StoreUnavailableError, type Store } from '../store/store.js';
import { KitRefusal, ResultCode } from './resultCodes.js';
import type { AnyScheme } from './verify.js';

export interface ClaimDeps {
  store: Store;
  keys: Keys;
  nonceTtlMs: number;
  /** REDIS_WAIT_REPLICAS: the call's writes wait for replicas (Claim.waitReplicas); unset: they do not */
  waitReplicas?: { count: number; timeoutMs: number } | undefined;
}

export interface CallClaim extends Claim {
  /** an identical call was applied before: nothing to claim, the call only runs again */
  readonly replay: boolean;
}

/**
 * Reads what is known of the call and returns its claim, or refuses the call. `sign` is the
 * verified signature, `nonce` its nonce; `null` for a V1 call, which has none.
 */
export async function claimFor(
  deps: ClaimDeps,
  scheme: AnyScheme,
  nonce: string | null,
  sign: string,
): Promise<CallClaim> {
  if (nonce === null || scheme.name === 'v1') return claimByToken(deps, scheme, sign);
  const digest = createHash('sha256').update(`${scheme.name}\n${sign.toUpperCase()}`).digest('hex');
  const nonceKey = deps.keys.nonce(nonce);
  const signedKey = deps.keys.signedCall(digest);
  const check = async (): Promise<boolean> => {
    const [byNonce, bySigned] = await Promise.all([deps.store.get(nonceKey), deps.store.get(signedKey)]);
    if (byNonce === digest) return true;
    if (byNonce !== null)
      throw new KitRefusal(
        ResultCode.authFailed,
        `${scheme.names.nonce} was already used; every call needs a new nonce`,
      );
    if (bySigned !== null)
      throw new KitRefusal(
        ResultCode.authFailed,
        `this call was already received under another ${scheme.names.nonce}`,
      );
    return false;
  };
  const replay = await check();
  const ttlMs = deps.nonceTtlMs;
  const claim: CallClaim = {
    replay,
    written: replay,
    ...(deps.waitReplicas ? { waitReplicas: deps.waitReplicas } : {}),
    guards: [
      { key: nonceKey, equals: null },
      { key: signedKey, equals: null },
    ],
    ops: [
      { op: 'set', key: nonceKey, value: digest, ttlMs },
      { op: 'set', key: signedKey, value: nonce, ttlMs },
    ],
    recheck: async () => {
      if (await check()) claim.written = true;
    },
  };
  return claim;
}

/** Writes a claim its call's change did not carry (a read-only call, or a Redis Cluster). */
export async function writeClaim(store: Store, claim: Claim, notAfter: number): Promise<void> {
  for (let attempt = 0; attempt < 3 && !claim.written; attempt++) {
    if ((await store.apply(claim.ops, { guards: claim.guards, notAfter })) === 'applied')
      claim.written = true;
    else await claim.recheck();
  }
  if (!claim.written) throw new StoreUnavailableError('the call could not be recorded as received');
}

/**
 * A V1 call has no nonce and no clock window (§6, §7): it is claimed by its token alone, which
 * signs every parameter and the call's `timeStamp`. Nothing can be refused by it: a call with
 * the same token is the same call (a byte-identical replay), run again without a new claim, which
 * changes nothing (every change is idempotent and ordered by its signed time, and a deletion
 * leaves its time behind), and anything else has another token. The claim is kept like a nonce's
 * (the same atomic write as the change, `nonceTtlMs`); it marks a repeat in the log (`replay`).
 */
async function claimByToken(deps: ClaimDeps, scheme: AnyScheme, token: string): Promise<CallClaim> {
  // Base64 is case-sensitive: the token as it is, unlike a hex signature.
  const digest = createHash('sha256').update(`${scheme.name}\n${token}`).digest('hex');
  const signedKey = deps.keys.signedCall(digest);
  const check = async (): Promise<boolean> => (await deps.store.get(signedKey)) !== null;
  const replay = await check();
  const claim: CallClaim = {
    replay,
    written: replay,
    ...(deps.waitReplicas ? { waitReplicas: deps.waitReplicas } : {}),
    guards: [{ key: signedKey, equals: null }],
    ops: [{ op: 'set', key: signedKey, value: scheme.name, ttlMs: deps.nonceTtlMs }],
    recheck: async () => {
      if (await check()) claim.written = true;
    },
  };
  return claim;
}
