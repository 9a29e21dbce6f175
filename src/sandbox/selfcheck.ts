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
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import { isOaepVariantId, OAEP_VARIANT_IDS } from './marketplace/index.js';
import { formatExpireTime } from './marketplace/index.js';
import { Pusher, type Fields, type PushResult } from './pusher.js';

/** KooGallery's production timeout (接口要求) and its debug tool's (接口调试 FAQ). */
export const PRODUCTION_TIMEOUT_MS = 5000;
export const DEBUG_TOOL_TIMEOUT_MS = 20_000;
/** The variant the Pusher defaults to: Java's OAEPWithSHA-256AndMGF1Padding, the error-prone mix. */
export const DEFAULT_OAEP = 'sha256-mgf1sha1';
/** The order in which the variants are tried and reported. */
export const OAEP_REPORT_ORDER = ['sha256-mgf1sha1', 'sha256-mgf1sha256', 'sha1-mgf1sha1'] as const;

export interface SelfCheckOptions {
  /** The registered production address, e.g. https://isv.example.com/isv/produce */
  url: string;
  /** The access key bound to the kit (联营SaaS同步) interfaces. */
  kitKey: string;
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
type CallKind = 'kit' | 'basic';

/** One request's outcome: an HTTP answer judged by the Pusher, or the error that prevented one. */
interface Attempt {
  name: string;
  kind: CallKind;
  push?: PushResult;
  error?: unknown;
}

/** An attempt with the verdict on it. */
interface Checked extends Attempt {
  result: CaseResult;
}

interface CaseSpec {
  name: string;
  expected: string;
  /** Why a success answer is bad, for the security cases. */
  acceptedMeans?: string;
  /** Extra advice when the answer carries an unexpected code. */
  hint?: (push: PushResult) => string | undefined;
  /** Codes that are a refusal the spec also allows: reported as WARN, not FAIL. */
  tolerated?: readonly string[];
  /** A basic call (default kit): the answer is signed with the basic key, the hints name it. */
  kind?: CallKind;
  /** Checks of an answer with the expected code beyond the code (instanceId, info); `warn` notes pass. */
  inspect?: (push: PushResult) => { problem?: string; note?: string; warn?: boolean };
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
  if (!options.kitKey) return 'the kit access key (--kit-key) is required';
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
  const oaep = options.oaep ?? DEFAULT_OAEP;
  if (!isOaepVariantId(oaep)) return `unknown OAEP variant "${oaep}" (one of ${OAEP_VARIANT_IDS.join(', ')})`;
  return undefined;
}

async function run(options: SelfCheckOptions, report: (r: CaseResult) => void): Promise<void> {
  const problem = configProblem(options);
  let pusher: Pusher | undefined;
  let keyProblem: string | undefined;
  if (!problem) {
    try {
      pusher = new Pusher({
        productionAddress: options.url,
        kitAccessKey: options.kitKey,
        ...(options.basicKey ? { basicAccessKey: options.basicKey } : {}),
        publicKey: options.publicKey,
        oaep: options.oaep ?? DEFAULT_OAEP,
        timeoutMs: options.timeoutMs ?? PRODUCTION_TIMEOUT_MS,
        ...(options.now ? { now: options.now } : {}),
        ...(options.fetch ? { fetch: options.fetch } : {}),
      });
      pusher.encryptSecret('probe');
    } catch (error) {
      keyProblem = `the public key cannot be used: ${describeError(error)}`;
    }
  }
  if (problem || keyProblem || !pusher) {
    report({
      name: 'options',
      pass: false,
      expected: 'usable options',
      got: 'invalid',
      ms: 0,
      why: problem ?? keyProblem ?? 'invalid options',
    });
    return;
  }

  const p = pusher;
  const now = options.now ?? Date.now;
  const timeoutMs = options.timeoutMs ?? PRODUCTION_TIMEOUT_MS;
  const selectedOaep = options.oaep ?? DEFAULT_OAEP;
  const tenantId = options.tenantId ?? newDebugTenantId();
  const appId = options.appId ?? 'selfcheck-app';
  const clientId = `selfcheck-client-${tenantId.slice(-8)}`;
  const clientSecret = options.clientSecret ?? `selfcheck-secret-${randomBytes(12).toString('hex')}`;
  const attempts: Attempt[] = [];

  report(addressCase(options.url));

  const send = async (
    name: string,
    request: () => Promise<PushResult>,
    kind: CallKind = 'kit',
  ): Promise<Attempt> => {
    let attempt: Attempt;
    try {
      attempt = { name, kind, push: await request() };
    } catch (error) {
      attempt = { name, kind, error };
    }
    attempts.push(attempt);
    return attempt;
  };
  const check = async (spec: CaseSpec, request: () => Promise<PushResult>): Promise<Checked> => {
    const attempt = await send(spec.name, request, spec.kind);
    const { result } = evaluate(spec, attempt, timeoutMs);
    report(result);
    return { ...attempt, result };
  };

  // Debug data as Seller Center sends it: testFlag 1, instanceId and orderId empty.
  const tenant = (extra: Fields = {}): Fields => ({
    instanceId: '',
    orderId: '',
    tenantId,
    tenantCode: 'selfcheck',
    name: 'Relay self-check (debug data)',
    domainName: 'https://selfcheck.example.com',
    flag: 1,
    testFlag: 1,
    ...extra,
  });
  const app = (extra: Fields = {}): Fields => ({
    instanceId: '',
    tenantId,
    appId,
    clientId,
    clientSecret,
    flag: 1,
    testFlag: 1,
    ...extra,
  });
  const users = [
    {
      userName: 'selfcheck.admin',
      name: '自检管理员',
      orgCode: 'sc-100',
      role: 'admin',
      enable: 'true',
      email: 'selfcheck.admin@example.com',
    },
    { userName: 'selfcheck.user', name: '自检用户', orgCode: 'sc-110', role: 'user', enable: 'false' },
  ];
  const auth = (flag: number, userList: unknown = users): Fields => ({
    instanceId: '',
    tenantId,
    appId,
    userList,
    flag,
    testFlag: 1,
  });
  const org = (extra: Fields): Fields => ({
    instanceId: '',
    tenantId,
    orgCode: 'sc-120',
    orgName: '自检测试部',
    parentCode: 'sc-100',
    testFlag: 1,
    ...extra,
  });
  const secretHint = (r: PushResult) =>
    /clientSecret|decrypt/i.test(r.resultMsg ?? '')
      ? `the relay could not decrypt clientSecret: the public key given here is not the half of the relay's RSA private key (RSA_PRIVATE_KEY), or the relay does not accept OAEP ${selectedOaep}`
      : undefined;

  // 1, 2: the credential's tenantSync, with instanceId/orderId empty, then absent.
  const first = await check(
    {
      name: 'tenantSync add: debug data (flag 1, testFlag 1, instanceId and orderId empty)',
      expected: '000000',
    },
    () => p.tenantSync(tenant()),
  );
  if (!first.push || first.push.status === 404 || first.push.status === 405) {
    report({
      name: 'remaining cases',
      pass: false,
      expected: 'an answer',
      got: 'not run',
      ms: 0,
      why: first.push
        ? `no kit route at ${options.url.replace(/\/+$/, '')}/produceAPI/v2/… (HTTP ${first.push.status}), so nothing else was sent; fix --url first`
        : 'the relay did not answer the first request, so nothing else was sent (and nothing needs cleaning up)',
    });
    return;
  }

  try {
    await check(
      { name: 'tenantSync add: instanceId and orderId missing entirely', expected: '000000' },
      () => {
        const { instanceId: _i, orderId: _o, ...rest } = tenant({ name: 'Relay self-check (no ids)' });
        return p.tenantSync(rest);
      },
    );

    // 3: applicationSync with the plaintext typed in the debug page, encrypted with the public key.
    await check(
      {
        name: `applicationSync add: clientSecret RSA-OAEP encrypted (${selectedOaep})`,
        expected: '000000',
        hint: secretHint,
      },
      () => p.applicationSync(app()),
    );
    const variants: { id: string; attempt: Attempt; judged: Judged }[] = [];
    for (const id of OAEP_REPORT_ORDER.filter((v) => (OAEP_VARIANT_IDS as readonly string[]).includes(v))) {
      const spec = { name: `applicationSync clientSecret with OAEP ${id}`, expected: '000000' };
      const attempt = await send(spec.name, () =>
        p.applicationSync(app({ clientSecretEncrypted: p.encryptSecret(clientSecret, id) })),
      );
      variants.push({ id, attempt, judged: evaluate(spec, attempt, timeoutMs) });
    }
    const accepted = variants.filter((v) => v.judged.result.pass).map((v) => v.id);
    for (const v of variants) {
      const r = v.judged.result;
      if (r.pass) {
        report({ ...r, why: appendWhy(r.why, `the relay accepts ${v.id}`) });
      } else if (v.judged.codeOnly && accepted.length > 0) {
        report({
          ...r,
          pass: true,
          warn: true,
          why: `the relay does not accept clientSecret encrypted with ${v.id} (${r.got}${
            v.attempt.push?.resultMsg ? `: ${v.attempt.push.resultMsg}` : ''
          }); it accepts ${accepted.join(', ')}. Harmless if KooGallery uses one of those (the variant is not documented)`,
        });
      } else {
        report({
          ...r,
          why: appendWhy(
            r.why,
            accepted.length === 0
              ? 'no OAEP variant was accepted: the relay cannot decrypt clientSecret at all (check the public key and RSA_PRIVATE_KEY)'
              : undefined,
          ),
        });
      }
    }

    // 5: the credential's allOrgSync, both forms of orgInfoList.
    await check({ name: 'allOrgSync: orgInfoList as a JSON array', expected: '000000' }, () =>
      p.allOrgSync({
        instanceId: '',
        tenantId,
        orgInfoList: [
          { orgCode: 'sc-100', orgName: '自检产品部', parentCode: '' },
          { orgCode: 'sc-110', orgName: '自检开发部', parentCode: 'sc-100' },
        ],
        testFlag: 1,
      }),
    );
    await check(
      {
        name: 'allOrgSync: orgInfoList as a string with unquoted keys and OrgName (the marketplace’s example)',
        expected: '000000',
      },
      () =>
        p.allOrgSync({
          instanceId: '',
          tenantId,
          orgInfoList:
            '[{orgCode:"sc-100", OrgName:"自检产品部", parentCode:""}, {orgCode:"sc-110", OrgName:"自检开发部", parentCode:"sc-100"}]',
          testFlag: 1,
          flag: 1,
        }),
    );

    // 4, 7: the test account's authSync, a repeated delivery, then modify, cancel, delete.
    const added = await check(
      {
        name: 'authSync add (flag 1): two users, roles admin and user, one with enable "false"',
        expected: '000000',
      },
      () => p.authSync(auth(1)),
    );
    await check(
      { name: 'authSync repeated delivery: the same body again with a new nonce', expected: '000000' },
      () => (added.push ? p.send('authSync', added.push.body) : p.authSync(auth(1))),
    );
    await check({ name: 'authSync modify (flag 2)', expected: '000000' }, () =>
      p.authSync(
        auth(2, [
          { ...users[0], name: '自检管理员（改）' },
          { ...users[1], enable: 'true' },
        ]),
      ),
    );
    await check({ name: 'authSync cancel authorization (flag 3)', expected: '000000' }, () =>
      p.authSync(auth(3)),
    );
    await check({ name: 'authSync delete (flag 0)', expected: '000000' }, () => p.authSync(auth(0)));

    // 6: department edits.
    await check({ name: 'singleOrgSync add (flag 1)', expected: '000000' }, () =>
      p.singleOrgSync(org({ flag: 1 })),
    );
    await check({ name: 'singleOrgSync modify (flag 2): renamed and moved', expected: '000000' }, () =>
      p.singleOrgSync(org({ orgName: '自检质量部', parentCode: 'sc-110', flag: 2 })),
    );
    await check({ name: 'singleOrgSync delete (flag 0)', expected: '000000' }, () =>
      p.singleOrgSync(org({ orgName: '自检质量部', parentCode: 'sc-110', flag: 0 })),
    );

    // 8: signatures. The bodies only touch the debug tenant, in case the relay wrongly accepts them.
    const tenantEdit = (what: string) => tenant({ flag: 2, name: `Relay self-check (${what})` });
    await check(
      {
        name: 'bad x-sign (right shape, wrong value)',
        expected: '000001',
        acceptedMeans:
          'the relay accepted a push with a wrong x-sign: anyone who knows the address can write to the mirror',
      },
      () => p.tenantSync(tenantEdit('bad sign'), { sign: randomBytes(32).toString('hex').toUpperCase() }),
    );
    await check(
      {
        name: 'missing x-sign header',
        expected: '000001',
        acceptedMeans: 'the relay accepted a push without x-sign: the signature is not enforced',
      },
      () => p.tenantSync(tenantEdit('no sign'), { headers: { 'x-sign': undefined } }),
    );

    // 9: a replay of an accepted request, byte for byte (same nonce, timestamp, x-sign).
    const nonce = randomBytes(32).toString('hex').toUpperCase();
    const timestamp = String(now());
    const original = await check(
      { name: 'tenantSync modify (flag 2): the request the replay case sends again', expected: '000000' },
      () => p.tenantSync(tenantEdit('replay original'), { nonce, timestamp }),
    );
    const replayName = 'replayed nonce: the accepted request again with the same nonce, timestamp and x-sign';
    if (original.push?.resultCode === '000000') {
      const originalBody = original.push.body;
      await check(
        {
          name: replayName,
          expected: '000001',
          acceptedMeans:
            'the relay accepted a replayed request: x-nonce is not remembered (keep it for at least 2 × 60 s, across all relay instances, e.g. in Redis)',
          tolerated: ['000002'],
        },
        () => p.send('tenantSync', originalBody, { nonce, timestamp }),
      );
    } else {
      report({
        name: replayName,
        pass: false,
        expected: '000001',
        got: 'not run',
        ms: 0,
        why: `not tested: the original request was not accepted (${
          original.push ? (original.push.resultCode ?? `HTTP ${original.push.status}`) : 'no answer'
        }), so a refusal of its copy would prove nothing`,
      });
    }

    // 10: a correctly signed request whose x-timestamp is ten minutes old.
    await check(
      {
        name: 'stale x-timestamp (now − 10 min, correctly signed)',
        expected: '000002',
        acceptedMeans:
          'the relay accepted a 10-minute-old x-timestamp: it must refuse anything outside 60 s of its clock',
      },
      () => p.tenantSync(tenantEdit('stale'), { timestamp: String(now() - 10 * 60_000) }),
    );

    // 14: the basic (instance) interfaces, while the debug tenant exists for the shared-nonce case.
    if (options.basicKey)
      await basicCases({
        p,
        check,
        report,
        now,
        kitKey: options.kitKey,
        kitCall: (nonce) => p.tenantSync(tenantEdit('nonce shared with a basic call'), { nonce }),
      });
    else
      for (const [name, expected] of Object.values(BASIC_CASES))
        report({
          name,
          pass: true,
          skipped: true,
          expected,
          got: 'skipped',
          ms: 0,
          why: BASIC_SKIPPED_WHY,
        });
  } finally {
    // 13: remove the debug data, whatever happened above.
    await check({ name: 'cleanup: applicationSync delete (flag 0)', expected: '000000' }, () =>
      p.applicationSync({ instanceId: '', tenantId, appId, clientId, flag: 0, testFlag: 1 }),
    );
    await check({ name: 'cleanup: tenantSync delete (flag 0)', expected: '000000' }, () =>
      p.tenantSync(tenant({ flag: 0 })),
    );
  }

  // 11, 12: properties of every answer.
  for (const summary of summaries(attempts, timeoutMs, !!options.basicKey)) report(summary);
}

/** The basic cases by name and expected code: the same names whether they run or are skipped. */
const BASIC_CASES = {
  purchase: ['newInstance: a new purchase (testFlag "1", a fresh order) answers an instanceId', '000000'],
  retry: ['newInstance retry: the same order with a new businessId answers the same instanceId', '000000'],
  query: ['queryInstance of that instance: info with appInfo.frontEndUrl', '000000'],
  renewal: ['refreshInstance RENEWAL: a later expireTime under a new order', '000000'],
  freeze: ['updateInstanceStatus FREEZE (the subscription expired)', '000000'],
  unfreeze: ['updateInstanceStatus UNFREEZE (renewed in time)', '000000'],
  upgrade: ['upgradeInstance: a new order, another product', '000000'],
  unknown: ['refreshInstance of an unknown instance', '000003'],
  kitSigned: ['basic call signed with the kit key', '000001'],
  nonceKit: ['tenantSync modify (flag 2): the kit call whose nonce the next case reuses', '000000'],
  nonceReuse: ['reused nonce: a basic call with the nonce of that accepted kit call', '000001'],
  stale: ['stale timestamp on a basic call (now − 10 min, correctly signed)', '000002'],
  release: ['releaseInstance (the end of the debug instance)', '000000'],
  releaseAgain: ['releaseInstance again: the same call repeated (idempotent)', '000000'],
} as const satisfies Record<string, readonly [string, string]>;

const BASIC_BODY_SIGN = 'every basic answer: Body-Sign present and valid with the basic key';
const BASIC_SKIPPED_WHY =
  'no basic access key given (--basic-key, or BASIC_ACCESS_KEY in the environment): the basic interfaces (基础接口) were not checked';
const DAY_MS = 24 * 3600 * 1000;
const PRODUCT_ID = 'selfcheck-product';

interface BasicContext {
  p: Pusher;
  check: (spec: CaseSpec, request: () => Promise<PushResult>) => Promise<Checked>;
  report: (r: CaseResult) => void;
  now: () => number;
  kitKey: string;
  /** An accepted kit call made with this nonce, for the shared-nonce case. */
  kitCall: (nonce: string) => Promise<PushResult>;
}

/**
 * A purchase and its life as Seller Center's debugging sends them (testFlag "1", a fresh random
 * order), then the refusals; the instance is released at the end, whatever happened.
 */
async function basicCases(c: BasicContext): Promise<void> {
  const { p, check, report, now } = c;
  const spec = (key: keyof typeof BASIC_CASES, more: Partial<CaseSpec> = {}): CaseSpec => ({
    name: BASIC_CASES[key][0],
    expected: BASIC_CASES[key][1],
    kind: 'basic',
    ...more,
  });
  const notRun = (key: keyof typeof BASIC_CASES, why: string) =>
    report({
      name: BASIC_CASES[key][0],
      pass: false,
      expected: BASIC_CASES[key][1],
      got: 'not run',
      ms: 0,
      why,
    });
  const debug = { testFlag: '1' };
  const newOrder = () => {
    const orderId = `CS${randomBytes(8).toString('hex').toUpperCase().slice(0, 15)}`;
    return { orderId, orderLineId: `${orderId}-000001` };
  };

  const bought: Fields = {
    ...newOrder(),
    productId: PRODUCT_ID,
    expireTime: formatExpireTime(now() + 30 * DAY_MS),
    ...debug,
  };
  const purchase = await check(
    spec('purchase', {
      inspect: (push) => {
        const id = push.answer?.instanceId;
        if (typeof id !== 'string' || !id)
          return {
            problem:
              'answered 000000 without an instanceId: KooGallery needs it to bind tenants and to send every later call',
          };
        if (id.length > 64)
          return { problem: `instanceId has ${id.length} characters; KooGallery allows 64` };
        return { note: `instanceId ${id}` };
      },
    }),
    () => p.newInstance(bought),
  );
  const instanceId = purchase.result.pass ? (purchase.push!.answer!.instanceId as string) : undefined;
  const someId = instanceId ?? `selfcheck-unknown-${randomBytes(8).toString('hex')}`;
  const noInstance = `not tested: the purchase (newInstance) was not accepted (${purchase.result.got}), so there is no instance to call`;

  try {
    if (instanceId) {
      // The marketplace resends a purchase it got no answer to, with a new businessId (§4).
      await check(
        spec('retry', {
          inspect: (push) =>
            push.answer?.instanceId === instanceId
              ? { note: `instanceId ${instanceId} again` }
              : {
                  problem: `answered instanceId ${JSON.stringify(push.answer?.instanceId)}, not ${instanceId}: a purchase resent with a new businessId must answer the instance of its order (orderId + orderLineId), or the buyer gets two`,
                },
        }),
        () => p.newInstance(bought),
      );
      await check(
        spec('query', {
          inspect: (push) => {
            const info = Array.isArray(push.answer?.info) ? (push.answer.info as unknown[]) : [];
            const entry = info.find(
              (i) => (i as { instanceId?: unknown } | null)?.instanceId === instanceId,
            ) as { appInfo?: { frontEndUrl?: unknown } } | undefined;
            if (!entry) return { problem: `info does not list ${instanceId}` };
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
        }),
        () => p.queryInstance({ instanceId, ...debug }),
      );
      await check(spec('renewal'), () =>
        p.refreshInstance({
          instanceId,
          ...newOrder(),
          scene: 'RENEWAL',
          expireTime: formatExpireTime(now() + 395 * DAY_MS),
          ...debug,
        }),
      );
      await check(spec('freeze'), () => p.updateInstanceStatus({ instanceId, status: 'FREEZE', ...debug }));
      await check(spec('unfreeze'), () =>
        p.updateInstanceStatus({ instanceId, status: 'UNFREEZE', ...debug }),
      );
      await check(spec('upgrade'), () =>
        p.upgradeInstance({ instanceId, ...newOrder(), productId: `${PRODUCT_ID}-pro`, ...debug }),
      );
    } else {
      for (const key of ['retry', 'query', 'renewal', 'freeze', 'unfreeze', 'upgrade'] as const)
        notRun(key, noInstance);
    }

    await check(
      spec('unknown', {
        acceptedMeans:
          'the relay answered 000000 for an instance it never created: KooGallery would take the renewal as applied',
      }),
      () =>
        p.refreshInstance({
          instanceId: `selfcheck-unknown-${randomBytes(8).toString('hex')}`,
          ...newOrder(),
          scene: 'RENEWAL',
          expireTime: formatExpireTime(now() + 395 * DAY_MS),
          ...debug,
        }),
    );
    // Read-only calls from here on, in case the relay wrongly accepts them.
    await check(
      spec('kitSigned', {
        acceptedMeans:
          'the relay accepted a basic call signed with the kit key: its BASIC_ACCESS_KEY must be the key bound to the basic interfaces, never the kit key',
      }),
      () => p.queryInstance({ instanceId: someId, ...debug }, { key: c.kitKey }),
    );
    if (instanceId) {
      const nonce = randomBytes(32).toString('hex').toUpperCase();
      const kit = await check({ name: BASIC_CASES.nonceKit[0], expected: BASIC_CASES.nonceKit[1] }, () =>
        c.kitCall(nonce),
      );
      if (kit.push?.resultCode === '000000')
        await check(
          spec('nonceReuse', {
            acceptedMeans:
              'the relay accepted a basic call whose nonce a kit call had used: the kit and basic routes must share one nonce store',
            tolerated: ['000002'],
          }),
          () => p.queryInstance({ instanceId, ...debug }, { nonce }),
        );
      else
        notRun(
          'nonceReuse',
          `not tested: the kit call whose nonce it reuses was not accepted (${kit.result.got}), so a refusal would prove nothing`,
        );
    } else {
      notRun('nonceKit', noInstance);
      notRun(
        'nonceReuse',
        `${noInstance}: a refusal would prove nothing while correctly signed basic calls are refused too`,
      );
    }
    await check(
      spec('stale', {
        acceptedMeans:
          'the relay accepted a 10-minute-old timestamp: it must refuse anything outside 60 s of its clock',
      }),
      () => p.queryInstance({ instanceId: someId, ...debug }, { timestamp: String(now() - 10 * 60_000) }),
    );
  } finally {
    if (instanceId) {
      // An unsubscribe order, then the marketplace's repeat of the very same call.
      const release: Fields = { instanceId, ...newOrder(), ...debug };
      await check(spec('release'), () => p.releaseInstance(release));
      await check(spec('releaseAgain'), () => p.releaseInstance(release));
    } else {
      notRun('release', noInstance);
      notRun('releaseAgain', noInstance);
    }
  }
}

interface Judged {
  result: CaseResult;
  /** The answer was well-formed and only its resultCode was not the expected one. */
  codeOnly: boolean;
}

function evaluate(spec: CaseSpec, attempt: Attempt, timeoutMs: number): Judged {
  const { name, expected } = spec;
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
      kind === 'basic'
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
      problems.push(codeProblem(spec, push));
    }
  }
  if (push.resultCode === expected && expected !== '000000' && push.resultMsg)
    notes.push(`refused: ${push.resultMsg}`);
  if (problems.length === 0 && push.resultCode === expected && spec.inspect) {
    const seen = spec.inspect(push);
    if (seen.problem) problems.push(seen.problem);
    if (seen.note) notes.push(seen.note);
    if (seen.warn) warn = true;
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

function codeProblem(spec: CaseSpec, push: PushResult): string {
  const code = push.resultCode!;
  const message = push.resultMsg ? ` (${push.resultMsg})` : '';
  if (code === '000000' && spec.acceptedMeans) return `answered 000000: ${spec.acceptedMeans}`;
  const base = `expected ${spec.expected}, got ${code}${message}`;
  const extra = spec.hint?.(push);
  const basic = spec.kind === 'basic';
  if (spec.expected === '000000' || (basic && code === '000001' && spec.expected !== '000001')) {
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

function summaries(attempts: readonly Attempt[], timeoutMs: number, basicRan: boolean): CaseResult[] {
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

/** fetch's "fetch failed" hides the reason in `cause` (ECONNREFUSED, ENOTFOUND, certificate errors…). */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as Error & { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as Error & { code?: unknown }).code;
    const detail =
      typeof code === 'string' && !cause.message.includes(code) ? `${code} ${cause.message}` : cause.message;
    const tls =
      typeof code === 'string' && /CERT|SSL|TLS|SELF_SIGNED/.test(code)
        ? ' (KooGallery needs a certificate from a trusted CA)'
        : '';
    return `${error.message}: ${detail}${tls}`;
  }
  return error.message;
}
