// byOrgCode: the order and the one entry per code that a full department list is staged and
// reported in (mirror/departments.ts).
import { describe, expect, it } from '@jest/globals';
import { byOrgCode } from '../../src/mirror/departments.js';

const org = (orgCode: string, orgName = orgCode) => ({ orgCode, orgName, parentCode: null });

describe('byOrgCode', () => {
  it('hands back a list already in order as it is, without a copy', () => {
    const list = [org('a'), org('b'), org('c10'), org('c9')];
    expect(byOrgCode(list)).toBe(list);
    expect(byOrgCode([])).toEqual([]);
  });

  it('orders an unordered list by orgCode, as strings compare (not as numbers)', () => {
    const list = [org('d9'), org('d10'), org('a'), org('d1')];
    expect(byOrgCode(list).map((o) => o.orgCode)).toEqual(['a', 'd1', 'd10', 'd9']);
    expect(list.map((o) => o.orgCode)).toEqual(['d9', 'd10', 'a', 'd1']); // the push is left as it came
  });

  it('keeps one entry per code, the last one, as writing them to the hash in turn would', () => {
    const list = [org('b', 'first'), org('a'), org('b', 'second'), org('c'), org('b', 'third')];
    expect(byOrgCode(list)).toEqual([org('a'), org('b', 'third'), org('c')]);
    // two equal codes side by side are not "in order": the list is sorted and deduplicated
    expect(byOrgCode([org('a', 'x'), org('a', 'y')])).toEqual([org('a', 'y')]);
  });
});
