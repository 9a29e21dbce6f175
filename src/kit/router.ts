/**
 * The five kit routes: `POST {PRODUCE_BASE_PATH}/produceAPI/v2/{interface}` (contract §3).
 *
 * Every answer is HTTP 200 with `{"resultCode","resultMsg"}` written as exact bytes and signed
 * in `Body-Sign`, because the marketplace treats anything else as a failure. A push that is not
 * answered 000000 has changed nothing: refusals happen before the single atomic write, and the
 * write is skipped by the store if it arrives after the deadline we answered within.
 */
import type { KeyObject } from 'node:crypto';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { DataKeyRing } from '../crypto/dataKey.js';
import { decryptClientSecret } from '../crypto/oaep.js';
import type { Mirror } from '../mirror/mirror.js';
import { clientSecretContext } from '../mirror/records.js';
import type { SyncOutcome } from '../mirror/transaction.js';
import { notes } from '../ops/log.js';
import type { Metrics } from '../ops/metrics.js';
import type { Keys } from '../store/keys.js';
import { StoreUnavailableError, type Store } from '../store/store.js';
import { KitRefusal, ResultCode } from './resultCodes.js';
import type { z } from 'zod';
import { describeIssue, KIT_INTERFACES, kitSchemas, type KitInterface } from './schemas.js';
import { bodySignHeader } from './signature.js';
import { verifyKitRequest } from './verify.js';

export interface KitDeps {
  kitAccessKey: string;
  basePath: string;
  bodyLimitBytes: number;
  deadlineMs: number;
  clockWindowMs: number;
  nonceTtlMs: number;
  mirror: Mirror;
  store: Store;
  keys: Keys;
  now: () => number;
  privateKey: KeyObject;
  dataKeys: DataKeyRing;
  metrics: Metrics;
  /** Told about every push that was applied, e.g. to drop cached identity-server settings. */
  onApplied?: (iface: KitInterface, tenantId: string) => void;
}

const byLowerName = new Map(KIT_INTERFACES.map((name) => [name.toLowerCase(), name]));

export function kitRouter(deps: KitDeps): Router {
  const router = express.Router();
  const base = `${deps.basePath}/produceAPI/v2`;

  const answer = (req: Request, res: Response, iface: string, code: ResultCode, message: string) => {
    const body = Buffer.from(JSON.stringify({ resultCode: code, resultMsg: message }), 'utf8');
    deps.metrics.kitPushes.inc({ interface: iface, resultCode: code });
    const n = notes(res);
    n.route = `${base}/${iface}`;
    n.fields = {
      ...n.fields,
      interface: iface,
      resultCode: code,
      ...(code === ResultCode.success ? {} : { resultMsg: message }),
    };
    res.statusCode = 200;
    res.setHeader('Content-Type', 'application/json');
    res.setHeader('Body-Sign', bodySignHeader(deps.kitAccessKey, body));
    res.setHeader('Content-Length', body.length);
    res.end(body);
  };

  // Read any content type as bytes: the type is checked by us so the refusal is a kit answer.
  const raw = express.raw({ type: () => true, limit: deps.bodyLimitBytes });

  router.post(`${base}/:iface`, raw, async (req: Request, res: Response) => {
    const iface = byLowerName.get(String(req.params.iface).toLowerCase());
    if (!iface) {
      answer(
        req,
        res,
        'unknown',
        ResultCode.invalidRequest,
        `unknown kit interface; expected one of ${KIT_INTERFACES.join(', ')}`,
      );
      return;
    }
    try {
      await handlePush(deps, iface, req, res);
      answer(req, res, iface, ResultCode.success, 'Success');
    } catch (error) {
      if (error instanceof KitRefusal) return answer(req, res, iface, error.resultCode, error.message);
      if (error instanceof StoreUnavailableError) {
        deps.metrics.storeErrors.inc();
        req.log.warn({ err: { message: error.message } }, 'kit push not applied: store unavailable');
        return answer(
          req,
          res,
          iface,
          ResultCode.internalError,
          'the relay could not store the push in time; nothing was changed, please retry',
        );
      }
      req.log.error({ err: error }, 'kit push failed');
      return answer(
        req,
        res,
        iface,
        ResultCode.internalError,
        'internal error; nothing was changed, please retry',
      );
    }
  });

  router.use(base, (error: unknown, req: Request, res: Response, next: NextFunction) => {
    const iface = byLowerName.get(String(req.path.split('/')[1] ?? '').toLowerCase()) ?? 'unknown';
    const type = (error as { type?: string }).type;
    if (type === 'entity.too.large')
      return answer(
        req,
        res,
        iface,
        ResultCode.invalidRequest,
        `body exceeds the ${deps.bodyLimitBytes}-byte limit`,
      );
    if (
      type === 'request.aborted' ||
      type === 'request.size.invalid' ||
      type === 'encoding.unsupported' ||
      type === 'charset.unsupported'
    )
      return answer(req, res, iface, ResultCode.invalidRequest, `body could not be read (${type})`);
    next(error);
  });

  return router;
}

async function handlePush(
  deps: KitDeps,
  iface: KitInterface,
  req: Request,
  res: Response,
): Promise<SyncOutcome> {
  const started = deps.now();
  const notAfter = started + deps.deadlineMs;

  const contentType = (req.get('content-type') ?? '').toLowerCase();
  if (!/^application\/json\s*(;|$)/.test(contentType))
    throw new KitRefusal(ResultCode.invalidRequest, 'Content-Type must be application/json');

  const body = parseBody(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));
  verifyKitRequest(
    deps.kitAccessKey,
    { sign: req.get('x-sign'), timestamp: req.get('x-timestamp'), nonce: req.get('x-nonce') },
    body,
    started,
    deps.clockWindowMs,
  );

  // A nonce may be used once on any kit route (§2.2); remembered for twice the time window.
  const claim = await deps.store.apply(
    [
      {
        op: 'set',
        key: deps.keys.kitNonce(req.get('x-nonce')!),
        value: String(started),
        ttlMs: deps.nonceTtlMs,
      },
    ],
    { guards: [{ key: deps.keys.kitNonce(req.get('x-nonce')!), equals: null }], notAfter },
  );
  if (claim === 'conflict')
    throw new KitRefusal(ResultCode.authFailed, 'x-nonce was already used; every call needs a new nonce');

  const parsed = kitSchemas[iface].safeParse(body);
  if (!parsed.success) throw new KitRefusal(ResultCode.invalidRequest, describeIssue(parsed.error));
  const push = parsed.data;
  const n = notes(res);
  n.fields = {
    tenantId: push.tenantId,
    testFlag: push.testFlag,
    ...('flag' in push ? { flag: push.flag } : {}),
  };

  const outcome = await applyPush[iface](push as never, {
    deps,
    notAfter,
    note: (f) => (n.fields = { ...n.fields, ...f }),
  });
  n.fields = { ...n.fields, changed: outcome.changed, unchanged: outcome.unchanged };
  if (outcome.sessionsEnded) n.fields = { ...n.fields, sessionsEnded: outcome.sessionsEnded };
  deps.onApplied?.(iface, push.tenantId);
  return outcome;
}

interface ApplyContext {
  deps: KitDeps;
  notAfter: number;
  note: (fields: Record<string, unknown>) => void;
}

type Pushes = { [K in KitInterface]: z.output<(typeof kitSchemas)[K]> };

const applyPush: { [K in KitInterface]: (push: Pushes[K], ctx: ApplyContext) => Promise<SyncOutcome> } = {
  tenantSync: (push, { deps, notAfter }) => deps.mirror.tenantSync(push, notAfter),
  applicationSync: (push, { deps, notAfter, note }) => {
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
    return deps.mirror.applicationSync(push, sealed, notAfter);
  },
  authSync: (push, { deps, notAfter, note }) => {
    note({ appId: push.appId, users: push.userList.length });
    return deps.mirror.authSync(push, notAfter);
  },
  singleOrgSync: (push, { deps, notAfter }) => deps.mirror.singleOrgSync(push, notAfter),
  allOrgSync: (push, { deps, notAfter, note }) => {
    note({ departments: push.orgInfoList.length });
    return deps.mirror.allOrgSync(push, notAfter);
  },
};

const utf8 = new TextDecoder('utf-8', { fatal: true });

function parseBody(bytes: Buffer): Record<string, unknown> {
  if (bytes.length === 0)
    throw new KitRefusal(ResultCode.invalidRequest, 'body is empty; a JSON object is required');
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new KitRefusal(ResultCode.invalidRequest, 'body is not valid UTF-8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new KitRefusal(ResultCode.invalidRequest, 'body is not valid JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new KitRefusal(ResultCode.invalidRequest, 'body must be a JSON object');
  return value as Record<string, unknown>;
}
