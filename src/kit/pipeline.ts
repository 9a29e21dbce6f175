/**
 * One pipeline for every signed call from the marketplace, kit pushes and basic instance calls
 * alike. The steps, in order:
 *
 *   readBody → checkContentType → checkCredentials → checkSignedBody → claimFor → handle → writeClaim → answer
 *
 * Every answer is HTTP 200 with `{"resultCode","resultMsg",…}` written as exact bytes and signed
 * in `Body-Sign` with the key the call was verified with, because the marketplace treats
 * anything else as a failure. A call not answered 000000 has changed nothing, its nonce
 * included: refusals happen before any write, the nonce is claimed in the change's own write
 * (replay.ts), and a write arriving at the store after the deadline we answered within is
 * skipped there.
 */
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { notes } from '../ops/log.js';
import type { Metrics } from '../ops/metrics.js';
import type { Keys } from '../store/keys.js';
import { NotReplicatedError, StoreUnavailableError, type Store } from '../store/store.js';
import { marketplaceAnswer } from '../errors.js';
import { KitRefusal, ResultCode } from './resultCodes.js';
import { claimFor, writeClaim, type CallClaim } from './replay.js';
import { bodySignHeader } from './signature.js';
import { OFF_THREAD_BYTES, type OffThreadVerifier } from './offThread.js';
import {
  checkCall,
  checkCallCredentials,
  readVerifiedCall,
  type AnyScheme,
  type Checked,
  type SignedCall,
} from './verify.js';

export interface PipelineDeps {
  store: Store;
  keys: Keys;
  metrics: Metrics;
  now: () => number;
  /** How long a call may take before it is answered 000005 (the marketplace waits 5 s). */
  deadlineMs: number;
  clockWindowMs: number;
  nonceTtlMs: number;
  /** checks bodies larger than OFF_THREAD_BYTES on a worker thread */
  offThread: OffThreadVerifier;
  /** REDIS_WAIT_REPLICAS and REDIS_WAIT_TIMEOUT_MS, when the count is above 0 */
  waitReplicas?: { count: number; timeoutMs: number } | undefined;
}

/** A call whose signature holds and whose nonce is free, or an identical replay (replay.ts). */
export interface VerifiedCall {
  text: string;
  body: Record<string, unknown>;
  /** epoch ms the marketplace signed the call at: the order of its calls */
  signedAt: number;
  /** local epoch ms after which nothing may be written */
  notAfter: number;
  /** the nonce claim, to be written with the call's change (Mirror.claiming) */
  claim: CallClaim;
  /** adds fields to the request's log line */
  note: (fields: Record<string, unknown>) => void;
  /** names the interface for metrics and logs once the body tells it (basic: `activity`) */
  name: (iface: string) => void;
}

/** What a handler answers besides success: extra members after resultCode and resultMsg. */
export type Extras = Record<string, unknown>;

export interface SignedRoute {
  scheme: AnyScheme;
  /** the route for logs and metrics, by interface (a handful of names, not paths) */
  route: (iface: string) => string;
  /** the interface as logs and metrics name it (V1: `v1.tenantSync`); the interface itself by default */
  label?: (iface: string) => string;
  /** the largest body the interface accepts; `null`: the path names none we serve */
  bodyLimitBytes: (iface: string | null) => number;
  credentials: (req: Request) => SignedCall;
  /** the interface named by the path, or null when the path names none we serve */
  interfaceOf: (req: Request) => string | null;
  unknownInterface: string;
  handle: (call: VerifiedCall, iface: string) => Promise<Extras | void>;
}

/** The handlers of one signed route: body reader, the pipeline, and the reader's error answers. */
export function signedRoute(deps: PipelineDeps, route: SignedRoute): RequestHandler[] {
  const { read, run, readFailed } = signedRouteParts(deps, route);
  return [read, run, readFailed as unknown as RequestHandler];
}

export interface SignedRouteParts {
  read: RequestHandler;
  run: RequestHandler;
  readFailed: (error: unknown, req: Request, res: Response, next: NextFunction) => void;
}

/** The same handlers apart, for a path shared by two schemes (the base path: V2 and V1 basic calls). */
export function signedRouteParts(deps: PipelineDeps, route: SignedRoute): SignedRouteParts {
  // Read any content type as bytes: the type is checked here, so its refusal is a signed answer.
  // Each interface has its own limit, known from the path before a byte is read; a compressed
  // body is inflated only up to that limit (body-parser counts the inflated bytes).
  const readers = new Map<number, RequestHandler>();
  const raw: RequestHandler = (req, res, next) => {
    const limit = route.bodyLimitBytes(route.interfaceOf(req));
    let read = readers.get(limit);
    if (!read) readers.set(limit, (read = express.raw({ type: () => true, limit })));
    return read(req, res, next);
  };

  const run: RequestHandler = async (req, res) => {
    let iface = route.interfaceOf(req);
    if (iface === null)
      return answer(deps, route, res, 'unknown', ResultCode.invalidRequest, route.unknownInterface);
    try {
      const call = await admit(deps, route, req, res, (named) => (iface = named));
      let extras: Extras | void;
      try {
        extras = await route.handle(call, iface);
        if (!call.claim.written) await writeClaim(deps.store, call.claim, call.notAfter);
      } catch (error) {
        // Applied but not known to be on enough replicas: answered 000005 although it landed.
        if (
          !(error instanceof StoreUnavailableError) ||
          error instanceof NotReplicatedError ||
          !(await landed(deps, call))
        )
          throw error;
        // The store applied the write but its reply was lost: the call is done. Run it again as
        // its own replay (it changes nothing more) to answer what it would have answered.
        call.note({ replyLost: true });
        extras = await route.handle(call, iface);
      }
      answer(deps, route, res, iface, ResultCode.success, 'Success', extras ?? undefined);
    } catch (error) {
      answerError(deps, route, req, res, iface, error);
    }
  };

  const readFailed = (error: unknown, req: Request, res: Response, next: NextFunction) => {
    const iface = route.interfaceOf(req) ?? 'unknown';
    const type = (error as { type?: string }).type;
    if (type === 'entity.too.large')
      return answer(
        deps,
        route,
        res,
        iface,
        ResultCode.invalidRequest,
        `body exceeds the ${route.bodyLimitBytes(route.interfaceOf(req))}-byte limit`,
      );
    if (
      type === 'request.aborted' ||
      type === 'request.size.invalid' ||
      type === 'encoding.unsupported' ||
      type === 'charset.unsupported'
    )
      return answer(deps, route, res, iface, ResultCode.invalidRequest, `body could not be read (${type})`);
    next(error);
  };

  return { read: raw, run, readFailed };
}

/**
 * After a store failure: whether the call's claim is in the store nevertheless, which it is only
 * when the write that carried it was applied (or, on a cluster, every write before it). A store
 * still failing, or a deadline already past, says no: the call is answered 000005 as before.
 */
async function landed(deps: PipelineDeps, call: VerifiedCall): Promise<boolean> {
  if (call.claim.replay || deps.now() >= call.notAfter) return false;
  try {
    await call.claim.recheck();
    return call.claim.written;
  } catch {
    return false;
  }
}

/**
 * checkContentType → checkCredentials → checkSignedBody (off the event loop when large; a V2
 * claim's reads meanwhile) → claimFor.
 */
async function admit(
  deps: PipelineDeps,
  route: SignedRoute,
  req: Request,
  res: Response,
  name: (iface: string) => void,
): Promise<VerifiedCall> {
  const started = deps.now();
  const notAfter = started + deps.deadlineMs;
  const credentials = route.credentials(req);
  // A V1 call made with GET has its parameters in the query, and no body to type.
  if (!credentials.query) checkContentType(req.get('content-type'));
  const bytes: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  const timed = checkCallCredentials(route.scheme, credentials, started, deps.clockWindowMs);
  let checked: Checked;
  let early: Promise<CallClaim> | null = null;
  if (bytes.length > OFF_THREAD_BYTES && !credentials.query) {
    const verified = deps.offThread.check(route.scheme, credentials, bytes);
    // A V2 claim reads by the nonce and signature headers alone: while the worker verifies. Its
    // answer counts only after the signature's, so a refusal of the signature still comes first.
    if (route.scheme.name !== 'v1' && credentials.sign) {
      early = claimFor(deps, route.scheme, credentials.nonce ?? null, credentials.sign);
      early.catch(() => undefined); // not awaited when the signature is refused
    }
    // Signed by the marketplace: parsing it here is no longer anyone's lever on the event loop.
    checked = readVerifiedCall(route.scheme, credentials, await verified);
  } else checked = checkCall(route.scheme, credentials, bytes);
  // V2 calls are timed by their credentials, V1 calls by the timeStamp they signed.
  const signedAt = timed ?? checked.signedAt!;
  const claim = await (early ??
    claimFor(deps, route.scheme, credentials.nonce ?? null, checked.sign ?? credentials.sign!));
  const n = notes(res);
  if (claim.replay) n.fields = { ...n.fields, replay: true };
  return {
    text: checked.text,
    body: checked.body,
    signedAt,
    notAfter,
    claim,
    note: (fields) => (n.fields = { ...n.fields, ...fields }),
    name,
  };
}

function checkContentType(value: string | undefined): void {
  if (!/^application\/json\s*(;|$)/.test((value ?? '').toLowerCase()))
    throw new KitRefusal(ResultCode.invalidRequest, 'Content-Type must be application/json');
}

/** Renders any error through `marketplaceAnswer` (src/errors.ts); logs what is not a refusal. */
function answerError(
  deps: PipelineDeps,
  route: SignedRoute,
  req: Request,
  res: Response,
  iface: string,
  error: unknown,
): void {
  const { resultCode, resultMsg } = marketplaceAnswer(error);
  if (error instanceof StoreUnavailableError) {
    deps.metrics.storeErrors.inc();
    req.log.warn(
      { err: { name: error.name, message: error.message } },
      `${route.scheme.name} call not applied: store unavailable`,
    );
  } else if (!(error instanceof KitRefusal))
    req.log.error({ err: error }, `${route.scheme.name} call failed`);
  answer(deps, route, res, iface, resultCode as ResultCode, resultMsg);
}

function answer(
  deps: PipelineDeps,
  route: SignedRoute,
  res: Response,
  iface: string,
  code: ResultCode,
  message: string,
  extras?: Extras,
): void {
  const body = Buffer.from(JSON.stringify({ resultCode: code, resultMsg: message, ...extras }), 'utf8');
  const label = route.label ? route.label(iface) : iface;
  deps.metrics.kitPushes.inc({ interface: label, resultCode: code });
  const n = notes(res);
  n.route = route.route(iface);
  n.fields = {
    ...n.fields,
    interface: label,
    resultCode: code,
    ...(code === ResultCode.success ? {} : { resultMsg: message }),
  };
  res.statusCode = 200;
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Body-Sign', bodySignHeader(route.scheme.key, body));
  res.setHeader('Content-Length', body.length);
  res.end(body);
}
