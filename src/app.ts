/**
 * Builds the relay's Express app from its dependencies. main.ts and the tests both call this,
 * so what the tests exercise is what runs.
 */
import express, { type Express } from 'express';
import helmet from 'helmet';
import { requireApiKey } from './api/auth.js';
import { apiErrorHandler } from './api/errors.js';
import { eventRoutes } from './api/eventRoutes.js';
import { mirrorRoutes } from './api/mirrorRoutes.js';
import { openApiRoutes } from './api/openapi.js';
import { ApiRoutes } from './api/apiRoutes.js';
import type { Config } from './config.js';
import { basicRouter } from './kit/basic.js';
import { OffThreadVerifier } from './kit/offThread.js';
import { kitRouter } from './kit/router.js';
import { RateLimits } from './limits/rateLimits.js';
import { EventLog } from './feed/eventLog.js';
import { Feed } from './feed/feed.js';
import { Outboxes } from './feed/outbox.js';
import { WebhookDelivery } from './feed/webhooks.js';
import { FeedWorkers } from './feed/workers.js';
import { Mirror } from './mirror/mirror.js';
import { installRequestLog, requestLogger, type Logger } from './ops/log.js';
import { Metrics } from './ops/metrics.js';
import { opsApp, opsRoutes, type Lifecycle } from './ops/routes.js';
import { sessionRoutes } from './api/sessionRoutes.js';
import { IDP_MAX_RESPONSE_BYTES } from './sso/idpFetch.js';
import { IdentityServers } from './sso/idp.js';
import { TokenRenewal } from './sso/renewal.js';
import { AssertionKeys } from './sso/assertionKeys.js';
import { Handoff } from './sso/handoff.js';
import { ssoRouter } from './sso/routes.js';
import { SessionCookie } from './sso/sessionCookie.js';
import { Sessions } from './sso/sessions.js';
import { Keys } from './store/keys.js';
import type { Store } from './store/store.js';

export interface AppDeps {
  config: Config;
  store: Store;
  logger: Logger;
  /** The clock, so tests can move time (token expiry, timestamp windows). */
  now?: () => number;
  metrics?: Metrics;
  /** Set by server.ts when the process stops: `/readyz` then answers 503. */
  lifecycle?: Lifecycle;
}

export interface Relay {
  app: Express;
  /** With OPS_PORT: `/healthz`, `/readyz` and `/metrics`, served on that port and not by `app`. */
  ops: Express | null;
  mirror: Mirror;
  /** The change feed (contract §5b): reads, long polls and trimming. */
  feed: Feed;
  /** The feed's background work (trimming, outboxes, webhooks): the server starts and stops it. */
  workers: FeedWorkers;
  sessions: Sessions;
  renewal: TokenRenewal;
  metrics: Metrics;
  keys: Keys;
  /**
   * Ends what the relay runs beside the store, which it was handed and does not close: the
   * worker that verifies large bodies (kit/offThread.ts). Whoever builds a relay calls it when done.
   */
  close: () => Promise<void>;
}

export function buildApp(deps: AppDeps): Relay {
  const { config, logger } = deps;
  const now = deps.now ?? Date.now;
  const metrics = deps.metrics ?? new Metrics();
  const keys = new Keys(config.redis.prefix);
  // Every write goes through the outboxes' wrapper: on a cluster it moves the events a write left
  // in its slot's outbox to the change feed right after (feed/outbox.ts).
  const outboxes = new Outboxes({
    store: deps.store,
    keys,
    onError: (error) =>
      logger.warn({ err: { message: (error as Error).message } }, 'moving events to the change feed failed'),
  });
  const store = outboxes.wrap(deps.store);
  // Sessions are named in events by their fingerprint (sessions, below, computes it).
  const events: EventLog = new EventLog({
    store,
    keys,
    now,
    sessionRef: (sid): string => sessions.fingerprint(sid),
  });
  const mirror = new Mirror(store, keys, config.instances.gating, { events });
  const feed = new Feed({ store, keys, now, retentionMs: config.events.retentionMs });
  const webhook = config.events.webhook;
  const workers = new FeedWorkers({
    store,
    feed,
    outboxes,
    logger,
    webhooks: webhook
      ? new WebhookDelivery({
          store,
          keys,
          feed,
          url: webhook.url,
          secret: webhook.secret,
          metrics,
          logger,
          now,
          retentionMs: config.events.retentionMs,
        })
      : null,
  });
  const sessions: Sessions = new Sessions({
    store,
    keys,
    dataKeys: config.dataKeys,
    cookie: new SessionCookie(config.session.cookieName, config.sessionKeys.sessionCookie),
    fingerprintKey: config.sessionKeys.sessionFingerprint,
    idleSeconds: config.session.idleSeconds,
    absoluteSeconds: config.session.absoluteSeconds,
    gating: config.instances.gating,
    now,
    events,
  });
  const idps = new IdentityServers({
    mirror,
    dataKeys: config.dataKeys,
    appId: config.appId,
    timeoutMs: config.idpTimeoutMs,
    allowInsecure: config.allowInsecureIdp,
    network: {
      refusePrivateAddresses: config.production,
      allowedHosts: config.idpAllowedHosts,
      maxResponseBytes: IDP_MAX_RESPONSE_BYTES,
    },
    now,
  });
  // A renewal's claim outlives the identity-server timeout, so it is never taken over mid-call.
  const handoff = new Handoff(store, keys);
  const assertionKeys = new AssertionKeys({
    store,
    keys,
    dataKeys: config.dataKeys,
    now,
    rotationDays: config.assertion.rotationDays,
  });
  // Per address on sign-in routes, hand-off and refused API keys; per tenant on identity servers.
  // Never on the marketplace's routes: KooGallery's addresses are not fixed.
  const limits = new RateLimits({
    store,
    keys,
    limits: config.rateLimits,
    metrics,
    logger,
  });
  const renewal = new TokenRenewal({
    store,
    sessions,
    idps,
    metrics,
    now,
    leaseMs: config.idpTimeoutMs + 5000,
    idpLimit: limits.idp,
  });

  const app = express();
  app.set('trust proxy', config.trustProxy);
  app.set('etag', false);
  // Every answer, the seller API's included (it comes before helmet, which would remove it).
  app.disable('x-powered-by');
  installRequestLog(app.request, logger);
  app.use(requestLogger(logger, metrics.observeHttp));

  // The seller app's API first: it is the hot path, JSON only, for servers (no browser headers).
  const api = new ApiRoutes({
    apiKey: requireApiKey(config.sellerApiKeys, limits.apiKeyRefused),
    onError: apiErrorHandler(() => metrics.storeErrors.inc()),
  });
  openApiRoutes(api);
  // The session operations first: GET /session is the call a seller app makes on every page.
  sessionRoutes(
    {
      sessions,
      appId: config.appId,
      renewal,
      handoff,
      assertionKeys,
      assertion: {
        issuer: config.publicBase,
        audience: config.appId,
        ttlSeconds: config.assertion.ttlSeconds,
      },
      ticketLimit: limits.ticket,
      now,
    },
    api,
  );
  mirrorRoutes(mirror, config.appId, api);
  eventRoutes(feed, api);
  app.use(api.exactRoutes);
  app.use(...api.mount());

  // Browser-facing from here on.
  app.use(
    helmet({
      // Pages are static HTML with one stylesheet; nothing inline, no scripts.
      contentSecurityPolicy: {
        directives: {
          'default-src': ["'none'"],
          'style-src': ["'self'"],
          'form-action': ["'self'"],
          'frame-ancestors': ["'none'"],
          'base-uri': ["'none'"],
        },
      },
      // As frame-ancestors says, for browsers that read only this header (helmet's default is SAMEORIGIN).
      frameguard: { action: 'deny' },
    }),
  );
  // With OPS_PORT the operator endpoints have their own app and port; here they are then 404.
  const ops = config.ops ? opsApp(store, metrics, logger, keys.probes(), deps.lifecycle) : null;
  if (!ops) app.use(opsRoutes(store, metrics, keys.probes(), deps.lifecycle));

  // The marketplace's signed calls: kit pushes and basic instance calls share one pipeline.
  const offThread = new OffThreadVerifier();
  const signedCalls = {
    store,
    keys,
    metrics,
    now,
    deadlineMs: config.kit.deadlineMs,
    clockWindowMs: config.kit.clockWindowMs,
    nonceTtlMs: config.kit.nonceTtlMs,
    offThread,
    waitReplicas: config.redis.waitReplicas
      ? { count: config.redis.waitReplicas, timeoutMs: config.redis.waitTimeoutMs }
      : undefined,
  };
  app.use(
    kitRouter({
      ...signedCalls,
      kitAccessKey: config.kitAccessKey,
      ...(config.v1AccessKey ? { v1AccessKey: config.v1AccessKey } : {}),
      basePath: config.produceBasePath,
      bodyLimitBytes: config.kit.bodyLimitBytes,
      mirror,
      privateKey: config.rsaPrivateKey,
      dataKeys: config.dataKeys,
      onApplied: (iface, tenantId) => {
        if (iface === 'tenantSync' || iface === 'applicationSync') idps.drop(tenantId);
      },
    }),
  );
  app.use(
    basicRouter({
      ...signedCalls,
      basicAccessKey: config.basicAccessKey,
      ...(config.v1AccessKey ? { v1AccessKey: config.v1AccessKey } : {}),
      basePath: config.produceBasePath,
      bodyLimitBytes: config.instances.bodyLimitBytes,
      mirror,
      appInfo: {
        frontEndUrl: config.instances.frontEndUrl,
        ...(config.instances.adminUrl ? { adminUrl: config.instances.adminUrl } : {}),
      },
    }),
  );

  app.use(ssoRouter({ config, store, mirror, sessions, idps, handoff, metrics, limits, now }));
  app.get('/.well-known/jwks.json', async (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.json(await assertionKeys.jwks());
  });

  app.use((_req, res) => {
    res.status(404).type('text/plain').send('Not found');
  });
  app.use(apiErrorHandler(() => metrics.storeErrors.inc()));

  return {
    app,
    ops,
    mirror,
    feed,
    workers,
    sessions,
    renewal,
    metrics,
    keys,
    close: () => offThread.close(),
  };
}
