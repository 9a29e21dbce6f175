// Finds a Redis for the tests: TEST_REDIS_URL, REDIS_URL or 127.0.0.1:6379 if one answers;
// otherwise starts redis-server on a free port; otherwise stops with one line saying what to install.
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { createClient } from 'redis';

async function answers(url) {
  const client = createClient({ url, socket: { connectTimeout: 1000, reconnectStrategy: false } });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
    return true;
  } catch {
    return false;
  } finally {
    client.destroy();
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export default async function globalSetup() {
  for (const url of [process.env.TEST_REDIS_URL, process.env.REDIS_URL, 'redis://127.0.0.1:6379']) {
    if (url && (await answers(url))) {
      process.env.TEST_REDIS_URL = url;
      return;
    }
  }
  if (spawnSync('redis-server', ['--version']).error) {
    console.error(
      "The tests need Redis: install Debian's redis-server (apt-get install redis-server) or set REDIS_URL.",
    );
    process.exit(1);
  }
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  globalThis.__testRedis = child;
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (await answers(url)) {
      process.env.TEST_REDIS_URL = url;
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  console.error(`redis-server was started on port ${port} but does not answer.`);
  process.exit(1);
}
