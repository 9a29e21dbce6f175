/** The seller API's error form (contract §5): `{"error":"<code>","message":"<sentence>"}`. */
import type { NextFunction, Request, Response } from 'express';
import { StoreUnavailableError } from '../store/store.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function sendError(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ error: code, message });
}

export function apiErrorHandler(onStoreError: () => void) {
  return (error: unknown, req: Request, res: Response, _next: NextFunction): void => {
    if (error instanceof ApiError) return sendError(res, error.status, error.code, error.message);
    if (error instanceof StoreUnavailableError) {
      onStoreError();
      req.log.warn({ err: { message: error.message } }, 'store unavailable');
      return sendError(
        res,
        503,
        'store_unavailable',
        'The relay cannot reach its store right now; retry shortly.',
      );
    }
    const bodyError = error as { type?: string; status?: number };
    if (bodyError.type === 'entity.parse.failed')
      return sendError(res, 400, 'invalid_request', 'The body is not valid JSON.');
    if (bodyError.type === 'entity.too.large')
      return sendError(res, 413, 'invalid_request', 'The body is too large.');
    if (bodyError.status && bodyError.status >= 400 && bodyError.status < 500)
      return sendError(res, bodyError.status, 'invalid_request', 'The request could not be read.');
    req.log.error({ err: error }, 'api request failed');
    sendError(
      res,
      500,
      'internal_error',
      `Something went wrong in the relay; quote ${req.reqId} when reporting it.`,
    );
  };
}
