import { describe, expect, it } from '@jest/globals';
import { checkCallTimestamp, parseExpireTime, parseSyncTime } from '../../src/kit/timestamp.js';
import { formatSyncTime } from '../../src/sandbox/marketplace/index.js';

describe('body timeStamp, yyyyMMddHHmmssSSS in UTC+8 (§6)', () => {
  it('reads the document example as 01:35:39.534 UTC', () => {
    expect(parseSyncTime('20220413093539534')).toBe(Date.UTC(2022, 3, 13, 1, 35, 39, 534));
  });

  it('crosses the date line backwards into the previous UTC day', () => {
    expect(parseSyncTime('20220101050000000')).toBe(Date.UTC(2021, 11, 31, 21, 0, 0, 0));
  });

  it.each([
    '2022041309353953',
    '202204130935395341',
    '20220230093539534',
    '20221301093539534',
    '20220413243539534',
    '20220413096039534',
    '2022-04-13 09:35',
    '',
    'abcdefghijklmnopq',
  ])('refuses %p', (value) => {
    expect(parseSyncTime(value)).toBeNull();
  });

  it('reads the years 0000 to 0099 as themselves, not as 1900 to 1999 (found by test/properties)', () => {
    const year50 = new Date('0050-06-15T01:02:03.004Z').getTime();
    expect(parseSyncTime('00500615090203004')).toBe(year50);
    expect(parseExpireTime('00500615010203004')).toBe(year50);
    expect(parseExpireTime('00000101000000')).toBe(new Date('0000-01-01T00:00:00Z').getTime());
    expect(parseSyncTime('00990230000000000')).toBeNull();
  });

  it('reads what the sandbox marketplace writes', () => {
    const at = Date.UTC(2026, 10, 23, 16, 5, 9, 7);
    expect(formatSyncTime(at)).toBe('20261124000509007');
    expect(parseSyncTime(formatSyncTime(at))).toBe(at);
  });
});

describe('x-timestamp window (§2.2)', () => {
  const now = 1_700_000_000_000;
  it('accepts now and up to 60 s ago', () => {
    expect(checkCallTimestamp(String(now), now)).toEqual({ ok: true, epochMs: now });
    expect(checkCallTimestamp(String(now - 60_000), now).ok).toBe(true);
  });
  it('refuses older than 60 s', () => {
    expect(checkCallTimestamp(String(now - 60_001), now)).toEqual({
      ok: false,
      reason: 'x-timestamp is more than 60 s old',
    });
  });
  it('allows 5 s of forward clock skew, not more', () => {
    expect(checkCallTimestamp(String(now + 5_000), now).ok).toBe(true);
    expect(checkCallTimestamp(String(now + 5_001), now)).toEqual({
      ok: false,
      reason: 'x-timestamp is in the future',
    });
  });
  it.each([
    undefined,
    '',
    '17e11',
    '-1',
    ' 1700000000000',
    '1700000000000.5',
    '0x1',
    // not canonical: a leading zero lets a nonce's trailing digits move into the timestamp
    '01700000000000',
    '00001700000000000',
    '170000000000', // 12 digits
    '17000000000000', // 14 digits
  ])('refuses %p', (raw) => {
    expect(checkCallTimestamp(raw, now).ok).toBe(false);
  });
  it('refuses seconds instead of milliseconds as stale', () => {
    expect(checkCallTimestamp(String(Math.floor(now / 1000)), now).ok).toBe(false);
  });
  it('reads seconds where the rules allow them (basic calls, UNCONFIRMED §2.3), and names the parameter', () => {
    const seconds = Math.floor(now / 1000);
    expect(checkCallTimestamp(String(seconds), now, { seconds: true })).toEqual({
      ok: true,
      epochMs: seconds * 1000,
    });
    expect(checkCallTimestamp(undefined, now, { name: 'timestamp', where: 'query parameter' })).toEqual({
      ok: false,
      reason: 'timestamp query parameter is missing',
    });
  });
});
