// Redis over TLS with a password: a private Redis Cluster that speaks only TLS (client
// certificates required, the cluster bus and replication on TLS too) and asks a password, seeded
// with rediss://:password@host:port, runs the store battery and a relay push; a single TLS server
// is reached through REDIS_URL rediss:// and REDIS_TLS_CA_FILE, the way main.ts configures it.
// Certificates come from openssl, made in a directory of the test's own.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/ops/log.js';
import { openStore } from '../../src/server.js';
import { RedisStore } from '../../src/store/redis/store.js';
import { newTenantId, relayEnv, tenantFields } from '../support/fixtures.js';
import { RedisCluster, RedisProcess, type NodeAccess } from '../support/redis.js';
import { startRelay } from '../support/relay.js';
import { makeTlsFiles, readTls, removeTlsFiles, requireOpenssl, type TlsFiles } from '../support/tls.js';
import { storeBattery } from './storeBattery.js';

RedisCluster.requireTools();
requireOpenssl();

// Characters a URL must escape, so the test shows they are decoded.
const PASSWORD = 'tls test/pass:w0rd@%';
let files: TlsFiles;
let access: NodeAccess;
let cluster: RedisCluster;

beforeAll(async () => {
  files = makeTlsFiles();
  access = { tls: files, password: PASSWORD };
  cluster = await RedisCluster.prepare({ access });
  await cluster.start();
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
  removeTlsFiles(files);
});

/** The seeds as REDIS_CLUSTER_NODES takes them: rediss://, the password escaped. */
const seeds = () => cluster.nodes.map((n) => `rediss://:${encodeURIComponent(PASSWORD)}@${n}`);

async function connectTlsClusterStore(): Promise<RedisStore> {
  const store = RedisStore.connect({ clusterNodes: seeds(), tls: readTls(files) });
  await store.ready(10_000);
  return store;
}

describe('a Redis Cluster on TLS with a password', () => {
  it('answers through every master, which it discovered from the seeds', async () => {
    const store = await connectTlsClusterStore();
    try {
      await store.ping();
      expect((await store.readiness([])).unreachable).toEqual([]);
      // the server really is TLS only, with a password: a plain connection gets nowhere
      const plain = RedisStore.connect({ clusterNodes: cluster.nodes }, { timeoutMs: 300 });
      await expect(plain.ping()).rejects.toThrow();
      await plain.close();
    } finally {
      await store.close();
    }
  });

  it('fails without the CA, and with a wrong password, never logging the password', async () => {
    const errors: string[] = [];
    const onError = (e: Error) => errors.push(`${e.message} ${String((e.cause as Error)?.message ?? '')}`);
    const noCa = RedisStore.connect({ clusterNodes: seeds() }, { timeoutMs: 300, onError });
    const wrong = RedisStore.connect(
      { clusterNodes: cluster.nodes.map((n) => `rediss://:not-the-password@${n}`), tls: readTls(files) },
      { timeoutMs: 300, onError },
    );
    try {
      for (
        let i = 0;
        i < 100 &&
        !(
          errors.some((e) => /certificate/i.test(e)) &&
          errors.some((e) => /WRONGPASS|invalid username-password/i.test(e))
        );
        i++
      )
        await new Promise((r) => setTimeout(r, 50));
      await expect(noCa.ping()).rejects.toThrow();
      await expect(wrong.ping()).rejects.toThrow();
      expect(errors.join('\n')).toMatch(/certificate/i);
      expect(errors.join('\n')).toMatch(/WRONGPASS|invalid username-password/i);
      expect(errors.join('\n')).not.toContain(PASSWORD);
      expect(errors.join('\n')).not.toContain(encodeURIComponent(PASSWORD));
    } finally {
      await noCa.close();
      await wrong.close();
    }
  });
});

describe('the store battery on a TLS cluster with a password', () => {
  storeBattery(connectTlsClusterStore, (prefix) => cluster.dropPrefix(prefix));
});

describe('a relay on the TLS cluster', () => {
  it('takes a signed kit push and serves it back', async () => {
    const store = await connectTlsClusterStore();
    const t = await startRelay({ store });
    try {
      const id = newTenantId();
      const r = await t.pusher.tenantSync(tenantFields(id));
      expect(r.resultCode).toBe('000000');
      expect((await t.api(`/api/v1/tenants/${id}`)).body).toMatchObject({ tenantId: id });
      expect(t.logs.join('\n')).not.toContain(PASSWORD);
    } finally {
      await t.close();
      await store.close();
      await cluster.dropPrefix(t.prefix);
    }
  });
});

describe('a single TLS server through REDIS_URL and REDIS_TLS_CA_FILE', () => {
  let server: RedisProcess;
  beforeAll(async () => {
    // no client certificate asked: the CA file alone is enough
    server = await RedisProcess.start(['--tls-auth-clients', 'no'], { tls: files, password: PASSWORD });
  });
  afterAll(async () => {
    await server?.stop();
  });

  const open = (env: Record<string, string | undefined>) => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    const store = openStore(loadConfig(relayEnv(env)), createLogger('debug', sink));
    return { store: store as RedisStore, lines };
  };

  it('connects with the password in the URL, and with REDIS_PASSWORD', async () => {
    for (const env of [
      { REDIS_URL: server.url, REDIS_TLS_CA_FILE: files.ca },
      {
        REDIS_URL: `rediss://127.0.0.1:${server.port}`,
        REDIS_PASSWORD: PASSWORD,
        REDIS_TLS_CA_FILE: files.ca,
      },
    ]) {
      const { store } = open(env);
      try {
        await store.ready(5000);
        const key = `test:tls:{t:x}:${newTenantId()}`;
        expect(await store.apply([{ op: 'set', key, value: 'v', ttlMs: 60_000 }])).toBe('applied');
        expect(await store.get(key)).toBe('v');
      } finally {
        await store.close();
      }
    }
  });

  it('logs the refusal, not the password, without the CA file or with a wrong password', async () => {
    for (const [env, reason] of [
      [{ REDIS_URL: server.url }, /certificate/i],
      [
        {
          REDIS_URL: `rediss://:wrong-${encodeURIComponent(PASSWORD)}@127.0.0.1:${server.port}`,
          REDIS_TLS_CA_FILE: files.ca,
        },
        /WRONGPASS|invalid username-password/i,
      ],
    ] as const) {
      const { store, lines } = open(env);
      try {
        for (let i = 0; i < 100 && !reason.test(lines.join('')); i++)
          await new Promise((r) => setTimeout(r, 50));
        await expect(store.ping()).rejects.toThrow();
        expect(lines.join('')).toMatch(reason);
        expect(lines.join('')).not.toContain(PASSWORD);
        expect(lines.join('')).not.toContain(encodeURIComponent(PASSWORD));
      } finally {
        await store.close();
      }
    }
  });
});
