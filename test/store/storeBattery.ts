/**
 * The store battery: what every Store must mean, run against the embedded store, a single
 * Redis (battery.test.ts) and a Redis Cluster (cluster.test.ts). Call it inside a `describe`.
 * Every key it uses carries the hash tag `{t:battery}`, so each `apply` stays in one cluster slot.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { StoreDeadlineError, type Store, type WriteOp } from '../../src/store/store.js';
import { RUN_VALUES } from '../../src/store/streamRuns.js';
import { compareStreamIds, formatStreamId, nextStreamId, parseStreamId } from '../../src/store/streamIds.js';
import { uniquePrefix } from '../support/redis.js';

/** `drop` removes the battery's keys (by prefix) once the store is closed. */
export function storeBattery(
  make: () => Store | Promise<Store>,
  drop?: (prefix: string) => Promise<void>,
): void {
  let store: Store;
  const p = uniquePrefix();
  const k = (name: string) => `${p}{t:battery}:${name}`;

  beforeAll(async () => {
    store = await make();
  });
  afterAll(async () => {
    await store.close();
    await drop?.(p);
  });

  it('reads absent keys as empty', async () => {
    expect(await store.get(k('none'))).toBeNull();
    expect(await store.hGet(k('none'), 'f')).toBeNull();
    expect(await store.hmGet(k('none'), ['a', 'b'])).toEqual([null, null]);
    expect(await store.hGetAll(k('none'))).toEqual({});
    expect(await store.hLen(k('none'))).toBe(0);
    expect(await store.sMembers(k('none'))).toEqual([]);
    expect(await store.pTtl(k('none'))).toBe(-2);
  });

  it('applies a batch of every operation', async () => {
    expect(
      await store.apply([
        { op: 'set', key: k('s'), value: 'v' },
        {
          op: 'hset',
          key: k('h'),
          entries: [
            ['a', '1'],
            ['b', '2'],
          ],
        },
        { op: 'sadd', key: k('set'), members: ['x', 'y'] },
        { op: 'incr', key: k('n') },
        { op: 'incr', key: k('n') },
      ]),
    ).toBe('applied');
    expect(await store.get(k('s'))).toBe('v');
    expect(await store.hGetAll(k('h'))).toEqual({ a: '1', b: '2' });
    expect(await store.hmGet(k('h'), ['b', 'zz', 'a'])).toEqual(['2', null, '1']);
    expect((await store.sMembers(k('set'))).sort()).toEqual(['x', 'y']);
    expect(await store.get(k('n'))).toBe('2');

    await store.apply([
      { op: 'hdel', key: k('h'), fields: ['a'] },
      { op: 'srem', key: k('set'), members: ['x'] },
      { op: 'del', key: k('s') },
    ]);
    expect(await store.hGetAll(k('h'))).toEqual({ b: '2' });
    expect(await store.sMembers(k('set'))).toEqual(['y']);
    expect(await store.get(k('s'))).toBeNull();
  });

  it('removes a hash or set when its last member goes', async () => {
    await store.apply([
      { op: 'hset', key: k('h1'), entries: [['a', '1']] },
      { op: 'sadd', key: k('s1'), members: ['a'] },
    ]);
    await store.apply([
      { op: 'hdel', key: k('h1'), fields: ['a'] },
      { op: 'srem', key: k('s1'), members: ['a'] },
    ]);
    expect(await store.pTtl(k('h1'))).toBe(-2);
    expect(await store.pTtl(k('s1'))).toBe(-2);
  });

  it('treats empty variadic operations as no-ops', async () => {
    expect(
      await store.apply([
        { op: 'hset', key: k('e'), entries: [] },
        { op: 'hdel', key: k('e'), fields: [] },
        { op: 'sadd', key: k('e2'), members: [] },
      ]),
    ).toBe('applied');
    expect(await store.pTtl(k('e'))).toBe(-2);
  });

  it('reads hash fields as UTF-8 bytes, absent ones as null', async () => {
    await store.apply([
      {
        op: 'hset',
        key: k('bytes'),
        entries: [
          ['a', '用户 🚀'],
          ['e', ''],
        ],
      },
    ]);
    const read = await store.hmGetBytes(k('bytes'), ['a', 'none', 'e']);
    expect(read[0]).toBeInstanceOf(Uint8Array);
    expect(read.map((b) => (b === null ? null : Buffer.from(b).toString('hex')))).toEqual([
      Buffer.from('用户 🚀', 'utf8').toString('hex'),
      null,
      '',
    ]);
    expect(await store.hmGetBytes(k('bytes'), [])).toEqual([]);
    expect(await store.hmGetBytes(k('no-hash'), ['a'])).toEqual([null]);
  });

  it('writes any text as it was given: empty, multi-byte, astral, control characters', async () => {
    const texts = [
      '',
      '用户 名',
      '🚀 emoji',
      'a\u0000b\r\n\t',
      '\u00e9'.repeat(70_000),
      '"quoted" \\ {json}',
    ];
    await store.apply([
      { op: 'hset', key: k('texts'), entries: texts.map((t, i) => [`f${i}${t.slice(0, 3)}`, t]) },
      { op: 'set', key: k('text'), value: texts[1]! },
      { op: 'xadd', key: k('text-feed'), value: texts[2]! },
      { op: 'xadd', key: k('text-feed'), value: texts[0]! },
    ]);
    expect(
      await store.hmGet(
        k('texts'),
        texts.map((t, i) => `f${i}${t.slice(0, 3)}`),
      ),
    ).toEqual(texts);
    expect(await store.get(k('text'))).toBe(texts[1]);
    expect((await store.xRange(k('text-feed'), null, 10)).map((e) => e.value)).toEqual([texts[2], texts[0]]);
  });

  it('writes large hashes in one batch (past Lua unpack limits)', async () => {
    const entries = Array.from({ length: 12_345 }, (_, i) => [`f${i}`, `v${i}`] as const);
    await store.apply([
      { op: 'del', key: k('big') },
      { op: 'hset', key: k('big'), entries },
    ]);
    expect(await store.hLen(k('big'))).toBe(12_345);
    expect(await store.hGet(k('big'), 'f12344')).toBe('v12344');
  });

  it('deletes a long run of keys in order with the operations around it', async () => {
    const names = Array.from({ length: 2500 }, (_, i) => k(`run${i}`));
    await store.apply(names.map((key) => ({ op: 'set', key, value: 'x' })));
    await store.apply([
      { op: 'set', key: k('before'), value: '1' },
      ...names.map((key) => ({ op: 'del' as const, key })),
      { op: 'del', key: k('before') },
      { op: 'set', key: names[0]!, value: 'again' },
      { op: 'del', key: k('single') },
      { op: 'sadd', key: k('after'), members: ['m'] },
    ]);
    expect(await store.get(names[0]!)).toBe('again');
    for (const key of [names[1]!, names[1234]!, names[2499]!, k('before')])
      expect(await store.get(key)).toBeNull();
    expect(await store.sMembers(k('after'))).toEqual(['m']);
  });

  it('checks string and hash-field guards, absent included', async () => {
    await store.apply([
      { op: 'set', key: k('g'), value: '1' },
      { op: 'hset', key: k('gh'), entries: [['f', 'x']] },
    ]);
    const write = (guards: Parameters<Store['apply']>[1]) =>
      store.apply([{ op: 'set', key: k('g-out'), value: 'w' }], guards);
    expect(await write({ guards: [{ key: k('g'), equals: '2' }] })).toBe('conflict');
    expect(await write({ guards: [{ key: k('g'), equals: null }] })).toBe('conflict');
    expect(await write({ guards: [{ key: k('gh'), field: 'f', equals: 'y' }] })).toBe('conflict');
    expect(
      await write({
        guards: [
          { key: k('g'), equals: '1' },
          { key: k('gh'), field: 'nope', equals: 'x' },
        ],
      }),
    ).toBe('conflict');
    expect(await store.get(k('g-out'))).toBeNull();
    expect(
      await write({
        guards: [
          { key: k('g'), equals: '1' },
          { key: k('gh'), field: 'f', equals: 'x' },
          { key: k('g-absent'), equals: null },
        ],
      }),
    ).toBe('applied');
    expect(await store.get(k('g-out'))).toBe('w');
  });

  it('acts as SET NX: only the first claim of a key wins', async () => {
    const claim = () =>
      store.apply([{ op: 'set', key: k('nonce'), value: '1', ttlMs: 5000 }], {
        guards: [{ key: k('nonce'), equals: null }],
      });
    const results = await Promise.all([claim(), claim(), claim()]);
    expect(results.filter((r) => r === 'applied')).toHaveLength(1);
    const ttl = await store.pTtl(k('nonce'));
    expect(ttl).toBeGreaterThan(4000);
    expect(ttl).toBeLessThanOrEqual(5000);
  });

  it('expires keys', async () => {
    await store.apply([
      { op: 'set', key: k('short'), value: 'x', ttlMs: 30 },
      { op: 'hset', key: k('shorth'), entries: [['a', '1']] },
      { op: 'pexpire', key: k('shorth'), ttlMs: 30 },
    ]);
    expect(await store.get(k('short'))).toBe('x');
    await new Promise((r) => setTimeout(r, 80));
    expect(await store.get(k('short'))).toBeNull();
    expect(await store.hGetAll(k('shorth'))).toEqual({});
  });

  it('keeps a TTL across INCR and drops it on SET', async () => {
    await store.apply([
      { op: 'set', key: k('ctr'), value: '5', ttlMs: 10_000 },
      { op: 'incr', key: k('ctr') },
    ]);
    expect(await store.get(k('ctr'))).toBe('6');
    expect(await store.pTtl(k('ctr'))).toBeGreaterThan(0);
    await store.apply([{ op: 'set', key: k('ctr'), value: '1' }]);
    expect(await store.pTtl(k('ctr'))).toBe(-1);
  });

  it('keeps the expiry on SET with keepTtl', async () => {
    await store.apply([{ op: 'set', key: k('kt'), value: 'a', ttlMs: 10_000 }]);
    await store.apply([{ op: 'set', key: k('kt'), value: 'b', keepTtl: true }]);
    expect(await store.get(k('kt'))).toBe('b');
    const ttl = await store.pTtl(k('kt'));
    expect(ttl).toBeGreaterThan(9000);
    expect(ttl).toBeLessThanOrEqual(10_000);
    await store.apply([{ op: 'set', key: k('kt-none'), value: 'c', keepTtl: true }]);
    expect(await store.pTtl(k('kt-none'))).toBe(-1);
  });

  it('stages a hash aside and moves it over another in one step, without expiry', async () => {
    await store.apply([{ op: 'hset', key: k('target'), entries: [['old', '1']] }]);
    const entries = Array.from({ length: 2500 }, (_, i) => [`f${i}`, `部门 ${i} 🚀`] as const);
    await store.stage(k('staged'), entries, 60_000);
    expect(await store.hGet(k('target'), 'f0')).toBeNull();
    expect(await store.pTtl(k('staged'))).toBeGreaterThan(0);
    expect(await store.apply([{ op: 'move', key: k('staged'), to: k('target') }])).toBe('applied');
    expect(await store.hLen(k('target'))).toBe(2500);
    expect(await store.hmGet(k('target'), ['f0', 'f999', 'f1000', 'f2499'])).toEqual(
      ['f0', 'f999', 'f1000', 'f2499'].map((f) => `部门 ${f.slice(1)} 🚀`),
    );
    expect(await store.hGet(k('target'), 'old')).toBeNull();
    expect(await store.pTtl(k('target'))).toBe(-1);
    expect(await store.pTtl(k('staged'))).toBe(-2);
    // nothing staged: the target is emptied
    await store.stage(k('nothing'), [], 60_000);
    await store.apply([{ op: 'move', key: k('nothing'), to: k('target') }]);
    expect(await store.hLen(k('target'))).toBe(0);
  });

  it('lets an unused staging key expire', async () => {
    await store.stage(k('abandoned'), [['a', '1']], 40);
    await new Promise((r) => setTimeout(r, 90));
    expect(await store.hLen(k('abandoned'))).toBe(0);
  });

  it('reads a record, the hash field it names and other values in one call', async () => {
    const record = JSON.stringify({ cookie: {}, login: { userName: 'alice', tenantId: 't' } });
    await store.apply([
      { op: 'set', key: k('rec'), value: record, ttlMs: 10_000 },
      {
        op: 'hset',
        key: k('people'),
        entries: [
          ['alice', 'A'],
          ['bob', 'B'],
        ],
      },
      { op: 'set', key: k('other'), value: 'O' },
    ]);
    const found = await store.readRecordWithRefs(k('rec'), ['login', 'userName'], k('people'), [
      k('other'),
      k('nothing'),
    ]);
    expect(found).toMatchObject({ value: record, linked: 'A', also: ['O', null] });
    expect(found.ttlMs).toBeGreaterThan(9000);
    expect(await store.readRecordWithRefs(k('rec'), ['login', 'missing'], k('people'), [])).toMatchObject({
      linked: null,
      also: [],
    });
    expect(
      await store.readRecordWithRefs(k('no-rec'), ['login', 'userName'], k('people'), [k('other')]),
    ).toEqual({
      value: null,
      ttlMs: -2,
      linked: null,
      also: ['O'],
    });
    // a field of a hash among the other values, with or without the record
    const refs = [k('other'), { key: k('people'), field: 'bob' }, { key: k('people'), field: 'eve' }];
    expect((await store.readRecordWithRefs(k('rec'), ['login', 'userName'], k('people'), refs)).also).toEqual(
      ['O', 'B', null],
    );
    expect(
      (await store.readRecordWithRefs(k('no-rec'), ['login', 'userName'], k('people'), refs)).also,
    ).toEqual(['O', 'B', null]);
    // Whatever the record's key order and escapes: the path first (read without decoding by the
    // Redis script), elsewhere, or holding escapes (decoded).
    const names = ['bob', 'a"b', 'a\\b', 'caf\u00e9', ''];
    await store.apply([
      {
        op: 'hset',
        key: k('people'),
        entries: names.map((n) => [n, `found ${n}`] as [string, string]),
      },
    ]);
    for (const userName of names)
      for (const shape of [
        { login: { userName, tenantId: 't' }, cookie: {} },
        { cookie: {}, login: { tenantId: 't', userName } },
        { login: { tenantId: 't', profile: { userName: 'eve' }, userName }, cookie: {} },
      ]) {
        await store.apply([{ op: 'set', key: k('shaped'), value: JSON.stringify(shape) }]);
        expect(
          (await store.readRecordWithRefs(k('shaped'), ['login', 'userName'], k('people'), [])).linked,
        ).toBe(`found ${userName}`);
      }
    // An empty path names nothing, even in a record that is a JSON string.
    await store.apply([{ op: 'set', key: k('shaped'), value: '"bob"' }]);
    expect(await store.readRecordWithRefs(k('shaped'), [], k('people'), [k('other')])).toMatchObject({
      value: '"bob"',
      linked: null,
      also: ['O'],
    });
    await store.apply([{ op: 'set', key: k('not-json'), value: 'plain text' }]);
    expect(
      await store.readRecordWithRefs(k('not-json'), ['login', 'userName'], k('people'), []),
    ).toMatchObject({
      value: 'plain text',
      ttlMs: -1,
      linked: null,
    });
  });

  it('skips a write whose deadline has passed, and writes nothing of it', async () => {
    await expect(
      store.apply([{ op: 'set', key: k('late'), value: 'x' }], { notAfter: Date.now() - 10 }),
    ).rejects.toBeInstanceOf(StoreDeadlineError);
    expect(await store.get(k('late'))).toBeNull();
  });

  it('appends to a stream in order, reads after an id, and trims by id', async () => {
    expect(await store.xRange(k('feed'), null, 10)).toEqual([]);
    await store.apply([
      { op: 'xadd', key: k('feed'), value: 'a' },
      { op: 'xadd', key: k('feed'), value: 'b' },
      { op: 'set', key: k('with-feed'), value: '1' },
    ]);
    await store.apply([{ op: 'xadd', key: k('feed'), value: 'c' }]);
    const all = await store.xRange(k('feed'), null, 10);
    expect(all.map((e) => e.value)).toEqual(['a', 'b', 'c']);
    for (const e of all) expect(e.id).toMatch(/^\d+-\d+$/);
    // ids grow: reading after one returns exactly what follows it, `count` at most
    expect((await store.xRange(k('feed'), all[0]!.id, 10)).map((e) => e.value)).toEqual(['b', 'c']);
    expect((await store.xRange(k('feed'), all[0]!.id, 1)).map((e) => e.value)).toEqual(['b']);
    expect(await store.xRange(k('feed'), all[2]!.id, 10)).toEqual([]);
    // exact trim below an id keeps that id and what follows (a write of fewer than RUN_MIN
    // values stores each on its own: streamRuns.ts)
    await store.apply([{ op: 'xtrim', key: k('feed'), minId: all[1]!.id }]);
    expect((await store.xRange(k('feed'), null, 10)).map((e) => e.value)).toEqual(['b', 'c']);
    // ids keep growing after a trim
    await store.apply([{ op: 'xadd', key: k('feed'), value: 'd' }]);
    expect((await store.xRange(k('feed'), all[2]!.id, 10)).map((e) => e.value)).toEqual(['d']);
  });

  it('stores the many appends of one write together, yet reads each value under its own id', async () => {
    // more values than two stored entries hold: the last one is partly filled
    const values = Array.from({ length: 2 * RUN_VALUES + 8 }, (_, i) => `{"n":${i},"name":"用户${i}"}`);
    await store.apply([{ op: 'xadd', key: k('runs'), value: 'before' }]);
    await store.apply([
      ...values.map((value): WriteOp => ({ op: 'xadd', key: k('runs'), value })),
      { op: 'set', key: k('runs-with'), value: '1' },
    ]);
    await store.apply([{ op: 'xadd', key: k('runs'), value: 'after' }]);
    const all = await store.xRange(k('runs'), null, 100);
    expect(all.map((e) => e.value)).toEqual(['before', ...values, 'after']);
    const ids = all.map((e) => parseStreamId(e.id)!);
    for (let i = 1; i < ids.length; i++) expect(compareStreamIds(ids[i - 1]!, ids[i]!)).toBeLessThan(0);
    // after any id, inside a stored entry or at its end: exactly what follows, `count` at most
    for (let i = 0; i < all.length; i++) {
      expect((await store.xRange(k('runs'), all[i]!.id, 100)).map((e) => e.value)).toEqual(
        all.slice(i + 1).map((e) => e.value),
      );
      expect((await store.xRange(k('runs'), all[i]!.id, 3)).map((e) => e.id)).toEqual(
        all.slice(i + 1, i + 4).map((e) => e.id),
      );
    }
    // a wait after an id inside a stored entry finds what follows it at once; after the last, none
    expect(await store.waitStream(k('runs'), all[5]!.id, 1000)).toBe(true);
    expect(await store.waitStream(k('runs'), all.at(-1)!.id, 50)).toBe(false);
    // a trim never leaves a value readable before one it removed; one inside a stored entry
    // (the second) keeps that entry whole
    const inside = all[1 + RUN_VALUES + 4]!;
    await store.apply([
      { op: 'xtrim', key: k('runs'), minId: formatStreamId(nextStreamId(parseStreamId(inside.id)!)) },
    ]);
    const kept = (await store.xRange(k('runs'), null, 100)).map((e) => e.value);
    expect(kept.at(-1)).toBe('after');
    expect(kept).toEqual(all.slice(all.length - kept.length).map((e) => e.value));
    expect(kept).toContain(inside.value);
    expect(kept).not.toContain('before');
    expect(kept).not.toContain(values[0]);
  });

  it('refuses a stream value of more than one line, changing nothing', async () => {
    await expect(
      store.apply([
        { op: 'set', key: k('line'), value: 'x' },
        { op: 'xadd', key: k('lines'), value: 'a' },
        { op: 'xadd', key: k('lines'), value: 'one\ntwo' },
      ]),
    ).rejects.toThrow(/one line/);
    expect(await store.get(k('line'))).toBeNull();
    expect(await store.xRange(k('lines'), null, 10)).toEqual([]);
  });

  it('appends nothing to a stream when the batch is refused by its guard', async () => {
    expect(
      await store.apply([{ op: 'xadd', key: k('feed-guarded'), value: 'x' }], {
        guards: [{ key: k('feed-guard'), equals: 'never' }],
      }),
    ).toBe('conflict');
    expect(await store.xRange(k('feed-guarded'), null, 10)).toEqual([]);
  });

  it('wakes a stream wait when an entry arrives, and times out without one', async () => {
    await store.apply([{ op: 'xadd', key: k('wait'), value: 'first' }]);
    const [first] = await store.xRange(k('wait'), null, 1);
    // already there: at once
    expect(await store.waitStream(k('wait'), '0-0', 1000)).toBe(true);
    // nothing after `first`: false when the time is up
    expect(await store.waitStream(k('wait'), first!.id, 50)).toBe(false);
    const waiting = store.waitStream(k('wait'), first!.id, 5000);
    setTimeout(() => void store.apply([{ op: 'xadd', key: k('wait'), value: 'second' }]), 30);
    const started = Date.now();
    expect(await waiting).toBe(true);
    expect(Date.now() - started).toBeLessThan(4000);
  });
}
