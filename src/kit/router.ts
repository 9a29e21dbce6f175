/**
 * The five kit routes: `POST {PRODUCE_BASE_PATH}/produceAPI/v2/{interface}` (contract §3), on
 * the shared signed-call pipeline (pipeline.ts) with the kit key and the `x-sign` headers; and,
 * with V1_ACCESS_KEY, their V1 twins `POST {PRODUCE_BASE_PATH}/produceAPI/{interface}` (contract
 * §8) with the `authToken` header, whose bodies are read into the same pushes (v1Schemas.ts).
 */
import type { KeyObject } from 'node:crypto';
import express, { type Request, type Router } from 'express';
import type { DataKeyRing } from '../crypto/dataKey.js';
import { decryptClientSecret } from '../crypto/oaep.js';
import type { Mirror } from '../mirror/mirror.js';
import { clientSecretContext } from '../mirror/records.js';
import type { SyncOutcome } from '../mirror/transaction.js';
import { KitRefusal, ResultCode } from './resultCodes.js';
import type { z } from 'zod';
import { signedRoute, type PipelineDeps, type VerifiedCall } from './pipeline.js';
import { describeIssue, KIT_INTERFACES, kitSchemas, type KitInterface } from './schemas.js';
import { kitScheme } from './verify.js';
import { v1KitBody } from './v1Schemas.js';
import { v1KitScheme } from './v1Verify.js';

export interface KitDeps extends PipelineDeps {
  kitAccessKey: string;
  /** V1_ACCESS_KEY: the V1 routes exist only with it */
  v1AccessKey?: string;
  basePath: string;
  /** KIT_BODY_LIMIT_BYTES: allOrgSync's limit, and a cap on every other interface's */
  bodyLimitBytes: number;
  mirror: Mirror;
  privateKey: KeyObject;
  dataKeys: DataKeyRing;
  /** Told about every push that was applied, e.g. to drop cached identity-server settings. */
  onApplied?: (iface: KitInterface, tenantId: string) => void;
}

const SMALL = 64 * 1024;

/**
 * The largest body of each interface. Only allOrgSync (a whole department tree) needs megabytes:
 * KIT_BODY_LIMIT_BYTES, which also caps the others. authSync carries up to 500 users.
 */
const BODY_LIMITS: Record<KitInterface, number> = {
  tenantSync: SMALL,
  applicationSync: SMALL,
  singleOrgSync: SMALL,
  authSync: 1024 * 1024,
  allOrgSync: Infinity,
};

const byLowerName = new Map(KIT_INTERFACES.map((name) => [name.toLowerCase(), name]));

export function kitRouter(deps: KitDeps): Router {
  const router = express.Router();
  const base = `${deps.basePath}/produceAPI/v2`;
  const interfaceOf = (req: Request) => byLowerName.get(String(req.params.iface ?? '').toLowerCase()) ?? null;
  router.post(
    `${base}/:iface`,
    ...signedRoute(deps, {
      scheme: kitScheme(deps.kitAccessKey),
      route: (iface) => `${base}/${iface}`,
      bodyLimitBytes: (iface) => Math.min(deps.bodyLimitBytes, BODY_LIMITS[iface as KitInterface] ?? SMALL),
      credentials: (req) => {
        const call = {
          sign: req.get('x-sign'),
          timestamp: req.get('x-timestamp'),
          nonce: req.get('x-nonce'),
        };
        if (!call.sign && !call.timestamp && !call.nonce && req.get('authToken') !== undefined)
          throw new KitRefusal(
            ResultCode.authFailed,
            `authToken is the V1 scheme: V1 pushes go to ${deps.basePath}/produceAPI/{interface}; this path takes x-sign, x-timestamp and x-nonce`,
          );
        return call;
      },
      interfaceOf,
      unknownInterface: `unknown kit interface; expected one of ${KIT_INTERFACES.join(', ')}`,
      handle: async (call, iface) => {
        await handlePush(deps, iface as KitInterface, call, call.body);
      },
    }),
  );
  if (deps.v1AccessKey) router.post(`${deps.basePath}/produceAPI/:iface`, ...v1Route(deps, deps.v1AccessKey));
  return router;
}

/** The V1 kit routes: the same interfaces, limits and pushes; the authToken scheme. */
function v1Route(deps: KitDeps, v1Key: string) {
  const base = `${deps.basePath}/produceAPI`;
  return signedRoute(deps, {
    scheme: v1KitScheme(v1Key),
    route: (iface) => `${base}/${iface}`,
    label: (iface) => `v1.${iface}`,
    bodyLimitBytes: (iface) => Math.min(deps.bodyLimitBytes, BODY_LIMITS[iface as KitInterface] ?? SMALL),
    credentials: (req) => {
      const sign = req.get('authToken');
      if (!sign && req.get('x-sign') !== undefined)
        throw new KitRefusal(
          ResultCode.authFailed,
          `authToken header is missing: x-sign is the V2 scheme, whose pushes go to ${base}/v2/{interface}`,
        );
      return { sign };
    },
    interfaceOf: (req) => byLowerName.get(String(req.params.iface ?? '').toLowerCase()) ?? null,
    unknownInterface: `unknown V1 kit interface; expected one of ${KIT_INTERFACES.join(', ')}`,
    handle: async (call, iface) => {
      const v1 = v1KitBody(iface as KitInterface, call.body as Record<string, string>, v1Key);
      call.note({ v1: true, ...v1.notes });
      await handlePush(deps, iface as KitInterface, call, v1.body);
    },
  });
}

/** `body`: the V2 body of the push (a V1 call's is read into one first). */
async function handlePush(
  deps: KitDeps,
  iface: KitInterface,
  call: VerifiedCall,
  body: Record<string, unknown>,
): Promise<SyncOutcome> {
  const parsed = kitSchemas[iface].safeParse(body);
  if (!parsed.success) throw new KitRefusal(ResultCode.invalidRequest, describeIssue(parsed.error));
  const push = parsed.data;
  call.note({
    tenantId: push.tenantId,
    testFlag: push.testFlag,
    ...('flag' in push ? { flag: push.flag } : {}),
  });
  const mirror = deps.mirror.claiming(call.claim);
  const outcome = await applyPush[iface](push as never, {
    mirror,
    deps,
    notAfter: call.notAfter,
    note: call.note,
  });
  call.note({ changed: outcome.changed, unchanged: outcome.unchanged });
  if (outcome.sessionsEnded) call.note({ sessionsEnded: outcome.sessionsEnded });
  deps.onApplied?.(iface, push.tenantId);
  return outcome;
}

interface ApplyContext {
  /** the mirror, writing the call's nonce claim with its change */
  mirror: Mirror;
  deps: KitDeps;
  notAfter: number;
  note: (fields: Record<string, unknown>) => void;
}

type Pushes = { [K in KitInterface]: z.output<(typeof kitSchemas)[K]> };

const applyPush: { [K in KitInterface]: (push: Pushes[K], ctx: ApplyContext) => Promise<SyncOutcome> } = {
  tenantSync: (push, { mirror, notAfter }) => mirror.tenantSync(push, notAfter),
  applicationSync: (push, { mirror, deps, notAfter, note }) => {
    let sealed: string | null = null;
    if (push.flag !== 0) {
      const secret = decryptClientSecret(deps.privateKey, push.clientSecret);
      if (!secret)
        throw new KitRefusal(
          ResultCode.invalidRequest,
          'clientSecret could not be decrypted with the configured private key (RSA-OAEP SHA-256 or SHA-1, Base64 or hex); check the public key uploaded with the app credential',
        );
      // Which OAEP variant worked is UNCONFIRMED in the spec and worth knowing; the secret is not logged.
      note({ oaep: secret.variant, ciphertext: secret.encoding });
      sealed = deps.dataKeys.seal(secret.plaintext, clientSecretContext(push.tenantId, push.appId));
    }
    note({ appId: push.appId });
    return mirror.applicationSync(push, sealed, notAfter);
  },
  authSync: (push, { mirror, notAfter, note }) => {
    note({ appId: push.appId, users: push.userList.length });
    return mirror.authSync(push, notAfter);
  },
  singleOrgSync: (push, { mirror, notAfter }) => mirror.singleOrgSync(push, notAfter),
  allOrgSync: (push, { mirror, notAfter, note }) => {
    note({ departments: push.orgInfoList.length });
    return mirror.allOrgSync(push, notAfter);
  },
};
