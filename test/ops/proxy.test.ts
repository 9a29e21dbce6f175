// The reverse proxy of compose.yaml (deploy/nginx.conf), which the README's layout relies on:
// /sso/*, the production address and /.well-known/jwks.json reach the relays, round robin,
// everything else the app, and the relays' API only through the private listener.
//
// Always: the file's routes, body limit and forwarded headers, read from the file itself, and
// compose.yaml's agreement with it. With Debian's nginx installed (.ci/run installs nginx-light):
// `nginx -t` on the file and real traffic through it to two relays on one Redis and a stand-in
// app. For that run the file is changed only where the compose network cannot exist here: the
// upstream host names, the listen ports, the certificate, pid, log and temp paths, and one
// worker (round robin state is per worker); `local()` fails if any of those lines has moved.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createConnection, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { VARIABLES } from '../../src/variables.js';
import { tenantFields, newTenantId } from '../support/data.js';
import { API_KEY, startRelay, type TestRelay } from '../support/relay.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const conf = readFileSync(join(root, 'deploy/nginx.conf'), 'utf8');
const compose = readFileSync(join(root, 'compose.yaml'), 'utf8');
const PRODUCE = '/isv/produce';

interface Directive {
  name: string;
  args: string[];
  block?: Directive[];
}

/** nginx's configuration syntax: directives ending in `;` or a `{ … }` block; `#` comments. */
function parse(text: string): Directive[] {
  const tokens = [...text.matchAll(/#[^\n]*|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[{};]|[^\s{};"'#]+/g)]
    .map((m) => m[0])
    .filter((t) => !t.startsWith('#'))
    .map((t) => (/^["']/.test(t) ? t.slice(1, -1) : t));
  let i = 0;
  const block = (): Directive[] => {
    const out: Directive[] = [];
    while (i < tokens.length && tokens[i] !== '}') {
      const words: string[] = [];
      while (i < tokens.length && !['{', ';', '}'].includes(tokens[i]!)) words.push(tokens[i++]!);
      const [name, ...args] = words;
      if (tokens[i] === '{') {
        i++;
        const inner = block();
        if (tokens[i++] !== '}') throw new Error(`unclosed block ${name}`);
        out.push({ name: name!, args, block: inner });
      } else if (tokens[i] === ';') {
        i++;
        out.push({ name: name!, args });
      } else throw new Error(`directive ${name} has no ';'`);
    }
    return out;
  };
  const top = block();
  if (i !== tokens.length) throw new Error('unbalanced }');
  return top;
}

const all = (ds: Directive[] | undefined, name: string) => (ds ?? []).filter((d) => d.name === name);
const one = (ds: Directive[] | undefined, name: string) => {
  const found = all(ds, name);
  if (found.length !== 1) throw new Error(`expected one ${name}, found ${found.length}`);
  return found[0]!;
};
const bytes = (size: string) => {
  const m = /^(\d+)([kKmMgG]?)$/.exec(size);
  if (!m) throw new Error(`size ${size}`);
  return Number(m[1]) * ({ '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase()] ?? NaN);
};

const http = one(parse(conf), 'http').block!;
const servers = all(http, 'server');
const listening = (port: string) => {
  const found = servers.filter((s) => all(s.block, 'listen').some((l) => l.args[0] === port));
  expect(found).toHaveLength(1);
  return found[0]!.block!;
};
/** `location` arguments → where it sends the request (`proxy_pass` or `return`). */
const routes = (server: Directive[]) =>
  Object.fromEntries(
    all(server, 'location').map((l) => {
      const pass = all(l.block, 'proxy_pass')[0] ?? all(l.block, 'return')[0];
      return [l.args.join(' '), pass ? `${pass.name} ${pass.args.join(' ')}` : 'nothing'];
    }),
  );

describe('deploy/nginx.conf, read', () => {
  it('balances over the two relays round robin (no other method named)', () => {
    const upstream = all(http, 'upstream').find((u) => u.args[0] === 'relays')!;
    expect(all(upstream.block, 'server').map((s) => s.args[0])).toEqual(['relay1:3000', 'relay2:3000']);
    for (const method of ['ip_hash', 'hash', 'least_conn', 'random', 'sticky', 'least_time'])
      expect(all(upstream.block, method)).toEqual([]);
    const app = all(http, 'upstream').find((u) => u.args[0] === 'app')!;
    expect(all(app.block, 'server').map((s) => s.args[0])).toEqual(['app:8080']);
  });

  it('sends /sso/*, the production address and /.well-known/jwks.json to the relays, the rest to the app', () => {
    expect(routes(listening('443'))).toEqual({
      '/sso/': 'proxy_pass http://relays',
      '= /.well-known/jwks.json': 'proxy_pass http://relays',
      [`= ${PRODUCE}`]: 'proxy_pass http://relays',
      [`${PRODUCE}/`]: 'proxy_pass http://relays',
      '/': 'proxy_pass http://app',
    });
    expect(all(listening('443'), 'ssl_certificate')).toHaveLength(1);
  });

  it('lets through the largest allOrgSync the relay accepts (nginx defaults to 1 MiB)', () => {
    for (const l of all(listening('443'), 'location').filter((l) => l.args.join(' ').includes(PRODUCE)))
      expect(bytes(one(l.block, 'client_max_body_size').args[0]!)).toBeGreaterThanOrEqual(
        VARIABLES.KIT_BODY_LIMIT_BYTES.default,
      );
  });

  it('tells the relays the scheme and the client address, the latter replaced rather than appended to', () => {
    const headers = Object.fromEntries(all(http, 'proxy_set_header').map((h) => [h.args[0], h.args[1]]));
    expect(headers).toMatchObject({
      Host: '$host',
      'X-Forwarded-Proto': '$scheme',
      'X-Forwarded-For': '$remote_addr',
      Connection: '',
    });
  });

  it('redirects plain http to https, and serves the API only on the private listener', () => {
    expect(routes(listening('80'))).toEqual({});
    expect(one(listening('80'), 'return').args).toEqual(['308', 'https://$host$request_uri']);
    expect(routes(listening('8081'))).toEqual({ '/api/v1/': 'proxy_pass http://relays', '/': 'return 404' });
  });
});

describe('compose.yaml, read', () => {
  it('agrees with the proxy: same production address, one proxy hop, only 80 and 443 published', () => {
    expect(compose).toContain(`PRODUCE_BASE_PATH: ${PRODUCE}\n`);
    expect(compose).toContain("TRUST_PROXY: '1'\n");
    expect(compose).toContain('NODE_ENV: production\n');
    expect([...compose.matchAll(/^\s+- '(\d+):(\d+)'$/gm)].map((m) => m[0].trim())).toEqual([
      "- '443:443'",
      "- '80:80'",
    ]);
    expect(compose).toContain('./deploy/nginx.conf:/etc/nginx/nginx.conf:ro');
    expect(compose).toMatch(/^ {2}relay1: \*relay$/m);
    expect(compose).toMatch(/^ {2}relay2: \*relay$/m);
    expect(compose).toContain('RELAY_API_URL: http://proxy:8081');
  });

  it('runs Redis with the append-only file, and gives the relays time to drain', () => {
    expect(compose).toContain("command: ['redis-server', '--appendonly', 'yes'");
    expect(compose).toContain('stop_grace_period: 30s');
  });
});

const nginx = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));
if (!nginx)
  console.warn(
    'note: nginx not found, so deploy/nginx.conf is checked as text only, not by nginx -t nor with traffic (apt-get install nginx-light)',
  );

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

/** A fetch for the sandbox's pusher that trusts the test certificate (and connects to 127.0.0.1, where nginx listens). */
function fetchTrusting(ca: string): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const answer = await new Promise<{ status: number; headers: Headers; body: Uint8Array }>(
      (resolve, reject) => {
        const req = httpsRequest(
          {
            host: '127.0.0.1',
            port: url.port,
            path: `${url.pathname}${url.search}`,
            method: init?.method ?? 'GET',
            headers: { ...(init?.headers as Record<string, string>), host: url.host },
            ca,
            servername: url.hostname,
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () =>
              resolve({
                status: res.statusCode!,
                headers: new Headers(
                  Object.entries(res.headers).flatMap(([k, v]): [string, string][] =>
                    v === undefined
                      ? []
                      : Array.isArray(v)
                        ? v.map((x): [string, string] => [k, x])
                        : [[k, v]],
                  ),
                ),
                body: new Uint8Array(Buffer.concat(chunks)),
              }),
            );
          },
        );
        req.on('error', reject);
        req.end(init?.body as string | Uint8Array | undefined);
      },
    );
    return new Response(answer.body, { status: answer.status, headers: answer.headers });
  }) as typeof fetch;
}

interface Ports {
  relay1: number;
  relay2: number;
  app: number;
  https: number;
  http: number;
  private: number;
}

/** The file with only what the compose network provides replaced; each replaced line must be there. */
function local(text: string, ports: Ports, dir: string): string {
  const swaps: [string, string][] = [
    ['worker_processes auto;', 'worker_processes 1;'],
    ['pid /tmp/nginx.pid;', `pid ${dir}/nginx.pid;`],
    ['error_log stderr warn;', `error_log ${dir}/error.log warn;`],
    ['access_log /dev/stdout;', `access_log ${dir}/access.log;`],
    ['server relay1:3000 ', `server 127.0.0.1:${ports.relay1} `],
    ['server relay2:3000 ', `server 127.0.0.1:${ports.relay2} `],
    ['server app:8080;', `server 127.0.0.1:${ports.app};`],
    ['listen 443 ssl;', `listen 127.0.0.1:${ports.https} ssl;`],
    ['listen 80;', `listen 127.0.0.1:${ports.http};`],
    ['listen 8081;', `listen 127.0.0.1:${ports.private};`],
    ['/etc/nginx/tls/fullchain.pem', `${dir}/fullchain.pem`],
    ['/etc/nginx/tls/privkey.pem', `${dir}/privkey.pem`],
    [
      'http {\n',
      `http {\n    client_body_temp_path ${dir}/body;\n    proxy_temp_path ${dir}/proxy;\n    fastcgi_temp_path ${dir}/fastcgi;\n    uwsgi_temp_path ${dir}/uwsgi;\n    scgi_temp_path ${dir}/scgi;\n`,
    ],
  ];
  for (const [from, to] of swaps) {
    if (text.split(from).length !== 2) throw new Error(`deploy/nginx.conf: expected "${from.trim()}" once`);
    text = text.replace(from, to);
  }
  return text;
}

(nginx ? describe : describe.skip)('deploy/nginx.conf, served by nginx in front of two relays', () => {
  let dir: string;
  let ports: Ports;
  let cert: string;
  let proxy: ChildProcess;
  let relay1: TestRelay;
  let relay2: TestRelay;
  let app: Server;
  const appSaw: { reqId: string | undefined; headers: Record<string, unknown> }[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'relay-nginx-'));
    spawnSync('chmod', ['0755', dir]);
    const made = spawnSync(
      'openssl',
      [
        ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost'],
        ...[
          '-addext',
          'subjectAltName=DNS:localhost',
          '-keyout',
          `${dir}/privkey.pem`,
          '-out',
          `${dir}/fullchain.pem`,
        ],
      ],
      { encoding: 'utf8' },
    );
    if (made.status !== 0) throw new Error(`openssl: ${made.stderr}`);
    cert = readFileSync(`${dir}/fullchain.pem`, 'utf8');
    const [https, plain, priv] = [await freePort(), await freePort(), await freePort()];
    const env = { PUBLIC_URL: `https://localhost:${https}`, PRODUCE_BASE_PATH: PRODUCE, TRUST_PROXY: '1' };
    relay1 = await startRelay({
      env,
      pusher: { productionAddress: `https://localhost:${https}${PRODUCE}`, fetch: fetchTrusting(cert) },
    });
    relay2 = await startRelay({ env, prefix: relay1.prefix });
    app = createHttpServer((req, res) => {
      appSaw.push({ reqId: req.headers['x-request-id'] as string | undefined, headers: req.headers });
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain', 'x-stand-in': 'app' }).end('app');
    }).listen(0, '127.0.0.1');
    await new Promise((r) => app.once('listening', r));
    ports = {
      relay1: Number(new URL(relay1.url).port),
      relay2: Number(new URL(relay2.url).port),
      app: (app.address() as AddressInfo).port,
      https,
      http: plain,
      private: priv,
    };
    writeFileSync(`${dir}/nginx.conf`, local(conf, ports, dir));
    proxy = spawn(
      nginx!,
      ['-p', dir, '-c', `${dir}/nginx.conf`, '-e', `${dir}/error.log`, '-g', 'daemon off;'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    for (let i = 0; ; i++) {
      const up = await new Promise<boolean>((resolve) => {
        const socket = createConnection(https, '127.0.0.1');
        socket.once('connect', () => (socket.destroy(), resolve(true)));
        socket.once('error', () => resolve(false));
      });
      if (up) break;
      if (i > 100 || proxy.exitCode !== null)
        throw new Error(`nginx did not start: ${readFileSync(`${dir}/error.log`, 'utf8')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }, 60_000);

  afterAll(async () => {
    if (proxy && proxy.exitCode === null) {
      proxy.kill('SIGTERM');
      await new Promise((r) => proxy.once('exit', r));
    }
    await relay1?.close();
    await relay2?.close();
    await new Promise((r) => app?.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  interface Answer {
    status: number;
    headers: Record<string, string | string[] | undefined>;
    body: string;
  }
  /** One request through nginx: https on its public port (trusting the test certificate), or plain http. */
  function send(
    path: string,
    options: {
      method?: string;
      headers?: Record<string, string>;
      body?: string | Buffer;
      port?: number;
      tls?: boolean;
    } = {},
  ): Promise<Answer> {
    const tls = options.tls ?? true;
    const make = tls ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = make(
        {
          host: '127.0.0.1',
          port: options.port ?? ports.https,
          path,
          method: options.method ?? 'GET',
          headers: { host: `localhost:${options.port ?? ports.https}`, ...options.headers },
          ...(tls ? { ca: cert, servername: 'localhost' } : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode!,
              headers: res.headers,
              body: Buffer.concat(chunks).toString('utf8'),
            }),
          );
        },
      );
      req.on('error', reject);
      req.end(options.body);
    });
  }

  /** Who answered the request sent with this X-Request-Id: relay1, relay2, the app, or none of them (nginx). */
  async function servedBy(reqId: string): Promise<string> {
    for (let waited = 0; waited <= 1000; waited += 20) {
      const hits = [relay1, relay2].map((r) =>
        r.logs.some((l) => l.includes(`"reqId":"${reqId}"`) && l.includes('"msg":"request"')),
      );
      if (hits[0] && hits[1]) return 'both';
      if (hits[0]) return 'relay1';
      if (hits[1]) return 'relay2';
      if (appSaw.some((s) => s.reqId === reqId)) return 'app';
      await new Promise((r) => setTimeout(r, 20));
    }
    return 'none';
  }
  const id = () => `proxy-${randomBytes(8).toString('hex')}`;

  it('nginx -t accepts the file', () => {
    const checked = spawnSync(
      nginx!,
      ['-t', '-p', dir, '-c', `${dir}/nginx.conf`, '-e', `${dir}/error.log`],
      {
        encoding: 'utf8',
      },
    );
    expect(checked.stderr).toContain('syntax is ok');
    expect(checked.stderr).toContain('test is successful');
    expect(checked.status).toBe(0);
  });

  it('routes each path to the relays or to the app', async () => {
    const cases: [string, string, 'relay' | 'app'][] = [
      ['GET', '/sso/login?returnTo=%2F', 'relay'],
      ['GET', '/.well-known/jwks.json', 'relay'],
      ['POST', `${PRODUCE}?signature=AA&timestamp=1&nonce=BB`, 'relay'],
      ['POST', `${PRODUCE}/produceAPI/v2/tenantSync`, 'relay'],
      ['GET', '/', 'app'],
      ['GET', '/admin', 'app'],
      ['POST', '/isv/producer', 'app'],
      ['GET', '/api/v1/session', 'app'],
      ['GET', '/metrics', 'app'],
      ['GET', '/readyz', 'app'],
      ['GET', '/.well-known/openid-configuration', 'app'],
    ];
    const got: string[] = [];
    for (const [method, path] of cases) {
      const reqId = id();
      await send(path, {
        method,
        headers: { 'x-request-id': reqId, 'content-type': 'application/json' },
        body: method === 'POST' ? '{}' : undefined,
      });
      const by = await servedBy(reqId);
      got.push(`${method} ${path} → ${by.startsWith('relay') ? 'relay' : by}`);
    }
    expect(got).toEqual(cases.map(([method, path, want]) => `${method} ${path} → ${want}`));
  });

  it('alternates between the two relays', async () => {
    const by: string[] = [];
    for (let i = 0; i < 6; i++) {
      const reqId = id();
      const answer = await send('/.well-known/jwks.json', { headers: { 'x-request-id': reqId } });
      expect(answer.status).toBe(200);
      by.push(await servedBy(reqId));
    }
    expect(by.filter((b) => b === 'relay1')).toHaveLength(3);
    expect(by.filter((b) => b === 'relay2')).toHaveLength(3);
    for (let i = 1; i < by.length; i++) expect(by[i]).not.toBe(by[i - 1]);
  });

  it('carries a signed push to a relay and its 000000 back, over https', async () => {
    const tenantId = newTenantId();
    // The sandbox's own signer, sending to the production address on nginx's https port.
    const result = await relay1.pusher.tenantSync(tenantFields(tenantId));
    expect(result.problem).toBeUndefined();
    expect(result.resultCode).toBe('000000');
    // and the app's server-to-server call through the private listener finds it, on either relay
    const read = await send(`/api/v1/tenants/${tenantId}`, {
      port: ports.private,
      tls: false,
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    expect(read.status).toBe(200);
    expect(JSON.parse(read.body)).toMatchObject({ tenantId });
    expect((await send('/sso/login', { port: ports.private, tls: false })).status).toBe(404);
  });

  it('passes https and the client address on: sign-in is not refused as insecure, a forged X-Forwarded-For is replaced', async () => {
    const login = await send('/sso/login?returnTo=%2F', { headers: { 'x-forwarded-for': '203.0.113.9' } });
    expect(login.status).toBe(302);
    const reqId = id();
    await send('/', {
      headers: { 'x-request-id': reqId, 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'http' },
    });
    const seen = appSaw.find((s) => s.reqId === reqId)!.headers;
    expect(seen['x-forwarded-proto']).toBe('https');
    expect(seen['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen.host).toBe('localhost'); // $host: the name without the port
  });

  it('lets a 4 MiB allOrgSync body through to the relay (not nginx’s 413)', async () => {
    const reqId = id();
    const big = JSON.stringify({ orgInfoList: 'x'.repeat(VARIABLES.KIT_BODY_LIMIT_BYTES.default - 100) });
    const answer = await send(`${PRODUCE}/produceAPI/v2/allOrgSync`, {
      method: 'POST',
      headers: { 'x-request-id': reqId, 'content-type': 'application/json' },
      body: big,
    });
    expect(answer.status).not.toBe(413);
    expect(await servedBy(reqId)).toMatch(/^relay[12]$/);
  });

  it('redirects plain http to https', async () => {
    const answer = await send('/sso/login', { port: ports.http, tls: false, headers: { host: 'localhost' } });
    expect(answer.status).toBe(308);
    expect(answer.headers.location).toBe('https://localhost/sso/login');
  });
});
