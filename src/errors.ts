/**
 * The relay's one family of errors, and the one place they become answers.
 *
 * Every error the relay raises on purpose is a `RelayError`: it carries a stable `code`, the
 * HTTP status it has on the seller API, the KooGallery result code it has when it ends a
 * marketplace call, and whether its own sentence may be shown to the caller (`expose`); when it
 * may not, `publicMessage` is said instead and the details stay in the log. Anything else that
 * reaches these renderers is a bug: 500 / `000005`, with the request's id to quote.
 */
export interface RelayErrorOptions {
  status?: number;
  resultCode?: string;
  expose?: boolean;
  publicMessage?: string;
  /** For a refusal that will pass: the seller API's `Retry-After`, in seconds. */
  retryAfterSeconds?: number;
  cause?: unknown;
}

export class RelayError extends Error {
  override readonly name: string = 'RelayError';
  /** Stable machine code: the seller API's `error`, and `err.code` in the log. */
  readonly code: string;
  /** The HTTP status on the seller API. */
  readonly status: number;
  /** The KooGallery result code when the error ends a marketplace call (kit or basic). */
  readonly resultCode: string;
  /** Whether `message` may be shown to the caller; otherwise `publicMessage` is. */
  readonly expose: boolean;
  readonly publicMessage: string;
  readonly retryAfterSeconds: number | undefined;

  constructor(code: string, message: string, options: RelayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status ?? 500;
    this.resultCode = options.resultCode ?? '000005';
    this.expose = options.expose ?? false;
    this.publicMessage =
      options.publicMessage ?? (this.expose ? message : 'Something went wrong in the relay.');
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  /** What the caller may read. */
  get shownMessage(): string {
    return this.expose ? this.message : this.publicMessage;
  }
}

export interface ApiAnswer {
  status: number;
  body: { error: string; message: string };
  headers?: Record<string, string>;
}

/** The seller API's answer for any error (`{"error","message"}`, contract §5). */
export function apiAnswer(error: unknown, reqId: string): ApiAnswer {
  if (error instanceof RelayError)
    return {
      status: error.status,
      body: { error: error.code, message: error.shownMessage },
      ...(error.retryAfterSeconds === undefined
        ? {}
        : { headers: { 'Retry-After': String(error.retryAfterSeconds) } }),
    };
  // Express's body parsers mark their errors with a type and a 4xx status.
  const parser = error as { type?: string; status?: number };
  if (parser.type === 'entity.parse.failed')
    return { status: 400, body: { error: 'invalid_request', message: 'The body is not valid JSON.' } };
  if (parser.type === 'entity.too.large')
    return { status: 413, body: { error: 'invalid_request', message: 'The body is too large.' } };
  if (parser.status && parser.status >= 400 && parser.status < 500)
    return {
      status: parser.status,
      body: { error: 'invalid_request', message: 'The request could not be read.' },
    };
  return {
    status: 500,
    body: {
      error: 'internal_error',
      message: `Something went wrong in the relay; quote ${reqId} when reporting it.`,
    },
  };
}

/** A marketplace call's answer for any error: `resultCode` and `resultMsg` (kit-sync-and-signing.md §5). */
export function marketplaceAnswer(error: unknown): { resultCode: string; resultMsg: string } {
  if (error instanceof RelayError) return { resultCode: error.resultCode, resultMsg: error.shownMessage };
  return { resultCode: '000005', resultMsg: 'internal error; nothing was changed, please retry' };
}
