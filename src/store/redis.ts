/**
 * The Redis store (node-redis 6), for a single server or a Redis Cluster.
 *
 * `apply` runs one Lua script: it checks the guards, then performs every operation, and it first
 * compares the server's clock with the caller's deadline so a command that arrives late (Redis
 * paused, network stalled) writes nothing. Redis executes a script atomically; the operations
 * are restricted to types our own key layout guarantees, so none can fail half-way.
 * Requires Redis >= 7 (script flags: a script is refused up front under OOM).
 */
import { createHash } from 'node:crypto';
import { createClient, createCluster, type RedisClientType, type RedisClusterType } from 'redis';
import {
  CrossSlotError,
  StoreDeadlineError,
  StoreUnavailableError,
  withDeadline,
  type ApplyOptions,
  type ApplyResult,
  type Linked,
  type Store,
  type WriteOp,
} from './store.js';

const APPLY_SCRIPT = `#!lua
local deadline = tonumber(ARGV[1])
if deadline > 0 then
  local t = redis.call('TIME')
  if tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) > deadline then return -1 end
end
local i = 3
for g = 1, tonumber(ARGV[2]) do
  local kind, key = ARGV[i], KEYS[tonumber(ARGV[i + 1])]
  i = i + 2
  local current
  if kind == 'h' then
    current = redis.call('HGET', key, ARGV[i])
    i = i + 1
  else
    current = redis.call('GET', key)
  end
  if ARGV[i] == '1' then
    if current ~= ARGV[i + 1] then return 0 end
    i = i + 2
  else
    if current then return 0 end
    i = i + 1
  end
end
local variadic = { hset = 'HSET', hdel = 'HDEL', sadd = 'SADD', srem = 'SREM' }
local nops = tonumber(ARGV[i])
i = i + 1
for o = 1, nops do
  local code, key, n = ARGV[i], KEYS[tonumber(ARGV[i + 1])], tonumber(ARGV[i + 2])
  i = i + 3
  if code == 'set' then
    local ttl = ARGV[i + 1]
    if ttl == 'keep' then redis.call('SET', key, ARGV[i], 'KEEPTTL')
    elseif ttl ~= '0' then redis.call('SET', key, ARGV[i], 'PX', ttl)
    else redis.call('SET', key, ARGV[i]) end
  elseif code == 'del' then
    redis.call('DEL', key)
  elseif code == 'dels' then
    -- a run of deletes (a tenant's sessions) as one DEL per 1000 keys, not one command per key
    local names = {}
    for j = i, i + n - 1 do names[#names + 1] = KEYS[tonumber(ARGV[j])] end
    for j = 1, #names, 1000 do redis.call('DEL', unpack(names, j, math.min(j + 999, #names))) end
  elseif code == 'incr' then
    redis.call('INCR', key)
  elseif code == 'pexpire' then
    redis.call('PEXPIRE', key, ARGV[i])
  elseif code == 'move' then
    local to = KEYS[tonumber(ARGV[i])]
    if redis.call('EXISTS', key) == 1 then
      redis.call('RENAME', key, to)
      redis.call('PERSIST', to)
    else
      redis.call('DEL', to)
    end
  else
    -- unpack is bounded by Lua's C stack; 1000 arguments per call stays far below it.
    local last = i + n - 1
    local j = i
    while j <= last do
      local e = math.min(j + 999, last)
      redis.call(variadic[code], key, unpack(ARGV, j, e))
      j = e + 1
    end
  end
  i = i + n
end
return 1
`;
const APPLY_SHA = createHash('sha1').update(APPLY_SCRIPT).digest('hex');

const READ_LINKED_SCRIPT = `#!lua flags=no-writes
local v = redis.call('GET', KEYS[1])
local out = { v, -2, false }
if v then
  out[2] = redis.call('PTTL', KEYS[1])
  local ok, at = pcall(cjson.decode, v)
  if ok then
    for i = 1, #ARGV do
      if type(at) == 'table' then at = at[ARGV[i]] else at = nil end
    end
    if type(at) == 'string' then out[3] = redis.call('HGET', KEYS[2], at) end
  end
end
for i = 3, #KEYS do out[#out + 1] = redis.call('GET', KEYS[i]) end
return out
`;
const READ_LINKED_SHA = createHash('sha1').update(READ_LINKED_SCRIPT).digest('hex');

/** Encodes guards and operations as the script's KEYS and ARGV. */
function encodeApply(ops: readonly WriteOp[], options: ApplyOptions, serverDeadline: number) {
  const keys: string[] = [];
  const index = new Map<string, number>();
  const keyRef = (key: string) => {
    let n = index.get(key);
    if (n === undefined) {
      keys.push(key);
      index.set(key, (n = keys.length));
    }
    return String(n);
  };
  const args: string[] = [String(serverDeadline), String(options.guards?.length ?? 0)];
  for (const g of options.guards ?? []) {
    if (g.field === undefined) args.push('s', keyRef(g.key));
    else args.push('h', keyRef(g.key), g.field);
    if (g.equals === null) args.push('0');
    else args.push('1', g.equals);
  }
  const body: string[] = [];
  let count = 0;
  for (let o = 0; o < ops.length; o++) {
    const op = ops[o]!;
    // Consecutive deletes go as one 'dels' whose arguments are the keys' indexes.
    if (op.op === 'del' && ops[o + 1]?.op === 'del') {
      const refs: string[] = [];
      while (ops[o]?.op === 'del') refs.push(keyRef(ops[o++]!.key));
      o--;
      body.push('dels', refs[0]!, String(refs.length));
      for (const r of refs) body.push(r);
      count++;
      continue;
    }
    let payload: string[];
    switch (op.op) {
      case 'set':
        payload = [op.value, op.keepTtl ? 'keep' : String(op.ttlMs ?? 0)];
        break;
      case 'del':
      case 'incr':
        payload = [];
        break;
      case 'pexpire':
        payload = [String(op.ttlMs)];
        break;
      case 'move':
        payload = [keyRef(op.to)];
        break;
      case 'hset':
        payload = [];
        for (const [f, v] of op.entries) payload.push(f, v);
        break;
      case 'hdel':
        payload = [...op.fields];
        break;
      case 'sadd':
      case 'srem':
        payload = [...op.members];
        break;
    }
    // Redis refuses variadic commands without arguments; an empty one is a no-op anyway.
    if (payload.length === 0 && !['del', 'incr'].includes(op.op)) continue;
    body.push(op.op, keyRef(op.key), String(payload.length));
    // A loop, not a spread: spreading tens of thousands of arguments overflows the call stack.
    for (const p of payload) body.push(p);
    count++;
  }
  args.push(String(count));
  for (const b of body) args.push(b);
  return { keys, args };
}

type Client = RedisClientType | RedisClusterType;

/** Wait before reconnect attempt `n` (0-based): 50 ms doubling, at most 2 s. */
const backoffMs = (n: number) => Math.min(50 * 2 ** n, 2000);

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
  private closed = false;
  /** Ends the wait between two connection attempts to a cluster (see connectCluster). */
  private wake?: () => void;

  private constructor(
    private readonly client: Client,
    private readonly options: RedisStoreOptions,
    /** set for a Redis Cluster, so key-less commands know to pick nodes themselves */
    private readonly cluster?: RedisClusterType,
  ) {
    this.timeoutMs = options.timeoutMs ?? 1500;
    this.clockTimer = setInterval(() => void this.syncClock().catch(() => undefined), 30_000);
    this.clockTimer.unref();
  }

  /** Connects in the background: the relay starts and reports not-ready until Redis answers. */
  static connect(
    target: { url?: string; clusterNodes?: string[] },
    options: RedisStoreOptions = {},
  ): RedisStore {
    const socket = {
      connectTimeout: 2000,
      reconnectStrategy: (retries: number) => backoffMs(retries),
    };
    // node-redis's own per-command timeout (an AbortSignal timer per command) is off: every
    // call here has its deadline already (withDeadline), which also covers commands in flight.
    const common = { disableOfflineQueue: true, pingInterval: 5000, commandOptions: { timeout: 0 } };
    if (target.clusterNodes?.length) {
      // `defaults` apply to every node connection; the seeds only serve to discover the topology.
      const cluster = createCluster({
        rootNodes: target.clusterNodes.map((n) => ({ url: `redis://${n}` })),
        defaults: { ...common, socket },
        commandOptions: common.commandOptions,
      }) as unknown as RedisClusterType;
      const store = new RedisStore(cluster, options, cluster);
      cluster.on('error', (error: Error) => options.onError?.(error));
      // A cluster reports its node connections' errors as 'node-error', not 'error'.
      cluster.on('node-error', (error: Error, node?: { host?: string; port?: number }) =>
        options.onError?.(
          new Error(`cluster node ${node?.host ?? '?'}:${node?.port ?? '?'}: ${error.message}`, {
            cause: error,
          }),
        ),
      );
      store.firstConnection = store.connectCluster(cluster, options.onError);
      return store;
    }
    const client = createClient({ url: target.url, ...common, socket }) as unknown as RedisClientType;
    const store = new RedisStore(client, options);
    client.on('error', (error: Error) => options.onError?.(error));
    client.on('ready', () => void store.syncClock().catch(() => undefined));
    store.firstConnection = client.connect().then(
      () => undefined,
      (error: Error) => options.onError?.(error),
    );
    return store;
  }

  /**
   * node-redis connects a cluster once: when no seed answers, connect() fails and is never
   * retried, and a topology without slots (nodes up, cluster not created yet) is accepted, after
   * which every command fails. So the store retries, with a single server's reconnect backoff,
   * until every slot has a master (or the store is closed).
   */
  private async connectCluster(cluster: RedisClusterType, onError?: (error: Error) => void): Promise<void> {
    for (let attempt = 0; !this.closed; attempt++) {
      try {
        await cluster.connect();
        if (this.closed) {
          // closed during discovery: drop the node connections discovery opened meanwhile
          cluster.destroy();
          return;
        }
        const uncovered = cluster.slots.findIndex((shard) => !shard?.master);
        if (uncovered === -1) {
          await this.syncClock().catch(() => undefined);
          return;
        }
        cluster.destroy();
        throw new StoreUnavailableError(
          `the Redis Cluster does not serve every slot yet (slot ${uncovered} has no master)`,
        );
      } catch (error) {
        if (this.closed) return;
        onError?.(error as Error);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, backoffMs(attempt));
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  private firstConnection: Promise<void> = Promise.resolve();

  /** Resolves once the first connection is up (or `ms` passed): for tools that must not start offline. */
  async ready(ms = 5000): Promise<void> {
    await withDeadline(this.firstConnection, ms, 'the first connection');
    await this.ping();
  }

  private call<T>(what: string, run: () => Promise<T>): Promise<T> {
    let started: Promise<T>;
    try {
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
    const reply = (await this.call('TIME', async () =>
      (this.cluster ? await this.nodeClient(this.masters()[0]!) : (this.client as RedisClientType)).time(),
    )) as unknown as Date | [string, string];
    const after = Date.now();
    const serverMs =
      reply instanceof Date ? reply.getTime() : Number(reply[0]) * 1000 + Math.floor(Number(reply[1]) / 1000);
    this.clockOffsetMs = serverMs - Math.round((before + after) / 2);
  }

  /** A cluster's masters, for commands without a key (they must be sent to a node). */
  private masters() {
    const masters = this.cluster!.masters;
    if (masters.length === 0)
      throw new StoreUnavailableError('not connected to the Redis Cluster yet (no master known)');
    return masters;
  }

  private async nodeClient(node: ReturnType<RedisStore['masters']>[number]): Promise<RedisClientType> {
    return (await this.cluster!.nodeClient(node)) as unknown as RedisClientType;
  }

  get(key: string) {
    return this.call('GET', () => this.client.get(key)) as Promise<string | null>;
  }

  hGet(key: string, field: string) {
    return this.call('HGET', () => this.client.hGet(key, field)) as Promise<string | null>;
  }

  async hmGet(key: string, fields: readonly string[]) {
    if (fields.length === 0) return [];
    return (await this.call('HMGET', () => this.client.hmGet(key, [...fields]))) as (string | null)[];
  }

  async hGetAll(key: string) {
    return { ...((await this.call('HGETALL', () => this.client.hGetAll(key))) as Record<string, string>) };
  }

  hLen(key: string) {
    return this.call('HLEN', () => this.client.hLen(key)) as Promise<number>;
  }

  sMembers(key: string) {
    return this.call('SMEMBERS', () => this.client.sMembers(key)) as Promise<string[]>;
  }

  pTtl(key: string) {
    return this.call('PTTL', () => this.client.pTTL(key)) as Promise<number>;
  }

  async apply(ops: readonly WriteOp[], options: ApplyOptions = {}): Promise<ApplyResult> {
    const notAfter = options.notAfter ?? Date.now() + this.timeoutMs;
    if (Date.now() > notAfter)
      throw new StoreDeadlineError('the write was not sent: its deadline had passed');
    const { keys, args } = encodeApply(ops, options, notAfter + this.clockOffsetMs);
    if (keys.length === 0) return 'applied';
    const remaining = Math.max(1, notAfter - Date.now());
    let reply: unknown;
    try {
      reply = await withDeadline(
        this.runScript(APPLY_SHA, APPLY_SCRIPT, { keys, arguments: args }, false),
        remaining,
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
    if (reply === 1) return 'applied';
    throw new StoreUnavailableError(`unexpected reply from the apply script: ${String(reply)}`);
  }

  async stage(key: string, entries: readonly (readonly [string, string])[], ttlMs: number): Promise<void> {
    if (entries.length === 0) return;
    const writes: Promise<unknown>[] = [];
    // Issued together (pipelined), in chunks so no single command is huge.
    for (let i = 0; i < entries.length; i += 1000) {
      const chunk: string[] = [];
      for (const [f, v] of entries.slice(i, i + 1000)) chunk.push(f, v);
      writes.push(this.client.hSet(key, chunk as never));
      if (i === 0) writes.push(this.client.pExpire(key, ttlMs));
    }
    await withDeadline(Promise.all(writes), this.timeoutMs, 'staging');
  }

  async readLinked(
    key: string,
    pointer: readonly string[],
    hash: string,
    also: readonly string[],
  ): Promise<Linked> {
    const options = { keys: [key, hash, ...also], arguments: [...pointer] };
    const reply = (await this.call('a linked read', () =>
      this.runScript(READ_LINKED_SHA, READ_LINKED_SCRIPT, options, true),
    )) as (string | number | null)[];
    const text = (v: unknown) => (typeof v === 'string' ? v : null);
    return {
      value: text(reply[0]),
      ttlMs: Number(reply[1]),
      linked: text(reply[2]),
      also: also.map((_, i) => text(reply[3 + i])),
    };
  }

  /** By its SHA; a server that does not know it yet (new, restarted, another node) gets the text. */
  private async runScript(
    sha: string,
    script: string,
    options: { keys: string[]; arguments: string[] },
    readOnly: boolean,
  ): Promise<unknown> {
    try {
      return await (readOnly ? this.client.evalShaRo(sha, options) : this.client.evalSha(sha, options));
    } catch (error) {
      if (!String((error as Error).message).startsWith('NOSCRIPT')) throw error;
      return readOnly ? this.client.evalRo(script, options) : this.client.eval(script, options);
    }
  }

  /** On a cluster every master must answer: each serves a share of the tenants. */
  async ping(): Promise<void> {
    if (!this.cluster) {
      await this.call('PING', () => (this.client as RedisClientType).ping());
      return;
    }
    await this.call('PING', async () => {
      await Promise.all(this.masters().map(async (m) => (await this.nodeClient(m)).ping()));
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    clearInterval(this.clockTimer);
    try {
      await withDeadline(this.client.close(), 2000, 'close');
    } catch {
      this.client.destroy();
    }
  }
}
