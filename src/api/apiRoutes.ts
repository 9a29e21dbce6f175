/**
 * The seller API's routes (contract §5): each operation registered once, at its method and path
 * under `/api/v1`, behind the API key unless the contract calls it `public`, with the API's own
 * 404 and error rendering after them.
 *
 * A request reaches an operation's chain by one of two ways, which run the same handlers:
 *  - `exactRoutes`, first in the app: a request line that is exactly an operation's fixed path
 *    (`GET /api/v1/session`, no query, no trailing slash, the contract's spelling) is found in a
 *    Map. A seller app calls GET /session or POST /authorize on every page it serves, and
 *    Express's dispatch into the mounted API router and on to the route was 10.8 of the 109 µs
 *    of CPU sampled per GET /session (bench/profile-session.ts, 2026-12-01), the floor's single
 *    route 6.0 of 90; found in the Map, the router's part is 6.1 of 100 (the floor's 6.7 of 89).
 *  - `router`, mounted at `/api/v1`: every other form (HEAD, a query string, a trailing slash,
 *    another case, a path with parameters) goes through Express's routing.
 */
import express, {
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
  type Router,
} from 'express';
import { notes } from '../ops/log.js';
import type { OperationDef } from './contract.js';
import { sendError } from './errors.js';
import { guard, type Handler } from './guard.js';

const API_BASE = '/api/v1';

type ErrorHandler = (error: unknown, req: Request, res: Response, next: NextFunction) => void;

export interface ApiRoutesOptions {
  /** the API key check (auth.ts), before every operation but the public ones */
  apiKey: RequestHandler;
  /** renders what an operation throws (errors.ts `apiErrorHandler`) */
  onError: ErrorHandler;
}

/** `/tenants/{tenantId}` → `/tenants/:tenantId` */
const expressPath = (path: string) => path.replace(/\{(\w+)\}/g, ':$1');

/** What no operation answers: the API key is checked first, so a caller without one learns nothing. */
const unknownRoute: RequestHandler = (_req, res) => sendError(res, 404, 'not_found', 'No such API route.');

export class ApiRoutes {
  /** Mounted at API_BASE once every operation is registered (`mount`). */
  private readonly router: Router = express.Router();
  private readonly exact = new Map<string, { route: string; handlers: RequestHandler[] }>();

  /** What a chain that ends without answering meets next in the router: the API key, then 404. */
  private readonly unmatched: RequestHandler[];

  constructor(private readonly options: ApiRoutesOptions) {
    this.unmatched = [options.apiKey, unknownRoute];
  }

  /**
   * Registers `op`: the API key unless public, then `chain`'s middlewares (e.g. a body parser),
   * then the check of the request parts and the handler (guard.ts).
   */
  serve<O extends OperationDef>(op: O, ...chain: [...RequestHandler[], Handler<O>]): void {
    const handler = chain.pop() as Handler<O>;
    const handlers = [
      ...(op.security === 'public' ? [] : [this.options.apiKey]),
      ...(chain as RequestHandler[]),
      guard(op, handler),
    ];
    const path = expressPath(op.path);
    this.router[op.method](path, ...handlers);
    if (!path.includes(':'))
      this.exact.set(`${op.method.toUpperCase()} ${API_BASE}${path}`, {
        route: `${API_BASE}${path}`,
        handlers,
      });
  }

  /** The API under API_BASE, for `app.use`: the operations, then the API key check, 404, and errors. */
  mount(): [string, Router] {
    this.router.use(...this.unmatched);
    this.router.use(this.options.onError);
    return [API_BASE, this.router];
  }

  /**
   * For `app.use`, ahead of everything else but the request log: an operation found by its
   * exact request line runs here, with its route named for the log and metrics as Express names
   * it; anything else goes on.
   */
  readonly exactRoutes: RequestHandler = (req, res, next) => {
    const found = this.exact.get(`${req.method} ${req.url}`);
    if (!found) return next();
    notes(res).route = found.route;
    const ended = (error?: unknown): void =>
      error === undefined
        ? runChain(this.unmatched, req, res, ended)
        : this.options.onError(error, req, res, next);
    runChain(found.handlers, req, res, ended);
  };
}

/**
 * Runs `handlers` in order as Express runs a route's: each gets `next`; `next(error)` or a throw
 * ends the chain with that error, and so does a rejected promise (Express 5's rule).
 */
function runChain(
  handlers: readonly RequestHandler[],
  req: Request,
  res: Response,
  done: (error?: unknown) => void,
): void {
  let i = 0;
  const next = (error?: unknown): void => {
    // Express's 'route' and 'router' leave the route: there is nothing after it here but the 404.
    if (error === 'route' || error === 'router') return done();
    if (error !== undefined && error !== null) return done(error);
    const handle = handlers[i++];
    if (!handle) return done();
    try {
      const ret: unknown = handle(req, res, next);
      if (ret instanceof Promise)
        ret.then(undefined, (e: unknown) => done(e ?? new Error('Rejected promise')));
    } catch (e) {
      done(e);
    }
  };
  next();
}
