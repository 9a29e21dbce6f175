// The signed call (kit-sync-and-signing.md §2.2 kit, §2.3 basic): any JSON object body, signed by
// the sandbox's independent marketplace over its own Jackson model of the payload, verifies with
// the relay; and any one-byte change of the body, the nonce or the timestamp is refused with
// 000001 or 000002, never success, unless the changed body means the same signed bytes.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { basicScheme, kitScheme } from '../../src/kit/verify.js';
import { basicSign, canonicalPayload, kitSign, newNonce } from '../../src/sandbox/marketplace/index.js';
import {
  changeOneByte,
  changeOneChar,
  jsonObjectText,
  oneByteChange,
  signsTheSame,
  verdict,
} from '../support/properties.js';

const KEY = 'property-access-key-7c1e';
const RUNS = 400;

const schemes = [
  ['kit', kitScheme(KEY), kitSign],
  ['basic', basicScheme(KEY), basicSign],
] as const;

/** A body as the marketplace sends it (UTF-8 bytes) with its credentials, signed by the sandbox. */
const signedCall = fc
  .record({
    text: jsonObjectText,
    // canonical 13-digit epoch ms, and the relay's clock up to 59 s later
    at: fc.integer({ min: 1_600_000_000_000, max: 2_500_000_000_000 }),
    lag: fc.integer({ min: 0, max: 59_000 }),
    lowerCase: fc.boolean(),
  })
  .map(({ text, at, lag, lowerCase }) => ({
    bytes: Buffer.from(text, 'utf8'),
    payload: canonicalPayload(Buffer.from(text, 'utf8').toString('utf8')),
    nonce: newNonce(),
    timestamp: String(at),
    now: at + lag,
    lowerCase,
  }));

describe.each(schemes)('%s signature', (_name, scheme, sign) => {
  it('any body the sandbox signs verifies, whatever the case of the hex signature', () => {
    fc.assert(
      fc.property(signedCall, (c) => {
        const s = sign(KEY, c.nonce, c.timestamp, c.payload);
        const call = { sign: c.lowerCase ? s.toLowerCase() : s, nonce: c.nonce, timestamp: c.timestamp };
        expect(verdict(scheme, call, c.bytes, c.now)).toBe('000000');
      }),
      { numRuns: RUNS },
    );
  });

  it('a one-byte change of the body is refused (000001/000002) unless it signs the same payload', () => {
    let refused = 0;
    fc.assert(
      fc.property(signedCall, oneByteChange, (c, change) => {
        const call = {
          sign: sign(KEY, c.nonce, c.timestamp, c.payload),
          nonce: c.nonce,
          timestamp: c.timestamp,
        };
        const changed = changeOneByte(c.bytes, change);
        const got = verdict(scheme, call, changed, c.now);
        if (signsTheSame(changed, c.payload)) expect(got).toBe('000000');
        else {
          expect(['000001', '000002']).toContain(got);
          refused++;
        }
      }),
      { numRuns: RUNS },
    );
    // Most one-byte changes do change the meaning: the property is not passing vacuously.
    expect(refused).toBeGreaterThan(RUNS / 2);
  });

  it('a one-byte change of the nonce is refused (000001/000002)', () => {
    fc.assert(
      fc.property(signedCall, oneByteChange, (c, change) => {
        const s = sign(KEY, c.nonce, c.timestamp, c.payload);
        const call = { sign: s, nonce: changeOneChar(c.nonce, change), timestamp: c.timestamp };
        expect(['000001', '000002']).toContain(verdict(scheme, call, c.bytes, c.now));
      }),
      { numRuns: RUNS },
    );
  });

  it('a one-byte change of the timestamp is refused (000001/000002)', () => {
    fc.assert(
      fc.property(signedCall, oneByteChange, (c, change) => {
        const s = sign(KEY, c.nonce, c.timestamp, c.payload);
        const call = { sign: s, nonce: c.nonce, timestamp: changeOneChar(c.timestamp, change) };
        expect(['000001', '000002']).toContain(verdict(scheme, call, c.bytes, c.now));
      }),
      { numRuns: RUNS },
    );
  });

  it('a signature with one hex digit changed (not just its case), or made with another key, is refused with 000001', () => {
    fc.assert(
      fc.property(signedCall, fc.nat(63), fc.integer({ min: 1, max: 15 }), (c, at, delta) => {
        const s = sign(KEY, c.nonce, c.timestamp, c.payload);
        const digit = ((parseInt(s[at]!, 16) + delta) % 16).toString(16).toUpperCase();
        const changed = s.slice(0, at) + digit + s.slice(at + 1);
        const call = { nonce: c.nonce, timestamp: c.timestamp };
        expect(verdict(scheme, { ...call, sign: changed }, c.bytes, c.now)).toBe('000001');
        const foreign = sign(`${KEY}x`, c.nonce, c.timestamp, c.payload);
        expect(verdict(scheme, { ...call, sign: foreign }, c.bytes, c.now)).toBe('000001');
      }),
      { numRuns: RUNS },
    );
  });
});

it('a kit signature does not verify as a basic one, nor the other way round (§2.2 vs §2.3)', () => {
  fc.assert(
    fc.property(signedCall, (c) => {
      const creds = { nonce: c.nonce, timestamp: c.timestamp };
      const kit = kitSign(KEY, c.nonce, c.timestamp, c.payload);
      const basic = basicSign(KEY, c.nonce, c.timestamp, c.payload);
      expect(verdict(basicScheme(KEY), { ...creds, sign: kit }, c.bytes, c.now)).toBe('000001');
      expect(verdict(kitScheme(KEY), { ...creds, sign: basic }, c.bytes, c.now)).toBe('000001');
    }),
    { numRuns: RUNS },
  );
});
