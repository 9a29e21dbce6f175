/** Operator endpoints (contract §7): liveness, readiness (the store answers) and metrics. */
import express, { type Express, type Router } from 'express';
import type { Store } from '../store/store.js';
import { installRequestLog, requestLogger, type Logger } from './log.js';
import type { Metrics } from './metrics.js';

/**
 * The operator endpoints as an app of their own, for OPS_PORT (contract §2): logged and counted
 * like the main app's requests, and nothing else is served on it.
 */
export function opsApp(store: Store, metrics: Metrics, logger: Logger): Express {
  const app = express();
  app.set('etag', false);
  app.disable('x-powered-by');
  installRequestLog(app.request, logger);
  app.use(requestLogger(logger, metrics.observeHttp));
  app.use(opsRoutes(store, metrics));
  app.use((_req, res) => {
    res.status(404).type('text/plain').send('Not found');
  });
  return app;
}

export function opsRoutes(store: Store, metrics: Metrics): Router {
  const router = express.Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (req, res) => {
    try {
      await store.ping();
      res.json({ status: 'ready', store: store.kind });
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
