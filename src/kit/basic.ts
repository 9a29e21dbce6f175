/**
 * The basic instance interfaces: `POST {PRODUCE_BASE_PATH}?signature=…&timestamp=…&nonce=…`
 * with the operation in the body's `activity` (contract §3b; kit-sync-and-signing.md §2.3, §4),
 * on the shared signed-call pipeline with the basic key; and, with V1_ACCESS_KEY, the V1 basic
 * calls at the same path (contract §8): GET with `activity` and `authToken` in the query, or
 * POST with them as JSON, read into the same instance operations (v1Schemas.ts).
 *
 * One path, two schemes, never confused: a call with `signature`, `timestamp` or `nonce` in its
 * query is V2; otherwise one with `authToken` in its query or its JSON body is V1 (a plain 404
 * when V1 is not served); anything else is V2, and refused as such.
 */
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Router } from 'express';
import type { Mirror } from '../mirror/mirror.js';
import type { InstanceOutcome } from '../mirror/instances.js';
import { BASIC_ACTIVITIES, basicSchemas, type BasicActivity } from './basicSchemas.js';
import {
  signedRouteParts,
  type Extras,
  type PipelineDeps,
  type SignedRoute,
  type VerifiedCall,
} from './pipeline.js';
import { KitRefusal, ResultCode } from './resultCodes.js';
import { describeIssue } from './schemas.js';
import { basicScheme } from './verify.js';
import { v1BasicBody } from './v1Schemas.js';
import { v1BasicScheme, v1Query } from './v1Verify.js';

export interface BasicDeps extends PipelineDeps {
  basicAccessKey: string;
  /** V1_ACCESS_KEY: the V1 basic calls are served only with it */
  v1AccessKey?: string;
  basePath: string;
  bodyLimitBytes: number;
  mirror: Mirror;
  /** What queryInstance reports for every instance (APP_FRONTEND_URL, APP_ADMIN_URL). */
  appInfo: { frontEndUrl: string; adminUrl?: string };
}

/** A repeated query parameter arrives as a list; joined, it fails the checks it should fail. */
const query = (req: Request, name: string): string | undefined => {
  const v = req.query[name];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(',') : String(v);
};

/** The query string as sent, for V1's own decoding (v1Verify.ts). */
const rawQuery = (req: Request): string => {
  const i = req.originalUrl.indexOf('?');
  return i < 0 ? '' : req.originalUrl.slice(i + 1);
};

const has = (req: Request, name: string) => Object.hasOwn(req.query as object, name);
/** A V2 call names its credentials in the query. */
const isV2Query = (req: Request) => has(req, 'signature') || has(req, 'timestamp') || has(req, 'nonce');
/** A V1 call with its parameters in the query (GET, or a POST made like one). */
const isV1Query = (req: Request) => !isV2Query(req) && has(req, 'authToken');

/** A JSON body with a top-level `authToken` member: a V1 call made with POST. */
function hasTokenMember(body: unknown): boolean {
  if (!Buffer.isBuffer(body) || body.length === 0) return false;
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return (
      value !== null &&
      typeof value === 'object' &&
      !Array.isArray(value) &&
      Object.hasOwn(value, 'authToken')
    );
  } catch {
    return false;
  }
}

export function basicRouter(deps: BasicDeps): Router {
  const router = express.Router();
  const path = deps.basePath || '/';
  const v2 = signedRouteParts(deps, {
    scheme: basicScheme(deps.basicAccessKey),
    route: () => path,
    bodyLimitBytes: () => deps.bodyLimitBytes,
    credentials: (req) => ({
      sign: query(req, 'signature'),
      timestamp: query(req, 'timestamp'),
      nonce: query(req, 'nonce'),
    }),
    // The activity is in the body; until it is read the call is just "basic".
    interfaceOf: () => 'basic',
    unknownInterface: '',
    handle: (call) => handleActivity(deps, call),
  });
  const v1 = deps.v1AccessKey ? signedRouteParts(deps, v1Route(deps, path, deps.v1AccessKey)) : null;
  if (v1) router.get(path, v1.read, v1.run, v1.readFailed);
  const read: RequestHandler = (req, res, next) => (v1 && isV1Query(req) ? v1.read : v2.read)(req, res, next);
  const run: RequestHandler = (req, res, next) => {
    if (isV2Query(req) || !(has(req, 'authToken') || hasTokenMember(req.body))) return v2.run(req, res, next);
    // A V1 call where V1 is not served: not found, as every V1 route then is.
    return v1 ? v1.run(req, res, next) : next();
  };
  const readFailed: ErrorRequestHandler = (error, req, res, next) =>
    (v1 && isV1Query(req) ? v1.readFailed : v2.readFailed)(error, req, res, next);
  router.post(path, read, run, readFailed);
  return router;
}

/** The V1 basic calls: parameters from the query or the JSON body, the authToken scheme. */
function v1Route(deps: BasicDeps, path: string, v1Key: string): SignedRoute {
  return {
    scheme: v1BasicScheme(v1Key),
    route: () => path,
    label: (iface) => `v1.${iface}`,
    bodyLimitBytes: () => deps.bodyLimitBytes,
    credentials: (req) =>
      req.method === 'GET' || has(req, 'authToken') ? { query: v1Query(rawQuery(req)) } : {},
    interfaceOf: () => 'basic',
    unknownInterface: '',
    handle: (call) => {
      let reading;
      try {
        reading = v1BasicBody(call.body as Record<string, string>);
      } catch (error) {
        call.name('unknown');
        throw error;
      }
      call.name(reading.v1);
      call.note({ v1: true });
      return applyActivity(deps, call, reading.activity, reading.body, { v1: true });
    },
  };
}

const isActivity = (v: unknown): v is BasicActivity =>
  typeof v === 'string' && (BASIC_ACTIVITIES as readonly string[]).includes(v);

async function handleActivity(deps: BasicDeps, call: VerifiedCall): Promise<Extras | void> {
  const activity = call.body.activity;
  if (!isActivity(activity)) {
    call.name('unknown');
    throw new KitRefusal(
      ResultCode.invalidRequest,
      activity === undefined
        ? 'activity is required'
        : `unknown activity; expected one of ${BASIC_ACTIVITIES.join(', ')}`,
    );
  }
  call.name(activity);
  return applyActivity(deps, call, activity, call.body, { v1: false });
}

/**
 * One activity's body parsed and applied. `v1`: a V1 call, whose renewal also opens a frozen
 * instance (V1 has no UNFREEZE) and whose purchase is answered with the app's addresses too.
 */
async function applyActivity(
  deps: BasicDeps,
  call: VerifiedCall,
  activity: BasicActivity,
  body: Record<string, unknown>,
  { v1 }: { v1: boolean },
): Promise<Extras | void> {
  const parsed = basicSchemas[activity].safeParse(body);
  if (!parsed.success) throw new KitRefusal(ResultCode.invalidRequest, describeIssue(parsed.error));
  const mirror = deps.mirror.claiming(call.claim);
  const { signedAt: at, notAfter } = call;
  const p = parsed.data;
  call.note({ testFlag: p.testFlag });

  const noted = (outcome: InstanceOutcome) => {
    call.note({
      instanceId: outcome.instanceId,
      outcome: outcome.kind,
      tenants: outcome.tenants,
      ...(outcome.sessionsEnded ? { sessionsEnded: outcome.sessionsEnded } : {}),
    });
    return outcome;
  };
  const known = (outcome: InstanceOutcome) => {
    if (outcome.kind === 'unknown')
      throw new KitRefusal(
        ResultCode.instanceUnknown,
        `instance ${outcome.instanceId} is not known to this relay`,
      );
  };

  switch (p.activity) {
    case 'newInstance': {
      const outcome = noted(await mirror.newInstance(p, at, notAfter));
      call.note({ orderId: p.orderId });
      if (!v1) return { instanceId: outcome.instanceId };
      // V1 has no queryInstance: its purchase answer carries the app's addresses (appInfo).
      const { frontEndUrl, adminUrl } = deps.appInfo;
      return { instanceId: outcome.instanceId, appInfo: { frontEndUrl, ...(adminUrl ? { adminUrl } : {}) } };
    }
    case 'queryInstance': {
      const records = await mirror.instances(p.instanceId);
      call.note({ asked: p.instanceId.length, known: records.length });
      if (records.length === 0)
        throw new KitRefusal(ResultCode.instanceUnknown, 'none of the instances is known to this relay');
      const { frontEndUrl, adminUrl } = deps.appInfo;
      return {
        info: records.map((r) => ({
          instanceId: r.instanceId,
          appInfo: { frontEndUrl, ...(adminUrl ? { adminUrl } : {}) },
        })),
      };
    }
    case 'refreshInstance':
      return known(noted(await mirror.refreshInstance(p, at, notAfter, { unfreeze: v1 })));
    case 'updateInstanceStatus':
      return known(noted(await mirror.updateInstanceStatus(p, at, notAfter)));
    case 'upgradeInstance':
      return known(noted(await mirror.upgradeInstance(p, at, notAfter)));
    case 'releaseInstance':
      // Releasing what is unknown or already released succeeds (§4: idempotent).
      noted(await mirror.releaseInstance(p, at, notAfter));
      return;
  }
}
