/** The seller API's error form (contract §5): `{"error":"<code>","message":"<sentence>"}`. */
import type { NextFunction, Request, Response } from 'express';
import { apiAnswer, RelayError } from '../errors.js';
import { StoreUnavailableError } from '../store/store.js';

/** A refusal of the seller API whose sentence is for the caller. */
export class ApiError extends RelayError {
  override readonly name = 'ApiError';
  constructor(status: number, code: string, message: string) {
    super(code, message, { status, expose: true });
  }
}

export function sendError(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ error: code, message });
}

/** Renders any error through `apiAnswer` (src/errors.ts); logs what is not a refusal. */
export function apiErrorHandler(onStoreError: () => void) {
  return (error: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const { status, body, headers } = apiAnswer(error, req.reqId);
    if (error instanceof StoreUnavailableError) {
      onStoreError();
      req.log.warn({ err: { name: error.name, message: error.message } }, 'store unavailable');
    } else if (status >= 500) req.log.error({ err: error }, 'api request failed');
    if (headers) res.set(headers);
    res.status(status).json(body);
  };
}
