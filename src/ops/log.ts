/**
 * Logging: pino JSON lines. Secrets never reach a log: request logs carry the path without its
 * query (the OAuth callback's query holds a code), known secret-bearing keys are redacted as a
 * second line of defence, and nothing logs bodies or headers wholesale.
 */
import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

export const REDACTED_PATHS = [
  'authorization',
  'cookie',
  'clientSecret',
  'client_secret',
  'accessToken',
  'access_token',
  'refreshToken',
  'refresh_token',
  'code',
  'password',
  '*.authorization',
  '*.cookie',
  '*.clientSecret',
  '*.client_secret',
  '*.accessToken',
  '*.access_token',
  '*.refreshToken',
  '*.refresh_token',
  '*.code',
  '*.password',
  'headers["x-sign"]',
];

export function createLogger(level = 'info', destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'koogallery-relay' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

/**
 * The relay's logger as `npm start` runs it (main.ts): JSON lines to stdout by asynchronous
 * writes, so a line is handed to the kernel off the request's path and lines written while one
 * write is in flight go out together. pino flushes what is left synchronously on every way out
 * (process.exit, a crash, the end of the event loop). The benchmarks' relay uses it too.
 */
export function stdoutLogger(level = 'info'): Logger {
  return createLogger(level, pino.destination({ dest: 1, sync: false }));
}

declare module 'express-serve-static-core' {
  interface Request {
    reqId: string;
    log: Logger;
  }
}

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{8,64}$/;

/** Fields a handler adds to its request's log line and metrics (`res.locals`). */
export interface RequestNotes {
  route?: string;
  fields?: Record<string, unknown>;
}

export function notes(res: Response): RequestNotes {
  return ((res.locals as { notes?: RequestNotes }).notes ??= {});
}

export function requestLogger(
  logger: Logger,
  observe: (route: string, status: number, seconds: number) => void,
): (req: Request, res: Response, next: NextFunction) => void {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    // Captured now: routers rewrite req.path, and the query (an OAuth code) is never logged.
    const path = req.path;
    const incoming = req.get('x-request-id');
    req.reqId = incoming && SAFE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader('X-Request-Id', req.reqId);
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const n = notes(res);
      const route = n.route ?? (req.route ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched');
      observe(route, res.statusCode, seconds);
      if (!logger.isLevelEnabled(res.statusCode >= 500 ? 'error' : 'info')) return;
      const line = {
        method: req.method,
        path,
        route,
        status: res.statusCode,
        ms: Math.round(seconds * 10_000) / 10,
        ...n.fields,
      };
      if (res.statusCode >= 500) logger.error({ reqId: req.reqId, ...line }, 'request');
      else logger.info({ reqId: req.reqId, ...line }, 'request');
    });
    next();
  };
}

/**
 * `req.log`, a child logger carrying the request id, made only when a handler logs something:
 * most requests never do, and a pino child per request costs more than the rest of a cheap one.
 */
export function installRequestLog(appRequest: object, logger: Logger): void {
  const made = new WeakMap<object, Logger>();
  Object.defineProperty(appRequest, 'log', {
    configurable: true,
    get(this: Request) {
      let child = made.get(this);
      if (!child) made.set(this, (child = logger.child({ reqId: this.reqId })));
      return child;
    },
  });
}
