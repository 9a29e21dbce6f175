/**
 * Guarding an operation of the contract (registered by apiRoutes.ts): its request parts (path
 * parameters, query, body) are validated by the contract's schemas before the handler runs,
 * which gets them parsed and typed. In the manner of logto's koaGuard, without its response
 * check: answers are checked by the tests, not on every call.
 */
import type { Request, RequestHandler, Response } from 'express';
import type { z } from 'zod';
import type { OperationDef } from './contract.js';
import { ApiError } from './errors.js';

type Checked = 'params' | 'query' | 'body';
type Part<O extends OperationDef, K extends Checked> = O['request'] extends {
  [P in K]: infer S extends z.ZodType;
}
  ? z.output<S>
  : undefined;

/** The request parts the contract declares, parsed; `undefined` for a part it does not declare. */
export interface Input<O extends OperationDef> {
  params: Part<O, 'params'>;
  query: Part<O, 'query'>;
  /** Never `undefined` when declared, even if optional: an absent body is parsed as `{}`. */
  body: Exclude<Part<O, 'body'>, undefined>;
}

export type Handler<O extends OperationDef> = (req: Request, res: Response, input: Input<O>) => unknown;

const nothing = { params: undefined, query: undefined, body: undefined };

export function guard<O extends OperationDef>(op: O, handler: Handler<O>): RequestHandler {
  const { params, query, body } = op.request ?? {};
  // Most session calls have nothing to check (GET /session is the hot path): no work then.
  if (!params && !query && !body) return (req, res) => handler(req, res, nothing as Input<O>);
  const invalid = op.request?.invalid;
  return (req, res) =>
    handler(req, res, {
      params: params && parsed(params, req.params, 'params', invalid),
      query: query && parsed(query, req.query, 'query', invalid),
      // An absent body (no JSON content type, or none at all) reads as `{}`.
      body: body && parsed(body, req.body ?? {}, 'body', invalid),
    } as Input<O>);
}

function parsed(schema: z.ZodType, value: unknown, part: Checked, invalid: string | undefined): unknown {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  if (invalid) throw new ApiError(400, 'invalid_request', invalid);
  const issue = result.error.issues[0]!;
  // A path parameter is a piece of the URL, not a field the caller named: say what, not where.
  const path = part === 'params' ? issue.path.slice(1) : issue.path;
  const where = path.length ? `${path.join('.')}: ` : '';
  throw new ApiError(400, 'invalid_request', `${where}${issue.message}`);
}
