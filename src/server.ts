/** Serving a configured relay: open the store, listen, and stop gracefully. */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { buildApp } from './app.js';
import type { Config } from './config.js';
import type { Logger } from './ops/log.js';
import { Metrics } from './ops/metrics.js';
import { MemoryStore } from './store/memory.js';
import { RedisStore } from './store/redis/store.js';
import type { Store } from './store/store.js';

export function openStore(config: Config, logger: Logger, metrics?: Metrics): Store {
  const { url, clusterNodes, timeoutMs } = config.redis;
  if (!url && !clusterNodes) {
    logger.warn(
      'REDIS_URL is not set: using the embedded in-memory store (local runs only; data is lost on exit)',
    );
    return new MemoryStore();
  }
  let lastError = '';
  return RedisStore.connect(
    { url, clusterNodes },
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
  const { app, ops, workers } = buildApp({ config, store, logger, metrics });
  const server = await listen(app, config.port, config.host);
  let opsServer: Server | null = null;
  if (ops && config.ops) {
    try {
      opsServer = await listen(ops, config.ops.port, config.ops.host);
    } catch (error) {
      await Promise.all([drain(server), store.close()]);
      throw error;
    }
  }
  workers.start();
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
    // Stop accepting on both listeners, let in-flight requests finish, then close the store.
    await Promise.all([drain(server), ...(opsServer ? [drain(opsServer)] : []), workers.stop()]);
    await store.close();
  };
  return { server, opsServer, stop };
}

async function listen(app: Express, port: number, host: string): Promise<Server> {
  const server = app.listen(port, host);
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
