/**
 * Real Redis servers for the tests: the shared one from globalSetup, a private one to stop and
 * start, or a private Redis Cluster.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { RedisStore } from '../../src/store/redis/store.js';
import type { TlsFiles } from './tls.js';

export function sharedRedisUrl(): string {
  const url = process.env.TEST_REDIS_URL;
  if (!url) throw new Error('TEST_REDIS_URL is not set; run the tests through `npm test` (jest globalSetup)');
  return url;
}

/** A fresh key prefix, so test files sharing one Redis never see each other's keys. */
export function uniquePrefix(): string {
  return `test:${randomBytes(6).toString('hex')}:`;
}

export async function connectRedisStore(url = sharedRedisUrl(), timeoutMs = 1500): Promise<RedisStore> {
  const store = RedisStore.connect({ url }, { timeoutMs });
  await store.ready();
  return store;
}

/** Deletes every key under `prefix` (tests only; the relay never scans). */
export async function dropPrefix(prefix: string, url = sharedRedisUrl()): Promise<void> {
  const client = createClient({ url });
  client.on('error', () => {});
  await client.connect();
  try {
    for await (const batch of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
      if (batch.length) await client.del(batch);
    }
  } finally {
    client.destroy();
  }
}

/** All keys under a prefix, for asserting that a refused push wrote nothing. */
export async function keysUnder(prefix: string, url = sharedRedisUrl()): Promise<string[]> {
  const client = createClient({ url });
  client.on('error', () => {});
  await client.connect();
  try {
    const keys: string[] = [];
    for await (const batch of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) keys.push(...batch);
    return keys.sort();
  } finally {
    client.destroy();
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * How a private server is reached: TLS only (no plain port; `--tls-replication` and
 * `--tls-cluster` on, clients must present a certificate of the CA), and a password
 * (`--requirepass`, and `--masterauth` for its replicas).
 */
export interface NodeAccess {
  tls?: TlsFiles;
  password?: string;
}

/** The redis-server options that listen on `port` as `access` says. */
export function serverArgs(port: number, access: NodeAccess = {}): string[] {
  const { tls, password } = access;
  return [
    ...(tls
      ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', tls.cert, '--tls-key-file', tls.key]
      : ['--port', String(port)]),
    ...(tls ? ['--tls-ca-cert-file', tls.ca, '--tls-replication', 'yes'] : []),
    ...(password ? ['--requirepass', password, '--masterauth', password] : []),
  ];
}

/** redis-cli's options to reach a node as `access` says. */
export function cliArgs(port: number, access: NodeAccess = {}): string[] {
  const { tls, password } = access;
  return [
    '-p',
    String(port),
    ...(tls ? ['--tls', '--cacert', tls.ca, '--cert', tls.cert, '--key', tls.key] : []),
    ...(password ? ['-a', password, '--no-auth-warning'] : []),
  ];
}

/** node-redis options to reach a node as `access` says (the test's own connections, not the store's). */
export function nodeOptions(port: number, access: NodeAccess = {}) {
  const { tls, password } = access;
  return {
    socket: tls
      ? {
          host: '127.0.0.1',
          port,
          tls: true as const,
          ca: readFileSync(tls.ca),
          cert: readFileSync(tls.cert),
          key: readFileSync(tls.key),
        }
      : { host: '127.0.0.1', port },
    ...(password ? { password } : {}),
  };
}

/**
 * A redis-server of the test's own, which it may pause, stop and start again on the same port.
 * `args` are appended to its command line (later options win), e.g. to turn persistence on.
 */
export class RedisProcess {
  private child?: ChildProcess;
  constructor(
    readonly port: number,
    readonly args: readonly string[] = [],
    readonly access: NodeAccess = {},
  ) {}

  static async start(args: readonly string[] = [], access: NodeAccess = {}): Promise<RedisProcess> {
    const p = new RedisProcess(await freePort(), args, access);
    await p.start();
    return p;
  }

  /** With TLS, `rediss://`; with a password, in the URL. */
  get url(): string {
    const { tls, password } = this.access;
    const auth = password ? `:${encodeURIComponent(password)}@` : '';
    return `${tls ? 'rediss' : 'redis'}://${auth}127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.child = spawn(
      'redis-server',
      [
        ...serverArgs(this.port, this.access),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        ...this.args,
      ],
      {
        stdio: 'ignore',
      },
    );
    await waitForPing(nodeOptions(this.port, this.access));
  }

  /** A connection of the test's own to this server. */
  async client() {
    const client = createClient(nodeOptions(this.port, this.access));
    client.on('error', () => {});
    await client.connect();
    return client;
  }

  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  async stop(): Promise<void> {
    const child = this.child;
    // a child killed by a signal has no exit code, only a signal code
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGCONT');
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }
}

/** How a RedisCluster is laid out and run. */
export interface ClusterOptions {
  /** masters, each serving a share of the slots (3, the fewest Redis accepts) */
  masters?: number;
  /** replicas of each master (0) */
  replicas?: number;
  /** `cluster-node-timeout` in ms: how long a node may not answer before it is failed over (Redis: 15,000) */
  nodeTimeoutMs?: number;
  /** more `redis-server` options for every node (later options win) */
  args?: readonly string[];
  /** the nodes' directory (configs, logs); a new temporary one by default */
  dir?: string;
  /** the nodes outlive this process (`npm run cluster`): started in their own process group, not waited for */
  detached?: boolean;
  /** TLS only (the cluster bus too) and a password */
  access?: NodeAccess;
}

/**
 * A real Redis Cluster on loopback, in a directory of its own: three masters and no replicas
 * unless told otherwise. `prepare()` picks the ports (so a store can be pointed at them before
 * anything runs), `start()` runs the nodes and creates the cluster, `stop()` kills the nodes and
 * removes the directory. Shared by the tests, the failover benchmark and `npm run cluster`.
 */
export class RedisCluster {
  private readonly children = new Map<number, ChildProcess>();

  private constructor(
    readonly ports: number[],
    readonly dir: string,
    readonly options: Readonly<ClusterOptions>,
  ) {}

  /** Throws one line naming what to install when redis-server or redis-cli is missing. */
  static requireTools(): void {
    for (const tool of ['redis-server', 'redis-cli'])
      if (spawnSync(tool, ['--version']).error)
        throw new Error(
          `The Redis Cluster test needs ${tool} on the PATH: install Debian's redis-server (apt-get install redis-server redis-tools).`,
        );
  }

  /** `prepare(3)` is `prepare({ masters: 3 })`. */
  static async prepare(options: ClusterOptions | number = {}): Promise<RedisCluster> {
    RedisCluster.requireTools();
    const o: ClusterOptions = typeof options === 'number' ? { masters: options } : options;
    const size = (o.masters ?? 3) * (1 + (o.replicas ?? 0));
    // A node also listens on port + 10000 (the cluster bus), so the port must be at most 55535.
    const ports: number[] = [];
    for (let tries = 0; ports.length < size; tries++) {
      if (tries === 1000) throw new Error('found no free port pair for a cluster node');
      const port = await freePort();
      if (port > 55_535 || ports.includes(port) || !(await isFree(port + 10_000))) continue;
      ports.push(port);
    }
    if (o.dir) mkdirSync(o.dir, { recursive: true });
    return new RedisCluster(ports, o.dir ?? mkdtempSync(join(tmpdir(), 'relay-cluster-')), o);
  }

  /** Process ids of the running nodes, by port (`npm run cluster` keeps them to stop the nodes later). */
  get pids(): Record<number, number> {
    const out: Record<number, number> = {};
    for (const [port, child] of this.children) if (child.pid !== undefined) out[port] = child.pid;
    return out;
  }

  /** `host:port` of every node, as REDIS_CLUSTER_NODES takes them. */
  get nodes(): string[] {
    return this.ports.map((p) => `127.0.0.1:${p}`);
  }

  async start(): Promise<void> {
    await this.startNodes();
    await this.create();
  }

  /** Runs the nodes, cluster mode on, not yet joined: no node serves a slot. */
  async startNodes(): Promise<void> {
    for (const port of this.ports) await this.startNode(port);
    await Promise.all(this.ports.map((port) => waitForPing(nodeOptions(port, this.options.access))));
  }

  /** redis-cli's options to reach the node on `port`. */
  private cli(port: number): string[] {
    return cliArgs(port, this.options.access);
  }

  /** Runs one node (again, after `kill`: it rejoins with its config file, as a replica if it was failed over). */
  async startNode(port: number, wait = false): Promise<void> {
    const detached = this.options.detached === true;
    const child = spawn(
      'redis-server',
      [
        ...serverArgs(port, this.options.access),
        ...(this.options.access?.tls ? ['--tls-cluster', 'yes'] : []),
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        join(this.dir, `nodes-${port}.conf`),
        '--dir',
        this.dir,
        '--save',
        '',
        '--appendonly',
        'no',
        '--bind',
        '127.0.0.1',
        '--logfile',
        join(this.dir, `node-${port}.log`),
        ...(this.options.nodeTimeoutMs === undefined
          ? []
          : ['--cluster-node-timeout', String(this.options.nodeTimeoutMs)]),
        ...(this.options.args ?? []),
      ],
      { stdio: 'ignore', detached },
    );
    if (detached) child.unref();
    this.children.set(port, child);
    if (wait) await waitForPing(nodeOptions(port, this.options.access));
  }

  /** SIGKILLs one node (SIGCONT first, should it be paused); `startNode` runs it again. */
  async kill(port: number): Promise<void> {
    const child = this.children.get(port);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await exited;
  }

  /** The ports of the nodes serving slots now (CLUSTER SLOTS, asked of a live node). */
  async masterPorts(): Promise<number[]> {
    const ranges = await this.slotRanges();
    return [...new Set(ranges.map((r) => r.master))].sort((a, b) => a - b);
  }

  /** The replicas of the node on `port`, as CLUSTER SLOTS lists them. */
  async replicasOf(port: number): Promise<number[]> {
    return (await this.slotRanges()).find((r) => r.master === port)?.replicas ?? [];
  }

  /**
   * Waits until every node still running reports cluster_state:ok and no slot is served by a
   * node in `dead` (after a failover: a replica has been promoted in its place). Resolves with
   * the ms it took.
   */
  async waitHealthy(dead: readonly number[] = [], timeoutMs = 30_000): Promise<number> {
    const started = Date.now();
    for (;;) {
      try {
        const live = this.ports.filter((p) => !dead.includes(p));
        const states = await Promise.all(
          live.map((port) => run('redis-cli', [...this.cli(port), 'cluster', 'info'])),
        );
        if (states.every((s) => s.output.includes('cluster_state:ok'))) {
          const masters = await this.masterPorts();
          if (!masters.some((p) => dead.includes(p))) return Date.now() - started;
        }
      } catch {
        // a node between states: ask again
      }
      if (Date.now() - started > timeoutMs)
        throw new Error(`the cluster was not healthy again within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** CLUSTER SLOTS: each range's master and replicas, by port. */
  private async slotRanges(): Promise<{ from: number; to: number; master: number; replicas: number[] }[]> {
    for (const port of this.ports) {
      const child = this.children.get(port);
      if (child && (child.exitCode !== null || child.signalCode !== null)) continue;
      let client;
      try {
        client = await this.nodeClient(port);
        const ranges = (await client.sendCommand(['CLUSTER', 'SLOTS'])) as [
          number,
          number,
          ...[string, number][],
        ][];
        return ranges.map(([from, to, ...nodes]) => ({
          from,
          to,
          master: Number(nodes[0]?.[1]),
          replicas: nodes.slice(1).map((n) => Number(n[1])),
        }));
      } catch {
        continue;
      } finally {
        client?.destroy();
      }
    }
    throw new Error('no cluster node answers CLUSTER SLOTS');
  }

  /** Joins the nodes into one cluster and waits until every node reports cluster_state:ok. */
  async create(): Promise<void> {
    const created = await run('redis-cli', [
      ...this.cli(this.ports[0]!).slice(2),
      '--cluster',
      'create',
      ...this.nodes,
      '--cluster-replicas',
      String(this.options.replicas ?? 0),
      '--cluster-yes',
    ]);
    if (created.code !== 0)
      throw new Error(`redis-cli --cluster create failed: ${created.output.split('\n').slice(-5).join(' ')}`);
    for (const port of this.ports) {
      for (let i = 0; ; i++) {
        const info = await run('redis-cli', [...this.cli(port), 'cluster', 'info']);
        if (info.output.includes('cluster_state:ok')) break;
        if (i === 200) throw new Error(`the cluster node on port ${port} never reported cluster_state:ok`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    // Replicas are told their master by CLUSTER REPLICATE; wait until each has synced once, so a
    // failover test does not kill a master whose replica holds nothing yet.
    if (this.options.replicas) {
      for (let i = 0; ; i++) {
        const ranges = await this.slotRanges();
        const replicas = ranges.flatMap((r) => r.replicas);
        const synced = await Promise.all(
          replicas.map(async (port) =>
            (await run('redis-cli', [...this.cli(port), 'info', 'replication'])).output.includes(
              'master_link_status:up',
            ),
          ),
        );
        if (replicas.length === this.ports.length - ranges.length && synced.every(Boolean)) break;
        if (i === 400) throw new Error('the replicas did not sync with their masters');
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /** A plain (non-cluster) connection to one node, for CLUSTER commands and per-node checks. */
  async nodeClient(port = this.ports[0]!) {
    const client = createClient(nodeOptions(port, this.options.access));
    client.on('error', () => {});
    await client.connect();
    return client;
  }

  /** The slot of a key, as the cluster computes it (CLUSTER KEYSLOT). */
  async keySlot(key: string): Promise<number> {
    const client = await this.nodeClient();
    try {
      return Number(await client.sendCommand(['CLUSTER', 'KEYSLOT', key]));
    } finally {
      client.destroy();
    }
  }

  /** The port of the master serving a slot (CLUSTER SLOTS). */
  async portOfSlot(slot: number): Promise<number> {
    const client = await this.nodeClient();
    try {
      const ranges = (await client.sendCommand(['CLUSTER', 'SLOTS'])) as [number, number, [string, number]][];
      const range = ranges.find(([from, to]) => from <= slot && slot <= to);
      if (!range) throw new Error(`no node serves slot ${slot}`);
      return Number(range[2][1]);
    } finally {
      client.destroy();
    }
  }

  /** The cluster node id of the node on `port` (CLUSTER MYID). */
  async nodeId(port: number): Promise<string> {
    const client = await this.nodeClient(port);
    try {
      return String(await client.sendCommand(['CLUSTER', 'MYID']));
    } finally {
      client.destroy();
    }
  }

  /** How many keys of `slot` the node on `port` holds (CLUSTER COUNTKEYSINSLOT). */
  async keysInSlot(port: number, slot: number): Promise<number> {
    const client = await this.nodeClient(port);
    try {
      return Number(await client.sendCommand(['CLUSTER', 'COUNTKEYSINSLOT', String(slot)]));
    } finally {
      client.destroy();
    }
  }

  /**
   * The errors a node has answered since it started or `CONFIG RESETSTAT`, by prefix
   * (`INFO errorstats`: MOVED, ASK, TRYAGAIN, NOSCRIPT…).
   */
  async errorStats(port: number): Promise<Record<string, number>> {
    const client = await this.nodeClient(port);
    try {
      const info = String(await client.sendCommand(['INFO', 'errorstats']));
      const out: Record<string, number> = {};
      for (const [, name, count] of info.matchAll(/^errorstat_([^:]+):count=(\d+)/gm))
        out[name!] = Number(count);
      return out;
    } finally {
      client.destroy();
    }
  }

  /** CONFIG RESETSTAT on every node (running or not): errorStats counts from now on. */
  async resetStats(): Promise<void> {
    for (const port of this.ports) {
      const client = await this.nodeClient(port).catch(() => undefined);
      if (!client) continue;
      try {
        await client.sendCommand(['CONFIG', 'RESETSTAT']);
      } finally {
        client.destroy();
      }
    }
  }

  /**
   * Moves exactly one slot from its master to the master on `to`, the way `redis-cli --cluster
   * reshard` moves each slot, without choosing the slots for us: CLUSTER SETSLOT IMPORTING on
   * the target, MIGRATING on the source, then MIGRATE of its keys `batch` at a time (keys written
   * meanwhile included) until the source holds none, then SETSLOT NODE on the target, the source
   * and every other master. `afterBatch` runs after each MIGRATE with the keys moved so far and
   * the keys left on the source: a test may pause there, with the slot split between two nodes
   * (clients then get ASK for keys already moved and TRYAGAIN for multi-key commands over keys
   * on both sides or, on the target, over keys not there).
   */
  async migrateSlot(
    slot: number,
    to: number,
    options: {
      batch?: number;
      /** keys of the slot to move first, in a batch of their own */
      first?: readonly string[];
      afterBatch?: (moved: number, left: number) => Promise<void>;
    } = {},
  ): Promise<{ from: number; keys: number; batches: number; ms: number }> {
    const started = Date.now();
    const from = await this.portOfSlot(slot);
    if (from === to) throw new Error(`slot ${slot} is already served by the node on port ${to}`);
    const [fromId, toId] = await Promise.all([this.nodeId(from), this.nodeId(to)]);
    const source = await this.nodeClient(from);
    const target = await this.nodeClient(to);
    let keys = 0;
    let batches = 0;
    try {
      await target.sendCommand(['CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', fromId]);
      await source.sendCommand(['CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', toId]);
      for (let first = options.first?.length ? [...options.first] : null; ; first = null) {
        const names =
          first ??
          ((await source.sendCommand([
            'CLUSTER',
            'GETKEYSINSLOT',
            String(slot),
            String(options.batch ?? 10),
          ])) as string[]);
        if (names.length === 0) break;
        const moved = String(
          await source.sendCommand(['MIGRATE', '127.0.0.1', String(to), '', '0', '5000', 'KEYS', ...names]),
        );
        if (moved !== 'OK' && moved !== 'NOKEY') throw new Error(`MIGRATE answered ${moved}`);
        keys += names.length;
        batches++;
        const left = Number(await source.sendCommand(['CLUSTER', 'COUNTKEYSINSLOT', String(slot)]));
        await options.afterBatch?.(keys, left);
      }
      // The target first (it then answers for the slot without ASKING), then the source (which
      // now answers MOVED), then the others, as redis-cli does.
      await target.sendCommand(['CLUSTER', 'SETSLOT', String(slot), 'NODE', toId]);
      await source.sendCommand(['CLUSTER', 'SETSLOT', String(slot), 'NODE', toId]);
      for (const port of await this.masterPorts()) {
        if (port === from || port === to) continue;
        const other = await this.nodeClient(port);
        try {
          await other.sendCommand(['CLUSTER', 'SETSLOT', String(slot), 'NODE', toId]);
        } finally {
          other.destroy();
        }
      }
    } finally {
      source.destroy();
      target.destroy();
    }
    return { from, keys, batches, ms: Date.now() - started };
  }

  /** Every key under a prefix on every node (each node scans only its own keys). */
  async keysUnder(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    for (const port of this.ports) {
      const client = await this.nodeClient(port);
      try {
        for await (const batch of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 }))
          keys.push(...batch);
      } finally {
        client.destroy();
      }
    }
    return keys.sort();
  }

  /** Deletes every key under a prefix, node by node. */
  async dropPrefix(prefix: string): Promise<void> {
    for (const port of this.ports) {
      const client = await this.nodeClient(port);
      try {
        for await (const batch of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 }))
          for (const key of batch) await client.del(key);
      } finally {
        client.destroy();
      }
    }
  }

  async stop(): Promise<void> {
    await Promise.all(
      [...this.children.values()].map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await exited;
      }),
    );
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function waitForPing(options: ReturnType<typeof nodeOptions>): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const client = createClient({
      ...options,
      socket: { ...options.socket, reconnectStrategy: false, connectTimeout: 500 },
    });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.ping();
      client.destroy();
      return;
    } catch {
      client.destroy();
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`redis-server on port ${options.socket.port} did not start`);
}

function run(command: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (output += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}
