/**
 * A TCP load balancer for tests of several relays: each new client connection goes to the next
 * backend, round robin, and its bytes pass untouched both ways (no HTTP parsing, so nothing is
 * sticky and nothing is retried once a backend has the connection). With `skipRefusing`, a
 * backend that refuses the connection (its listener is closed: a relay draining after SIGTERM)
 * is skipped and the connection goes to the next one, as nginx's `proxy_next_upstream error`
 * does; without it the client's connection is reset.
 *
 * Every connection is logged with the backend that took it, so a test can tell which relay
 * answered which request (send `Connection: close`, or use a fresh connection, per request).
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface LoadBalancerOptions {
  /** listen here instead of a free port (PUBLIC_URL must be known before the relays start) */
  port?: number;
  /** try the next backend when one refuses the connection (default true) */
  skipRefusing?: boolean;
}

export interface BalancedConnection {
  /** the backend's port, or null when none took the connection */
  backend: number | null;
  /** backends that refused it first */
  refusedBy: number[];
}

export class LoadBalancer {
  private backends: number[];
  private next = 0;
  private readonly live = new Set<Socket>();
  /** every client connection, in the order accepted */
  readonly connections: BalancedConnection[] = [];

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
    for (const socket of [...this.live]) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private accept(client: Socket): void {
    const record: BalancedConnection = { backend: null, refusedBy: [] };
    this.connections.push(record);
    this.track(client);
    client.on('error', () => undefined);
    // Hold what the client sends until a backend is connected.
    client.pause();
    const tries = this.backends.length;
    const attempt = (left: number) => {
      if (left === 0 || client.destroyed) return void client.resetAndDestroy();
      const port = this.backends[this.next++ % this.backends.length]!;
      const upstream = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
      let connected = false;
      upstream.once('connect', () => {
        connected = true;
        record.backend = port;
        this.track(upstream);
        this.join(client, upstream);
      });
      upstream.on('error', (error: NodeJS.ErrnoException) => {
        if (connected) return;
        if (error.code === 'ECONNREFUSED' && this.skipRefusing) {
          record.refusedBy.push(port);
          attempt(left - 1);
        } else client.resetAndDestroy();
      });
    };
    attempt(tries);
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

  private track(socket: Socket): void {
    this.live.add(socket);
    socket.once('close', () => this.live.delete(socket));
  }
}
