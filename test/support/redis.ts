/** Real Redis servers for the tests: the shared one from globalSetup, or a private one to stop and start. */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { createClient } from 'redis';
import { RedisStore } from '../../src/store/redis.js';

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

/** A redis-server of the test's own, which it may pause, stop and start again on the same port. */
export class RedisProcess {
  private child?: ChildProcess;
  constructor(readonly port: number) {}

  static async start(): Promise<RedisProcess> {
    const p = new RedisProcess(await freePort());
    await p.start();
    return p;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    );
    for (let i = 0; i < 100; i++) {
      const client = createClient({
        url: this.url,
        socket: { reconnectStrategy: false, connectTimeout: 500 },
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
    throw new Error(`redis-server on port ${this.port} did not start`);
  }

  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    child.kill('SIGCONT');
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }
}
