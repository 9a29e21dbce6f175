import { describe, expect, it } from '@jest/globals';
import { decodeOrg, encodeOrg, encodeUser, publicUser, type UserRecord } from '../../src/mirror/records.js';

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

describe('stored user records', () => {
  const user: UserRecord = {
    tenantId: 't1',
    appId: 'app',
    userName: 'ann',
    name: '用户 "ann" \\ ,"at":1}',
    orgCode: 'D1',
    role: 'user',
    enable: true,
    authorized: true,
    instanceId: 'i-1',
    testFlag: 0,
    currentSyncTime: '20261130120000000',
    at: 1_764_504_000_000,
  };
  const withAtLast = ({ at, ...rest }: UserRecord): UserRecord => ({ ...rest, email: 'a@example.com', at });
  const withAtFirst = ({ at, ...rest }: UserRecord): UserRecord => ({ at, ...rest });

  it.each([
    ['at last, as the mirror builds them', withAtLast(user)],
    ['at first (an older record)', withAtFirst(user)],
    ['at in the middle', { ...user, email: 'a@example.com' }],
    ['an extension holding an at, after at', { ...withAtLast(user), extension: { at: 2 } }],
  ])('print the record and its shown part with one stringify, exactly: %s', (_, u) => {
    const { record, shown } = encodeUser(u);
    expect(JSON.parse(record)).toEqual(u);
    expect(shown).toBe(JSON.stringify(publicUser(u)));
  });
});
