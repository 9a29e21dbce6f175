/**
 * An instance's life driven as KooGallery drives it, for `npm run sandbox -- buy|renew|…` against
 * any relay: the basic calls (kit-sync-and-signing.md §2.3, §4; contract §3b) signed with the
 * basic key by the sandbox's Pusher, each answer judged as the marketplace judges it.
 *
 * Flags are parsed here rather than in cli.ts so a test can check them without a child process;
 * times that depend on "now" (`--months`) are resolved at parse time for the same reason.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { formatExpireTime, newOrder, newOrderId } from './marketplace/index.js';
import { Pusher, type Fields, type PushResult } from './pusher.js';
import { describeError } from './describeError.js';

import { REFRESH_SCENES } from '../vocabulary.js';

export const LIFECYCLE_COMMANDS = [
  'buy',
  'renew',
  'freeze',
  'unfreeze',
  'release',
  'upgrade',
  'query',
] as const;
export type LifecycleCommand = (typeof LIFECYCLE_COMMANDS)[number];

export type RenewScene = (typeof REFRESH_SCENES)[number];

export const LIFECYCLE_USAGE = `  npm run sandbox -- buy      --relay URL --basic-key KEY [--order-id ID] [--order-line-id ID] [--product-id P]
                                [--expire-time yyyyMMddHHmmss | --months N] [--attempts N]
  npm run sandbox -- renew    --relay URL --basic-key KEY --instance-id I [--scene ${REFRESH_SCENES.join('|')}]
                                [--expire-time yyyyMMddHHmmss | --months N] [--product-id P]
  npm run sandbox -- freeze|unfreeze|release --relay URL --basic-key KEY --instance-id I
  npm run sandbox -- upgrade  --relay URL --basic-key KEY --instance-id I [--product-id P]
  npm run sandbox -- query    --relay URL --basic-key KEY --instance-id I[,J…]
    common: [--timeout-ms 5000] [--test]   (--test sends testFlag "1", debug data)`;

/** Bad flags: the CLI prints the message and the usage, and exits 2. */
export class UsageError extends Error {}

interface Common {
  /** The production address, as registered; the basic calls go to it with a query string. */
  relay: string;
  basicKey: string;
  timeoutMs: number;
  testFlag: '0' | '1';
}

export type LifecycleRequest = Common &
  (
    | {
        command: 'buy';
        orderId: string;
        orderLineId: string;
        productId?: string;
        expireTime: string;
        attempts: number;
      }
    | { command: 'renew'; instanceId: string; scene: RenewScene; expireTime: string; productId?: string }
    | { command: 'upgrade'; instanceId: string; productId?: string }
    | { command: 'freeze' | 'unfreeze' | 'release' | 'query'; instanceId: string }
  );

export const isLifecycleCommand = (v: string): v is LifecycleCommand =>
  (LIFECYCLE_COMMANDS as readonly string[]).includes(v);

/** Parses `argv` (the words after the command); throws UsageError with one clear line. */
export function parseLifecycle(command: string, argv: string[], now: number = Date.now()): LifecycleRequest {
  if (!isLifecycleCommand(command)) throw new UsageError(`unknown command "${command}"`);
  const options: NonNullable<ParseArgsConfig['options']> = {
    relay: { type: 'string' },
    'basic-key': { type: 'string' },
    'timeout-ms': { type: 'string', default: '5000' },
    test: { type: 'boolean', default: false },
    ...(command === 'buy'
      ? {
          'order-id': { type: 'string' },
          'order-line-id': { type: 'string' },
          attempts: { type: 'string', default: '3' },
        }
      : { 'instance-id': { type: 'string' } }),
    ...(command === 'buy' || command === 'renew'
      ? { 'expire-time': { type: 'string' }, months: { type: 'string' } }
      : {}),
    ...(command === 'renew' ? { scene: { type: 'string', default: 'RENEWAL' } } : {}),
    ...(command === 'buy' || command === 'renew' || command === 'upgrade'
      ? { 'product-id': { type: 'string' } }
      : {}),
  };
  let values: Record<string, string | boolean | undefined>;
  try {
    // No option is `multiple`, so every value is a string, a boolean or absent.
    values = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as Record<
      string,
      string | boolean | undefined
    >;
  } catch (error) {
    // parseArgs names the offending flag first; what follows (further lines, or after ". ") is
    // advice about dashes and positionals that does not fit on the one line we print.
    const first = (error as Error).message.split('\n')[0]!.split('. ')[0]!.replace(/\.$/, '');
    throw new UsageError(`${command}: ${first}`);
  }
  const str = (name: string) => values[name] as string | undefined;
  const common: Common = {
    relay: relayUrl(str('relay')),
    basicKey: required(
      str('basic-key'),
      '--basic-key is required: the access key bound to the basic interfaces',
    ),
    timeoutMs: positiveInt(str('timeout-ms')!, '--timeout-ms'),
    testFlag: values.test ? '1' : '0',
  };
  const productId = optionalId(str('product-id'), '--product-id');
  const withProduct = productId === undefined ? {} : { productId };

  if (command === 'buy') {
    const orderId = optionalId(str('order-id'), '--order-id') ?? newOrderId();
    return {
      ...common,
      command,
      orderId,
      orderLineId: optionalId(str('order-line-id'), '--order-line-id') ?? `${orderId}-000001`,
      ...withProduct,
      expireTime: expireTime(str('expire-time'), str('months'), now),
      attempts: positiveInt(str('attempts')!, '--attempts'),
    };
  }
  const instanceId = required(str('instance-id'), `--instance-id is required for ${command}`);
  if (command === 'renew') {
    const scene = str('scene')!;
    if (!(REFRESH_SCENES as readonly string[]).includes(scene))
      throw new UsageError(`--scene must be one of ${REFRESH_SCENES.join(', ')}`);
    return {
      ...common,
      command,
      instanceId,
      scene: scene as RenewScene,
      expireTime: expireTime(str('expire-time'), str('months'), now),
      ...withProduct,
    };
  }
  if (command === 'upgrade') return { ...common, command, instanceId, ...withProduct };
  return { ...common, command, instanceId };
}

function required(value: string | undefined, message: string): string {
  if (!value) throw new UsageError(message);
  return value;
}

function relayUrl(value: string | undefined): string {
  const text = required(value, '--relay is required: the production address registered in Seller Center');
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--relay "${text}" is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new UsageError(`--relay must be http(s), not ${url.protocol}`);
  // The signature, timestamp and nonce are the query; the address itself has none.
  if (url.search || url.hash) throw new UsageError('--relay must not have a query or fragment');
  return text;
}

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n <= 0)
    throw new UsageError(`${flag} must be a positive integer, not "${value}"`);
  return n;
}

/** The marketplace's ids are at most 64 characters (§4). */
function optionalId(value: string | undefined, flag: string): string | undefined {
  if (value === undefined) return undefined;
  if (!value || value.length > 64) throw new UsageError(`${flag} must be 1 to 64 characters`);
  return value;
}

/** `--expire-time` as given (14 or 17 digits, a real UTC time), or now + `--months` (default 12). */
function expireTime(given: string | undefined, months: string | undefined, now: number): string {
  if (given !== undefined && months !== undefined)
    throw new UsageError('give --expire-time or --months, not both');
  if (given !== undefined) {
    if (!/^\d{14}(\d{3})?$/.test(given) || !isRealUtcTime(given))
      throw new UsageError(
        `--expire-time must be a UTC time as yyyyMMddHHmmss (or 17 digits), not "${given}"`,
      );
    return given;
  }
  return formatExpireTime(addMonths(now, months === undefined ? 12 : positiveInt(months, '--months')));
}

function isRealUtcTime(v: string): boolean {
  const [y, mo, d, h, mi, s] = [0, 4, 6, 8, 10, 12].map((i, k) => Number(v.slice(i, i + (k === 0 ? 4 : 2))));
  const ms = Date.UTC(y!, mo! - 1, d!, h!, mi!, s!);
  // Date.UTC rolls 31 February over into March; a real time formats back to itself.
  return Number.isFinite(ms) && y! >= 1970 && formatExpireTime(ms) === v.slice(0, 14);
}

/** Calendar months in UTC, the day clamped to the target month (31 Jan + 1 month = 28/29 Feb). */
export function addMonths(epochMs: number, months: number): number {
  const d = new Date(epochMs);
  const day = d.getUTCDate();
  d.setUTCDate(1);
  d.setUTCMonth(d.getUTCMonth() + months);
  const lastDay = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
  d.setUTCDate(Math.min(day, lastDay));
  return d.getTime();
}

/** One line per call, the same for kit pushes and basic calls. */
export function formatCall(label: string, result: PushResult): string {
  const verdict = result.ok ? 'ok' : `FAILED: ${result.problem}`;
  const sign =
    result.bodySignValid === null
      ? 'no Body-Sign'
      : result.bodySignValid
        ? 'Body-Sign ok'
        : 'Body-Sign WRONG';
  return `${label} → HTTP ${result.status} ${result.resultCode ?? '-'} ${result.resultMsg ?? ''} (${result.ms.toFixed(0)} ms, ${sign}) ${verdict}`;
}

export interface LifecycleIo {
  /** one output line (the CLI writes it to stdout) */
  print: (line: string) => void;
  fetch?: typeof fetch;
  now?: () => number;
  /** pause between newInstance attempts; 1 s by default */
  retryDelayMs?: number;
}

export interface LifecycleOutcome {
  /** The relay answered every call as the marketplace needs. */
  ok: boolean;
  /** Every answered call, in order (a buy may make several). */
  results: PushResult[];
  /** buy: the instanceId the relay answered */
  instanceId?: string;
  /** query: the relay's `info` */
  info?: unknown[];
}

/**
 * Runs one command. Never throws for the relay's sake: a call without an answer is a FAILED
 * line, as is an answer the marketplace would not accept.
 */
export async function runLifecycle(req: LifecycleRequest, io: LifecycleIo): Promise<LifecycleOutcome> {
  const pusher = new Pusher({
    productionAddress: req.relay,
    // Only basic calls are made; the Pusher's kit key is never used.
    kitAccessKey: '',
    basicAccessKey: req.basicKey,
    timeoutMs: req.timeoutMs,
    ...(io.fetch ? { fetch: io.fetch } : {}),
    ...(io.now ? { now: io.now } : {}),
  });
  const results: PushResult[] = [];
  const call = async (label: string, send: () => Promise<PushResult>): Promise<PushResult | null> => {
    try {
      const r = await send();
      results.push(r);
      io.print(formatCall(label, r));
      return r;
    } catch (error) {
      io.print(`${label} → FAILED: ${describeError(error)}`);
      return null;
    }
  };
  const testFlag = req.testFlag;
  const withProduct = (productId: string | undefined): Fields => (productId ? { productId } : {});

  switch (req.command) {
    case 'buy': {
      // As the marketplace buys: the same order on every attempt, a new businessId each time
      // (the Pusher makes one per call), so a relay that saw a lost attempt answers its instanceId.
      for (let i = 1; i <= req.attempts; i++) {
        if (i > 1) await new Promise((r) => setTimeout(r, io.retryDelayMs ?? 1000));
        const label = req.attempts > 1 ? `newInstance (attempt ${i}/${req.attempts})` : 'newInstance';
        const r = await call(label, () =>
          pusher.newInstance({
            orderId: req.orderId,
            orderLineId: req.orderLineId,
            ...withProduct(req.productId),
            expireTime: req.expireTime,
            testFlag,
          }),
        );
        const instanceId = r?.answer?.instanceId;
        if (r?.ok && typeof instanceId === 'string' && instanceId) {
          io.print(`instanceId=${instanceId}`);
          return { ok: true, results, instanceId };
        }
      }
      if (req.attempts > 1) io.print(`newInstance: no instance after ${req.attempts} attempts`);
      return { ok: false, results };
    }
    case 'renew': {
      const r = await call(`refreshInstance ${req.scene}`, () =>
        pusher.refreshInstance({
          instanceId: req.instanceId,
          ...newOrder(),
          ...withProduct(req.productId),
          scene: req.scene,
          expireTime: req.expireTime,
          testFlag,
        }),
      );
      if (r?.ok) io.print(`expireTime=${req.expireTime}`);
      return { ok: r?.ok === true, results };
    }
    case 'freeze':
    case 'unfreeze': {
      const status = req.command === 'freeze' ? 'FREEZE' : 'UNFREEZE';
      const r = await call(`updateInstanceStatus ${status}`, () =>
        pusher.updateInstanceStatus({ instanceId: req.instanceId, status, testFlag }),
      );
      return { ok: r?.ok === true, results };
    }
    case 'release': {
      const r = await call('releaseInstance', () =>
        pusher.releaseInstance({ instanceId: req.instanceId, ...newOrder(), testFlag }),
      );
      return { ok: r?.ok === true, results };
    }
    case 'upgrade': {
      const r = await call('upgradeInstance', () =>
        pusher.upgradeInstance({
          instanceId: req.instanceId,
          ...newOrder(),
          ...withProduct(req.productId),
          testFlag,
        }),
      );
      return { ok: r?.ok === true, results };
    }
    case 'query': {
      const r = await call('queryInstance', () =>
        pusher.queryInstance({ instanceId: req.instanceId, testFlag }),
      );
      if (!r?.ok) return { ok: false, results };
      const info = r.answer?.info;
      if (!Array.isArray(info)) {
        io.print('queryInstance → FAILED: 000000 without an info list (the marketplace needs info)');
        return { ok: false, results };
      }
      const answered = new Set(info.map((i) => (i as { instanceId?: unknown } | null)?.instanceId));
      const missing = req.instanceId.split(',').filter((id) => id.trim() && !answered.has(id.trim()));
      if (missing.length) io.print(`not known to the relay: ${missing.join(', ')}`);
      io.print(`info=${JSON.stringify(info)}`);
      return { ok: true, results, info };
    }
  }
}
