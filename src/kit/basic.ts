/**
 * The basic instance interfaces: `POST {PRODUCE_BASE_PATH}?signature=…&timestamp=…&nonce=…`
 * with the operation in the body's `activity` (contract §3b; kit-sync-and-signing.md §2.3, §4),
 * on the shared signed-call pipeline with the basic key.
 */
import express, { type Request, type Router } from 'express';
import type { Mirror } from '../mirror/mirror.js';
import type { InstanceOutcome } from '../mirror/instances.js';
import { BASIC_ACTIVITIES, basicSchemas, type BasicActivity } from './basicSchemas.js';
import { signedRoute, type Extras, type PipelineDeps, type VerifiedCall } from './pipeline.js';
import { KitRefusal, ResultCode } from './resultCodes.js';
import { describeIssue } from './schemas.js';
import { basicScheme } from './verify.js';

export interface BasicDeps extends PipelineDeps {
  basicAccessKey: string;
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

export function basicRouter(deps: BasicDeps): Router {
  const router = express.Router();
  const path = deps.basePath || '/';
  router.post(
    path,
    ...signedRoute(deps, {
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
    }),
  );
  return router;
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
  const parsed = basicSchemas[activity].safeParse(call.body);
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
      return { instanceId: outcome.instanceId };
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
      return known(noted(await mirror.refreshInstance(p, at, notAfter)));
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
