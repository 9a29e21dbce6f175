/**
 * The sandbox as a command, for sellers pointing it at any relay:
 *
 *   npm run sandbox -- keygen [--out .keys]
 *   npm run sandbox -- push <tenantSync|applicationSync|authSync|singleOrgSync|allOrgSync>
 *       --relay https://isv.example.com/isv/produce --kit-key KEY [--public-key FILE]
 *       [--oaep sha256-mgf1sha1|sha256-mgf1sha256|sha1-mgf1sha1] [--hex] [--timeout-ms 5000]
 *       --data '{"tenantId":"…", …}' | --data @push.json
 *   npm run sandbox -- buy|renew|freeze|unfreeze|release|upgrade|query --relay URL --basic-key KEY …
 *
 * `push` fills in what the marketplace adds (timeStamp, currentSyncTime, testFlag 0), encrypts a
 * plaintext `clientSecret` with the public key, signs, sends, and judges the answer as
 * KooGallery would. The instance commands (lifecycle.ts) make the basic calls of a purchase and
 * its life the same way; `buy` ends with `instanceId=<id>`, `query` with `info=<JSON>`.
 * Exit status 0 only when the relay answered as the marketplace needs, 1 when it did not, 2 for
 * bad usage.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { generateSellerKeyPair, writeSellerKeyPair } from './keys.js';
import {
  formatCall,
  isLifecycleCommand,
  LIFECYCLE_USAGE,
  parseLifecycle,
  runLifecycle,
  UsageError,
} from './lifecycle.js';
import { KIT_INTERFACES, type KitInterface } from '../vocabulary.js';
import { DEFAULT_OAEP_VARIANT } from './marketplace/index.js';
import { Pusher } from './pusher.js';

const USAGE = `usage:
  npm run sandbox -- keygen [--out DIR]
  npm run sandbox -- push <${KIT_INTERFACES.join('|')}> --relay URL --kit-key KEY [--public-key FILE]
                      [--oaep VARIANT] [--hex] [--timeout-ms MS] --data JSON|@FILE
${LIFECYCLE_USAGE}`;

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

/** parseArgs refuses unknown or malformed flags by throwing; that is bad usage, not a crash. */
function isParseArgsError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}

function readData(value: string | undefined): Record<string, unknown> {
  if (!value) fail('--data is required: the push fields as JSON, or @file.json');
  const text = value.startsWith('@') ? readFileSync(value.slice(1), 'utf8') : value;
  try {
    const parsed: unknown = JSON.parse(text);
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error();
    return parsed as Record<string, unknown>;
  } catch {
    fail('--data must be a JSON object');
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'keygen') {
    const { values } = parseArgs({ args: rest, options: { out: { type: 'string', default: '.keys' } } });
    const pair = generateSellerKeyPair();
    const files = writeSellerKeyPair(values.out!, pair);
    process.stdout.write(
      `private key (keep it; RSA_PRIVATE_KEY_FILE): ${files.privateFile}\npublic key: ${files.publicFile}\n` +
        `paste into Seller Center (应用凭证 → 公钥), header and footer removed:\n${pair.publicBase64}\n`,
    );
    return 0;
  }
  if (command === 'push') {
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        relay: { type: 'string' },
        'kit-key': { type: 'string' },
        'public-key': { type: 'string' },
        oaep: { type: 'string', default: DEFAULT_OAEP_VARIANT },
        hex: { type: 'boolean', default: false },
        'timeout-ms': { type: 'string', default: '5000' },
        data: { type: 'string' },
      },
    });
    const iface = positionals[0] as KitInterface;
    if (!KIT_INTERFACES.includes(iface)) fail(`unknown interface "${positionals[0] ?? ''}"\n${USAGE}`);
    if (!values.relay) fail('--relay is required: the registered production address');
    if (!values['kit-key']) fail('--kit-key is required');
    const pusher = new Pusher({
      productionAddress: values.relay,
      kitAccessKey: values['kit-key'],
      ...(values['public-key'] ? { publicKey: readFileSync(values['public-key'], 'utf8') } : {}),
      oaep: values.oaep!,
      ciphertextEncoding: values.hex ? 'hex' : 'base64',
      timeoutMs: Number(values['timeout-ms']),
    });
    const data = readData(values.data);
    if (iface === 'applicationSync' && data.clientSecret && !values['public-key'])
      fail('applicationSync needs --public-key to encrypt clientSecret');
    try {
      const result = await pusher.push(iface, data);
      process.stdout.write(`${formatCall(iface, result)}\n`);
      return result.ok ? 0 : 1;
    } catch (error) {
      process.stdout.write(`${iface} → FAILED: ${(error as Error).message}\n`);
      return 1;
    }
  }
  if (command && isLifecycleCommand(command)) {
    let request;
    try {
      request = parseLifecycle(command, rest);
    } catch (error) {
      if (error instanceof UsageError) fail(`${error.message}\n${USAGE}`);
      throw error;
    }
    const outcome = await runLifecycle(request, { print: (line) => process.stdout.write(`${line}\n`) });
    return outcome.ok ? 0 : 1;
  }
  fail(USAGE);
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (!isParseArgsError(error)) throw error;
  fail(`${(error as Error).message}\n${USAGE}`);
}
