/** Serving a configured relay: open the store, listen, and stop gracefully. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { buildApp } from './app.js';
import type { Config } from './config.js';
import type { Logger } from './ops/log.js';
import { Metrics } from './ops/metrics.js';
import type { Lifecycle } from './ops/routes.js';
import { MemoryStore } from './store/memory.js';
import { RedisStore } from './store/redis/store.js';
import type { Store } from './store/store.js';

export function openStore(config: Config, logger: Logger, metrics?: Metrics): Store {
  const { url, clusterNodes, sentinel, credentials, tls, timeoutMs } = config.redis;
  if (!url && !clusterNodes && !sentinel) {
    logger.warn(
      'REDIS_URL is not set: using the embedded in-memory store (local runs only; data is lost on exit)',
    );
    return new MemoryStore();
  }
  let lastError = '';
  return RedisStore.connect(
    { url, clusterNodes, sentinel, credentials, tls },
    {
      timeoutMs,
      onError: (error) => {
        metrics?.storeErrors.inc();
        // A down Redis reports the same error on every reconnect attempt; log changes only.
        if (error.message !== lastError)
          logger.error({ err: { message: error.message } }, 'redis connection error');
        lastError = error.message;
      },
    },
  );
}

export async function start(
  config: Config,
  logger: Logger,
): Promise<{ server: Server; opsServer: Server | null; stop: () => Promise<void> }> {
  const metrics = new Metrics({ processMetrics: true });
  const store = openStore(config, logger, metrics);
  const lifecycle: Lifecycle = { stopping: false };
  const relay = buildApp({ config, store, logger, metrics, lifecycle });
  const { app, ops, workers } = relay;
  const server = await listen(app, config.port, config.host, lifecycle);
  let opsServer: Server | null = null;
  if (ops && config.ops) {
    try {
      opsServer = await listen(ops, config.ops.port, config.ops.host, lifecycle);
    } catch (error) {
      await Promise.all([drain(server), store.close(), relay.close()]);
      throw error;
    }
  }
  // The feed's workers run their first round at once, so not before the store's first connection:
  // a relay listens while it connects, and that round would fail and log a warning at every start.
  // A Redis still down after ready's deadline is theirs to report, round after round.
  void store
    .ready()
    .catch(() => undefined)
    .then(() => {
      if (!lifecycle.stopping) workers.start();
    });
  logger.info(
    {
      port: config.port,
      host: config.host,
      ...(opsServer ? { opsPort: (opsServer.address() as AddressInfo).port, opsHost: config.ops!.host } : {}),
      publicUrl: config.publicUrl.href,
      store: store.kind,
    },
    'relay listening',
  );

  const stop = async () => {
    // Not ready from now on (/readyz 503), and every answer closes its connection, so keep-alive
    // clients open new ones, which the load balancer sends elsewhere. For DRAIN_GRACE_MS the
    // listeners still accept, so a balancer that routes by /readyz takes this relay out first.
    lifecycle.stopping = true;
    // Long polls answer now (clients poll again, elsewhere) and the feed's background work ends.
    const background = workers.stop();
    if (config.drainGraceMs > 0) await new Promise((r) => setTimeout(r, config.drainGraceMs));
    // Stop accepting on both listeners, let in-flight requests finish, then close the store and
    // the verifying worker.
    await Promise.all([drain(server), ...(opsServer ? [drain(opsServer)] : []), background]);
    await Promise.all([store.close(), relay.close()]);
  };
  return { server, opsServer, stop };
}

async function listen(app: Express, port: number, host: string, lifecycle: Lifecycle): Promise<Server> {
  const server = createServer((req, res) => {
    if (lifecycle.stopping) res.setHeader('Connection', 'close');
    void app(req, res);
  });
  server.listen(port, host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  return server;
}

/** Stops accepting and resolves once every connection has finished its request and closed. */
function drain(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    // Keep-alive connections that finish their request during the drain become idle later;
    // close them as they do, instead of waiting for the keep-alive timeout.
    const sweep = setInterval(() => server.closeIdleConnections(), 50);
    server.close(() => {
      clearInterval(sweep);
      resolve();
    });
    server.closeIdleConnections();
  });
}
