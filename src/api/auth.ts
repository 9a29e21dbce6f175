/** Bearer authentication of the seller's app on `/api/v1/*` (contract §5). */
import { hash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { sendError } from './errors.js';

// One-shot hashing: a hash object per request cost more than the rest of the check.
const digest = (value: string) => hash('sha256', value, 'buffer');

/**
 * `refused`, when given, runs for a request whose key is missing or wrong, before its 401: the
 * rate limit of failed attempts (limits/rateLimits.ts), which may answer 429 instead. A request
 * with a correct key never reaches it.
 */
export function requireApiKey(keys: readonly string[], refused?: RequestHandler) {
  // Comparing fixed-length digests keeps the comparison constant-time whatever the input length.
  const accepted = keys.map(digest);
  // Keys already found among SELLER_API_KEYS: a seller app sends the same key on every call, and
  // hashing it was 5 of the µs a GET /api/v1/session took. Only keys that passed go in (so at
  // most one entry per configured key); a wrong key always takes the constant-time path.
  const passed = new Set<string>();
  const refuse = (req: Request, res: Response, next: NextFunction, send: () => void): void => {
    if (!refused) return send();
    void refused(req, res, (error?: unknown) => (error === undefined ? send() : next(error)));
  };
  return (req: Request, res: Response, next: NextFunction): void => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '');
    if (!match)
      return refuse(req, res, next, () => {
        res.setHeader('WWW-Authenticate', 'Bearer realm="relay"');
        sendError(res, 401, 'unauthorized', 'Send Authorization: Bearer <one of SELLER_API_KEYS>.');
      });
    const token = match[1]!;
    if (passed.has(token)) return next();
    const presented = digest(token);
    let ok = false;
    for (const key of accepted) ok = timingSafeEqual(key, presented) || ok;
    if (ok) passed.add(token);
    else
      return refuse(req, res, next, () => {
        res.setHeader('WWW-Authenticate', 'Bearer realm="relay", error="invalid_token"');
        sendError(res, 401, 'unauthorized', 'The API key is not one of SELLER_API_KEYS.');
      });
    next();
  };
}
