/**
 * Stream entry ids as Redis writes them, `<ms>-<seq>`: ordered by time, then by sequence. The
 * change feed's cursor is such an id, so both stores and the feed compare them the same way.
 */
const STREAM_ID = /^(\d{1,16})-(\d{1,16})$/;

export type StreamId = readonly [ms: number, seq: number];

/** The id's parts, or null when `id` is not a stream id. */
export function parseStreamId(id: string): StreamId | null {
  const m = STREAM_ID.exec(id);
  if (!m) return null;
  const ms = Number(m[1]);
  const seq = Number(m[2]);
  return Number.isSafeInteger(ms) && Number.isSafeInteger(seq) ? [ms, seq] : null;
}

export function compareStreamIds(a: StreamId, b: StreamId): number {
  return a[0] - b[0] || a[1] - b[1];
}

export const formatStreamId = ([ms, seq]: StreamId): string => `${ms}-${seq}`;

/** The smallest id after `id`: XTRIM MINID keeps ids >= its argument, so this trims up to `id`. */
export const nextStreamId = ([ms, seq]: StreamId): StreamId => [ms, seq + 1];
