/**
 * The Redis store (node-redis 6), for a single server, a Redis Cluster, or a master found through
 * Redis Sentinel (which behaves as a single server whose address changes on a failover).
 *
 * `apply` runs one Lua script (scripts.ts): it checks the guards, then performs every operation,
 * and it first compares the server's clock with the caller's deadline so a command that arrives
 * late (Redis paused, network stalled) writes nothing. Redis executes a script atomically; the
 * operations are restricted to types our own key layout guarantees, so none can fail half-way.
 * Requires Redis >= 7 (script flags: a script is refused up front under OOM).
 */
import {
  CrossSlotError,
  NotReplicatedError,
  StoreDeadlineError,
  StoreUnavailableError,
  withDeadline,
  type ApplyOptions,
  type ApplyResult,
  type RecordWithRefs,
  type Ref,
  type Store,
  type StoreReadiness,
  type StreamEntry,
  type WriteOp,
} from '../store.js';
import {
  connectCluster,
  connectSentinel,
  connectSingle,
  createClusterClient,
  createSentinelClient,
  createSingleClient,
  type ClusterClient,
  type ConnectHooks,
  type RedisTarget,
  type SentinelClient,
  type SingleClient,
} from './connect.js';
import { RESP_TYPES } from 'redis';
import { parseStreamId } from '../streamIds.js';
import { expandEntry, RUN_VALUES } from '../streamRuns.js';
import { APPLY, encodeApply, hashChunks, packArgs, READ_RECORD_WITH_REFS, type Script } from './scripts.js';

/** Key-less commands (PING, TIME) go to a single server itself, but to a cluster's nodes one by one. */
type Connection =
  | { single: SingleClient; cluster?: undefined; sentinel?: undefined }
  | { cluster: ClusterClient; single?: undefined; sentinel?: undefined }
  | { sentinel: SentinelClient; single?: undefined; cluster?: undefined };

export interface RedisStoreOptions {
  /** Deadline of every store call in ms (KooGallery waits 5 s for a push answer). */
  timeoutMs?: number;
  onError?: (error: Error) => void;
}

export class RedisStore implements Store {
  readonly kind = 'redis' as const;
  /** A single server runs a script over any keys; a cluster refuses keys of two slots (CROSSSLOT). */
  get atomicAcrossSlots(): boolean {
    return this.cluster === undefined && !this.crossSlotRefused;
  }
  /** Set when a server at REDIS_URL refused a write across slots (a cluster behind a proxy). */
  private crossSlotRefused = false;
  private readonly timeoutMs: number;
  /** serverTime - localTime, learnt from TIME, so deadlines can be checked by the server's clock. */
  private clockOffsetMs = 0;
  private readonly clockTimer: NodeJS.Timeout;
  /** Aborted by close(): ends a cluster's connection attempts (connect.ts). */
  private readonly closing = new AbortController();
  /** Keyed commands: node-redis routes them to the key's node on a cluster. */
  private readonly client: SingleClient | ClusterClient | SentinelClient;
  private readonly single: SingleClient | undefined;
  private readonly cluster: ClusterClient | undefined;
  private readonly sentinel: SentinelClient | undefined;

  private constructor(
    connection: Connection,
    private readonly options: RedisStoreOptions,
  ) {
    this.single = connection.single;
    this.cluster = connection.cluster;
    this.sentinel = connection.sentinel;
    this.client = connection.single ?? connection.cluster ?? connection.sentinel;
    this.timeoutMs = options.timeoutMs ?? 1500;
    this.clockTimer = setInterval(() => void this.syncClock().catch(() => undefined), 30_000);
    this.clockTimer.unref();
  }

  /** Connects in the background: the relay starts and reports not-ready until Redis answers. */
  static connect(target: RedisTarget, options: RedisStoreOptions = {}): RedisStore {
    const connection: Connection = target.sentinel
      ? { sentinel: createSentinelClient(target.sentinel, target) }
      : target.clusterNodes?.length
        ? { cluster: createClusterClient(target.clusterNodes, target) }
        : { single: createSingleClient(target.url, target) };
    const store = new RedisStore(connection, options);
    const hooks: ConnectHooks = {
      onError: options.onError,
      onReady: () => store.syncClock().catch(() => undefined),
      signal: store.closing.signal,
    };
    store.firstConnection = connection.cluster
      ? connectCluster(connection.cluster, hooks)
      : connection.sentinel
        ? connectSentinel(connection.sentinel, hooks)
        : connectSingle(connection.single, hooks);
    return store;
  }

  private firstConnection: Promise<void> = Promise.resolve();

  /** The first connection (under a deadline of `ms`), then a PING. */
  async ready(ms = 5000): Promise<void> {
    await withDeadline(this.firstConnection, ms, 'the first connection');
    await this.ping();
  }

  /**
   * Through Sentinel, node-redis holds a command back while its master is not connected and
   * sends it once a master is (rediscovering in a loop meanwhile): it is failed at once instead,
   * as a single server's commands are (disableOfflineQueue), so nothing piles up in a failover.
   */
  private offline(sentinel: SentinelClient | undefined = this.sentinel): void {
    if (sentinel && !sentinel.getMasterNode())
      throw new StoreUnavailableError('no Redis master is connected (Sentinel: connecting or failing over)');
  }

  private call<T>(what: string, run: () => Promise<T>): Promise<T> {
    let started: Promise<T>;
    try {
      this.offline();
      started = run();
    } catch (error) {
      started = Promise.reject(error);
    }
    return withDeadline(started, this.timeoutMs, what);
  }

  /**
   * On a cluster, TIME is asked of one master and its offset used for every node: the nodes'
   * clocks are assumed to agree (NTP) to well within a write's deadline.
   */
  async syncClock(): Promise<void> {
    const before = Date.now();
    const [seconds, micros] = await this.call('TIME', async () =>
      (this.single ?? this.sentinel ?? (await this.nodeClient(this.masters()[0]!))).time(),
    );
    const after = Date.now();
    const serverMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    this.clockOffsetMs = serverMs - Math.round((before + after) / 2);
  }

  /** A cluster's masters, for commands without a key (they must be sent to a node). */
  private masters() {
    const masters = this.cluster!.masters;
    if (masters.length === 0)
      throw new StoreUnavailableError('not connected to the Redis Cluster yet (no master known)');
    return masters;
  }

  private nodeClient(node: ReturnType<RedisStore['masters']>[number]): Promise<SingleClient> {
    return this.cluster!.nodeClient(node);
  }

  get(key: string) {
    return this.call('GET', () => this.client.get(key));
  }

  hGet(key: string, field: string) {
    return this.call('HGET', () => this.client.hGet(key, field));
  }

  async hmGet(key: string, fields: readonly string[]) {
    if (fields.length === 0) return [];
    return this.call('HMGET', () => this.client.hmGet(key, [...fields]));
  }

  /** The store's client answering bulk strings as Buffers (hmGetBytes), made on first use. */
  private bytesClient: { hmGet: (key: string, fields: string[]) => Promise<(Buffer | null)[]> } | undefined;

  async hmGetBytes(key: string, fields: readonly string[]): Promise<(Uint8Array | null)[]> {
    if (fields.length === 0) return [];
    // A single server's, a cluster's and a Sentinel client's withTypeMapping are alike; their
    // union's signatures are not callable as one, hence the one type named here.
    this.bytesClient ??= (this.client as SingleClient).withTypeMapping({
      [RESP_TYPES.BLOB_STRING]: Buffer,
    }) as unknown as NonNullable<RedisStore['bytesClient']>;
    const client = this.bytesClient;
    return this.call('HMGET', () => client.hmGet(key, [...fields]));
  }

  async hGetAll(key: string) {
    return { ...(await this.call('HGETALL', () => this.client.hGetAll(key))) };
  }

  hLen(key: string) {
    return this.call('HLEN', () => this.client.hLen(key));
  }

  sMembers(key: string) {
    return this.call('SMEMBERS', () => this.client.sMembers(key));
  }

  pTtl(key: string) {
    return this.call('PTTL', () => this.client.pTTL(key));
  }

  /**
   * Values per stored entry in what the last read of each stream fetched: XRANGE counts stored
   * entries, each holding up to RUN_VALUES values (streamRuns.ts), so a read asks for as many as
   * `count` values fill at that rate. A stream never read is taken to hold full entries: a read
   * never fetches RUN_VALUES times what it asked for, and learns the rate for the next one.
   */
  private readonly valuesPerEntry = new Map<string, number>();

  async xRange(key: string, after: string | null, count: number): Promise<StreamEntry[]> {
    const from = after === null ? null : parseStreamId(after);
    const out: StreamEntry[] = [];
    let start = after === null ? '-' : `(${after}`; // '(' makes the start exclusive (Redis >= 6.2)
    let rate = this.valuesPerEntry.get(key) ?? RUN_VALUES;
    let entries = 0;
    let values = 0;
    for (;;) {
      const ask = Math.max(1, Math.ceil((count - out.length) / rate));
      const reply =
        (await this.call('XRANGE', () => this.client.xRange(key, start, '+', { COUNT: ask }))) ?? [];
      for (const e of reply)
        values += expandEntry(e.id, String((e.message as Record<string, unknown>).e ?? ''), from, out, count);
      entries += reply.length;
      if (entries > 0) rate = values / entries;
      if (out.length >= count || reply.length < ask) break;
      start = `(${reply.at(-1)!.id}`;
    }
    // streams read are few (the feed's, and on a cluster each tenant's outbox): a bound suffices
    if (this.valuesPerEntry.size >= 1000) this.valuesPerEntry.clear();
    if (entries > 0) this.valuesPerEntry.set(key, rate);
    return out;
  }

  /**
   * XREAD BLOCK on a connection of its own (opened on first use), so a wait never holds up the
   * store's other commands; on a cluster, a second cluster client routes it to the key's node.
   */
  async waitStream(key: string, after: string, ms: number): Promise<boolean> {
    const args = ['XREAD', 'COUNT', '1', 'BLOCK', String(Math.max(1, Math.round(ms))), 'STREAMS', key, after];
    const blocking = await this.blockingClient();
    this.offline(blocking.sentinel);
    const reply = await withDeadline(
      blocking.single
        ? blocking.single.sendCommand(args)
        : blocking.sentinel
          ? blocking.sentinel.sendCommand(true, args)
          : blocking.cluster.sendCommand(key, true, args),
      ms + this.timeoutMs,
      'a blocking read',
    );
    return reply !== null && reply !== undefined;
  }

  private blocking: Promise<Connection> | undefined;

  private blockingClient(): Promise<Connection> {
    this.blocking ??= this.ownConnection('blocking reads').catch((error: unknown) => {
      this.blocking = undefined;
      throw error;
    });
    return this.blocking;
  }

  /**
   * Writes that wait for replicas (ApplyOptions.waitReplicas) run on a connection of their own:
   * WAIT blocks the connection it is sent on, and Redis counts from that connection's last write,
   * so neither reads nor other writes wait behind a slow replica.
   */
  private durable: Promise<Connection> | undefined;

  private durableClient(): Promise<Connection> {
    this.durable ??= this.ownConnection('writes that wait for replicas').catch((error: unknown) => {
      this.durable = undefined;
      throw error;
    });
    return this.durable;
  }

  /**
   * A second connection like the store's: a second cluster client on a cluster, a second
   * Sentinel client (its own sentinel and master connections) through Sentinel.
   */
  private async ownConnection(what: string): Promise<Connection> {
    const connection: Connection = this.single
      ? { single: this.single.duplicate() }
      : this.sentinel
        ? { sentinel: this.sentinel.duplicate() }
        : { cluster: this.cluster!.duplicate() };
    const onError = (error: unknown) =>
      this.options.onError?.(error instanceof Error ? error : new Error(String(error)));
    const connecting = connection.single
      ? connection.single.on('error', onError).connect()
      : connection.sentinel
        ? connection.sentinel.on('error', onError).connect()
        : connection.cluster.on('error', onError).connect();
    try {
      await withDeadline<unknown>(connecting, this.timeoutMs, `connecting for ${what}`);
    } catch (error) {
      // not left connecting (and, through Sentinel, rediscovering) in the background
      void Promise.resolve()
        .then(() => (connection.single ?? connection.sentinel ?? connection.cluster).destroy())
        .catch(() => undefined);
      throw error;
    }
    return connection;
  }

  async apply(ops: readonly WriteOp[], options: ApplyOptions = {}): Promise<ApplyResult> {
    const notAfter = options.notAfter ?? Date.now() + this.timeoutMs;
    if (Date.now() > notAfter)
      throw new StoreDeadlineError('the write was not sent: its deadline had passed');
    const encoded = encodeApply(ops, options, notAfter + this.clockOffsetMs);
    const keys = encoded.keys;
    if (keys.length === 0) return 'applied';
    const args = [packArgs(encoded.args)];
    const waitFor = options.waitReplicas?.count ? options.waitReplicas : undefined;
    let reply: unknown;
    let node: SingleClient | undefined;
    try {
      this.offline();
      reply = await withDeadline(
        (async () => {
          if (!waitFor) return this.runScript(APPLY, { keys, arguments: args }, false, this.client, notAfter);
          const durable = await this.durableClient();
          if (durable.sentinel) {
            this.offline(durable.sentinel);
            // the master connection the script runs on (again after a failover, when node-redis
            // retries it on the new master), so WAIT goes to that connection and no other
            return durable.sentinel._execute(false, (client) => {
              node = client as unknown as SingleClient;
              return this.runScript(APPLY, { keys, arguments: args }, false, node, notAfter);
            });
          }
          // the master that runs the write, to send WAIT to it (and only it) after
          node = durable.single ?? (await durable.cluster.getNodeClientForKey(keys[0]!, false));
          return this.runScript(
            APPLY,
            { keys, arguments: args },
            false,
            durable.single ?? durable.cluster,
            notAfter,
          );
        })(),
        Math.max(1, notAfter - Date.now()),
        'a write',
      );
    } catch (error) {
      const cause = (error as { cause?: unknown }).cause ?? error;
      if (!this.cluster && /CROSSSLOT/.test(String((cause as Error)?.message ?? cause))) {
        this.crossSlotRefused = true;
        this.options.onError?.(
          new Error(
            'REDIS_URL refuses writes across slots (a cluster behind a proxy?): writing slot by slot',
          ),
        );
        throw new CrossSlotError('the store refused a write across slots; nothing was written', { cause });
      }
      throw error;
    }
    if (reply === -1)
      throw new StoreDeadlineError('the write reached the store after its deadline and was skipped');
    if (reply === 0) return 'conflict';
    if (reply === 1) {
      if (waitFor) await this.waitForReplicas(keys[0]!, node!, waitFor, notAfter);
      return 'applied';
    }
    throw new StoreUnavailableError(`unexpected reply from the apply script: ${String(reply)}`);
  }

  /**
   * WAIT on the connection that ran the write, on its master: Redis answers how many replicas
   * have acknowledged everything that master had written up to that write. On a cluster the
   * write must have run on `node`, the master of its slot when it was sent; if the slot moved
   * meanwhile (a failover, a redirection) nothing can be said of it. Through Sentinel, `node` is
   * the master connection itself: a failover closes it, and WAIT on it fails. Any failure is
   * NotReplicatedError: the write was applied, so it must not be taken for one that was not
   * (a lost reply, kit/pipeline.ts), nor answered done.
   */
  private async waitForReplicas(
    key: string,
    node: SingleClient,
    want: { count: number; timeoutMs: number },
    notAfter: number,
  ): Promise<void> {
    const timeoutMs = Math.max(1, Math.min(want.timeoutMs, notAfter - Date.now()));
    let acknowledged: number;
    try {
      const durable = await this.durableClient();
      if (durable.cluster && (await durable.cluster.getNodeClientForKey(key, false)) !== node)
        throw new Error('the slot moved to another node during the write');
      // 0 would mean "block for ever" to Redis: timeoutMs is at least 1
      const reply = node.sendCommand(['WAIT', String(want.count), String(timeoutMs)]);
      acknowledged = Number(await withDeadline(reply, timeoutMs + this.timeoutMs, 'WAIT'));
    } catch (error) {
      throw new NotReplicatedError(
        `the write was applied, but whether replicas have it is unknown: ${(error as Error).message}`,
        { cause: error },
      );
    }
    if (acknowledged < want.count)
      throw new NotReplicatedError(
        `the write was applied, but only ${acknowledged} of ${want.count} replicas acknowledged it within ${timeoutMs} ms`,
      );
  }

  async stage(key: string, entries: readonly (readonly [string, string])[], ttlMs: number): Promise<void> {
    if (entries.length === 0) return;
    const writes: Promise<unknown>[] = [];
    // Issued together (pipelined), in chunks so no single command is huge.
    for (const [i, chunk] of hashChunks(entries).entries()) {
      writes.push(this.client.hSet(key, chunk));
      if (i === 0) writes.push(this.client.pExpire(key, ttlMs));
    }
    await withDeadline(Promise.all(writes), this.timeoutMs, 'staging');
  }

  async readRecordWithRefs(
    key: string,
    pointer: readonly string[],
    hash: string,
    also: readonly Ref[],
  ): Promise<RecordWithRefs> {
    const options = {
      keys: [key, hash, ...also.map((r) => (typeof r === 'string' ? r : r.key))],
      arguments: [
        String(pointer.length),
        ...pointer,
        ...also.map((r) => (typeof r === 'string' ? 's' : `h${r.field}`)),
      ],
    };
    const reply = await this.call('a record read', () =>
      this.runScript(READ_RECORD_WITH_REFS, options, true),
    );
    // The script always replies with a list; anything else is a server we do not understand.
    if (!Array.isArray(reply))
      throw new StoreUnavailableError(`unexpected reply from the read script: ${String(reply)}`);
    const text = (v: unknown) => (typeof v === 'string' ? v : null);
    return {
      value: text(reply[0]),
      ttlMs: Number(reply[1]),
      linked: text(reply[2]),
      also: also.map((_, i) => text(reply[3 + i])),
    };
  }

  /**
   * By its SHA; a server that does not know it yet (new, restarted, another node) gets the text.
   *
   * While a cluster slot is being migrated (resharding), node-redis follows MOVED and ASK itself,
   * but a script over several keys of the slot is refused with TRYAGAIN when its keys are not all
   * on one node (some moved, some not), or when the target node lacks one of them: Redis ran
   * nothing, so it is sent again after a short pause (10 ms, doubling up to 100 ms), until
   * `notAfter` (the write's deadline, or the read's), when the TRYAGAIN is thrown
   * (StoreUnavailableError: 000005, or 503). See docs/redis-cluster.md, "Resharding".
   */
  private async runScript(
    script: Script,
    options: { keys: string[]; arguments: (string | Buffer)[] },
    readOnly: boolean,
    client: SingleClient | ClusterClient | SentinelClient = this.client,
    notAfter = Date.now() + this.timeoutMs,
  ): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      try {
        try {
          return await (readOnly
            ? client.evalShaRo(script.sha, options)
            : client.evalSha(script.sha, options));
        } catch (error) {
          if (!String((error as Error).message).startsWith('NOSCRIPT')) throw error;
          return await (readOnly ? client.evalRo(script.text, options) : client.eval(script.text, options));
        }
      } catch (error) {
        const pause = Math.min(100, 10 * 2 ** attempt);
        if (!String((error as Error).message).startsWith('TRYAGAIN') || Date.now() + pause >= notAfter)
          throw error;
        await new Promise((r) => setTimeout(r, pause));
      }
    }
  }

  /** See `Store.sendCommand`: a single server takes any command, a cluster routes it by `key`. */
  sendCommand(key: string | undefined, readOnly: boolean, args: readonly string[]): Promise<unknown> {
    const { cluster, sentinel } = this;
    return this.call(args[0] ?? 'a command', () =>
      cluster
        ? cluster.sendCommand(key, readOnly, [...args])
        : sentinel
          ? sentinel.sendCommand(readOnly, [...args])
          : this.single!.sendCommand(args),
    );
  }

  /** On a cluster every master must answer: each serves a share of the tenants. */
  async ping(): Promise<void> {
    const single = this.single ?? this.sentinel;
    if (single) {
      await this.call('PING', () => single.ping());
      return;
    }
    await this.call('PING', async () => {
      await Promise.all(this.masters().map(async (m) => (await this.nodeClient(m)).ping()));
    });
  }

  /**
   * A single server, or the master found through Sentinel: PING. A cluster: the node of each probe key must answer a GET of it
   * (routed by its slot, so a failover is followed); then every known node, masters and replicas, is
   * pinged at once, and the ones that do not answer within the deadline are listed. A cluster
   * that refuses commands (CLUSTERDOWN) fails the GET, so it is not ready.
   */
  async readiness(probeKeys: readonly string[]): Promise<StoreReadiness> {
    const cluster = this.cluster;
    if (!cluster) {
      await this.ping();
      return { unreachable: [] };
    }
    await this.call('GET', () => Promise.all(probeKeys.map((key) => cluster.get(key))));
    const nodes = [...this.masters(), ...cluster.replicas];
    const answers = await Promise.allSettled(
      nodes.map((node) =>
        withDeadline(
          this.nodeClient(node).then((c) => c.ping()),
          this.timeoutMs,
          'PING',
        ),
      ),
    );
    return {
      unreachable: nodes
        .filter((_, i) => answers[i]!.status === 'rejected')
        .map((n) => `${n.host}:${n.port}`)
        .sort(),
    };
  }

  async close(): Promise<void> {
    this.closing.abort();
    clearInterval(this.clockTimer);
    for (const own of [this.blocking, this.durable])
      if (own) void own.then((c) => (c.single ?? c.cluster ?? c.sentinel).destroy()).catch(() => undefined);
    this.blocking = this.durable = undefined;
    try {
      await withDeadline(this.client.close(), 2000, 'close');
    } catch {
      this.client.destroy();
    }
  }
}
