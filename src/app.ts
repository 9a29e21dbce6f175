/**
 * Builds the relay's Express app from its dependencies. main.ts and the tests both call this,
 * so what the tests exercise is what runs.
 */
import express, { type Express } from 'express';
import helmet from 'helmet';
import { requireApiKey } from './api/auth.js';
import { apiErrorHandler, sendError } from './api/errors.js';
import { mirrorRoutes } from './api/mirrorRoutes.js';
import type { Config } from './config.js';
import { kitRouter } from './kit/router.js';
import { Mirror } from './mirror/mirror.js';
import type { Revocation } from './mirror/transaction.js';
import { requestLogger, type Logger } from './ops/log.js';
import { Metrics } from './ops/metrics.js';
import { opsRoutes } from './ops/routes.js';
import { Keys } from './store/keys.js';
import type { Store } from './store/store.js';

export interface AppDeps {
  config: Config;
  store: Store;
  logger: Logger;
  /** The clock, so tests can move time (token expiry, timestamp windows). */
  now?: () => number;
  metrics?: Metrics;
}

export interface Relay {
  app: Express;
  mirror: Mirror;
  metrics: Metrics;
  keys: Keys;
}

export function buildApp(deps: AppDeps): Relay {
  const { config, store, logger } = deps;
  const now = deps.now ?? Date.now;
  const metrics = deps.metrics ?? new Metrics();
  const keys = new Keys(config.redis.prefix);
  const mirror = new Mirror(store, keys);

  const app = express();
  app.set('trust proxy', trustProxy(config.trustProxy));
  app.set('etag', false);
  app.use(helmet());
  app.use(requestLogger(logger, metrics.observeHttp));

  app.use(opsRoutes(store, metrics));

  const onRevoke = async (_revocations: Revocation[], _log: Logger) => {
    // Sessions arrive with browser sign-in; until then there is nothing to end.
  };
  app.use(
    kitRouter({
      kitAccessKey: config.kitAccessKey,
      basePath: config.produceBasePath,
      bodyLimitBytes: config.kit.bodyLimitBytes,
      deadlineMs: config.kit.deadlineMs,
      clockWindowMs: config.kit.clockWindowMs,
      nonceTtlMs: config.kit.nonceTtlMs,
      mirror,
      store,
      keys,
      now,
      privateKey: config.rsaPrivateKey,
      dataKeys: config.dataKeys,
      metrics,
      onRevoke,
    }),
  );

  const api = express.Router();
  api.use(requireApiKey(config.sellerApiKeys));
  api.use(mirrorRoutes(mirror, config.appId));
  api.use((_req, res) => sendError(res, 404, 'not_found', 'No such API route.'));
  api.use(apiErrorHandler(() => metrics.storeErrors.inc()));
  app.use('/api/v1', api);

  app.use((_req, res) => {
    res.status(404).type('text/plain').send('Not found');
  });
  app.use(apiErrorHandler(() => metrics.storeErrors.inc()));

  return { app, mirror, metrics, keys };
}

function trustProxy(value: string | undefined): boolean | number | string {
  if (value === undefined || value === 'false') return false;
  if (value === 'true') return true;
  if (/^\d+$/.test(value)) return Number(value);
  return value;
}
