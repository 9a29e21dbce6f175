/**
 * Logging: pino JSON lines. Secrets never reach a log: request logs carry the path without its
 * query (the OAuth callback's query holds a code), known secret-bearing keys are redacted as a
 * second line of defence, and nothing logs bodies or headers wholesale.
 */
import { randomUUID } from 'node:crypto';
import { subscribe as subscribeChannel } from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';
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

/** stdout's lines go out together: once this many bytes wait, and at least every LOG_FLUSH_MS. */
export const LOG_BATCH_BYTES = 16_384;
export const LOG_FLUSH_MS = 100;

/**
 * A destination that gathers pino's lines and writes them to `out` in one synchronous write per
 * batch. One write per line (a request line each: 5,000 a second under load) went through
 * libuv's thread pool every time, and SonicBoom's own buffering measures its whole buffer again
 * on every line (`Buffer.byteLength`). Written synchronously, a batch needs no completion
 * callback and the last one can be written on the way out, in order.
 */
export class BatchedLines implements DestinationStream {
  private lines: string[] = [];
  private bytes = 0;

  constructor(
    private readonly out: { write(text: string): unknown },
    private readonly batchBytes = LOG_BATCH_BYTES,
  ) {}

  write(line: string): void {
    this.lines.push(line);
    this.bytes += line.length;
    if (this.bytes >= this.batchBytes) this.flush();
  }

  flush(): void {
    if (this.lines.length === 0) return;
    const text = this.lines.join('');
    this.lines = [];
    this.bytes = 0;
    this.out.write(text);
  }
}

/**
 * The relay's logger as `npm start` runs it (main.ts): JSON lines to stdout in batches
 * (BatchedLines), so a line reaches stdout within LOG_FLUSH_MS. What waits is written on every
 * way out that runs `exit` handlers (process.exit, a crash); only a SIGKILL loses the last 100 ms.
 * The benchmarks' relay uses it too.
 */
export function stdoutLogger(level = 'info'): Logger {
  const lines = new BatchedLines(pino.destination({ dest: 1, sync: true }));
  setInterval(() => lines.flush(), LOG_FLUSH_MS).unref();
  process.once('exit', () => lines.flush());
  return createLogger(level, lines);
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

/**
 * Names that REDACTED_PATHS censor at the top level of a log line. A line whose values are all
 * primitives can hold a secret only there (the other paths reach inside objects), so the request
 * line goes through a child logger that checks just these names: pino runs every value of a line
 * through the wildcard paths' redactor otherwise, which cost 11 µs of each request's 13 µs of
 * logging. A line with an object among its values goes through the full logger, so every line
 * comes out exactly as the full redaction writes it.
 */
const TOP_LEVEL_REDACTED = REDACTED_PATHS.filter((p) => /^\w+$/.test(p));

/**
 * What the request line needs once the answer is sent, kept on the response. The line is written
 * from Node's `http.server.response.finish` channel, which Node publishes for every response as
 * it ends: a `finish` listener per request (the listener, its closure, and the event's listener
 * array copied on every emit) cost more than the line's own fields.
 */
interface PendingLine {
  started: number;
  path: string;
  finish: (req: Request, res: Response, pending: PendingLine) => void;
}
const PENDING = Symbol('relay.requestLine');
type WithPendingLine = Response & { [PENDING]?: PendingLine };

let subscribed = false;
function onResponseFinish(message: unknown): void {
  const { request, response } = message as { request: Request; response: WithPendingLine };
  const pending = response[PENDING];
  if (pending) pending.finish(request, response, pending);
}

export function requestLogger(
  logger: Logger,
  observe: (route: string, status: number, seconds: number) => void,
): (req: Request, res: Response, next: NextFunction) => void {
  if (!subscribed) {
    subscribeChannel('http.server.response.finish', onResponseFinish);
    subscribed = true;
  }
  // Its level is the logger's, checked below for every line (the logger's may change).
  const flat = logger.child(
    {},
    { level: 'trace', redact: { paths: TOP_LEVEL_REDACTED, censor: '[redacted]' } },
  );
  const finish = (req: Request, res: Response, { started, path }: PendingLine): void => {
    const seconds = (performance.now() - started) / 1000;
    const n = (res.locals as { notes?: RequestNotes }).notes;
    const status = res.statusCode;
    const route = n?.route ?? (req.route ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched');
    observe(route, status, seconds);
    const error = status >= 500;
    if (!logger.isLevelEnabled(error ? 'error' : 'info')) return;
    const fields = n?.fields;
    const line = {
      reqId: req.reqId,
      method: req.method,
      path,
      route,
      status,
      ms: Math.round(seconds * 10_000) / 10,
      ...fields,
    };
    const to = fields && !flatValues(fields) ? logger : flat;
    if (error) to.error(line, 'request');
    else to.info(line, 'request');
  };
  return (req, res, next) => {
    const started = performance.now();
    // Captured now: routers rewrite req.path, and the query (an OAuth code) is never logged.
    const path = req.path;
    const incoming = req.get('x-request-id');
    const reqId = incoming && SAFE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    req.reqId = reqId;
    res.setHeader('X-Request-Id', reqId);
    (res as WithPendingLine)[PENDING] = { started, path, finish };
    next();
  };
}

/** Whether no value of `fields` is an object (which the wildcard paths would look into). */
function flatValues(fields: Record<string, unknown>): boolean {
  for (const key in fields) {
    const value = fields[key];
    if (typeof value === 'object' && value !== null) return false;
  }
  return true;
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
