// The protocol's calendar times (kit-sync-and-signing.md §6): kit `timeStamp`/`currentSyncTime`
// as yyyyMMddHHmmssSSS in UTC+8 (parseSyncTime), basic `expireTime` as yyyyMMddHHmmss or 17
// digits in UTC (parseExpireTime). Round trip with the sandbox's formatter; every digit string
// that is not a real calendar instant is refused, judged by a calendar written here.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { parseExpireTime, parseSyncTime } from '../../src/kit/timestamp.js';
import { formatExpireTime, formatSyncTime } from '../../src/sandbox/marketplace/index.js';

const RUNS = 2000;
const HOUR = 3_600_000;

// The instants whose UTC+8 (and UTC) calendar year has four digits: 0000-01-01 to 9999-12-31.
const FIRST = new Date('0000-01-01T00:00:00Z').getTime();
const LAST = new Date('9999-12-31T23:59:59.999Z').getTime();
const anyInstant = fc.integer({ min: FIRST + 8 * HOUR, max: LAST - 8 * HOUR });
// Mostly around now, where the marketplace's times are.
const recentInstant = fc.integer({ min: Date.UTC(1990, 0, 1), max: Date.UTC(2100, 0, 1) });
const instant = fc.oneof(recentInstant, anyInstant);

/** The proleptic Gregorian calendar, independently of Date: is this a real date and time? */
function isCalendarTime(f: number[]): boolean {
  const [year, month, day, hour, minute, second] = f as [number, number, number, number, number, number];
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  return days !== undefined && day >= 1 && day <= days && hour <= 23 && minute <= 59 && second <= 59;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** Digit groups near and past each field's range: month 0-13, day 0-32, hour 0-25, minute/second 0-61. */
const fields = fc.tuple(
  fc.oneof(fc.integer({ min: 1990, max: 2100 }), fc.integer({ min: 0, max: 9999 })),
  fc.integer({ min: 0, max: 13 }),
  fc.oneof(fc.integer({ min: 0, max: 32 }), fc.integer({ min: 27, max: 31 })),
  fc.integer({ min: 0, max: 25 }),
  fc.integer({ min: 0, max: 61 }),
  fc.integer({ min: 0, max: 61 }),
  fc.integer({ min: 0, max: 999 }),
);
const written = (f: number[]) =>
  pad(f[0]!, 4) +
  f
    .slice(1, 6)
    .map((n) => pad(n))
    .join('');

describe('timeStamp / currentSyncTime (yyyyMMddHHmmssSSS, UTC+8)', () => {
  it("reads back every instant the sandbox's formatter writes", () => {
    fc.assert(
      fc.property(instant, (ms) => {
        expect(parseSyncTime(formatSyncTime(ms))).toBe(ms);
      }),
      { numRuns: RUNS },
    );
  });

  it('accepts exactly the real calendar times, and writes each back as it was given', () => {
    fc.assert(
      fc.property(fields, (f) => {
        const text = written(f) + pad(f[6]!, 3);
        const ms = parseSyncTime(text);
        expect(ms !== null).toBe(isCalendarTime(f));
        if (ms !== null) expect(formatSyncTime(ms)).toBe(text);
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses anything but 17 ASCII digits', () => {
    const notSeventeenDigits = fc.oneof(
      fc.string({ unit: fc.constantFrom(...'0123456789'), maxLength: 30 }).filter((s) => s.length !== 17),
      fc.string({ unit: 'binary', maxLength: 20 }).filter((s) => !/^\d{17}$/.test(s)),
      // one character of a good value replaced: a space, a sign, a full-width or Arabic-Indic digit
      fc
        .tuple(recentInstant, fc.nat(16), fc.constantFrom(' ', '-', '+', '.', '０', '٣', 'a', '\n'))
        .map(([ms, i, c]) => {
          const s = formatSyncTime(ms);
          return s.slice(0, i) + c + s.slice(i + 1);
        }),
    );
    fc.assert(
      fc.property(notSeventeenDigits, (s) => {
        expect(parseSyncTime(s)).toBeNull();
      }),
      { numRuns: RUNS },
    );
  });
});

describe('expireTime (yyyyMMddHHmmss or 17 digits, UTC)', () => {
  it("reads back every instant the sandbox's formatter writes, in both lengths", () => {
    fc.assert(
      fc.property(instant, (ms) => {
        expect(parseExpireTime(formatExpireTime(ms, 17))).toBe(ms);
        expect(parseExpireTime(formatExpireTime(ms, 14))).toBe(ms - (((ms % 1000) + 1000) % 1000));
      }),
      { numRuns: RUNS },
    );
  });

  it('accepts exactly the real calendar times', () => {
    fc.assert(
      fc.property(fields, fc.boolean(), (f, withMs) => {
        const text = written(f) + (withMs ? pad(f[6]!, 3) : '');
        const ms = parseExpireTime(text);
        expect(ms !== null).toBe(isCalendarTime(f));
        if (ms !== null) expect(formatExpireTime(ms, withMs ? 17 : 14)).toBe(text);
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses any other number of digits', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'0123456789'), maxLength: 30 }), (s) => {
        fc.pre(s.length !== 14 && s.length !== 17);
        expect(parseExpireTime(s)).toBeNull();
      }),
      { numRuns: RUNS },
    );
  });
});
