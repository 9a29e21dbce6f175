// The apply encoder on its own: the KEYS and ARGV the Lua script reads. The store battery shows
// that Redis does the right thing with them; these tests pin down the layout itself, including
// the parts the battery cannot see (a key sent twice, an empty operation sent at all).
import { createHash } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import {
  APPLY,
  encodeApply,
  hashChunks,
  packArgs,
  READ_RECORD_WITH_REFS,
} from '../../src/store/redis/scripts.js';
import type { ApplyOptions, WriteOp } from '../../src/store/store.js';
import { RUN_VALUES } from '../../src/store/streamRuns.js';

interface Decoded {
  deadline: number;
  guards: { kind: string; key: string; field?: string; equals: string | null }[];
  ops: { code: string; key: string; args: string[] }[];
}

/**
 * Reads KEYS and ARGV the way APPLY's Lua does, so a test can state what the script will do.
 * Key references are resolved to names (throwing on a dangling one); every argument must be used.
 */
function decode({ keys, args }: { keys: string[]; args: string[] }): Decoded {
  let i = 0;
  const next = () => {
    if (i >= args.length) throw new Error(`ARGV ends early at ${i + 1}`);
    return args[i++]!;
  };
  const key = (ref: string) => {
    const name = keys[Number(ref) - 1];
    if (!/^[1-9]\d*$/.test(ref) || name === undefined) throw new Error(`no KEYS[${ref}]`);
    return name;
  };
  const deadline = Number(next());
  const guards: Decoded['guards'] = [];
  for (let g = Number(next()); g > 0; g--) {
    const kind = next();
    const k = key(next());
    const field = kind === 'h' ? next() : undefined;
    const equals = next() === '1' ? next() : null;
    guards.push({ kind, key: k, ...(field !== undefined ? { field } : {}), equals });
  }
  const ops: Decoded['ops'] = [];
  for (let o = Number(next()); o > 0; o--) {
    const code = next();
    const k = key(next());
    const n = Number(next());
    const opArgs = Array.from({ length: n }, next);
    ops.push({ code, key: k, args: opArgs });
  }
  if (i !== args.length) throw new Error(`${args.length - i} arguments left over`);
  return { deadline, guards, ops };
}

/**
 * encodeApply, packed (which refuses a stream value of more than one line), with its runs of
 * stream values as the script receives them: one string each, the values joined by newlines.
 */
function encode(ops: readonly WriteOp[], options: ApplyOptions = {}, deadline = 0) {
  const { keys, args } = encodeApply(ops, options, deadline);
  packArgs(args);
  return { keys, args: args.map((a) => (typeof a === 'string' ? a : a.join('\n'))) };
}

describe('encodeApply', () => {
  it('sends each key once and refers to it by its 1-based index, guards first', () => {
    const encoded = encode(
      [
        { op: 'set', key: 'b', value: 'x' },
        { op: 'incr', key: 'a' },
        { op: 'hset', key: 'b2', entries: [['f', 'v']] },
        { op: 'incr', key: 'b' },
      ],
      { guards: [{ key: 'a', equals: '7' }] },
    );
    expect(encoded.keys).toEqual(['a', 'b', 'b2']);
    expect(encoded.args).toEqual([
      ...['0', '1'],
      ...['s', '1', '1', '7'],
      '4',
      ...['set', '2', '2', 'x', '0'],
      ...['incr', '1', '0'],
      ...['hset', '3', '2', 'f', 'v'],
      ...['incr', '2', '0'],
    ]);
  });

  it('passes the deadline and encodes string and hash-field guards, present and absent', () => {
    const encoded = encode(
      [{ op: 'set', key: 'out', value: 'w' }],
      {
        guards: [
          { key: 'v', equals: '3' },
          { key: 'v', equals: null },
          { key: 'h', field: 'f', equals: 'x' },
          { key: 'h', field: 'g', equals: null },
        ],
      },
      1_700_000_000_123,
    );
    expect(encoded.keys).toEqual(['v', 'h', 'out']);
    expect(encoded.args.slice(0, 2)).toEqual(['1700000000123', '4']);
    expect(decode(encoded).guards).toEqual([
      { kind: 's', key: 'v', equals: '3' },
      { kind: 's', key: 'v', equals: null },
      { kind: 'h', key: 'h', field: 'f', equals: 'x' },
      { kind: 'h', key: 'h', field: 'g', equals: null },
    ]);
  });

  it('encodes every operation with its arguments', () => {
    const decoded = decode(
      encode([
        { op: 'set', key: 'plain', value: 'a' },
        { op: 'set', key: 'ttl', value: 'b', ttlMs: 5000 },
        { op: 'set', key: 'kept', value: 'c', ttlMs: 5000, keepTtl: true },
        { op: 'pexpire', key: 'ttl', ttlMs: 30 },
        { op: 'hdel', key: 'h', fields: ['f1', 'f2'] },
        { op: 'sadd', key: 's', members: ['m1'] },
        { op: 'srem', key: 's', members: ['m2', 'm3'] },
        { op: 'move', key: 'staged', to: 'h' },
        { op: 'del', key: 'gone' },
      ]),
    );
    expect(decoded.ops).toEqual([
      { code: 'set', key: 'plain', args: ['a', '0'] },
      { code: 'set', key: 'ttl', args: ['b', '5000'] },
      { code: 'set', key: 'kept', args: ['c', 'keep'] },
      { code: 'pexpire', key: 'ttl', args: ['30'] },
      { code: 'hdel', key: 'h', args: ['f1', 'f2'] },
      { code: 'sadd', key: 's', args: ['m1'] },
      { code: 'srem', key: 's', args: ['m2', 'm3'] },
      // the target travels as a key reference, so a cluster checks its slot too
      { code: 'move', key: 'staged', args: ['4'] },
      { code: 'del', key: 'gone', args: [] },
    ]);
  });

  it('skips empty variadic operations, keeping del and incr', () => {
    const decoded = decode(
      encode([
        { op: 'hset', key: 'e1', entries: [] },
        { op: 'incr', key: 'v' },
        { op: 'hdel', key: 'e2', fields: [] },
        { op: 'sadd', key: 'e3', members: [] },
        { op: 'srem', key: 'e4', members: [] },
        { op: 'del', key: 'd' },
      ]),
    );
    expect(decoded.ops).toEqual([
      { code: 'incr', key: 'v', args: [] },
      { code: 'del', key: 'd', args: [] },
    ]);
    // a skipped operation's key is not sent either
    expect(
      encode([
        { op: 'hset', key: 'e1', entries: [] },
        { op: 'incr', key: 'v' },
      ]).keys,
    ).toEqual(['v']);
    // nothing left to do: no keys, which the store takes as "applied" without calling Redis
    expect(encode([{ op: 'sadd', key: 'e', members: [] }])).toEqual({ keys: [], args: ['0', '0', '0'] });
  });

  it('turns a run of consecutive deletes into one dels operation, in place', () => {
    const encoded = encode([
      { op: 'set', key: 'before', value: '1' },
      { op: 'del', key: 'r1' },
      { op: 'del', key: 'r2' },
      { op: 'del', key: 'before' },
      { op: 'set', key: 'r1', value: 'again' },
      { op: 'del', key: 'single' },
      { op: 'incr', key: 'v' },
      { op: 'del', key: 'x' },
      { op: 'del', key: 'y' },
    ]);
    expect(encoded.keys).toEqual(['before', 'r1', 'r2', 'single', 'v', 'x', 'y']);
    expect(decode(encoded).ops).toEqual([
      { code: 'set', key: 'before', args: ['1', '0'] },
      // the arguments are the deleted keys' indexes, the first of them also as the op's key
      { code: 'dels', key: 'r1', args: ['2', '3', '1'] },
      { code: 'set', key: 'r1', args: ['again', '0'] },
      { code: 'del', key: 'single', args: [] },
      { code: 'incr', key: 'v', args: [] },
      { code: 'dels', key: 'x', args: ['6', '7'] },
    ]);
  });

  it('turns a run of appends to one stream into one xadd operation of runs, in order', () => {
    const encoded = encode([
      { op: 'xadd', key: 'feed', value: 'a' },
      { op: 'xadd', key: 'feed', value: 'b' },
      { op: 'xadd', key: 'outbox', value: 'c' },
      { op: 'incr', key: 'v' },
      { op: 'xadd', key: 'feed', value: 'd' },
      { op: 'xadd', key: 'feed', value: 'e' },
      { op: 'xadd', key: 'feed', value: 'f' },
      { op: 'xadd', key: 'feed', value: 'g' },
    ]);
    expect(decode(encoded).ops).toEqual([
      // pairs of a value count and the values joined by newlines (streamRuns.ts): fewer than
      // RUN_MIN values one by one, more as one run
      { code: 'xadd', key: 'feed', args: ['1', 'a', '1', 'b'] },
      { code: 'xadd', key: 'outbox', args: ['1', 'c'] },
      { code: 'incr', key: 'v', args: [] },
      { code: 'xadd', key: 'feed', args: ['4', 'd\ne\nf\ng'] },
    ]);
  });

  it('stores a long run of appends as entries of RUN_VALUES values at most', () => {
    const values = Array.from({ length: 2 * RUN_VALUES + 1 }, (_, i) => `v${i}`);
    const [op] = decode(encode(values.map((value) => ({ op: 'xadd' as const, key: 'feed', value })))).ops;
    const chunk = (from: number, to: number) => values.slice(from, to).join('\n');
    expect(op!.args).toEqual([
      String(RUN_VALUES),
      chunk(0, RUN_VALUES),
      String(RUN_VALUES),
      chunk(RUN_VALUES, 2 * RUN_VALUES),
      '1',
      chunk(2 * RUN_VALUES, 2 * RUN_VALUES + 1),
    ]);
  });

  it('refuses a stream value of more than one line before anything is sent', () => {
    expect(() => encode([{ op: 'xadd', key: 'feed', value: 'a\nb' }])).toThrow(/one line/);
  });

  it('refuses a value of more than one line inside a long run, wherever it stands', () => {
    const run = (bad: number, value: string) =>
      Array.from({ length: RUN_VALUES + 3 }, (_, i) => ({
        op: 'xadd' as const,
        key: 'feed',
        value: i === bad ? value : `v${i}`,
      }));
    for (const bad of [0, RUN_VALUES - 1, RUN_VALUES + 2])
      for (const value of ['a\nb', '\n', 'a\n']) expect(() => encode(run(bad, value))).toThrow(/one line/);
  });

  it('encodes thousands of deletes as one operation referring to every key', () => {
    const names = Array.from({ length: 2500 }, (_, i) => `k${i}`);
    const encoded = encode(names.map((key) => ({ op: 'del' as const, key })));
    expect(encoded.keys).toEqual(names);
    const [dels, ...rest] = decode(encoded).ops;
    expect(rest).toEqual([]);
    expect(dels!.code).toBe('dels');
    expect(dels!.args.map((ref) => encoded.keys[Number(ref) - 1])).toEqual(names);
  });

  it('encodes a large hash as one operation, every field in order, without a stack overflow', () => {
    // 150,000 entries are 300,000 arguments: a spread (`push(...payload)`) throws a RangeError.
    const entries = Array.from({ length: 150_000 }, (_, i) => [`f${i}`, `v${i}`] as const);
    const { keys, args } = encode([
      { op: 'hset', key: 'big', entries },
      { op: 'incr', key: 'v' },
    ]);
    expect(keys).toEqual(['big', 'v']);
    expect(args.slice(0, 6)).toEqual(['0', '0', '2', 'hset', '1', '300000']);
    expect(args.slice(6, 10)).toEqual(['f0', 'v0', 'f1', 'v1']);
    expect(args.slice(300_004)).toEqual(['f149999', 'v149999', 'incr', '2', '0']);
    expect(args).toHaveLength(6 + 300_000 + 3);
  });
});

describe('hashChunks', () => {
  it('splits a large hash into flat field-value lists of 1,000 entries at most', () => {
    const entries = Array.from({ length: 2500 }, (_, i) => [`f${i}`, `v${i}`] as const);
    const chunks = hashChunks(entries);
    expect(chunks.map((c) => c.length)).toEqual([2000, 2000, 1000]);
    expect(chunks[0]!.slice(0, 4)).toEqual(['f0', 'v0', 'f1', 'v1']);
    expect(chunks[2]!.slice(-2)).toEqual(['f2499', 'v2499']);
    expect(chunks.flat()).toEqual(entries.flat());
  });

  it('gives no chunk for no entries, and one for exactly the chunk size', () => {
    expect(hashChunks([])).toEqual([]);
    expect(hashChunks([['a', '1']], 1)).toEqual([['a', '1']]);
    expect(hashChunks(Array.from({ length: 1000 }, (_, i) => [`f${i}`, 'v'] as const))).toHaveLength(1);
  });
});

describe('the scripts', () => {
  it('are run by the SHA1 of their text (what EVALSHA expects)', () => {
    for (const script of [APPLY, READ_RECORD_WITH_REFS])
      expect(script.sha).toBe(createHash('sha1').update(script.text).digest('hex'));
    expect(APPLY.sha).not.toBe(READ_RECORD_WITH_REFS.sha);
  });
});

describe('packArgs', () => {
  /** A MessagePack reader for what packArgs may write: one array of strings (fixstr to str 32). */
  function unpack(b: Buffer): string[] {
    let at = 0;
    const uint = (bytes: number) => {
      const v = b.readUIntBE(at, bytes);
      at += bytes;
      return v;
    };
    const tag = uint(1);
    const count =
      tag >= 0x90 && tag <= 0x9f ? tag - 0x90 : tag === 0xdc ? uint(2) : tag === 0xdd ? uint(4) : -1;
    if (count < 0) throw new Error(`not an array: 0x${tag.toString(16)}`);
    const out: string[] = [];
    for (let n = 0; n < count; n++) {
      const t = uint(1);
      const length =
        t >= 0xa0 && t <= 0xbf
          ? t - 0xa0
          : t === 0xd9
            ? uint(1)
            : t === 0xda
              ? uint(2)
              : t === 0xdb
                ? uint(4)
                : -1;
      if (length < 0) throw new Error(`not a string: 0x${t.toString(16)}`);
      out.push(b.toString('utf8', at, at + length));
      at += length;
    }
    if (at !== b.length) throw new Error(`${b.length - at} bytes after the array`);
    return out;
  }

  it('packs the arguments as one MessagePack array of UTF-8 strings, in order', () => {
    const args = ['1764504000000', '0', '', '用户', '🚀', 'é'.repeat(100_000), '\u0000', '"q"'];
    expect(unpack(packArgs(args))).toEqual(args);
    expect(unpack(packArgs([]))).toEqual([]);
    // a lone surrogate is sent as U+FFFD, as node-redis sends a string
    expect(unpack(packArgs(['a\ud800b']))).toEqual(['a\ufffdb']);
  });

  it('packs a run of stream values as one string, the values joined by newlines', () => {
    const run = ['{"n":1}', '用户', '', '🚀'.repeat(1000)];
    expect(unpack(packArgs(['a', run, ['only'], 'b']))).toEqual(['a', run.join('\n'), 'only', 'b']);
    for (const bad of [['a\nb'], ['a', 'b\n'], ['\n', 'c', 'd']])
      expect(() => packArgs(['a', bad])).toThrow(/one line/);
  });

  it('packs what encodeApply makes, and the script unpacks it first', () => {
    const ops: WriteOp[] = [
      { op: 'hset', key: 'h', entries: [['名', '值']] },
      ...Array.from({ length: 5 }, (_, i) => ({ op: 'xadd' as const, key: 'feed', value: `{"n":${i}}` })),
    ];
    const { args } = encodeApply(ops, {}, 5);
    expect(unpack(packArgs(args))).toEqual(encode(ops, {}, 5).args);
    expect(APPLY.text).toMatch(/^#!lua\nlocal args = cmsgpack\.unpack\(ARGV\[1\]\)\n/);
  });
});
