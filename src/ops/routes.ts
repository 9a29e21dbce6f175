/** Operator endpoints (contract §7): liveness, readiness (the store answers) and metrics. */
import express, { type Router } from 'express';
import type { Store } from '../store/store.js';
import type { Metrics } from './metrics.js';

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
