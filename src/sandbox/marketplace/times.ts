/**
 * The marketplace's two calendar formats (§6): kit bodies carry `timeStamp` / `currentSyncTime`
 * as `yyyyMMddHHmmssSSS` in UTC+8 (China has no DST, so a fixed offset is exact), basic calls carry
 * `expireTime` as `yyyyMMddHHmmss` in UTC (17 digits in one example, hence the option).
 */

const CHINA_OFFSET_MS = 8 * 60 * 60 * 1000;

function fields(epochMs: number, offsetMs: number): string[] {
  if (!Number.isSafeInteger(epochMs)) throw new RangeError(`not an epoch millisecond value: ${epochMs}`);
  const d = new Date(epochMs + offsetMs);
  if (Number.isNaN(d.getTime())) throw new RangeError(`epoch milliseconds out of range: ${epochMs}`);
  const year = d.getUTCFullYear();
  if (year < 0 || year > 9999) throw new RangeError(`year ${year} does not fit yyyy`);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return [
    p(year, 4),
    p(d.getUTCMonth() + 1),
    p(d.getUTCDate()),
    p(d.getUTCHours()),
    p(d.getUTCMinutes()),
    p(d.getUTCSeconds()),
    p(d.getUTCMilliseconds(), 3),
  ];
}

/** Kit body `timeStamp`: `yyyyMMddHHmmssSSS`, Asia/Shanghai (UTC+8). */
export function formatSyncTime(epochMs: number): string {
  return fields(epochMs, CHINA_OFFSET_MS).join('');
}

/** Basic interface `expireTime`: `yyyyMMddHHmmss` in UTC, or with `SSS` when 17 digits are asked for. */
export function formatExpireTime(epochMs: number, digits: 14 | 17 = 14): string {
  const f = fields(epochMs, 0);
  if (digits !== 14 && digits !== 17)
    throw new RangeError(`expireTime has 14 or 17 digits, not ${String(digits)}`);
  return (digits === 14 ? f.slice(0, 6) : f).join('');
}
