/** Prometheus metrics with the names fixed by contract §7. One registry per app instance. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests = new Counter({
    name: 'relay_http_requests_total',
    help: 'HTTP requests answered, by route template and status',
    labelNames: ['route', 'status'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'relay_http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by route template',
    labelNames: ['route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly kitPushes = new Counter({
    name: 'relay_kit_pushes_total',
    help: 'KooGallery kit pushes answered, by interface and result code',
    labelNames: ['interface', 'resultCode'] as const,
    registers: [this.registry],
  });
  readonly logins = new Counter({
    name: 'relay_logins_total',
    help: 'Browser sign-ins through the callback, by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly tokenRefreshes = new Counter({
    name: 'relay_token_refreshes_total',
    help: 'Access-token renewals at the tenant identity server, by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly rateLimited = new Counter({
    name: 'relay_rate_limited_total',
    help: 'Requests refused with 429 by a rate limit, by limit (login, callback, ticket, api_key, idp)',
    labelNames: ['limit'] as const,
    registers: [this.registry],
  });
  readonly webhookDeliveries = new Counter({
    name: 'relay_webhook_deliveries_total',
    help: 'Change-feed webhook attempts, by outcome (delivered, failed: retried later, expired: trimmed before delivery)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly webhookOldestUndelivered = new Gauge({
    name: 'relay_webhook_oldest_undelivered_seconds',
    help: 'Age of the oldest change-feed event the webhook receiver has not acknowledged (0 when caught up, or on a replica not delivering)',
    registers: [this.registry],
  });
  readonly storeErrors = new Counter({
    name: 'relay_store_errors_total',
    help: 'Store calls that failed or timed out',
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  // Label lookups hash their label set on every call; the children are kept instead (the
  // routes and statuses are few: templates, not paths).
  private readonly requestCounters = new Map<string, { inc: () => void }>();
  private readonly durations = new Map<string, { observe: (v: number) => void }>();

  observeHttp = (route: string, status: number, seconds: number): void => {
    const key = `${status} ${route}`;
    let counter = this.requestCounters.get(key);
    if (!counter)
      this.requestCounters.set(key, (counter = this.httpRequests.labels({ route, status: String(status) })));
    counter.inc();
    let duration = this.durations.get(route);
    if (!duration) this.durations.set(route, (duration = this.httpDuration.labels({ route })));
    duration.observe(seconds);
  };
}
