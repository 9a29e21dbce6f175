/**
 * A TCP load balancer for tests of several relays: each new client connection goes to the next
 * backend, round robin, and its bytes pass untouched both ways (no HTTP parsing, so nothing is
 * sticky and nothing is retried once a backend has the connection). With `skipRefusing`, a
 * backend that refuses the connection (its listener is closed: a relay draining after SIGTERM)
 * is skipped and the connection goes to the next one, as nginx's `proxy_next_upstream error`
 * does; without it the client's connection is reset.
 *
 * With `healthCheck`, it also asks each backend's `/readyz` (or another path) every
 * `intervalMs` on a connection of its own, and sends no new connection to a backend whose last
 * answer was not 200, as a balancer that routes by readiness does (Kubernetes, HAProxy, cloud
 * target groups); a backend that answers 200 again is taken back. When every backend is out, all
 * are tried.
 *
 * Every connection is logged with the backend that took it, so a test can tell which relay
 * answered which request (send `Connection: close`, or use a fresh connection, per request).
 */
import { request } from 'node:http';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface LoadBalancerOptions {
  /** listen here instead of a free port (PUBLIC_URL must be known before the relays start) */
  port?: number;
  /** try the next backend when one refuses the connection (default true) */
  skipRefusing?: boolean;
  /** ask each backend `GET path` every `intervalMs`; only those answering 200 get new connections */
  healthCheck?: { path: string; intervalMs: number };
}

export interface BalancedConnection {
  /** when it was accepted (ms since the epoch) */
  at: number;
  /** the backend's port, or null when none took the connection */
  backend: number | null;
  /** backends that refused it first */
  refusedBy: number[];
  /** bytes the backend sent back */
  answeredBytes: number;
  /** how the backend's side ended: a FIN, or a reset (or another error) */
  backendClosed: 'fin' | 'reset' | null;
}

/** A health check's verdict changing: `out` when a backend stops answering 200, `in` when it answers 200 again. */
export interface HealthChange {
  backend: number;
  change: 'out' | 'in';
  /** the answer that decided it: a status, or why there was none */
  answer: string;
  at: number;
}

export class LoadBalancer {
  private backends: number[];
  private next = 0;
  private readonly live = new Set<Socket>();
  /** backends the health check has taken out */
  private readonly out = new Set<number>();
  private checker?: NodeJS.Timeout;
  private checking = false;
  /** every client connection, in the order accepted */
  readonly connections: BalancedConnection[] = [];
  /** every change of a health check's verdict, in order */
  readonly health: HealthChange[] = [];

  private constructor(
    private readonly server: Server,
    backends: readonly number[],
    private readonly skipRefusing: boolean,
    readonly port: number,
  ) {
    this.backends = [...backends];
  }

  /** Listens on 127.0.0.1 and balances over `backends` (ports on 127.0.0.1; may be set later). */
  static async start(
    backends: readonly number[] = [],
    options: LoadBalancerOptions = {},
  ): Promise<LoadBalancer> {
    const server = createServer({ allowHalfOpen: true });
    server.listen(options.port ?? 0, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    const balancer = new LoadBalancer(
      server,
      backends,
      options.skipRefusing ?? true,
      (server.address() as AddressInfo).port,
    );
    server.on('connection', (client) => balancer.accept(client));
    if (options.healthCheck) balancer.startChecks(options.healthCheck);
    return balancer;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Replaces the backends; connections already made stay where they are. */
  setBackends(ports: readonly number[]): void {
    this.backends = [...ports];
  }

  /** How many connections each backend took, by port (refusals not counted). */
  counts(): Map<number, number> {
    const out = new Map<number, number>(this.backends.map((p) => [p, 0]));
    for (const c of this.connections)
      if (c.backend !== null) out.set(c.backend, (out.get(c.backend) ?? 0) + 1);
    return out;
  }

  /** Stops listening and cuts the connections still open. */
  async close(): Promise<void> {
    clearInterval(this.checker);
    for (const socket of [...this.live]) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private accept(client: Socket): void {
    const record: BalancedConnection = {
      at: Date.now(),
      backend: null,
      refusedBy: [],
      answeredBytes: 0,
      backendClosed: null,
    };
    this.connections.push(record);
    this.track(client);
    client.on('error', () => undefined);
    // Hold what the client sends until a backend is connected.
    client.pause();
    // This connection's turn, then the backends after it in order (others' turns move on meanwhile).
    const ready = this.backends.filter((port) => !this.out.has(port));
    const backends = ready.length ? ready : this.backends;
    const first = this.next++;
    const attempt = (k: number) => {
      if (k === backends.length || client.destroyed) return void client.resetAndDestroy();
      const port = backends[(first + k) % backends.length]!;
      const upstream = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
      let connected = false;
      upstream.once('connect', () => {
        connected = true;
        record.backend = port;
        this.track(upstream);
        upstream.on('data', (chunk: Buffer) => (record.answeredBytes += chunk.length));
        upstream.once('close', (hadError) => (record.backendClosed = hadError ? 'reset' : 'fin'));
        this.join(client, upstream);
      });
      upstream.on('error', (error: NodeJS.ErrnoException) => {
        if (connected) return;
        if (error.code === 'ECONNREFUSED' && this.skipRefusing) {
          record.refusedBy.push(port);
          attempt(k + 1);
        } else client.resetAndDestroy();
      });
    };
    attempt(0);
  }

  /** Bytes both ways; a FIN is passed on as a FIN, a reset (or error) as a reset. */
  private join(client: Socket, upstream: Socket): void {
    client.pipe(upstream);
    upstream.pipe(client);
    client.resume();
    // A FIN travels through the pipes (allowHalfOpen); a reset or an error is passed on as a reset.
    const passOn = (other: Socket) => (hadError: boolean) => {
      if (hadError) other.resetAndDestroy();
      else other.end();
    };
    client.on('close', passOn(upstream));
    upstream.on('close', passOn(client));
  }

  private startChecks({ path, intervalMs }: { path: string; intervalMs: number }): void {
    const ask = (port: number) =>
      new Promise<string>((resolve) => {
        const req = request(
          { host: '127.0.0.1', port, path, agent: false, timeout: intervalMs * 5 },
          (res) => {
            res.resume();
            res.on('end', () => resolve(String(res.statusCode)));
          },
        );
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
        req.end();
      });
    this.checker = setInterval(() => {
      if (this.checking) return;
      this.checking = true;
      void Promise.all(
        this.backends.map(async (backend) => {
          const answer = await ask(backend);
          const wasOut = this.out.has(backend);
          if (answer === '200' && wasOut) {
            this.out.delete(backend);
            this.health.push({ backend, change: 'in', answer, at: Date.now() });
          } else if (answer !== '200' && !wasOut) {
            this.out.add(backend);
            this.health.push({ backend, change: 'out', answer, at: Date.now() });
          }
        }),
      ).finally(() => (this.checking = false));
    }, intervalMs);
  }

  private track(socket: Socket): void {
    this.live.add(socket);
    socket.once('close', () => this.live.delete(socket));
  }
}
