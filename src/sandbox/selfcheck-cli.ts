/**
 * The deployment self-check as a command, to run against a deployed relay before Seller Center's
 * interface debugging (接口调试):
 *
 *   npm run selfcheck -- --url https://isv.example.com/isv/produce --kit-key KEY
 *       --public-key seller-public.pem [--basic-key KEY]
 *       [--oaep sha256-mgf1sha1|sha256-mgf1sha256|sha1-mgf1sha1]
 *       [--timeout-ms 5000] [--tenant-id ID] [--app-id ID] [--json]
 *   npm run selfcheck -- --v1 --url https://isv.example.com/isv/produce --v1-key KEY
 *       --public-key seller-public.pem [--timeout-ms 5000] [--tenant-id ID] [--app-id ID] [--json]
 *
 * `--kit-key` and `--basic-key` may be left out when KIT_ACCESS_KEY / BASIC_ACCESS_KEY are set in
 * the environment (keeps the keys out of shell history); without a basic key the basic-interface
 * cases are SKIP lines. `--v1` replays the V1 cases instead (the authToken scheme; `--v1-key`, or
 * V1_ACCESS_KEY in the environment). Prints one PASS/WARN/SKIP/FAIL line per case; exit status 0 only if no
 * case failed (WARN and SKIP lines do not fail), 1 if one failed, 2 for bad usage.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_OAEP_VARIANT, OAEP_VARIANT_IDS } from './marketplace/index.js';
import {
  DEBUG_TOOL_TIMEOUT_MS,
  newDebugTenantId,
  PRODUCTION_TIMEOUT_MS,
  runSelfCheck,
  type CaseResult,
} from './selfcheck.js';

const USAGE = `usage:
  npm run selfcheck -- --url PRODUCTION_ADDRESS --kit-key KEY --public-key FILE [--basic-key KEY]
                       [--oaep ${OAEP_VARIANT_IDS.join('|')}] [--timeout-ms ${PRODUCTION_TIMEOUT_MS}]
                       [--tenant-id ID] [--app-id ID] [--json]
  npm run selfcheck -- --v1 --url PRODUCTION_ADDRESS --v1-key KEY --public-key FILE [--timeout-ms …] […]

  --url          the production address registered in Seller Center, e.g. https://isv.example.com/isv/produce
  --kit-key      the access key bound to the kit (联营SaaS同步) interfaces (default: $KIT_ACCESS_KEY)
  --public-key   the public key uploaded with the app credential (PEM, or the Base64 body pasted in Seller Center)
  --basic-key    the access key bound to the basic (基础接口) interfaces (default: $BASIC_ACCESS_KEY);
                 without it the basic-interface cases are skipped
  --v1           replay the V1 (联营SaaS V1.0, authToken) debugging cases instead of the V2 ones
  --v1-key       the V1 Key值 (服务商信息) the relay has as V1_ACCESS_KEY (default: $V1_ACCESS_KEY)
  --oaep         OAEP variant of the main applicationSync case (default ${DEFAULT_OAEP_VARIANT}); all are tried as well
  --timeout-ms   per-answer timeout: ${PRODUCTION_TIMEOUT_MS} as in production, ${DEBUG_TOOL_TIMEOUT_MS} as Seller Center's debug tool
  --tenant-id    debug tenant to use (default: a fresh random one); it is deleted at the end
  --app-id       appId for applicationSync/authSync (default: selfcheck-app)
  --json         print one JSON document instead of lines`;

function usage(message: string): never {
  console.error(`${message}\n\n${USAGE}`);
  process.exit(2);
}

const LABEL = (r: CaseResult) => (!r.pass ? 'FAIL' : r.skipped ? 'SKIP' : r.warn ? 'WARN' : 'PASS');

/** `previousWhy`: a run of SKIP lines shares one reason, printed under the first only. */
function formatCase(r: CaseResult, previousWhy?: string): string {
  const ms = `${String(r.ms).padStart(5)} ms`;
  const outcome = r.got === r.expected || (r.pass && !r.warn) ? r.got : `${r.got}, expected ${r.expected}`;
  const line = `${LABEL(r)}  ${ms}  ${r.name} → ${outcome}`;
  return r.why && !(r.skipped && r.why === previousWhy) ? `${line}\n                 ${r.why}` : line;
}

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        url: { type: 'string' },
        'kit-key': { type: 'string' },
        'public-key': { type: 'string' },
        'basic-key': { type: 'string' },
        v1: { type: 'boolean', default: false },
        'v1-key': { type: 'string' },
        oaep: { type: 'string', default: DEFAULT_OAEP_VARIANT },
        'timeout-ms': { type: 'string', default: String(PRODUCTION_TIMEOUT_MS) },
        'tenant-id': { type: 'string' },
        'app-id': { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    usage((error as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!values.url) usage('--url is required: the production address registered in Seller Center');
  try {
    new URL(values.url);
  } catch {
    usage(`--url "${values.url}" is not a URL`);
  }
  const v1 = values.v1 === true;
  const v1Key = values['v1-key'] ?? process.env.V1_ACCESS_KEY;
  if (v1 && !v1Key) usage('--v1-key is required with --v1 (or set V1_ACCESS_KEY)');
  const kitKey = values['kit-key'] ?? process.env.KIT_ACCESS_KEY ?? '';
  if (!kitKey && !v1) usage('--kit-key is required (or set KIT_ACCESS_KEY)');
  const basicKey = v1 ? undefined : (values['basic-key'] ?? process.env.BASIC_ACCESS_KEY);
  if (basicKey && basicKey === kitKey)
    usage(
      '--basic-key must differ from the kit key: Seller Center binds a different key to each interface type',
    );
  if (!values['public-key'])
    usage('--public-key is required: the public key uploaded with the app credential');
  let publicKey: string;
  try {
    publicKey = readFileSync(values['public-key'], 'utf8');
  } catch (error) {
    usage(`cannot read --public-key ${values['public-key']}: ${(error as Error).message}`);
  }
  if (!(OAEP_VARIANT_IDS as readonly string[]).includes(values.oaep!))
    usage(`--oaep must be one of ${OAEP_VARIANT_IDS.join(', ')}`);
  const timeoutMs = Number(values['timeout-ms']);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) usage('--timeout-ms must be a positive integer');
  const tenantId = values['tenant-id'] ?? newDebugTenantId();
  const appId = values['app-id'] ?? 'selfcheck-app';

  // Output piped into `head` closes early: keep running, so the debug data is still cleaned up.
  process.stdout.on('error', () => {});
  const out = (text: string) => process.stdout.write(`${text}\n`);
  if (!values.json) {
    out(
      `KooGallery self-check of ${values.url}: ` +
        (v1
          ? 'V1 kit and basic interfaces (authToken)'
          : `kit interfaces${basicKey ? ' and basic interfaces' : ''}`),
    );
    out(
      `debug tenant ${tenantId}, appId ${appId}, testFlag 1, timeout ${timeoutMs} ms` +
        (timeoutMs === PRODUCTION_TIMEOUT_MS ? ' (production)' : '') +
        (basicKey || v1 ? '' : '; no --basic-key, so the basic-interface cases are skipped') +
        '\n',
    );
  }
  let previousWhy: string | undefined;
  const results = await runSelfCheck({
    url: values.url,
    kitKey,
    ...(basicKey ? { basicKey } : {}),
    ...(v1 ? { v1, v1Key: v1Key! } : {}),
    publicKey,
    oaep: values.oaep!,
    timeoutMs,
    tenantId,
    appId,
    ...(values.json
      ? {}
      : {
          onResult: (r: CaseResult) => {
            out(formatCase(r, previousWhy));
            previousWhy = r.why;
          },
        }),
  });
  const failed = results.filter((r) => !r.pass).length;
  const skipped = results.filter((r) => r.pass && r.skipped).length;
  const warned = results.filter((r) => r.pass && !r.skipped && r.warn).length;
  const passed = results.length - failed - skipped;
  const ok = failed === 0 && passed > 0;
  if (values.json) {
    out(JSON.stringify({ url: values.url, tenantId, appId, timeoutMs, ok, results }, null, 2));
  } else {
    out(
      `\n${passed} passed${warned ? ` (${warned} with a warning)` : ''}, ${failed} failed` +
        (skipped ? `, ${skipped} skipped` : '') +
        ': ' +
        (!ok
          ? 'fix the FAIL lines before running Seller Center’s interface debugging (接口调试).'
          : skipped
            ? 'the relay should pass Seller Center’s interface debugging (接口调试) of the kit interfaces; give --basic-key to check the basic interfaces too.'
            : 'the relay should pass Seller Center’s interface debugging (接口调试).'),
    );
  }
  return ok ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));
