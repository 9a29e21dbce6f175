/**
 * Deployment self-check: replays against a deployed relay the calls Seller Center's interface
 * debugging (接口调试) makes, plus the security cases the marketplace never sends on purpose, and
 * judges every answer as KooGallery does (kit-sync-and-signing.md §3, §5, §8; contract §3).
 *
 * Everything is debug data: a fresh random tenant (unless one is given), `testFlag` 1, empty
 * `instanceId`/`orderId`, an appId of its own, all deleted again at the end. With a basic key,
 * the basic (instance) interfaces are checked too (§2.3, §4; contract §3b): a purchase with a fresh
 * random order, its life, and the security cases; instances cannot be deleted, so the debug
 * instance is released at the end. Without a basic key those cases are reported as skipped. The
 * function never throws: a relay that cannot be reached, or bad options, come back as failed cases.
 *
 * The cases are one table, `SELF_CHECK_CASES`, in the order they run; `run` walks it. A new case
 * is a new entry: what it sends, the code it expects, and the earlier cases it needs.
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import {
  DEFAULT_OAEP_VARIANT,
  formatExpireTime,
  isOaepVariantId,
  newNonce,
  newOrder,
  OAEP_VARIANT_IDS,
} from './marketplace/index.js';
import { describeError } from './describeError.js';
import { Pusher, type Fields, type PushResult } from './pusher.js';
import {
  auth,
  DAY_MS,
  DEBUG,
  hasInstance,
  OK,
  org,
  PURCHASE_ANSWER,
  SAME_INSTANCE,
  tenant,
  theInstance,
  unknownInstanceId,
  USERS,
} from './selfcheckFields.js';
import { V1_SELF_CHECK_CASES } from './selfcheckV1.js';

/** KooGallery's production timeout (接口要求) and its debug tool's (接口调试 FAQ). */
export const PRODUCTION_TIMEOUT_MS = 5000;
export const DEBUG_TOOL_TIMEOUT_MS = 20_000;

export interface SelfCheckOptions {
  /** The registered production address, e.g. https://isv.example.com/isv/produce */
  url: string;
  /** The access key bound to the kit (联营SaaS同步) interfaces (not needed with `v1`). */
  kitKey: string;
  /** Run the V1 cases (selfcheckV1.ts) instead of the V2 ones, with `v1Key`. */
  v1?: boolean;
  /** The V1 "Key值" (V1_ACCESS_KEY): signs the V1 cases' authToken and verifies their Body-Sign. */
  v1Key?: string;
  /** The access key bound to the basic (基础接口) interfaces; without it those cases are skipped. */
  basicKey?: string;
  /** The public key uploaded with the app credential: SPKI PEM, or its bare Base64 body. */
  publicKey: KeyObject | string;
  /** OAEP variant of the main applicationSync case (default sha256-mgf1sha1). */
  oaep?: string;
  /** Per-answer timeout; 5000 as in production, 20000 as the Seller Center debug tool. */
  timeoutMs?: number;
  /** Debug tenant to use; a fresh random one by default. It is deleted at the end. */
  tenantId?: string;
  /** appId sent in applicationSync/authSync; `selfcheck-app` by default, so the real app is untouched. */
  appId?: string;
  /** The plaintext client secret, as typed into the debug page; random by default. */
  clientSecret?: string;
  fetch?: typeof fetch;
  now?: () => number;
  /** Told about each case as soon as it is decided (the CLI prints progress with it). */
  onResult?: (result: CaseResult) => void;
}

export interface CaseResult {
  name: string;
  pass: boolean;
  /** Passed, but with something the seller should know (does not change the exit status). */
  warn?: boolean;
  /** Not run because an optional input is missing (no basic key); counts as passed, `why` says so. */
  skipped?: boolean;
  expected: string;
  /** The resultCode, or `HTTP nnn`, `timeout`, `no answer`, `not run`, `skipped`. */
  got: string;
  /** Measured answer time in ms (for the summary cases: the slowest answer). */
  ms: number;
  why?: string;
}

/** A debug tenant id of Seller Center's length (32), recognisable in the relay's logs. */
export function newDebugTenantId(): string {
  return `selfcheck-${randomBytes(11).toString('hex')}`;
}

export async function runSelfCheck(options: SelfCheckOptions): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  const report = (result: CaseResult) => {
    results.push(result);
    try {
      options.onResult?.(result);
    } catch {
      // a failing progress printer must not stop the check
    }
  };
  try {
    await run(options, report);
  } catch (error) {
    report({
      name: 'self-check',
      pass: false,
      expected: 'completion',
      got: 'error',
      ms: 0,
      why: `the self-check stopped unexpectedly: ${describeError(error)}`,
    });
  }
  return results;
}

/** Which access key signs a call, and so which one its answer's Body-Sign must verify with. */
export type CallKind = 'kit' | 'basic' | 'v1';

/** One request's outcome: an HTTP answer judged by the Pusher, or the error that prevented one. */
export interface Attempt {
  name: string;
  kind: CallKind;
  push?: PushResult;
  error?: unknown;
}

/** What a case came to, for the cases after it: its verdict and, when it was sent, the answer. */
export interface Outcome {
  result: CaseResult;
  push?: PushResult;
}

/** What a case's call is built from: the pusher, this run's debug data, what earlier cases made. */
export interface CaseContext {
  p: Pusher;
  /** The production address, as given. */
  url: string;
  kitKey: string;
  /** The V1 key, in a V1 run. */
  v1Key?: string;
  /** The OAEP variant of the main applicationSync case. */
  oaep: string;
  timeoutMs: number;
  now: () => number;
  tenantId: string;
  appId: string;
  clientId: string;
  clientSecret: string;
  /** The answer an earlier case got; undefined if it got none, or did not run. */
  answer: (name: string) => PushResult | undefined;
  /** Values that earlier cases made and later ones send again. */
  made: {
    /** The nonce and timestamp of the request whose nonce the reuse case signs another with. */
    replay?: { nonce: string; timestamp: string };
    /** The purchase as sent: its retry sends the same order again. */
    purchase?: Fields;
    /** The instance the purchase answered, once it passed. */
    instanceId?: string;
    /** The nonce of the kit call the shared-nonce case reuses on a basic call. */
    kitNonce?: string;
    /** The release order: the marketplace's repeat is the very same call. */
    release?: Fields;
  };
}

/** A case that can only prove something after an earlier one: otherwise it is "not run", and fails. */
export interface Need {
  /** The earlier case, by name. */
  case: string;
  /** Whether its outcome lets this case run; by default, that it passed. */
  ok?: (earlier: Outcome) => boolean;
  /** Why this case was not run, when it was not. */
  why: (earlier: Outcome) => string;
}

/** A batch member: one case of a batch, sent and judged on its own. */
export interface BatchMember {
  name: string;
  attempt: Attempt;
  judged: Judged;
}

/**
 * Cases judged together: sent one after the other, reported once the last has answered, so each
 * verdict can weigh the others' (a refused OAEP variant is only a warning while another works).
 */
export interface Batch {
  settle: (members: readonly BatchMember[]) => CaseResult[];
}

/** One case of the self-check: what to send, what to expect, and what it depends on. */
export interface SelfCheckCase {
  /** Unique in the table; a function for a name that shows an option (the OAEP variant). */
  name: string | ((run: { oaep: string }) => string);
  /** The resultCode the relay contract fixes. */
  expected: string;
  send: (c: CaseContext) => Promise<PushResult>;
  /** A basic call (default kit): the answer is signed with the basic key, the hints name it. */
  kind?: CallKind;
  /** Part of the basic-interface check: a SKIP line without a basic key. */
  section?: 'basic';
  /** Earlier cases this one needs, checked in order; the first unmet one says why it was not run. */
  needs?: readonly Need[];
  /** Why a success answer is bad, for the security cases. */
  acceptedMeans?: string;
  /** Extra advice when the answer carries an unexpected code. */
  hint?: (push: PushResult, c: CaseContext) => string | undefined;
  /** Codes that are a refusal the spec also allows: reported as WARN, not FAIL. */
  tolerated?: readonly string[];
  /** Checks of an answer with the expected code beyond the code (instanceId, info); `warn` notes pass. */
  inspect?: (push: PushResult, c: CaseContext) => { problem?: string; note?: string; warn?: boolean };
  /** Keeps what later cases need from an answer that passed. */
  keep?: (push: PushResult, c: CaseContext) => void;
  /** Removes debug data: sent even when the check stopped unexpectedly, if what it needs has run. */
  cleanup?: true;
  /** The first call: the reason, if its answer shows that nothing else is worth sending. */
  gate?: (attempt: Attempt, c: CaseContext) => string | undefined;
  batch?: Batch;
}

const PRODUCT_ID = 'selfcheck-product';
/** Basic calls carry testFlag as a string, as Seller Center's debugging sends it. */
const BASIC_CALL = { kind: 'basic', section: 'basic' } as const;
const BASIC_BODY_SIGN = 'every basic answer: Body-Sign present and valid with the basic key';
const BASIC_SKIPPED_WHY =
  'no basic access key given (--basic-key, or BASIC_ACCESS_KEY in the environment): the basic interfaces (基础接口) were not checked';

// Cases that later ones refer to, by name.
const AUTH_ADD = 'authSync add (flag 1): two users, roles admin and user, one with enable "false"';
const REPLAY_ORIGINAL = 'tenantSync modify (flag 2): the request whose nonce the next case reuses';
const PURCHASE = 'newInstance: a new purchase (testFlag "1", a fresh order) answers an instanceId';
const NONCE_KIT = 'tenantSync modify (flag 2): the kit call whose nonce the next case reuses';
const OAEP_CASE = 'applicationSync clientSecret with OAEP ';

/** An edit of the debug tenant: the security cases touch nothing else, in case they are accepted. */
const tenantEdit = (c: CaseContext, what: string) =>
  tenant(c, { flag: 2, name: `Relay self-check (${what})` });
const app = (c: CaseContext, extra: Fields = {}): Fields => ({
  instanceId: '',
  tenantId: c.tenantId,
  appId: c.appId,
  clientId: c.clientId,
  clientSecret: c.clientSecret,
  flag: 1,
  testFlag: 1,
  ...extra,
});
/** The debug instance, or one the relay never created when the purchase failed: for the refusals. */
const someInstance = (c: CaseContext): Fields => ({
  instanceId: c.made.instanceId ?? unknownInstanceId(),
  ...DEBUG,
});
const renewal = (c: CaseContext, instanceId: unknown): Fields => ({
  instanceId,
  ...newOrder(),
  scene: 'RENEWAL',
  expireTime: formatExpireTime(c.now() + 395 * DAY_MS),
  ...DEBUG,
});
const releaseOrder = (c: CaseContext) => (c.made.release ??= theInstance(c, newOrder()));

/** An accepted answer (000000), whatever else is wrong with it: what a replay or a reuse needs. */
const accepted = (o: Outcome) => o.push?.resultCode === OK;
const HAS_INSTANCE = hasInstance(PURCHASE);

const secretHint = (push: PushResult, c: CaseContext) =>
  /clientSecret|decrypt/i.test(push.resultMsg ?? '')
    ? `the relay could not decrypt clientSecret: the public key given here is not the half of the relay's RSA private key (RSA_PRIVATE_KEY), or the relay does not accept OAEP ${c.oaep}`
    : undefined;

/** A refused variant is a WARN while another is accepted, and a FAIL when none is. */
const OAEP_VARIANTS: Batch = {
  settle: (members) => {
    const variant = (m: BatchMember) => m.name.slice(OAEP_CASE.length);
    const accepting = members.filter((m) => m.judged.result.pass).map(variant);
    return members.map((m) => {
      const r = m.judged.result;
      if (r.pass) return { ...r, why: appendWhy(r.why, `the relay accepts ${variant(m)}`) };
      if (m.judged.codeOnly && accepting.length > 0)
        return {
          ...r,
          pass: true,
          warn: true,
          why: `the relay does not accept clientSecret encrypted with ${variant(m)} (${r.got}${
            m.attempt.push?.resultMsg ? `: ${m.attempt.push.resultMsg}` : ''
          }); it accepts ${accepting.join(', ')}. Harmless if KooGallery uses one of those (the variant is not documented)`,
        };
      return {
        ...r,
        why: appendWhy(
          r.why,
          accepting.length === 0
            ? 'no OAEP variant was accepted: the relay cannot decrypt clientSecret at all (check the public key and RSA_PRIVATE_KEY)'
            : undefined,
        ),
      };
    });
  },
};

/**
 * The cases, in the order they run and are reported. The basic ones run while the debug tenant
 * exists, for the shared-nonce case; the cleanup cases come last, as after an unexpected error
 * only they are sent.
 */
export const SELF_CHECK_CASES: readonly SelfCheckCase[] = [
  // 1, 2: the credential's tenantSync, with instanceId/orderId empty, then absent.
  {
    name: 'tenantSync add: debug data (flag 1, testFlag 1, instanceId and orderId empty)',
    expected: OK,
    send: (c) => c.p.tenantSync(tenant(c)),
    gate: (attempt, c) =>
      !attempt.push
        ? 'the relay did not answer the first request, so nothing else was sent (and nothing needs cleaning up)'
        : attempt.push.status === 404 || attempt.push.status === 405
          ? `no kit route at ${c.url.replace(/\/+$/, '')}/produceAPI/v2/… (HTTP ${attempt.push.status}), so nothing else was sent; fix --url first`
          : undefined,
  },
  {
    name: 'tenantSync add: instanceId and orderId missing entirely',
    expected: OK,
    send: (c) => {
      const { instanceId: _i, orderId: _o, ...rest } = tenant(c, { name: 'Relay self-check (no ids)' });
      return c.p.tenantSync(rest);
    },
  },

  // 3: applicationSync with the plaintext typed in the debug page, encrypted with the public key,
  // then with each OAEP variant, since KooGallery's parameters are not documented.
  {
    name: ({ oaep }) => `applicationSync add: clientSecret RSA-OAEP encrypted (${oaep})`,
    expected: OK,
    hint: secretHint,
    send: (c) => c.p.applicationSync(app(c)),
  },
  ...OAEP_VARIANT_IDS.map((id): SelfCheckCase => ({
    name: `${OAEP_CASE}${id}`,
    expected: OK,
    batch: OAEP_VARIANTS,
    send: (c) =>
      c.p.applicationSync(app(c, { clientSecretEncrypted: c.p.encryptSecret(c.clientSecret, id) })),
  })),

  // 5: the credential's allOrgSync, both forms of orgInfoList.
  {
    name: 'allOrgSync: orgInfoList as a JSON array',
    expected: OK,
    send: (c) =>
      c.p.allOrgSync({
        instanceId: '',
        tenantId: c.tenantId,
        orgInfoList: [
          { orgCode: 'sc-100', orgName: '自检产品部', parentCode: '' },
          { orgCode: 'sc-110', orgName: '自检开发部', parentCode: 'sc-100' },
        ],
        testFlag: 1,
      }),
  },
  {
    name: 'allOrgSync: orgInfoList as a string with unquoted keys and OrgName (the marketplace’s example)',
    expected: OK,
    send: (c) =>
      c.p.allOrgSync({
        instanceId: '',
        tenantId: c.tenantId,
        orgInfoList:
          '[{orgCode:"sc-100", OrgName:"自检产品部", parentCode:""}, {orgCode:"sc-110", OrgName:"自检开发部", parentCode:"sc-100"}]',
        testFlag: 1,
        flag: 1,
      }),
  },

  // 4, 7: the test account's authSync, a repeated delivery, then modify, cancel, delete.
  { name: AUTH_ADD, expected: OK, send: (c) => c.p.authSync(auth(c, 1)) },
  {
    name: 'authSync repeated delivery: the same body again with a new nonce',
    expected: OK,
    send: (c) => {
      const added = c.answer(AUTH_ADD);
      return added ? c.p.send('authSync', added.body) : c.p.authSync(auth(c, 1));
    },
  },
  {
    name: 'authSync modify (flag 2)',
    expected: OK,
    send: (c) =>
      c.p.authSync(
        auth(c, 2, [
          { ...USERS[0], name: '自检管理员（改）' },
          { ...USERS[1], enable: 'true' },
        ]),
      ),
  },
  { name: 'authSync cancel authorization (flag 3)', expected: OK, send: (c) => c.p.authSync(auth(c, 3)) },
  { name: 'authSync delete (flag 0)', expected: OK, send: (c) => c.p.authSync(auth(c, 0)) },

  // 6: department edits.
  {
    name: 'singleOrgSync add (flag 1)',
    expected: OK,
    send: (c) => c.p.singleOrgSync(org(c, { flag: 1 })),
  },
  {
    name: 'singleOrgSync modify (flag 2): renamed and moved',
    expected: OK,
    send: (c) => c.p.singleOrgSync(org(c, { orgName: '自检质量部', parentCode: 'sc-110', flag: 2 })),
  },
  {
    name: 'singleOrgSync delete (flag 0)',
    expected: OK,
    send: (c) => c.p.singleOrgSync(org(c, { orgName: '自检质量部', parentCode: 'sc-110', flag: 0 })),
  },

  // 8: signatures.
  {
    name: 'bad x-sign (right shape, wrong value)',
    expected: '000001',
    acceptedMeans:
      'the relay accepted a push with a wrong x-sign: anyone who knows the address can write to the mirror',
    send: (c) =>
      c.p.tenantSync(tenantEdit(c, 'bad sign'), { sign: randomBytes(32).toString('hex').toUpperCase() }),
  },
  {
    name: 'missing x-sign header',
    expected: '000001',
    acceptedMeans: 'the relay accepted a push without x-sign: the signature is not enforced',
    send: (c) => c.p.tenantSync(tenantEdit(c, 'no sign'), { headers: { 'x-sign': undefined } }),
  },

  // 9: the nonce of an accepted request on another request (§2.2: a nonce is good once). A
  // byte-identical copy is not sent: a relay may answer it as the first (idempotent, nothing
  // changes), which the answer alone cannot tell from a relay that forgets nonces.
  {
    name: REPLAY_ORIGINAL,
    expected: OK,
    send: (c) => {
      c.made.replay = { nonce: newNonce(), timestamp: String(c.now()) };
      return c.p.tenantSync(tenantEdit(c, 'replay original'), c.made.replay);
    },
  },
  {
    name: 'reused nonce: another request signed with the nonce and timestamp of an accepted one',
    expected: '000001',
    acceptedMeans:
      'the relay accepted a reused nonce: x-nonce is not remembered (keep it for at least 2 × 60 s, across all relay instances, e.g. in Redis)',
    tolerated: ['000002'],
    needs: [
      {
        case: REPLAY_ORIGINAL,
        ok: accepted,
        why: ({ push }) =>
          `not tested: the original request was not accepted (${
            push ? (push.resultCode ?? `HTTP ${push.status}`) : 'no answer'
          }), so a refusal of the reuse would prove nothing`,
      },
    ],
    send: (c) => c.p.tenantSync(tenantEdit(c, 'reused nonce'), c.made.replay),
  },

  // 10: a correctly signed request whose x-timestamp is ten minutes old.
  {
    name: 'stale x-timestamp (now − 10 min, correctly signed)',
    expected: '000002',
    acceptedMeans:
      'the relay accepted a 10-minute-old x-timestamp: it must refuse anything outside 60 s of its clock',
    send: (c) => c.p.tenantSync(tenantEdit(c, 'stale'), { timestamp: String(c.now() - 10 * 60_000) }),
  },

  // 14: the basic (instance) interfaces: a purchase as Seller Center's debugging sends it
  // (testFlag "1", a fresh random order) and its life, then the refusals. Read-only calls where
  // the relay might wrongly accept them (kit key, nonce, timestamp).
  {
    name: PURCHASE,
    expected: OK,
    ...BASIC_CALL,
    send: (c) => {
      c.made.purchase = {
        ...newOrder(),
        productId: PRODUCT_ID,
        expireTime: formatExpireTime(c.now() + 30 * DAY_MS),
        ...DEBUG,
      };
      return c.p.newInstance(c.made.purchase);
    },
    ...PURCHASE_ANSWER,
  },
  {
    // The marketplace resends a purchase it got no answer to, with a new businessId (§4).
    name: 'newInstance retry: the same order with a new businessId answers the same instanceId',
    expected: OK,
    ...BASIC_CALL,
    needs: [HAS_INSTANCE],
    send: (c) => c.p.newInstance(c.made.purchase!),
    ...SAME_INSTANCE,
  },
  {
    name: 'queryInstance of that instance: info with appInfo.frontEndUrl',
    expected: OK,
    ...BASIC_CALL,
    needs: [HAS_INSTANCE],
    send: (c) => c.p.queryInstance(theInstance(c)),
    inspect: (push, c) => {
      const info = Array.isArray(push.answer?.info) ? (push.answer.info as unknown[]) : [];
      const entry = info.find(
        (i) => (i as { instanceId?: unknown } | null)?.instanceId === c.made.instanceId,
      ) as { appInfo?: { frontEndUrl?: unknown } } | undefined;
      if (!entry) return { problem: `info does not list ${c.made.instanceId}` };
      const url = entry.appInfo?.frontEndUrl;
      if (typeof url !== 'string' || !URL.canParse(url))
        return {
          problem:
            'appInfo.frontEndUrl is missing or not a URL: KooGallery shows it to the buyer as the address of the app (APP_FRONTEND_URL)',
        };
      const issues = addressIssues(new URL(url));
      return issues.length
        ? {
            note: `frontEndUrl ${url}: ${issues.join(', ')}; buyers open it from KooGallery, so in production it must be the app's public https address (APP_FRONTEND_URL, or PUBLIC_URL)`,
            warn: true,
          }
        : { note: `frontEndUrl ${url}` };
    },
  },
  {
    name: 'refreshInstance RENEWAL: a later expireTime under a new order',
    expected: OK,
    ...BASIC_CALL,
    needs: [HAS_INSTANCE],
    send: (c) => c.p.refreshInstance(renewal(c, c.made.instanceId)),
  },
  {
    name: 'updateInstanceStatus FREEZE (the subscription expired)',
    expected: OK,
    ...BASIC_CALL,
    needs: [HAS_INSTANCE],
    send: (c) => c.p.updateInstanceStatus(theInstance(c, { status: 'FREEZE' })),
  },
  {
    name: 'updateInstanceStatus UNFREEZE (renewed in time)',
    expected: OK,
    ...BASIC_CALL,
    needs: [HAS_INSTANCE],
    send: (c) => c.p.updateInstanceStatus(theInstance(c, { status: 'UNFREEZE' })),
  },
  {
    name: 'upgradeInstance: a new order, another product',
    expected: OK,
    ...BASIC_CALL,
    needs: [HAS_INSTANCE],
    send: (c) => c.p.upgradeInstance(theInstance(c, { ...newOrder(), productId: `${PRODUCT_ID}-pro` })),
  },
  {
    name: 'refreshInstance of an unknown instance',
    expected: '000003',
    ...BASIC_CALL,
    acceptedMeans:
      'the relay answered 000000 for an instance it never created: KooGallery would take the renewal as applied',
    send: (c) => c.p.refreshInstance(renewal(c, unknownInstanceId())),
  },
  {
    name: 'basic call signed with the kit key',
    expected: '000001',
    ...BASIC_CALL,
    acceptedMeans:
      'the relay accepted a basic call signed with the kit key: its BASIC_ACCESS_KEY must be the key bound to the basic interfaces, never the kit key',
    send: (c) => c.p.queryInstance(someInstance(c), { key: c.kitKey }),
  },
  {
    // A kit call, but only there for the basic case after it.
    name: NONCE_KIT,
    expected: OK,
    section: 'basic',
    needs: [HAS_INSTANCE],
    send: (c) => {
      c.made.kitNonce = newNonce();
      return c.p.tenantSync(tenantEdit(c, 'nonce shared with a basic call'), { nonce: c.made.kitNonce });
    },
  },
  {
    name: 'reused nonce: a basic call with the nonce of that accepted kit call',
    expected: '000001',
    ...BASIC_CALL,
    acceptedMeans:
      'the relay accepted a basic call whose nonce a kit call had used: the kit and basic routes must share one nonce store',
    tolerated: ['000002'],
    needs: [
      {
        case: PURCHASE,
        why: (purchase) =>
          `${HAS_INSTANCE.why(purchase)}: a refusal would prove nothing while correctly signed basic calls are refused too`,
      },
      {
        case: NONCE_KIT,
        ok: accepted,
        why: (kit) =>
          `not tested: the kit call whose nonce it reuses was not accepted (${kit.result.got}), so a refusal would prove nothing`,
      },
    ],
    send: (c) => c.p.queryInstance(theInstance(c), { nonce: c.made.kitNonce! }),
  },
  {
    name: 'stale timestamp on a basic call (now − 10 min, correctly signed)',
    expected: '000002',
    ...BASIC_CALL,
    acceptedMeans:
      'the relay accepted a 10-minute-old timestamp: it must refuse anything outside 60 s of its clock',
    send: (c) => c.p.queryInstance(someInstance(c), { timestamp: String(c.now() - 10 * 60_000) }),
  },

  // 13: remove the debug data, whatever happened above. Instances cannot be deleted: an
  // unsubscribe order releases the debug instance, then the marketplace's repeat of that call.
  {
    name: 'releaseInstance (the end of the debug instance)',
    expected: OK,
    ...BASIC_CALL,
    needs: [HAS_INSTANCE],
    cleanup: true,
    send: (c) => c.p.releaseInstance(releaseOrder(c)),
  },
  {
    name: 'releaseInstance again: the same call repeated (idempotent)',
    expected: OK,
    ...BASIC_CALL,
    needs: [HAS_INSTANCE],
    cleanup: true,
    send: (c) => c.p.releaseInstance(releaseOrder(c)),
  },
  {
    name: 'cleanup: applicationSync delete (flag 0)',
    expected: OK,
    cleanup: true,
    send: (c) =>
      c.p.applicationSync({
        instanceId: '',
        tenantId: c.tenantId,
        appId: c.appId,
        clientId: c.clientId,
        flag: 0,
        testFlag: 1,
      }),
  },
  {
    name: 'cleanup: tenantSync delete (flag 0)',
    expected: OK,
    cleanup: true,
    send: (c) => c.p.tenantSync(tenant(c, { flag: 0 })),
  },
];

/** The table's case names as a run with this OAEP variant reports them. */
export function caseNames(oaep: string = DEFAULT_OAEP_VARIANT): string[] {
  return SELF_CHECK_CASES.map((entry) => nameOf(entry, { oaep }));
}

function nameOf(entry: SelfCheckCase, run: { oaep: string }): string {
  return typeof entry.name === 'string' ? entry.name : entry.name(run);
}

function configProblem(options: SelfCheckOptions): string | undefined {
  if (typeof options.url !== 'string' || !options.url) return 'the production address (--url) is required';
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    return `the production address "${options.url}" is not a URL`;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    return `the production address must be http(s), not ${url.protocol}`;
  if (url.search || url.hash) return 'the production address must not have a query or fragment';
  if (options.v1 && !options.v1Key) return 'the V1 key (--v1-key) is required with --v1';
  if (!options.v1 && !options.kitKey) return 'the kit access key (--kit-key) is required';
  // A relay refuses to start with one key for both; the same key here can only be a mix-up.
  if (options.basicKey && options.basicKey === options.kitKey)
    return 'the basic access key (--basic-key) must differ from the kit key: Seller Center binds a different key to each interface type';
  if (!options.publicKey) return 'the public key (--public-key) is required to encrypt clientSecret';
  const timeout = options.timeoutMs ?? PRODUCTION_TIMEOUT_MS;
  if (!Number.isFinite(timeout) || timeout <= 0) return 'the timeout must be a positive number of ms';
  if (options.tenantId !== undefined && (!options.tenantId || options.tenantId.length > 64))
    return 'the tenant id must be 1 to 64 characters';
  if (options.appId !== undefined && (!options.appId || options.appId.length > 64))
    return 'the appId must be 1 to 64 characters';
  const oaep = options.oaep ?? DEFAULT_OAEP_VARIANT;
  if (!isOaepVariantId(oaep)) return `unknown OAEP variant "${oaep}" (one of ${OAEP_VARIANT_IDS.join(', ')})`;
  return undefined;
}

/** The Pusher of the run, or why the public key cannot be used. */
function newPusher(options: SelfCheckOptions): Pusher | string {
  try {
    const pusher = new Pusher({
      productionAddress: options.url,
      kitAccessKey: options.kitKey,
      ...(options.basicKey ? { basicAccessKey: options.basicKey } : {}),
      ...(options.v1Key ? { v1Key: options.v1Key } : {}),
      publicKey: options.publicKey,
      oaep: options.oaep ?? DEFAULT_OAEP_VARIANT,
      timeoutMs: options.timeoutMs ?? PRODUCTION_TIMEOUT_MS,
      ...(options.now ? { now: options.now } : {}),
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    pusher.encryptSecret('probe');
    return pusher;
  } catch (error) {
    return `the public key cannot be used: ${describeError(error)}`;
  }
}

/**
 * Walks the table: each case is skipped (a basic one without a basic key), "not run" (what it
 * needs failed), or sent and judged, and reported as soon as it is decided. If a case throws,
 * only the cleanup cases are sent after it, and the error is rethrown.
 */
async function run(options: SelfCheckOptions, report: (r: CaseResult) => void): Promise<void> {
  const pusher = configProblem(options) ?? newPusher(options);
  if (typeof pusher === 'string') {
    report({ name: 'options', pass: false, expected: 'usable options', got: 'invalid', ms: 0, why: pusher });
    return;
  }
  const outcomes = new Map<string, Outcome>();
  const attempts: Attempt[] = [];
  const tenantId = options.tenantId ?? newDebugTenantId();
  const c: CaseContext = {
    p: pusher,
    url: options.url,
    kitKey: options.kitKey,
    ...(options.v1Key ? { v1Key: options.v1Key } : {}),
    oaep: options.oaep ?? DEFAULT_OAEP_VARIANT,
    timeoutMs: options.timeoutMs ?? PRODUCTION_TIMEOUT_MS,
    now: options.now ?? Date.now,
    tenantId,
    appId: options.appId ?? 'selfcheck-app',
    clientId: `selfcheck-client-${tenantId.slice(-8)}`,
    clientSecret: options.clientSecret ?? `selfcheck-secret-${randomBytes(12).toString('hex')}`,
    answer: (name) => outcomes.get(name)?.push,
    made: {},
  };
  const decided = (outcome: Outcome) => {
    outcomes.set(outcome.result.name, outcome);
    report(outcome.result);
  };
  /** A batch's cases so far, reported together once the table moves past the batch. */
  let held: { batch: Batch; members: BatchMember[] } | undefined;
  const settle = () => {
    if (!held) return;
    const { batch, members } = held;
    held = undefined;
    batch.settle(members).forEach((result, i) => decided({ result, push: members[i]!.attempt.push }));
  };
  const skipped = (entry: SelfCheckCase) => entry.section === 'basic' && !options.basicKey;
  /** After an unexpected error: the cleanup cases still go out, if what they need has run. */
  const cleansUp = (entry: SelfCheckCase) =>
    !!entry.cleanup && !skipped(entry) && (entry.needs ?? []).every((need) => outcomes.has(need.case));
  let failure: { error: unknown } | undefined;

  report(addressCase(options.url));
  for (const entry of options.v1 ? V1_SELF_CHECK_CASES : SELF_CHECK_CASES) {
    try {
      if (held && entry.batch !== held.batch) settle();
      if (failure && !cleansUp(entry)) continue;
      const name = nameOf(entry, c);
      const unsent = skipped(entry) ? skippedResult(name, entry.expected) : unmet(entry, name, outcomes);
      if (unsent) {
        decided({ result: unsent });
        continue;
      }
      const attempt = await send(entry, name, c);
      attempts.push(attempt);
      const judged = evaluate(entry, name, attempt, c);
      if (judged.result.pass && attempt.push) entry.keep?.(attempt.push, c);
      if (entry.batch) {
        (held ??= { batch: entry.batch, members: [] }).members.push({ name, attempt, judged });
        continue;
      }
      decided({ result: judged.result, push: attempt.push });
      const stop = entry.gate?.(attempt, c);
      if (stop) {
        report({
          name: 'remaining cases',
          pass: false,
          expected: 'an answer',
          got: 'not run',
          ms: 0,
          why: stop,
        });
        return;
      }
    } catch (error) {
      failure ??= { error };
    }
  }
  settle();
  if (failure) throw failure.error;

  // 11, 12: properties of every answer.
  for (const summary of summaries(attempts, c.timeoutMs, !!options.basicKey, !!options.v1)) report(summary);
}

async function send(entry: SelfCheckCase, name: string, c: CaseContext): Promise<Attempt> {
  const kind = entry.kind ?? 'kit';
  try {
    return { name, kind, push: await entry.send(c) };
  } catch (error) {
    return { name, kind, error };
  }
}

/** The "not run" result of a case whose first unmet need says why, if one is unmet. */
function unmet(entry: SelfCheckCase, name: string, outcomes: Map<string, Outcome>): CaseResult | undefined {
  for (const need of entry.needs ?? []) {
    const earlier = outcomes.get(need.case);
    if (!earlier) throw new Error(`the case "${name}" needs "${need.case}", which did not run before it`);
    if (!(need.ok ?? ((o: Outcome) => o.result.pass))(earlier))
      return { name, pass: false, expected: entry.expected, got: 'not run', ms: 0, why: need.why(earlier) };
  }
  return undefined;
}

function skippedResult(name: string, expected: string): CaseResult {
  return { name, pass: true, skipped: true, expected, got: 'skipped', ms: 0, why: BASIC_SKIPPED_WHY };
}

export interface Judged {
  result: CaseResult;
  /** The answer was well-formed and only its resultCode was not the expected one. */
  codeOnly: boolean;
}

function evaluate(spec: SelfCheckCase, name: string, attempt: Attempt, c: CaseContext): Judged {
  const { expected } = spec;
  const { timeoutMs } = c;
  const push = attempt.push;
  if (!push) {
    const timedOut = isTimeout(attempt.error);
    return {
      result: {
        name,
        pass: false,
        expected,
        got: timedOut ? 'timeout' : 'no answer',
        ms: timedOut ? timeoutMs : 0,
        why: timedOut
          ? `no answer within ${timeoutMs} ms (KooGallery gives up after ${PRODUCTION_TIMEOUT_MS / 1000} s in production, ${DEBUG_TOOL_TIMEOUT_MS / 1000} s in the debug tool); answer first, do slow work afterwards`
          : `no HTTP answer: ${describeError(attempt.error)}`,
      },
      codeOnly: false,
    };
  }
  const ms = Math.round(push.ms);
  const problems: string[] = [];
  const notes: string[] = [];
  let codeOnly = false;
  let warn = false;
  const message = push.resultMsg ? ` (${push.resultMsg})` : '';
  const kind = spec.kind ?? 'kit';
  if (push.status === 404 || push.status === 405)
    problems.push(
      kind === 'v1'
        ? `HTTP ${push.status}: no V1 route here; the relay serves V1 only with V1_ACCESS_KEY set; is --url the registered production address, including the relay’s PRODUCE_BASE_PATH?`
        : kind === 'basic'
          ? `HTTP ${push.status}: no basic route here; is --url the registered production address, including the relay’s PRODUCE_BASE_PATH? (KooGallery posts the basic calls to that address itself, with ?signature=…&timestamp=…&nonce=…)`
          : `HTTP ${push.status}: no kit route here; is --url the registered production address, including the relay’s PRODUCE_BASE_PATH? (KooGallery appends /produceAPI/v2/… itself)`,
    );
  else if (push.status !== 200)
    problems.push(`HTTP ${push.status}: KooGallery needs HTTP 200 for every answer, refusals included`);
  else if (!isJson(push.contentType))
    problems.push(`Content-Type ${push.contentType ?? 'missing'}: KooGallery needs application/json`);
  else if (push.resultCode === null || !/^\d{6}$/.test(push.resultCode))
    problems.push('the answer is not JSON with a six-digit resultCode');
  else if (push.resultCode !== expected) {
    if (spec.tolerated?.includes(push.resultCode)) {
      warn = true;
      notes.push(
        `refused with ${push.resultCode}${message} rather than ${expected}; the protocol allows either, the relay contract says ${expected}`,
      );
    } else {
      codeOnly = true;
      problems.push(codeProblem(spec, push, c));
    }
  }
  if (push.resultCode === expected && expected !== '000000' && push.resultMsg)
    notes.push(`refused: ${push.resultMsg}`);
  if (problems.length === 0 && push.resultCode === expected && spec.inspect) {
    const seen = spec.inspect(push, c);
    if (seen.problem) problems.push(seen.problem);
    if (seen.note) notes.push(seen.note);
    if (seen.warn) warn = true;
  }
  if (kind === 'v1' && push.bodySignValid === null && push.status === 200) {
    codeOnly = false;
    problems.push(
      'no Body-Sign header: V1 answers must carry it (§7.3: "http header->bodySign is empty"), or KooGallery fails the call',
    );
  }
  if (push.bodySignValid === false) {
    codeOnly = false;
    problems.push(
      `Body-Sign does not verify with this ${kind} key (Base64 HMAC-SHA256 of the exact answer bytes); if KooGallery checks it, every answer fails`,
    );
  }
  if (push.ms > timeoutMs) {
    codeOnly = false;
    problems.push(`answered after ${ms} ms, over the ${timeoutMs} ms timeout`);
  } else if (push.ms > PRODUCTION_TIMEOUT_MS) {
    warn = true;
    notes.push(
      `${ms} ms is within the debug tool's limit but over KooGallery's ${PRODUCTION_TIMEOUT_MS / 1000} s production timeout`,
    );
  }
  const got = push.status !== 200 ? `HTTP ${push.status}` : (push.resultCode ?? 'no resultCode');
  const pass = problems.length === 0;
  const why = [...problems, ...notes].join('; ');
  return {
    result: {
      name,
      pass,
      ...(pass && warn ? { warn: true } : {}),
      expected,
      got,
      ms,
      ...(why ? { why } : {}),
    },
    codeOnly: codeOnly && problems.length === 1,
  };
}

function codeProblem(spec: SelfCheckCase, push: PushResult, c: CaseContext): string {
  const code = push.resultCode!;
  const message = push.resultMsg ? ` (${push.resultMsg})` : '';
  if (code === '000000' && spec.acceptedMeans) return `answered 000000: ${spec.acceptedMeans}`;
  const base = `expected ${spec.expected}, got ${code}${message}`;
  const extra = spec.hint?.(push, c);
  const basic = spec.kind === 'basic';
  if (spec.expected === '000000' || (basic && code === '000001' && spec.expected !== '000001')) {
    if (code === '000001' && spec.kind === 'v1')
      return `${base}: the relay refused the authToken; check that --v1-key is the V1 Key值 (服务商信息) and that the relay's V1_ACCESS_KEY is the same (V1_ACCESS_KEY_BASE64 if the console showed it Base64-encoded)`;
    if (code === '000001')
      return basic
        ? `${base}: the relay refused the signature; check that --basic-key is the access key bound to the basic (基础接口) interfaces (not the kit key) and that the relay's BASIC_ACCESS_KEY is the same`
        : `${base}: the relay refused the signature; check that --kit-key is the access key bound to the kit (联营SaaS同步) interfaces (not the basic-interface key) and that the relay's KIT_ACCESS_KEY is the same`;
    if (code === '000002' && /timestamp/i.test(push.resultMsg ?? ''))
      return `${base}: check the relay host's clock (NTP); ${basic ? 'timestamp' : 'x-timestamp'} must be within 60 s of it`;
    if (code === '000003' && basic)
      return `${base}: the relay does not know the instance its own newInstance answered; do all relay instances share one store?`;
    if (code === '000005') return `${base}: the relay could not store the push; check its logs and its Redis`;
  }
  return extra ? `${base}; ${extra}` : base;
}

/** KooGallery calls only https on port 443 with a domain name (接口要求); a local URL gets a WARN. */
/** What keeps `url` from being an address KooGallery (or its buyers) can use in production. */
function addressIssues(url: URL): string[] {
  const issues: string[] = [];
  if (url.protocol !== 'https:') issues.push('not https');
  if (url.port && url.port !== '443') issues.push(`port ${url.port}`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (/^[\d.]+$/.test(host) || host.includes(':') || host === 'localhost')
    issues.push('not a public domain name');
  return issues;
}

function addressCase(address: string): CaseResult {
  const url = new URL(address);
  const issues = addressIssues(url);
  return {
    name: 'production address: https, port 443, a domain name',
    pass: true,
    ...(issues.length ? { warn: true } : {}),
    expected: 'https://<domain>[:443]/…',
    got: url.origin,
    ms: 0,
    ...(issues.length
      ? {
          why: `${issues.join(', ')}: KooGallery only calls HTTPS (TLS ≥ 1.2, CA-signed certificate) on port 443 with a domain name; fine for a local test, not for the registered address`,
        }
      : {}),
  };
}

function summaries(
  attempts: readonly Attempt[],
  timeoutMs: number,
  basicRan: boolean,
  v1: boolean,
): CaseResult[] {
  const answered = attempts.filter((a): a is Attempt & { push: PushResult } => !!a.push);
  const maxMs = Math.round(Math.max(0, ...answered.map((a) => a.push.ms)));
  const list = (items: readonly Attempt[]) =>
    items
      .slice(0, 3)
      .map((a) => `"${a.name}"`)
      .join(', ') + (items.length > 3 ? ` and ${items.length - 3} more` : '');

  const late = attempts.filter((a) => (a.push ? a.push.ms > timeoutMs : isTimeout(a.error)));
  const slow = answered.filter((a) => a.push.ms > PRODUCTION_TIMEOUT_MS && a.push.ms <= timeoutMs);
  const unanswered = attempts.filter((a) => !a.push && !isTimeout(a.error));
  const timing: CaseResult = {
    name: `every answer within ${timeoutMs} ms`,
    pass: late.length === 0 && unanswered.length === 0,
    ...(late.length === 0 && slow.length ? { warn: true } : {}),
    expected: `≤ ${timeoutMs} ms`,
    got: `slowest ${maxMs} ms of ${answered.length} answers`,
    ms: maxMs,
  };
  if (late.length) timing.why = `over the timeout: ${list(late)}`;
  else if (unanswered.length) timing.why = `not answered at all: ${list(unanswered)}`;
  else if (slow.length)
    timing.why = `over KooGallery's ${PRODUCTION_TIMEOUT_MS / 1000} s production timeout: ${list(slow)}`;

  const malformed = answered.filter(
    (a) =>
      a.push.status !== 200 ||
      !isJson(a.push.contentType) ||
      a.push.resultCode === null ||
      !/^\d{6}$/.test(a.push.resultCode),
  );
  const format: CaseResult = {
    name: 'every answer: HTTP 200, Content-Type application/json, JSON with a six-digit resultCode',
    pass: malformed.length === 0 && answered.length > 0,
    expected: `${answered.length}/${answered.length}`,
    got: `${answered.length - malformed.length}/${answered.length}`,
    ms: maxMs,
  };
  if (malformed.length)
    format.why = `not in the form KooGallery requires (even refusals must be HTTP 200 JSON): ${list(malformed)}`;

  // Each answer is signed with the key its call was verified with (contract §3b), so each kind
  // is summed up with its own key.
  const bodySign = (kind: CallKind, name: string): CaseResult => {
    const mine = answered.filter((a) => a.kind === kind);
    const missing = mine.filter((a) => a.push.bodySignValid === null);
    const invalid = mine.filter((a) => a.push.bodySignValid === false);
    const valid = mine.length - missing.length - invalid.length;
    const result: CaseResult = {
      name,
      pass: invalid.length === 0,
      ...(invalid.length === 0 && missing.length ? { warn: true } : {}),
      expected: `${mine.length} valid`,
      got: `${valid} valid, ${missing.length} missing, ${invalid.length} invalid`,
      ms: Math.round(Math.max(0, ...mine.map((a) => a.push.ms))),
    };
    if (invalid.length)
      result.why = `Body-Sign does not verify with this ${kind} key (Base64 HMAC-SHA256 of the exact answer bytes, key = ${kind} access key): ${list(invalid)}`;
    else if (missing.length)
      result.why = `no Body-Sign on ${list(missing)}: V2 does not strictly require it, but one version of KooGallery's 接口要求 says answers are signed and verified`;
    return result;
  };
  const basic: CaseResult = basicRan
    ? bodySign('basic', BASIC_BODY_SIGN)
    : {
        name: BASIC_BODY_SIGN,
        pass: true,
        skipped: true,
        expected: 'all valid',
        got: 'skipped',
        ms: 0,
        why: BASIC_SKIPPED_WHY,
      };
  if (v1) {
    // Mandatory in V1 (§7.3): a missing header fails the call as an invalid one does.
    const mine = answered.filter((a) => a.kind === 'v1');
    const bad = mine.filter((a) => a.push.bodySignValid !== true);
    const v1Sign: CaseResult = {
      name: 'every V1 answer: Body-Sign present and valid with the V1 key',
      pass: bad.length === 0 && mine.length > 0,
      expected: `${mine.length} valid`,
      got: `${mine.length - bad.length} valid, ${bad.length} missing or invalid`,
      ms: Math.round(Math.max(0, ...mine.map((a) => a.push.ms))),
    };
    if (bad.length)
      v1Sign.why = `Body-Sign missing or not valid (Base64 HMAC-SHA256 of the exact answer bytes, keyed with the V1 key alone, never key + timeStamp; mandatory in V1): ${list(bad)}`;
    return [timing, format, v1Sign];
  }
  return [
    timing,
    format,
    bodySign('kit', 'every kit answer: Body-Sign present and valid with the kit key'),
    basic,
  ];
}

function isJson(contentType: string | null): boolean {
  return !!contentType && /^application\/json\s*(;|$)/i.test(contentType);
}

function isTimeout(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return name === 'TimeoutError' || name === 'AbortError';
}

function appendWhy(why: string | undefined, more: string | undefined): string | undefined {
  if (!more) return why;
  return why ? `${why}; ${more}` : more;
}
