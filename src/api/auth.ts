/** Bearer authentication of the seller's app on `/api/v1/*` (contract §5). */
import { hash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { sendError } from './errors.js';

// One-shot hashing: a hash object per request cost more than the rest of the check.
const digest = (value: string) => hash('sha256', value, 'buffer');

export function requireApiKey(keys: readonly string[]) {
  // Comparing fixed-length digests keeps the comparison constant-time whatever the input length.
  const accepted = keys.map(digest);
  return (req: Request, res: Response, next: NextFunction): void => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '');
    if (!match) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="relay"');
      return sendError(res, 401, 'unauthorized', 'Send Authorization: Bearer <one of SELLER_API_KEYS>.');
    }
    const presented = digest(match[1]!);
    let ok = false;
    for (const key of accepted) ok = timingSafeEqual(key, presented) || ok;
    if (!ok) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="relay", error="invalid_token"');
      return sendError(res, 401, 'unauthorized', 'The API key is not one of SELLER_API_KEYS.');
    }
    next();
  };
}
