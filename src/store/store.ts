/**
 * The storage surface the relay needs, small enough to implement twice (Redis and embedded)
 * with the same meaning; `test/store/battery.test.ts` runs one battery against both.
 *
 * Writes go through `apply`: a list of operations executed all-or-nothing, optionally guarded
 * by expected values (optimistic concurrency, the same idea as WATCH). On a Redis Cluster every
 * key of one `apply` must live in one slot, which the key layout (keys.ts) guarantees per tenant.
 */
import { RelayError } from '../errors.js';

export type WriteOp =
  /** `keepTtl` keeps the key's current expiry (Redis SET … KEEPTTL); otherwise `ttlMs` or none. */
  | { op: 'set'; key: string; value: string; ttlMs?: number; keepTtl?: boolean }
  | { op: 'del'; key: string }
  | { op: 'hset'; key: string; entries: readonly (readonly [string, string])[] }
  | { op: 'hdel'; key: string; fields: readonly string[] }
  | { op: 'sadd'; key: string; members: readonly string[] }
  | { op: 'srem'; key: string; members: readonly string[] }
  | { op: 'incr'; key: string }
  | { op: 'pexpire'; key: string; ttlMs: number }
  /** `to` becomes the hash staged at `key` (nothing staged: `to` is deleted), without expiry. */
  | { op: 'move'; key: string; to: string }
  /** Appends `value` to the stream at `key` under a new, greater id (Redis XADD *). */
  | { op: 'xadd'; key: string; value: string }
  /** Removes the stream entries with ids below `minId` (XTRIM MINID, exact). */
  | { op: 'xtrim'; key: string; minId: string };

/** One stream entry: its id (`<ms>-<seq>`, streamIds.ts) and the value appended with it. */
export interface StreamEntry {
  id: string;
  value: string;
}

/** The string at `key` (or hash field `field`) must equal `equals`; `null` means absent. */
export interface Guard {
  key: string;
  field?: string;
  equals: string | null;
}

export interface ApplyOptions {
  guards?: readonly Guard[];
  /**
   * Local epoch ms after which the write must not happen. If the command reaches the server
   * late (a paused Redis, a slow network), the server skips it, so nothing is written after
   * the relay has already answered that the write failed.
   */
  notAfter?: number;
  /**
   * After the write is applied, wait until `count` replicas of the master that ran it have
   * acknowledged it (Redis WAIT), for at most `timeoutMs` and never past `notAfter`; fewer throw
   * NotReplicatedError. A store without replicas to wait for (the embedded one) ignores it.
   */
  waitReplicas?: { count: number; timeoutMs: number };
}

export type ApplyResult = 'applied' | 'conflict';

/** What `/readyz` reports of a store that can serve (ops/routes.ts). */
export interface StoreReadiness {
  /**
   * Nodes of a Redis Cluster that do not answer (`host:port`, masters and replicas) while the
   * nodes of the probe keys do: the tenants whose slots they serve fail, the others are served.
   * Empty for a single server and the embedded store.
   */
  unreachable: string[];
}

/** One of `readRecordWithRefs`'s other values: the string at a key, or a field of a hash. */
export type Ref = string | { key: string; field: string };

/** What `readRecordWithRefs` found: a JSON record, its TTL, the hash field it names, and other values. */
export interface RecordWithRefs {
  /** the record, null when absent */
  value: string | null;
  /** remaining ms, -1 without expiry, -2 when absent */
  ttlMs: number;
  /** the hash field the record names, null when absent or the record names none */
  linked: string | null;
  /** the other values, in the order asked */
  also: (string | null)[];
}

export interface Store {
  readonly kind: 'redis' | 'memory';
  /**
   * Whether one `apply` may span several hash tags (Redis Cluster slots). True for the embedded
   * store and a single Redis server; false on a Redis Cluster, where a write that touches two
   * slots is applied slot by slot (mirror/transaction.ts says how it stays correct).
   */
  readonly atomicAcrossSlots: boolean;
  get(key: string): Promise<string | null>;
  hGet(key: string, field: string): Promise<string | null>;
  hmGet(key: string, fields: readonly string[]): Promise<(string | null)[]>;
  /**
   * `hmGet` as UTF-8 bytes, for a read that mostly asks whether each field is there: the 500
   * records an authSync reads cost node-redis 0.6 ms less as bytes than decoded to strings.
   */
  hmGetBytes(key: string, fields: readonly string[]): Promise<(Uint8Array | null)[]>;
  hGetAll(key: string): Promise<Record<string, string>>;
  hLen(key: string): Promise<number>;
  sMembers(key: string): Promise<string[]>;
  pTtl(key: string): Promise<number>;
  /** At most `count` entries of the stream at `key` with ids after `after` (null: from the first). */
  xRange(key: string, after: string | null, count: number): Promise<StreamEntry[]>;
  /**
   * Resolves true once the stream at `key` holds an entry after `after`, or false after `ms`.
   * A blocking read: the Redis store serves it on one connection of its own, so callers (the
   * change feed's one watcher per process) must not call it concurrently.
   */
  waitStream(key: string, after: string, ms: number): Promise<boolean>;
  apply(ops: readonly WriteOp[], options?: ApplyOptions): Promise<ApplyResult>;
  /**
   * One round trip for a record and what it points to: GET `key` (a JSON string) and its TTL;
   * the string at property path `pointer` inside it names a field of `hash`, read too (an empty
   * `pointer` names none: the record is then not decoded); and each of `also`: GET of a key,
   * HGET of a `{ key, field }`. All keys in one slot. (A session, its user, its tenant and its
   * app, in one read.)
   */
  readRecordWithRefs(
    key: string,
    pointer: readonly string[],
    hash: string,
    also: readonly Ref[],
  ): Promise<RecordWithRefs>;
  /**
   * Writes a large hash to a private staging key, not atomically, expiring after `ttlMs`, so a
   * later `apply` can `move` it into place in one step: big replacements stay atomic to readers
   * without passing every field through one script call.
   */
  stage(key: string, entries: readonly (readonly [string, string])[], ttlMs: number): Promise<void>;
  ping(): Promise<void>;
  /**
   * Resolves once the store has connected for the first time and answers (at once for the store in
   * memory); rejects after `ms` (5 s unless told): for work that should not start while the relay
   * is still connecting.
   */
  ready(ms?: number): Promise<void>;
  /**
   * Whether the relay can serve, for `/readyz`: throws when the store does not answer. A single
   * server answers PING; a cluster must answer a GET of each of `probeKeys` on the node of its
   * slot, and the other nodes that do not answer are then listed, not thrown.
   */
  readiness(probeKeys: readonly string[]): Promise<StoreReadiness>;
  close(): Promise<void>;
  /**
   * One raw command, for a library that speaks Redis itself (rate-limit-redis): routed to the
   * node of `key` on a cluster, under the store's deadline. Only the Redis store has it; without
   * it, such a library's in-memory equivalent is used (limits/counterStore.ts).
   */
  sendCommand?(key: string | undefined, readOnly: boolean, args: readonly string[]): Promise<unknown>;
}

/** The store did not answer in time or refused the command; nothing can be assumed written. */
export class StoreUnavailableError extends RelayError {
  override readonly name: string = 'StoreUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('store_unavailable', message, {
      status: 503,
      resultCode: '000005',
      publicMessage:
        'The relay could not reach its store in time; nothing was changed, please retry shortly.',
      ...(options?.cause === undefined ? {} : { cause: options.cause }),
    });
  }
}

/**
 * A write spanning several slots was refused (CROSSSLOT) by a store that claimed to accept it,
 * e.g. a cluster behind a single-address proxy; nothing was written, and the store now reports
 * `atomicAcrossSlots` false.
 */
export class CrossSlotError extends StoreUnavailableError {
  override readonly name = 'CrossSlotError';
}

/**
 * A write was applied on its master but fewer replicas than asked acknowledged it in time: it may
 * or may not survive a failover, so the caller must not report it done. (A marketplace call is
 * answered 000005 and retried by KooGallery; retries are idempotent.)
 */
export class NotReplicatedError extends StoreUnavailableError {
  override readonly name = 'NotReplicatedError';
}

/** A write was skipped because it reached the store after its deadline. */
export class StoreDeadlineError extends StoreUnavailableError {
  override readonly name = 'StoreDeadlineError';
}

export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new StoreUnavailableError(`store did not answer ${what} within ${ms} ms`)),
      ms,
    );
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(
          error instanceof StoreUnavailableError
            ? error
            : new StoreUnavailableError(
                `store failed ${what}: ${(error as Error)?.message ?? String(error)}`,
                { cause: error },
              ),
        );
      },
    );
  });
}
