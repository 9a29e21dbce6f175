/**
 * A 200 JSON answer written straight to the response, for the seller API's hot paths
 * (GET /api/v1/session, POST /api/v1/authorize). Byte for byte what `res.json` sends in this
 * app: JSON.stringify (no replacer, spaces or escape set), `application/json; charset=utf-8`,
 * Content-Length, no ETag (the app disables it) and so never a 304, no body to HEAD. Express's
 * path to the same bytes (content-type parsing and formatting, the charset, settings lookups,
 * the freshness check) cost several µs per request.
 */
import type { Response } from 'express';

export function sendJson(res: Response, value: unknown): void {
  const body = JSON.stringify(value);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  if (res.req.method === 'HEAD') res.end();
  else res.end(body);
}
