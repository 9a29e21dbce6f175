/**
 * `npm run image:test`: builds the Docker image and checks what production relies on, against a
 * redis-server of its own (the shared Redis is never touched):
 *
 *  1. the base image exists (`scripts/image-base.sh`: present, pulled, or a local stand-in);
 *  2. `docker build --network host` succeeds; the image is at most IMAGE_MAX_MB (400) MB;
 *  3. the container, run with a production configuration (NODE_ENV=production, https PUBLIC_URL,
 *     strong keys, REDIS_URL, read-only root, no capabilities), answers `/readyz` 200 and its own
 *     HEALTHCHECK turns healthy;
 *  4. a signed tenantSync, made by the sandbox's independent signer, is answered 000000, and the
 *     tenant is then read back through the session API with a seller API key;
 *  5. PID 1 is node itself (exec form, no shell) with `npm start`'s arguments, as uid 1000, not root;
 *  6. `docker stop` (SIGTERM) ends it with exit code 0 well within the grace period.
 *
 * Prints one line per check and the figures; exits 1 on any failure, after removing its container
 * and its redis-server. Environment: IMAGE (tag built, default koogallery-relay:latest),
 * NODE_IMAGE (base, default node:20-bookworm-slim), IMAGE_MAX_MB.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';
import { Pusher } from '../src/sandbox/pusher.js';
import { startCommand } from '../test/support/startCommand.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const image = process.env.IMAGE ?? 'koogallery-relay:latest';
const baseImage = process.env.NODE_IMAGE ?? 'node:20-bookworm-slim';
const maxMb = Number(process.env.IMAGE_MAX_MB ?? 400);
/** `docker stop -t`: the relay gives up draining after 25 s itself. */
const graceSeconds = 30;
/** A drain with nothing in flight takes well under a second; more than this is a failure. */
const maxStopSeconds = 10;
const container = `relay-image-test-${process.pid}`;
const basePath = '/isv/produce';

const print = (line: string) => process.stdout.write(`image:test: ${line}\n`);
const failures: string[] = [];
function check(ok: boolean, what: string, detail = ''): boolean {
  print(`${ok ? 'PASS' : 'FAIL'} ${what}${detail ? ` (${detail})` : ''}`);
  if (!ok) failures.push(what);
  return ok;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}
/** Runs a command to its end; never throws on a non-zero exit. */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 127) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}
/** Runs a command with its output shown (the build, the base), resolving to its exit code. */
function runShown(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', () => resolve(127));
    child.once('exit', (code) => resolve(code ?? 1));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, seconds: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: nothing after ${seconds} s`);
    await sleep(200);
  }
}

let redis: ChildProcess | undefined;
let containerStarted = false;
async function cleanUp(): Promise<void> {
  if (containerStarted) await run('docker', ['rm', '-f', container]);
  containerStarted = false;
  if (redis && redis.exitCode === null) redis.kill('SIGTERM');
}
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    void cleanUp().finally(() => process.exit(130));
  });

async function startRedis(): Promise<string> {
  const port = await freePort();
  redis = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const spawned = await new Promise<boolean>((resolve) => {
    redis!.once('spawn', () => resolve(true));
    redis!.once('error', () => resolve(false));
  });
  if (!spawned) throw new Error('redis-server is not installed (apt-get install redis-server)');
  const url = `redis://127.0.0.1:${port}`;
  await until('redis-server', 10, async () => {
    const client = createClient({ url, socket: { reconnectStrategy: false } });
    client.on('error', () => {});
    try {
      await client.connect();
      return (await client.ping()) === 'PONG' ? true : undefined;
    } finally {
      client.destroy();
    }
  });
  return url;
}

async function keysUnder(url: string, prefix: string): Promise<number> {
  const client = createClient({ url });
  client.on('error', () => {});
  await client.connect();
  try {
    let n = 0;
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) n += keys.length;
    return n;
  } finally {
    client.destroy();
  }
}

const inspect = async (format: string, target = container) =>
  (await run('docker', ['inspect', '-f', format, target])).stdout.trim();

async function main(): Promise<number> {
  if ((await run('docker', ['--version'])).code !== 0) {
    print('docker is not installed (apt-get install docker.io): the image was not built or tested');
    return 1;
  }
  const info = await run('docker', ['info', '--format', '{{.ServerVersion}}']);
  if (info.code !== 0) {
    print(
      'the Docker daemon does not answer (start it: dockerd --bridge=none --iptables=false &): the image was not built or tested',
    );
    return 1;
  }
  print(`docker ${info.stdout.trim()}; image ${image}, base ${baseImage}`);

  // 1. The base image: present, pulled, or a stand-in made here.
  if ((await runShown('bash', [`${root}scripts/image-base.sh`, baseImage])) !== 0) {
    check(false, `base image ${baseImage}`);
    return 1;
  }

  // 2. Build.
  const buildStarted = Date.now();
  const build = await run('docker', [
    'build',
    '--force-rm',
    '--network',
    'host',
    '--build-arg',
    `NODE_IMAGE=${baseImage}`,
    '-t',
    image,
    root,
  ]);
  const buildSeconds = (Date.now() - buildStarted) / 1000;
  if (!check(build.code === 0, 'docker build', `${buildSeconds.toFixed(1)} s`)) {
    process.stdout.write(build.stdout.split('\n').slice(-30).join('\n') + build.stderr);
    return 1;
  }
  const sizeMb = Number(await inspect('{{.Size}}', image)) / 1e6;
  check(sizeMb <= maxMb, `image size ≤ ${maxMb} MB`, `${sizeMb.toFixed(0)} MB`);

  // 3. Run it with a production configuration on a private redis-server.
  const redisUrl = await startRedis();
  const port = await freePort();
  const prefix = `imagetest${process.pid}:`;
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 3072 });
  const key = () => randomBytes(32).toString('base64');
  const secrets = {
    NODE_ENV: 'production',
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_URL: 'https://isv.example.com',
    PRODUCE_BASE_PATH: basePath,
    TRUST_PROXY: '1',
    REDIS_URL: redisUrl,
    REDIS_PREFIX: prefix,
    KOO_APP_ID: `app-${randomBytes(4).toString('hex')}`,
    KIT_ACCESS_KEY: key(),
    BASIC_ACCESS_KEY: key(),
    SESSION_SECRET: key(),
    DATA_KEY: key(),
    SELLER_API_KEYS: key(),
    RSA_PRIVATE_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString().replace(/\n/g, '\\n'),
  };
  // `-e NAME` alone: the values go through docker's environment, not its command line (ps).
  const runArgs = [
    'run',
    '-d',
    '--name',
    container,
    '--network',
    'host',
    '--read-only',
    '--cap-drop',
    'ALL',
    '--security-opt',
    'no-new-privileges',
    '--health-interval',
    '1s',
    '--health-start-period',
    '1s',
    ...Object.keys(secrets).flatMap((name) => ['-e', name]),
    image,
  ];
  const started = await run('docker', runArgs, { ...process.env, ...secrets });
  containerStarted = started.code === 0;
  if (!check(containerStarted, 'container started', started.stderr.trim())) return 1;

  const base = `http://127.0.0.1:${port}`;
  const readyStarted = Date.now();
  const ready = await until('/readyz', 30, async () => {
    if ((await inspect('{{.State.Running}}')) !== 'true') throw new Error('exited');
    const res = await fetch(`${base}/readyz`);
    return res.status === 200 ? res.status : undefined;
  }).catch(async (error: Error) => {
    print(`container log:\n${(await run('docker', ['logs', container])).stdout}`);
    return error.message;
  });
  const readySeconds = (Date.now() - readyStarted) / 1000;
  if (!check(ready === 200, 'GET /readyz answers 200', `${readySeconds.toFixed(1)} s after docker run`))
    return 1;
  const health = await until('HEALTHCHECK', 20, async () => {
    const status = await inspect('{{.State.Health.Status}}');
    return status === 'starting' ? undefined : status;
  }).catch(() => 'starting');
  check(health === 'healthy', "the image's HEALTHCHECK reports healthy", health);

  // 4. A signed push from the sandbox's own signer, then read back through the API.
  const pusher = new Pusher({
    productionAddress: `${base}${basePath}`,
    kitAccessKey: secrets.KIT_ACCESS_KEY,
  });
  const tenantId = randomBytes(16).toString('hex');
  const push = await pusher.tenantSync({
    instanceId: `inst-${tenantId.slice(0, 8)}`,
    orderId: `CS${tenantId.slice(0, 10).toUpperCase()}`,
    tenantId,
    tenantCode: `code-${tenantId.slice(0, 6)}`,
    name: 'image test tenant',
    domainName: 'https://idp.example.com',
    flag: 1,
    testFlag: 0,
  });
  check(
    push.ok && push.resultCode === '000000',
    'signed tenantSync answered 000000',
    `resultCode ${push.resultCode}, HTTP ${push.status}, Body-Sign ${push.bodySignValid ? 'valid' : push.bodySignValid}${push.problem ? `, ${push.problem}` : ''}`,
  );
  const tenant = await fetch(`${base}/api/v1/tenants/${tenantId}`, {
    headers: { authorization: `Bearer ${secrets.SELLER_API_KEYS}` },
  });
  const body = (await tenant.json().catch(() => ({}))) as { tenantId?: string };
  check(
    tenant.status === 200 && body.tenantId === tenantId,
    'the tenant is read back through /api/v1 with the seller key',
    `HTTP ${tenant.status}`,
  );
  const keys = await keysUnder(redisUrl, prefix);
  check(keys > 0, `the mirror is in Redis under ${prefix}`, `${keys} keys`);

  // 5. Who runs: PID 1 is node (no shell in between) as uid 1000.
  const status = (await run('docker', ['exec', container, 'cat', '/proc/1/status'])).stdout;
  const uids = /^Uid:\s+(.*)$/m.exec(status)?.[1]?.trim().split(/\s+/) ?? [];
  const cmdline = (await run('docker', ['exec', container, 'cat', '/proc/1/cmdline'])).stdout.split('\0');
  check(
    uids.length === 4 && uids.every((u) => u === '1000'),
    'PID 1 runs as uid 1000 (node), not root',
    `Uid ${uids.join(' ')}`,
  );
  const [node, ...args] = cmdline.filter(Boolean);
  check(
    /(^|\/)node$/.test(node ?? '') && args.join(' ') === startCommand().slice(1).join(' '),
    `PID 1 is node itself (exec form) with npm start's arguments`,
    cmdline.filter(Boolean).join(' '),
  );

  // 6. docker stop: SIGTERM, drain, exit 0.
  const stopStarted = Date.now();
  const stop = await run('docker', ['stop', '-t', String(graceSeconds), container]);
  const stopSeconds = (Date.now() - stopStarted) / 1000;
  const exitCode = await inspect('{{.State.ExitCode}}');
  const logs = await run('docker', ['logs', container]);
  const drained = /"msg":"stopped"/.test(logs.stdout);
  check(
    stop.code === 0 && exitCode === '0' && stopSeconds < maxStopSeconds && drained,
    `docker stop (SIGTERM) ends it with exit code 0 in < ${maxStopSeconds} s`,
    `exit code ${exitCode}, ${stopSeconds.toFixed(2)} s, ${drained ? 'logged "stopped"' : 'no "stopped" line'}`,
  );

  print(
    `figures: image ${sizeMb.toFixed(0)} MB, build ${buildSeconds.toFixed(1)} s, ready ${readySeconds.toFixed(1)} s, stop ${stopSeconds.toFixed(2)} s`,
  );
  return failures.length ? 1 : 0;
}

let code = 1;
try {
  code = await main();
} catch (error) {
  check(false, (error as Error).message);
} finally {
  await cleanUp();
}
print(code === 0 ? 'all checks passed' : `FAILED: ${failures.join('; ') || 'see above'}`);
process.exit(code);
