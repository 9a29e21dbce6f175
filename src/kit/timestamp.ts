/**
 * Time rules of the kit protocol. `x-timestamp` is epoch milliseconds (§2.2); the body's
 * `timeStamp`/`currentSyncTime` are `yyyyMMddHHmmssSSS` in UTC+8 (§6).
 */
const UTC8_OFFSET_MS = 8 * 60 * 60 * 1000;
const SYNC_TIME = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{3})$/;

/** Epoch ms of a `yyyyMMddHHmmssSSS` UTC+8 value, or null when it is not a real instant. */
export function parseSyncTime(value: string): number | null {
  const utc = calendarTime(SYNC_TIME.exec(value));
  return utc === null ? null : utc - UTC8_OFFSET_MS;
}

/** The instant of `yyyy MM dd HH mm ss [SSS]` digit groups read as UTC, or null when not a real one. */
function calendarTime(m: RegExpExecArray | null): number | null {
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  // setUTCFullYear, not Date.UTC, which reads the years 0 to 99 as 1900 to 1999.
  const check = new Date(0);
  check.setUTCFullYear(year, month - 1, day);
  check.setUTCHours(hour, minute, second, m[7] ? Number(m[7]) : 0);
  // Dates roll 2022-02-30 over to March; a real calendar date survives the round trip.
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day)
    return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  return check.getTime();
}

const MILLISECONDS = /^[1-9]\d{12}$/;
const SECONDS = /^[1-9]\d{9}$/;

export type HeaderTimestampCheck = { ok: true; epochMs: number } | { ok: false; reason: string };

export interface CallTimestampRules {
  /** how the caller names it, for the refusal: `x-timestamp header`, `timestamp query parameter` */
  name?: string;
  where?: string;
  windowMs?: number;
  futureSkewMs?: number;
  /** UNCONFIRMED (§2.3): intl copies say seconds; 10 digits are then read as seconds. */
  seconds?: boolean;
}

/**
 * The signed timestamp must be canonical decimal epoch ms (13 digits, the years 2001 to 2286)
 * within the window of now. The document asks for
 * |now - ts| <= 60 s; the sample lets the future through, we allow a little forward skew only.
 */
export function checkCallTimestamp(
  raw: string | undefined,
  nowMs: number,
  rules: CallTimestampRules = {},
): HeaderTimestampCheck {
  const { name = 'x-timestamp', where = 'header', windowMs = 60_000, futureSkewMs = 5_000 } = rules;
  if (raw === undefined || raw === '') return { ok: false, reason: `${name} ${where} is missing` };
  // One spelling per instant: with leading zeros allowed, trailing digits of the nonce could be
  // moved into the timestamp (both are signed as one concatenated string) to make a new nonce.
  const seconds = rules.seconds === true && SECONDS.test(raw);
  if (!MILLISECONDS.test(raw) && !seconds)
    return {
      ok: false,
      reason: `${name} must be epoch milliseconds: 13 digits, no leading zero${rules.seconds ? ' (or 10 digits of seconds)' : ''}`,
    };
  const epochMs = seconds ? Number(raw) * 1000 : Number(raw);
  if (nowMs - epochMs > windowMs)
    return { ok: false, reason: `${name} is more than ${windowMs / 1000} s old` };
  if (epochMs - nowMs > futureSkewMs) return { ok: false, reason: `${name} is in the future` };
  return { ok: true, epochMs };
}

const EXPIRE_TIME = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{3})?$/;

/**
 * Epoch ms of a basic interface's `expireTime`: UTC `yyyyMMddHHmmss`, or 17 digits with
 * milliseconds as in the document's example (§4, UNCONFIRMED which); null when not a real instant.
 */
export function parseExpireTime(value: string): number | null {
  return calendarTime(EXPIRE_TIME.exec(value));
}
