/**
 * A private Redis Sentinel set on loopback, in a directory of its own: a master and a replica
 * (both asking a password), and three sentinels (`redis-server <file> --sentinel`, a password of
 * their own) monitoring the master as `mymaster` with quorum 2, down-after-milliseconds 1000 and
 * failover-timeout 3000, so a killed master is replaced within a few seconds.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { freePort, RedisProcess } from './redis.js';

export const MASTER_NAME = 'mymaster';

export class RedisSentinelSet {
  private readonly sentinels = new Map<number, ChildProcess>();

  private constructor(
    readonly dir: string,
    /** data nodes, by their role at the start */
    readonly servers: RedisProcess[],
    readonly sentinelPorts: number[],
    readonly password: string,
    readonly sentinelPassword: string,
  ) {}

  /** `host:port` of every sentinel, as REDIS_SENTINEL_NODES takes them. */
  get sentinelNodes(): string[] {
    return this.sentinelPorts.map((p) => `127.0.0.1:${p}`);
  }

  static async start(password: string, sentinelPassword: string): Promise<RedisSentinelSet> {
    const dir = mkdtempSync(join(tmpdir(), 'relay-sentinel-'));
    const access = { password };
    const master = await RedisProcess.start(['--dir', dir, '--dbfilename', 'master.rdb'], access);
    const replica = await RedisProcess.start(
      ['--dir', dir, '--dbfilename', 'replica.rdb', '--replicaof', '127.0.0.1', String(master.port)],
      access,
    );
    const set = new RedisSentinelSet(
      dir,
      [master, replica],
      [await freePort(), await freePort(), await freePort()],
      password,
      sentinelPassword,
    );
    try {
      await set.waitReplicaSynced(replica);
      for (const port of set.sentinelPorts) set.startSentinel(port, master.port);
      await set.waitSentinelsAgree(master.port);
    } catch (error) {
      await set.stop();
      throw error;
    }
    return set;
  }

  private startSentinel(port: number, masterPort: number): void {
    const file = join(this.dir, `sentinel-${port}.conf`);
    writeFileSync(
      file,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${this.dir}`,
        `logfile ${join(this.dir, `sentinel-${port}.log`)}`,
        `requirepass "${this.sentinelPassword}"`,
        `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${masterPort} 2`,
        `sentinel auth-pass ${MASTER_NAME} "${this.password}"`,
        // the sentinels authenticate to each other with their own password
        `sentinel sentinel-pass "${this.sentinelPassword}"`,
        `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
        `sentinel failover-timeout ${MASTER_NAME} 3000`,
        `sentinel parallel-syncs ${MASTER_NAME} 1`,
        '',
      ].join('\n'),
    );
    this.sentinels.set(port, spawn('redis-server', [file, '--sentinel'], { stdio: 'ignore' }));
  }

  /** A connection of the test's own to a sentinel. */
  async sentinelClient(port = this.sentinelPorts[0]!) {
    const client = createClient({
      socket: { host: '127.0.0.1', port, reconnectStrategy: false, connectTimeout: 500 },
      password: this.sentinelPassword,
    });
    client.on('error', () => {});
    await client.connect();
    return client;
  }

  /** The master's port as the sentinel on `port` reports it. */
  async masterPort(port = this.sentinelPorts[0]!): Promise<number> {
    const client = await this.sentinelClient(port);
    try {
      const reply = (await client.sendCommand([
        'SENTINEL',
        'GET-MASTER-ADDR-BY-NAME',
        MASTER_NAME,
      ])) as string[];
      return Number(reply[1]);
    } finally {
      client.destroy();
    }
  }

  /** The data node on `port`. */
  server(port: number): RedisProcess {
    const server = this.servers.find((s) => s.port === port);
    if (!server) throw new Error(`no data node on port ${port}`);
    return server;
  }

  private async waitReplicaSynced(replica: RedisProcess): Promise<void> {
    await until('the replica to sync with the master', async () => {
      const client = await replica.client();
      try {
        return String(await client.sendCommand(['INFO', 'replication'])).includes('master_link_status:up');
      } finally {
        client.destroy();
      }
    });
  }

  /** Until every sentinel knows the master, its replica and the two other sentinels. */
  private async waitSentinelsAgree(masterPort: number): Promise<void> {
    await until(
      'the sentinels to know the master, its replica and each other',
      async () => {
        for (const port of this.sentinelPorts) {
          const client = await this.sentinelClient(port);
          try {
            const master = (await client.sendCommand([
              'SENTINEL',
              'GET-MASTER-ADDR-BY-NAME',
              MASTER_NAME,
            ])) as string[] | null;
            const replicas = (await client.sendCommand(['SENTINEL', 'REPLICAS', MASTER_NAME])) as unknown[];
            const sentinels = (await client.sendCommand(['SENTINEL', 'SENTINELS', MASTER_NAME])) as unknown[];
            if (Number(master?.[1]) !== masterPort || replicas.length !== 1 || sentinels.length !== 2)
              return false;
          } finally {
            client.destroy();
          }
        }
        return true;
      },
      30_000,
    );
  }

  /** Until every sentinel names a master other than `oldPort`; resolves with its port. */
  async waitFailover(oldPort: number, timeoutMs = 30_000): Promise<number> {
    let promoted = 0;
    await until(
      'a failover',
      async () => {
        const ports = await Promise.all(this.sentinelPorts.map((p) => this.masterPort(p)));
        promoted = ports[0]!;
        return ports.every((p) => p === promoted && p !== oldPort);
      },
      timeoutMs,
    );
    return promoted;
  }

  async stop(): Promise<void> {
    await Promise.all([
      ...[...this.sentinels.values()].map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await exited;
      }),
      ...this.servers.map((s) => s.stop()),
    ]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const started = Date.now();
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // a node between states: ask again
    }
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
