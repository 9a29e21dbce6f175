import { describe, expect, it } from '@jest/globals';
import { decodeOrg, encodeOrg } from '../../src/mirror/records.js';

describe('stored department records', () => {
  it.each([
    { orgCode: 'a', orgName: '研发部', parentCode: null, at: 1 },
    {
      orgCode: 'b',
      orgName: 'quote " backslash \\ newline \n tab \t',
      parentCode: 'p"1',
      at: 1_700_000_000_000,
    },
    { orgCode: 'c', orgName: '\u2028 and emoji 🚀', parentCode: '', at: 0 },
  ])('round-trip and are valid JSON: %j', (org) => {
    const raw = encodeOrg(org);
    expect(JSON.parse(raw)).toEqual({ orgName: org.orgName, parentCode: org.parentCode, at: org.at });
    expect(decodeOrg(org.orgCode, raw)).toEqual(org);
  });
});
