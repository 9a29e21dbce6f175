/**
 * Receiving the relay's webhooks in a seller app: each event of the change feed POSTed as its
 * JSON, signed per the Standard Webhooks spec (`webhook-id` = the event id, `webhook-timestamp`,
 * `webhook-signature`) with the relay's WEBHOOK_SECRET (`whsec_…`).
 *
 *   app.post('/relay/webhook', relayWebhook({ secret: process.env.WEBHOOK_SECRET! }), async (req, res) => {
 *     await apply(req.relayEvent!); // at least once: skip an event id you have already applied
 *     res.sendStatus(204);          // any 2xx; anything else is retried by the relay
 *   });
 *
 * The signature covers the exact bytes sent, so it is checked on the raw body, never on JSON
 * parsed and serialized again: mount this route before any `express.json()` that would read it.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import type { RelayEvent } from './relayClient.js';

declare module 'express-serve-static-core' {
  interface Request {
    relayEvent?: RelayEvent;
  }
}

/** A webhook request: its headers (as Node or Express hold them) and its raw body. */
export interface RelayWebhookRequest {
  headers: Record<string, string | string[] | undefined>;
  /** The bytes as received (`express.raw()` gives a Buffer). */
  body: unknown;
}

/** Why a webhook was refused: the status to answer, a code and a sentence. */
export class RelayWebhookError extends Error {
  constructor(
    readonly status: 400 | 401,
    readonly code: 'missing_headers' | 'invalid_signature' | 'invalid_timestamp' | 'invalid_payload',
    message: string,
  ) {
    super(message);
    this.name = 'RelayWebhookError';
  }
}

const RAW_BODY_NEEDED =
  'verifying a relay webhook needs the raw body (a Buffer): use express.raw() on this route, or relayWebhook(), and no express.json() before it';

const webhooks = new Map<string, Webhook>();
function webhookOf(secret: string): Webhook {
  let webhook = webhooks.get(secret);
  if (!webhook) {
    if (!/^whsec_[A-Za-z0-9+/]+={0,2}$/.test(secret))
      throw new TypeError('the webhook secret must be WEBHOOK_SECRET as the relay has it: whsec_<Base64>');
    webhooks.set(secret, (webhook = new Webhook(secret)));
  }
  return webhook;
}

/**
 * The event a signed webhook carries, or a `RelayWebhookError` (400: headers or body malformed;
 * 401: the signature does not match any of `secret`, or the timestamp is more than 5 minutes off).
 * Give several secrets while rotating WEBHOOK_SECRET. Throws a TypeError when `body` is not raw.
 */
export function verifyRelayWebhook(req: RelayWebhookRequest, secret: string | readonly string[]): RelayEvent {
  const body = req.body;
  if (!Buffer.isBuffer(body) && typeof body !== 'string') throw new TypeError(RAW_BODY_NEEDED);
  const headers: Record<string, string> = {};
  for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
    const value = req.headers[name];
    if (typeof value !== 'string' || value === '')
      throw new RelayWebhookError(
        400,
        'missing_headers',
        'A relay webhook carries exactly one each of webhook-id, webhook-timestamp and webhook-signature.',
      );
    headers[name] = value;
  }
  if (!/^\d{1,12}$/.test(headers['webhook-timestamp']!))
    throw new RelayWebhookError(400, 'invalid_timestamp', 'webhook-timestamp must be Unix seconds.');
  const secrets = typeof secret === 'string' ? [secret] : secret;
  let verified = false;
  for (const s of secrets) {
    try {
      webhookOf(s).verify(body, headers, { jsonParse: false });
      verified = true;
      break;
    } catch (error) {
      if (!(error instanceof WebhookVerificationError)) throw error;
      if (/timestamp/i.test(error.message))
        throw new RelayWebhookError(
          401,
          'invalid_timestamp',
          'webhook-timestamp is more than 5 minutes from this server’s clock: a replay, or a clock out of sync.',
        );
      // another secret may match
    }
  }
  if (!verified)
    throw new RelayWebhookError(
      401,
      'invalid_signature',
      'The signature does not match: a different WEBHOOK_SECRET, or a body changed on its way.',
    );
  let event: unknown;
  try {
    event = JSON.parse(body.toString());
  } catch {
    event = null;
  }
  const e = event as Partial<Record<keyof RelayEvent, unknown>> | null;
  if (
    typeof e?.id !== 'string' ||
    typeof e.type !== 'string' ||
    typeof e.occurredAt !== 'string' ||
    typeof e.data !== 'object' ||
    e.data === null
  )
    throw new RelayWebhookError(400, 'invalid_payload', 'The body is not a relay event.');
  return event as RelayEvent;
}

export interface RelayWebhookOptions {
  /** WEBHOOK_SECRET as the relay has it (`whsec_…`); several while rotating it. */
  secret: string | readonly string[];
  /**
   * Largest body accepted, in bytes. Default 8 MiB: `departments.replaced` carries a tenant's
   * whole department tree (allOrgSync accepts up to KIT_BODY_LIMIT_BYTES, 4 MiB by default).
   */
  limit?: number;
}

/**
 * Express middleware: reads the raw body, verifies it, puts the event on `req.relayEvent` and
 * calls the next handler, which answers 2xx once the event is applied. Refuses with 400 or 401
 * and `{"error","message"}` (413 above `limit`). Also works after `express.raw()`.
 */
export function relayWebhook(options: RelayWebhookOptions): RequestHandler {
  const secrets = typeof options.secret === 'string' ? [options.secret] : options.secret;
  if (secrets.length === 0) throw new TypeError('relayWebhook needs a secret');
  secrets.forEach(webhookOf); // a malformed secret fails here, at start-up
  const limit = options.limit ?? 8 * 1024 * 1024;
  return async (req: Request, res: Response, next: NextFunction) => {
    let body: unknown = req.body;
    if (body === undefined && !req.readableEnded) {
      body = await readBody(req, limit);
      if (body === null) {
        res.status(413).json({
          error: 'payload_too_large',
          message: `A relay webhook body is at most ${limit} bytes here.`,
        });
        return;
      }
    }
    try {
      req.relayEvent = verifyRelayWebhook({ headers: req.headers, body }, secrets);
    } catch (error) {
      if (!(error instanceof RelayWebhookError)) throw error;
      res.status(error.status).json({ error: error.code, message: error.message });
      return;
    }
    next();
  };
}

/** The body's bytes, or null beyond `limit` (then the connection is closed after the answer). */
function readBody(req: Request, limit: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const tooLarge = () => {
      req.res?.setHeader('Connection', 'close');
      resolve(null);
    };
    if (Number(req.get('content-length') ?? 0) > limit) return tooLarge();
    req.on('data', (chunk: Buffer) => {
      const over = size > limit;
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
      else if (!over) {
        chunks.length = 0;
        tooLarge(); // the rest is read and dropped
      }
    });
    req.on('end', () => resolve(size <= limit ? Buffer.concat(chunks) : null));
    req.on('error', reject);
  });
}
