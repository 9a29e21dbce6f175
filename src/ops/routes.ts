/** Operator endpoints (contract §7): liveness, readiness (the store can serve) and metrics. */
import express, { type Express, type Router } from 'express';
import type { Store } from '../store/store.js';
import { installRequestLog, requestLogger, type Logger } from './log.js';
import type { Metrics } from './metrics.js';

/**
 * What the process is doing, as the probes report it. server.ts sets `stopping` first thing on
 * SIGTERM: from then on `/readyz` answers 503, so a load balancer that asks it takes the relay
 * out while the relay still answers what reaches it.
 */
export interface Lifecycle {
  stopping: boolean;
}

/**
 * The operator endpoints as an app of their own, for OPS_PORT (contract §2): logged and counted
 * like the main app's requests, and nothing else is served on it.
 */
export function opsApp(
  store: Store,
  metrics: Metrics,
  logger: Logger,
  probeKeys: readonly string[],
  lifecycle?: Lifecycle,
): Express {
  const app = express();
  app.set('etag', false);
  app.disable('x-powered-by');
  installRequestLog(app.request, logger);
  app.use(requestLogger(logger, metrics.observeHttp));
  app.use(opsRoutes(store, metrics, probeKeys, lifecycle));
  app.use((_req, res) => {
    res.status(404).type('text/plain').send('Not found');
  });
  return app;
}

/**
 * `/readyz`: 200 `ready` while the store answers; on a Redis Cluster whose probe keys' nodes
 * answer but some other nodes do not, 200 `degraded` naming them (the relay still serves every
 * tenant whose slot lives elsewhere, so it stays in the load balancer); 503 when it cannot serve.
 * `probeKeys` are Keys.probes(): in the slots that are no tenant's, which the marketplace's calls need.
 * From SIGTERM on (`lifecycle.stopping`), 503 `stopping` without asking the store.
 */
export function opsRoutes(
  store: Store,
  metrics: Metrics,
  probeKeys: readonly string[],
  lifecycle?: Lifecycle,
): Router {
  const router = express.Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (req, res) => {
    if (lifecycle?.stopping)
      return void res.status(503).json({
        status: 'stopping',
        store: store.kind,
        message: 'The relay is stopping: it finishes the requests it has and takes no new ones.',
      });
    try {
      const { unreachable } = await store.readiness(probeKeys);
      if (unreachable.length === 0) return void res.json({ status: 'ready', store: store.kind });
      req.log.warn({ unreachable }, 'store degraded: some nodes do not answer');
      res.json({
        status: 'degraded',
        store: store.kind,
        unreachable,
        message: 'Some Redis nodes do not answer: the tenants whose slots they serve cannot be served.',
      });
    } catch (error) {
      metrics.storeErrors.inc();
      req.log.warn({ err: { message: (error as Error).message } }, 'store not answering');
      res
        .status(503)
        .json({ status: 'unavailable', store: store.kind, message: 'The store does not answer.' });
    }
  });
  router.get('/metrics', async (_req, res) => {
    res.setHeader('Content-Type', metrics.registry.contentType);
    res.end(await metrics.registry.metrics());
  });
  return router;
}
