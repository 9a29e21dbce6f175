// Where Redis is and how to reach it (src/config.ts redisSettings): one of REDIS_URL,
// REDIS_CLUSTER_NODES and REDIS_SENTINEL_NODES, credentials, TLS files; no message shows a password.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { loadConfig } from '../../src/config.js';
import { parseNode, redactPassword } from '../../src/store/redis/connect.js';
import { testEnv } from '../support/relay.js';

const dir = mkdtempSync(join(tmpdir(), 'relay-redis-config-'));
const file = (name: string, text: string) => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};
const CA = file('ca.pem', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
const KEY = file('key.pem', '-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const redis = (env: Record<string, string | undefined>) => loadConfig(testEnv(env)).redis;
const refusal = (env: Record<string, string | undefined>) => {
  try {
    loadConfig(testEnv(env));
  } catch (error) {
    return (error as Error).message;
  }
  return 'accepted';
};

describe('Redis connection settings', () => {
  it('parses cluster seeds and sentinels: host:port, redis:// and rediss:// with escaped credentials', () => {
    expect(parseNode('10.0.0.1:6379')).toEqual({ host: '10.0.0.1', port: 6379, tls: false });
    expect(parseNode('rediss://relay:p%40ss%3Aw@redis.internal:6380')).toEqual({
      host: 'redis.internal',
      port: 6380,
      tls: true,
      username: 'relay',
      password: 'p@ss:w',
    });
    expect(parseNode('redis://:secret@[::1]:7000')).toMatchObject({
      host: '::1',
      port: 7000,
      password: 'secret',
    });
    for (const bad of ['b', 'host:0', 'http://h:1', 'rediss://h', 'redis://h:1/2', 'h:99999'])
      expect(parseNode(bad)).toBeNull();
    expect(redactPassword('rediss://u:secret@h:1')).toBe('rediss://u:***@h:1');
  });

  it('takes one of REDIS_URL, REDIS_CLUSTER_NODES and REDIS_SENTINEL_NODES', () => {
    expect(redis({ REDIS_URL: 'rediss://:pw@r:6380', REDIS_TLS_CA_FILE: CA })).toMatchObject({
      url: 'rediss://:pw@r:6380',
      tls: { ca: expect.stringContaining('BEGIN CERTIFICATE') },
    });
    expect(redis({ REDIS_CLUSTER_NODES: 'rediss://u:pw@a:1, rediss://u:pw@b:2' }).clusterNodes).toEqual([
      'rediss://u:pw@a:1',
      'rediss://u:pw@b:2',
    ]);
    expect(
      redis({
        REDIS_SENTINEL_NODES: 's1:26379,s2:26379',
        REDIS_SENTINEL_MASTER: 'mymaster',
        REDIS_SENTINEL_PASSWORD: 'spw',
        REDIS_USERNAME: 'relay',
        REDIS_PASSWORD: 'pw',
      }),
    ).toMatchObject({
      sentinel: { nodes: ['s1:26379', 's2:26379'], masterName: 'mymaster', password: 'spw' },
      credentials: { username: 'relay', password: 'pw' },
    });
    expect(refusal({ REDIS_URL: 'redis://r:1', REDIS_CLUSTER_NODES: 'a:1' })).toBe(
      'REDIS_CLUSTER_NODES: set only one of REDIS_URL, REDIS_CLUSTER_NODES and REDIS_SENTINEL_NODES (REDIS_URL and REDIS_CLUSTER_NODES are set)',
    );
    expect(
      refusal({ NODE_ENV: 'production', PUBLIC_URL: 'https://isv.example.com', REDIS_URL: undefined }),
    ).toMatch(/REDIS_URL: is required in production, or REDIS_CLUSTER_NODES or REDIS_SENTINEL_NODES/);
  });

  it.each([
    [
      { REDIS_CLUSTER_NODES: 'a:1,rediss://b:2' },
      'REDIS_CLUSTER_NODES: mixes redis:// (or host:port) and rediss:// entries',
    ],
    [
      { REDIS_CLUSTER_NODES: 'redis://:one@a:1,redis://:two@b:2' },
      'REDIS_CLUSTER_NODES: entries carry different credentials (they apply to every node: give them once)',
    ],
    [
      { REDIS_CLUSTER_NODES: 'redis://:secret@a' },
      'REDIS_CLUSTER_NODES: entry 1 is not host:port or a redis:// or rediss:// URL with a port',
    ],
    [{ REDIS_SENTINEL_NODES: 's:26379' }, 'REDIS_SENTINEL_MASTER: is required with REDIS_SENTINEL_NODES'],
    [
      { REDIS_SENTINEL_NODES: 'redis://:secret@s:26379', REDIS_SENTINEL_MASTER: 'm' },
      "REDIS_SENTINEL_NODES: carries credentials: give the sentinels' password as REDIS_SENTINEL_PASSWORD",
    ],
    [{ REDIS_SENTINEL_MASTER: 'm' }, 'REDIS_SENTINEL_MASTER: is set, but REDIS_SENTINEL_NODES is not'],
    [{ REDIS_URL: 'redis://r:1', REDIS_USERNAME: 'u' }, 'REDIS_USERNAME: needs REDIS_PASSWORD'],
    [
      { REDIS_URL: 'redis://:secret@r:1', REDIS_PASSWORD: 'secret' },
      'REDIS_PASSWORD: is set, and REDIS_URL carries credentials too: give them once',
    ],
    [
      { REDIS_URL: 'redis://r:1', REDIS_TLS_CA_FILE: CA },
      'REDIS_TLS_CA_FILE: is set, but no Redis connection uses TLS',
    ],
    [
      { REDIS_URL: 'rediss://r:1', REDIS_TLS_CA_FILE: join(dir, 'missing.pem') },
      'REDIS_TLS_CA_FILE: cannot read',
    ],
    [{ REDIS_URL: 'rediss://r:1', REDIS_TLS_CA_FILE: KEY }, 'holds no PEM certificate'],
    [
      { REDIS_URL: 'rediss://r:1', REDIS_TLS_CERT_FILE: CA },
      'REDIS_TLS_KEY_FILE: is required with the other',
    ],
  ])('refuses %j', (env, message) => {
    const text = refusal(env);
    expect(text).toContain(message);
    expect(text).not.toContain('secret');
  });
});
