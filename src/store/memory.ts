/**
 * The embedded store: an in-process stand-in for Redis so the relay and its sandbox run with no
 * server (contract §2, `REDIS_URL` unset). Single-threaded JavaScript makes `apply` atomic.
 * Refused in production by the configuration: nothing survives a restart and nothing is shared.
 */
import {
  StoreDeadlineError,
  type ApplyOptions,
  type ApplyResult,
  type RecordWithRefs,
  type Ref,
  type Store,
  type StoreReadiness,
  type StreamEntry,
  type WriteOp,
} from './store.js';
import { compareStreamIds, formatStreamId, parseStreamId, type StreamId } from './streamIds.js';
import { checkStreamValue, expandEntry, runsOf } from './streamRuns.js';

/** A stream's entries in id order, and the last id it gave (ids never go back, as in Redis). */
interface Stream {
  /** Stored entries, each a run of values under its last id, as in Redis (streamRuns.ts). */
  entries: { id: StreamId; text: string }[];
  last: StreamId;
}

type Entry =
  | { type: 'string'; value: string; expiresAt?: number }
  | { type: 'hash'; value: Map<string, string>; expiresAt?: number }
  | { type: 'set'; value: Set<string>; expiresAt?: number }
  | { type: 'stream'; value: Stream; expiresAt?: number };

export class MemoryStore implements Store {
  readonly kind = 'memory' as const;
  readonly atomicAcrossSlots: boolean = true;
  private readonly data = new Map<string, Entry>();
  private readonly sweeper: NodeJS.Timeout;
  /** waitStream's callers, woken by every append. */
  private readonly appended = new Set<() => void>();
  /** waitStream's callers, ended by close(). */
  private readonly closers = new Set<() => void>();

  constructor(private readonly now: () => number = Date.now) {
    this.sweeper = setInterval(() => this.sweep(), 10_000);
    this.sweeper.unref();
  }

  private entry(key: string): Entry | undefined {
    const e = this.data.get(key);
    if (e?.expiresAt !== undefined && e.expiresAt <= this.now()) {
      this.data.delete(key);
      return undefined;
    }
    return e;
  }

  private typed<T extends Entry['type']>(key: string, type: T): Extract<Entry, { type: T }> | undefined {
    const e = this.entry(key);
    if (e && e.type !== type) throw new Error(`WRONGTYPE ${key} holds a ${e.type}, not a ${type}`);
    return e as Extract<Entry, { type: T }> | undefined;
  }

  private sweep(): void {
    for (const key of [...this.data.keys()]) this.entry(key);
  }

  async get(key: string): Promise<string | null> {
    return this.typed(key, 'string')?.value ?? null;
  }

  async hGet(key: string, field: string): Promise<string | null> {
    return this.typed(key, 'hash')?.value.get(field) ?? null;
  }

  async hmGet(key: string, fields: readonly string[]): Promise<(string | null)[]> {
    const h = this.typed(key, 'hash')?.value;
    return fields.map((f) => h?.get(f) ?? null);
  }

  async hmGetBytes(key: string, fields: readonly string[]): Promise<(Uint8Array | null)[]> {
    return (await this.hmGet(key, fields)).map((v) => (v === null ? null : Buffer.from(v, 'utf8')));
  }

  async hGetAll(key: string): Promise<Record<string, string>> {
    return Object.fromEntries(this.typed(key, 'hash')?.value ?? []);
  }

  async hLen(key: string): Promise<number> {
    return this.typed(key, 'hash')?.value.size ?? 0;
  }

  async sMembers(key: string): Promise<string[]> {
    return [...(this.typed(key, 'set')?.value ?? [])];
  }

  async xRange(key: string, after: string | null, count: number): Promise<StreamEntry[]> {
    const entries = this.typed(key, 'stream')?.value.entries ?? [];
    const from = after === null ? null : parseStreamId(after);
    if (after !== null && !from)
      throw new Error(`ERR Invalid stream ID specified as stream command argument`);
    // the first entry after `from` (ids grow along the array)
    let i = 0;
    for (let hi = entries.length; from && i < hi;) {
      const mid = (i + hi) >> 1;
      if (compareStreamIds(entries[mid]!.id, from) <= 0) i = mid + 1;
      else hi = mid;
    }
    const out: StreamEntry[] = [];
    for (; i < entries.length && out.length < count; i++)
      expandEntry(formatStreamId(entries[i]!.id), entries[i]!.text, from, out, count);
    return out;
  }

  async waitStream(key: string, after: string, ms: number): Promise<boolean> {
    const has = async () => (await this.xRange(key, after, 1)).length > 0;
    if (await has()) return true;
    return new Promise<boolean>((resolve) => {
      const wake = () => {
        void has().then((yes) => {
          if (!yes) return;
          done(true);
        });
      };
      const done = (value: boolean) => {
        clearTimeout(timer);
        this.appended.delete(wake);
        this.closers.delete(close);
        resolve(value);
      };
      const timer = setTimeout(() => done(false), ms);
      // close() ends the wait too (wake then finds nothing)
      this.closers.add(close);
      function close() {
        done(false);
      }
      this.appended.add(wake);
    });
  }

  async readRecordWithRefs(
    key: string,
    pointer: readonly string[],
    hash: string,
    also: readonly Ref[],
  ): Promise<RecordWithRefs> {
    const value = await this.get(key);
    const others = () =>
      Promise.all(also.map((r) => (typeof r === 'string' ? this.get(r) : this.hGet(r.key, r.field))));
    if (value === null) return { value, ttlMs: -2, linked: null, also: await others() };
    let at: unknown;
    try {
      at = pointer.length > 0 ? JSON.parse(value) : undefined;
    } catch {
      at = undefined;
    }
    for (const p of pointer)
      at = at && typeof at === 'object' ? (at as Record<string, unknown>)[p] : undefined;
    return {
      value,
      ttlMs: await this.pTtl(key),
      linked: typeof at === 'string' ? await this.hGet(hash, at) : null,
      also: await others(),
    };
  }

  async pTtl(key: string): Promise<number> {
    const e = this.entry(key);
    if (!e) return -2;
    return e.expiresAt === undefined ? -1 : e.expiresAt - this.now();
  }

  async apply(ops: readonly WriteOp[], options: ApplyOptions = {}): Promise<ApplyResult> {
    if (options.notAfter !== undefined && this.now() > options.notAfter)
      throw new StoreDeadlineError('the write reached the store after its deadline and was skipped');
    for (const guard of options.guards ?? []) {
      const current =
        guard.field === undefined
          ? (this.typed(guard.key, 'string')?.value ?? null)
          : (this.typed(guard.key, 'hash')?.value.get(guard.field) ?? null);
      if (current !== guard.equals) return 'conflict';
    }
    // Type-check every operation before the first write, so a bad batch changes nothing.
    for (const op of ops) this.check(op);
    for (let o = 0; o < ops.length; o++) {
      const op = ops[o]!;
      if (op.op !== 'xadd') {
        this.run(op);
        continue;
      }
      // A run of appends to one stream is stored as Redis stores it (streamRuns.ts).
      const values = [op.value];
      for (let next = ops[o + 1]; next?.op === 'xadd' && next.key === op.key; next = ops[++o + 1])
        values.push(next.value);
      this.append(op.key, values);
    }
    return 'applied';
  }

  private check(op: WriteOp): void {
    switch (op.op) {
      case 'hset':
      case 'hdel':
      case 'move':
        this.typed(op.key, 'hash');
        break;
      case 'sadd':
      case 'srem':
        this.typed(op.key, 'set');
        break;
      case 'xadd':
      case 'xtrim':
        this.typed(op.key, 'stream');
        if (op.op === 'xadd') checkStreamValue(op.value);
        if (op.op === 'xtrim' && !parseStreamId(op.minId))
          throw new Error('ERR Invalid stream ID specified as stream command argument');
        break;
      case 'incr': {
        const v = this.typed(op.key, 'string')?.value;
        if (v !== undefined && !/^-?\d+$/.test(v))
          throw new Error(`ERR value at ${op.key} is not an integer`);
        break;
      }
      default:
        break;
    }
  }

  private run(op: WriteOp): void {
    switch (op.op) {
      case 'set': {
        const expiresAt = op.keepTtl
          ? this.entry(op.key)?.expiresAt
          : op.ttlMs
            ? this.now() + op.ttlMs
            : undefined;
        this.data.set(op.key, {
          type: 'string',
          value: op.value,
          ...(expiresAt !== undefined ? { expiresAt } : {}),
        });
        return;
      }
      case 'del':
        this.data.delete(op.key);
        return;
      case 'hset': {
        let e = this.typed(op.key, 'hash');
        if (!e) this.data.set(op.key, (e = { type: 'hash', value: new Map() }));
        for (const [f, v] of op.entries) e.value.set(f, v);
        return;
      }
      case 'hdel': {
        const e = this.typed(op.key, 'hash');
        if (!e) return;
        for (const f of op.fields) e.value.delete(f);
        if (e.value.size === 0) this.data.delete(op.key);
        return;
      }
      case 'sadd': {
        let e = this.typed(op.key, 'set');
        if (!e) this.data.set(op.key, (e = { type: 'set', value: new Set() }));
        for (const m of op.members) e.value.add(m);
        return;
      }
      case 'srem': {
        const e = this.typed(op.key, 'set');
        if (!e) return;
        for (const m of op.members) e.value.delete(m);
        if (e.value.size === 0) this.data.delete(op.key);
        return;
      }
      case 'incr': {
        const e = this.typed(op.key, 'string');
        const next = String(Number(e?.value ?? '0') + 1);
        this.data.set(op.key, {
          type: 'string',
          value: next,
          ...(e?.expiresAt ? { expiresAt: e.expiresAt } : {}),
        });
        return;
      }
      case 'pexpire': {
        const e = this.entry(op.key);
        if (e) e.expiresAt = this.now() + op.ttlMs;
        return;
      }
      case 'xadd':
        this.append(op.key, [op.value]);
        return;
      case 'xtrim': {
        const e = this.typed(op.key, 'stream');
        if (e) this.trim(e.value, parseStreamId(op.minId)!);
        return;
      }
      case 'move': {
        const e = this.entry(op.key);
        if (e) this.data.set(op.to, { type: e.type, value: e.value } as Entry);
        else this.data.delete(op.to);
        this.data.delete(op.key);
        return;
      }
    }
  }

  /**
   * Appends `values` as the apply script does (streamRuns.ts): a single value under the next id
   * (XADD *), a run under the ids after the last one, which, if this write has not appended yet,
   * a placeholder takes and gives up.
   */
  private append(key: string, values: readonly string[]): void {
    let e = this.typed(key, 'stream');
    if (!e) this.data.set(key, (e = { type: 'stream', value: { entries: [], last: [0, 0] } }));
    const stream = e.value;
    const next = (): StreamId => {
      const now = this.now();
      const [lastMs, lastSeq] = stream.last;
      return now > lastMs ? [now, 0] : [lastMs, lastSeq + 1];
    };
    let known = false;
    for (const run of runsOf(values)) {
      if (run.length > 1 && !known) stream.last = next();
      const id: StreamId = run.length === 1 ? next() : [stream.last[0], stream.last[1] + run.length];
      stream.entries.push({ id, text: run.join('\n') }); // each value checked before the write
      stream.last = id;
      known = true;
    }
    for (const wake of this.appended) wake();
  }

  /** Drops the entries below `minId`; an emptied stream stays, as in Redis, keeping its last id. */
  private trim(stream: Stream, minId: StreamId): void {
    const keep = stream.entries.findIndex((e) => compareStreamIds(e.id, minId) >= 0);
    stream.entries.splice(0, keep === -1 ? stream.entries.length : keep);
  }

  async stage(key: string, entries: readonly (readonly [string, string])[], ttlMs: number): Promise<void> {
    if (entries.length === 0) return;
    await this.apply([
      { op: 'hset', key, entries },
      { op: 'pexpire', key, ttlMs },
    ]);
  }

  async ping(): Promise<void> {}

  async ready(): Promise<void> {}

  async readiness(_probeKeys: readonly string[]): Promise<StoreReadiness> {
    return { unreachable: [] };
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    for (const close of [...this.closers]) close();
  }

  /** Entries held, expired ones included until they are swept (every 10 s, or when read). */
  get size(): number {
    return this.data.size;
  }

  /** Test and demo helper: every live key (never used by the relay itself). */
  keys(): string[] {
    this.sweep();
    return [...this.data.keys()];
  }
}
