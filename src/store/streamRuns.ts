/**
 * How a run of appends to one stream is stored, alike in both stores. A push of 500 users appends
 * 500 events in one write; as 500 XADDs inside the apply script they cost Redis 1.7 ms, as 16
 * entries of up to 32 values 0.33 ms. So the consecutive appends of one write to one stream are
 * stored as entries of up to `RUN_VALUES` values, joined by newlines, and each entry is stored
 * under the LAST of as many consecutive ids as it holds values. Reading expands every entry back
 * into its values, each under its own id; a reader never sees the difference:
 * - ids stay unique and ordered, and one value per id;
 * - a range after any id (an entry's own or one inside it) finds the entries holding values after
 *   it, because each entry's id is its last value's;
 * - XTRIM MINID keeps an entry while its last value is kept, so a trim inside an entry keeps it
 *   whole, and readers skip what they have read by id (the outbox's moves, the feed's retention,
 *   whose cut never falls inside an entry: its values share one millisecond).
 *
 * The price: values must be one line (JSON text always is), and a read that stops inside an
 * entry has fetched the rest of it too (fewer than `RUN_VALUES` values).
 */
import type { StreamEntry } from './store.js';
import { compareStreamIds, formatStreamId, parseStreamId, type StreamId } from './streamIds.js';

/**
 * Values per stored entry at most: bounds what a read that stops inside an entry fetches. For 500
 * values of 350 bytes, XADD costs Redis 380 µs in entries of 16, 230 µs of 32, 240 µs of 64.
 */
export const RUN_VALUES = 32;

/** A stream value the runs can hold: one line. */
export function checkStreamValue(value: string): void {
  if (value.includes('\n')) throw new Error('a stream value must be one line (no newline)');
}

/**
 * Fewer values than this are stored one per entry (ids of their own): reserving a run's ids costs
 * Redis an XADD and an XDEL, which only longer runs repay.
 */
export const RUN_MIN = 4;

/**
 * `values` (a write's consecutive appends to one stream) as the stored entries' values: an entry
 * holds its values joined by newlines.
 */
export function runsOf(values: readonly string[]): (readonly string[])[] {
  if (values.length < RUN_MIN) return values.map((v) => [v]);
  const runs: (readonly string[])[] = [];
  for (let i = 0; i < values.length; i += RUN_VALUES) runs.push(values.slice(i, i + RUN_VALUES));
  return runs;
}

/**
 * Adds to `out` the values of the stored entry `id` after `after`, until `out` holds `count`;
 * returns how many values the entry holds. A single value is its entry: its id is the entry's,
 * after `after` already (the stores read from after it).
 */
export function expandEntry(
  id: string,
  text: string,
  after: StreamId | null,
  out: StreamEntry[],
  count: number,
): number {
  if (!text.includes('\n')) {
    if (out.length < count) out.push({ id, value: text });
    return 1;
  }
  const values = text.split('\n');
  const [ms, seq] = parseStreamId(id)!;
  for (let k = 0; k < values.length && out.length < count; k++) {
    const own: StreamId = [ms, seq - values.length + 1 + k];
    if (!after || compareStreamIds(own, after) > 0) out.push({ id: formatStreamId(own), value: values[k]! });
  }
  return values.length;
}
