/**
 * A TCP proxy that injects network faults between a client and its server: added latency,
 * dropped connections, a server that is down, or one that answers garbage. The fault script
 * (bench/faults.ts) puts one between the relay and Redis and one between the relay and the
 * sandbox's identity servers; the soak (bench/soak.ts) uses one, faultless, as the load
 * balancer in front of its two relays (round robin per connection).
 */
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';

export type ProxyMode =
  /** bytes pass untouched */
  | { kind: 'pass' }
  /** every chunk reaches the other side `ms` later (the server's answers `answerMs` if given), order kept */
  | { kind: 'delay'; ms: number; answerMs?: number }
  /** a server that is down: every connection is reset at once, live ones included */
  | { kind: 'refuse' }
  /** each request is answered with these bytes (made per connection), then the connection closes */
  | { kind: 'answer'; bytes: (n: number) => Buffer };

interface Pair {
  client: Socket;
  server?: Socket;
}

export class FaultProxy {
  private mode: ProxyMode = { kind: 'pass' };
  private readonly live = new Set<Pair>();
  private next = 0;
  /** connections accepted, and connections this proxy cut (drops and refusals) */
  readonly stats = { accepted: 0, cut: 0, answered: 0 };

  private constructor(
    private readonly server: Server,
    private readonly upstreams: readonly number[],
    readonly port: number,
  ) {}

  /** Listens on a free loopback port and forwards to `upstreams` (ports on 127.0.0.1), round robin. */
  static async start(upstreams: number | readonly number[]): Promise<FaultProxy> {
    const ports = typeof upstreams === 'number' ? [upstreams] : upstreams;
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    const proxy = new FaultProxy(server, ports, (server.address() as AddressInfo).port);
    server.on('connection', (socket) => proxy.accept(socket));
    return proxy;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get current(): ProxyMode {
    return this.mode;
  }

  /** Changes the fault; switching to `refuse` or `answer` also cuts the live connections. */
  set(mode: ProxyMode): void {
    this.mode = mode;
    if (mode.kind === 'refuse' || mode.kind === 'answer') this.drop();
  }

  /** Cuts every live connection (both sides reset); returns how many. */
  drop(): number {
    const n = this.live.size;
    for (const pair of [...this.live]) this.cut(pair);
    return n;
  }

  async close(): Promise<void> {
    this.drop();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private cut(pair: Pair): void {
    if (!this.live.delete(pair)) return;
    this.stats.cut++;
    pair.client.resetAndDestroy();
    pair.server?.resetAndDestroy();
  }

  private accept(client: Socket): void {
    this.stats.accepted++;
    const n = this.stats.accepted;
    client.on('error', () => undefined);
    const mode = this.mode;
    if (mode.kind === 'refuse') {
      this.stats.cut++;
      client.resetAndDestroy();
      return;
    }
    if (mode.kind === 'answer') {
      client.once('data', () => {
        this.stats.answered++;
        client.end(mode.bytes(n));
      });
      return;
    }
    const port = this.upstreams[this.next++ % this.upstreams.length]!;
    const server = connect(port, '127.0.0.1');
    server.on('error', () => undefined);
    const pair: Pair = { client, server };
    this.live.add(pair);
    const toServer = this.forward(client, server, 'ms');
    const toClient = this.forward(server, client, 'answerMs');
    // However a side closes (FIN or reset), the bytes it sent before are still on the wire: they
    // are delivered, late if delayed, and only then does the close reach the other side.
    const closed = (other: Socket, flow: Flow) => () => {
      flow.later(() => other.destroy());
      if (client.destroyed && server.destroyed) this.live.delete(pair);
    };
    client.on('close', closed(server, toServer));
    server.on('close', closed(client, toClient));
  }

  /**
   * Copies `from` to `to`, each chunk held back by the delay in force when it arrived, strictly
   * in order: one queue per direction, drained by one timer at a time (timers of different
   * lengths due at the same moment may fire in either order, and a late timer must not let a
   * later chunk pass it when the delay shrinks).
   */
  private forward(from: Socket, to: Socket, delayOf: 'ms' | 'answerMs'): Flow {
    const queue: { at: number; action: () => void }[] = [];
    let timer: NodeJS.Timeout | undefined;
    const drain = () => {
      timer = undefined;
      while (queue.length && queue[0]!.at <= Date.now()) queue.shift()!.action();
      if (queue.length) timer = setTimeout(drain, queue[0]!.at - Date.now());
    };
    const later = (action: () => void) => {
      const mode = this.mode;
      const delay = mode.kind === 'delay' ? (mode[delayOf] ?? mode.ms) : 0;
      queue.push({ at: Math.max(Date.now() + delay, queue.at(-1)?.at ?? 0), action });
      if (!timer) drain();
    };
    from.on('data', (chunk: Buffer) =>
      later(() => {
        if (!to.destroyed) to.write(chunk);
      }),
    );
    from.on('end', () =>
      later(() => {
        if (!to.destroyed) to.end();
      }),
    );
    return { later };
  }
}

/** One direction of a connection: actions queued behind the bytes already sent. */
interface Flow {
  later: (action: () => void) => void;
}

/** An HTTP answer as raw bytes (the `answer` mode), closing the connection. */
export function httpAnswer(status: string, contentType: string, body: string | Buffer): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const head =
    `HTTP/1.1 ${status}\r\nContent-Type: ${contentType}\r\nContent-Length: ${bytes.length}\r\n` +
    'Connection: close\r\n\r\n';
  return Buffer.concat([Buffer.from(head, 'latin1'), bytes]);
}
