// allOrgSync's `orgInfoList` (kit-sync-and-signing.md §3.5) in every encoding the relay accepts:
// an array; a string holding that array as JSON; a string holding it JSON5-style with unquoted
// keys, single quotes, comments and trailing commas, as in the document's own example; with
// `orgName`, `OrgName` or `name` for the department's name and an empty, null or missing
// `parentCode`. Equivalent encodings give the same departments, which are the ones encoded.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { allOrgSyncSchema } from '../../src/kit/schemas.js';
import { formatSyncTime } from '../../src/sandbox/marketplace/index.js';

interface Department {
  orgCode: string;
  orgName: string;
  /** null: top level, written as '', null or not at all */
  parentCode: string | null;
}

/** Any text a department field may hold, within its length: unicode, quotes, backslashes, controls. */
const text = (max: number) =>
  fc
    .oneof(
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: Math.min(max, 20) }),
      fc.string({ unit: 'binary', minLength: 1, maxLength: Math.min(max, 20) }),
      fc.constantFrom("'", '"', '\\', '产品部', '00000001', '\u2028', '\n', '/*', '//', ' x ', 'a,b}'),
      fc.string({ minLength: max, maxLength: max }),
    )
    .filter((s) => s.length <= max);

const department = fc.record({
  orgCode: text(64),
  orgName: text(128),
  parentCode: fc.option(text(64), { nil: null }),
});

/** How one department is written: which name key, how a top-level parent is left out. */
const spelling = fc.record({
  nameKey: fc.constantFrom('orgName', 'OrgName', 'name'),
  noParent: fc.constantFrom('empty', 'null', 'missing'),
  order: fc.constantFrom('code-first', 'name-first', 'parent-first'),
});
type Spelling = typeof spelling extends fc.Arbitrary<infer T> ? T : never;

/** A department as the marketplace might send it, as [key, value] pairs in its order. */
function members(d: Department, s: Spelling): [string, string | null][] {
  const parent: [string, string | null][] =
    d.parentCode !== null
      ? [['parentCode', d.parentCode]]
      : s.noParent === 'empty'
        ? [['parentCode', '']]
        : s.noParent === 'null'
          ? [['parentCode', null]]
          : [];
  const code: [string, string][] = [['orgCode', d.orgCode]];
  const name: [string, string][] = [[s.nameKey, d.orgName]];
  if (s.order === 'name-first') return [...name, ...code, ...parent];
  if (s.order === 'parent-first') return [...parent, ...code, ...name];
  return [...code, ...name, ...parent];
}

const asObject = (pairs: [string, string | null][]) => Object.fromEntries(pairs);

/** A JSON5 string literal in single or double quotes, escaping what JSON5 requires (and lone surrogates). */
function json5String(s: string, quote: "'" | '"'): string {
  let out = quote;
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    if (ch === quote || ch === '\\') out += `\\${ch}`;
    else if (c < 0x20 || c === 0x2028 || c === 0x2029 || (ch.length === 1 && c >= 0xd800 && c <= 0xdfff))
      out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return out + quote;
}

/** JSON5 as in the document's example (`[{orgCode:"00000001", orgName:"产品部", …}]`), and looser. */
const json5Style = fc.record({
  quote: fc.constantFrom("'", '"') as fc.Arbitrary<"'" | '"'>,
  unquotedKeys: fc.boolean(),
  trailingComma: fc.boolean(),
  comment: fc.constantFrom('', '/* 部门 */', '// list\n'),
  gap: fc.constantFrom('', ' ', '\n  ', '\t'),
});

function json5(
  list: [string, string | null][][],
  style: typeof json5Style extends fc.Arbitrary<infer T> ? T : never,
) {
  const { quote, unquotedKeys, trailingComma, comment, gap } = style;
  const value = (v: string | null) => (v === null ? 'null' : json5String(v, quote));
  const items = list.map(
    (pairs) =>
      `{${gap}${pairs.map(([k, v]) => `${unquotedKeys ? k : json5String(k, quote)}:${gap}${value(v)}`).join(`,${gap}`)}${trailingComma ? ',' : ''}${gap}}`,
  );
  return `${comment}[${gap}${items.join(`,${gap}`)}${trailingComma && items.length ? ',' : ''}${gap}]`;
}

const body = (orgInfoList: unknown) => ({
  instanceId: 'inst-1',
  tenantId: 'tenant-1',
  orgInfoList,
  testFlag: 0,
  timeStamp: formatSyncTime(Date.UTC(2026, 0, 2, 3, 4, 5, 6)),
});

function parsed(orgInfoList: unknown) {
  const result = allOrgSyncSchema.safeParse(body(orgInfoList));
  if (!result.success) throw new Error(`refused: ${result.error.issues[0]?.message ?? ''}`);
  return result.data.orgInfoList;
}

const list = fc.array(fc.tuple(department, spelling), { maxLength: 8 });

describe('orgInfoList', () => {
  it('an array, its JSON text and its JSON5 text give the same departments: the ones encoded', () => {
    fc.assert(
      fc.property(list, json5Style, fc.constantFrom(0, 2), (items, style, indent) => {
        const encoded = items.map(([d, s]) => members(d, s));
        const expected = items.map(([d]) => d);
        const array = encoded.map(asObject);
        expect(parsed(array)).toEqual(expected);
        expect(parsed(JSON.stringify(array, null, indent))).toEqual(expected);
        expect(parsed(json5(encoded, style))).toEqual(expected);
      }),
      { numRuns: 1000 },
    );
  });

  it('where several names are given, orgName wins over OrgName, and OrgName over name', () => {
    fc.assert(
      fc.property(department, text(128), text(128), fc.boolean(), (d, other1, other2, asText) => {
        const item = {
          name: other2,
          OrgName: other1,
          orgCode: d.orgCode,
          orgName: d.orgName,
          parentCode: d.parentCode,
        };
        const value = [item, { orgCode: `${d.orgCode.slice(0, 60)}-2`, OrgName: other1, name: other2 }];
        expect(parsed(asText ? JSON.stringify(value) : value)).toEqual([
          d,
          { orgCode: `${d.orgCode.slice(0, 60)}-2`, orgName: other1, parentCode: null },
        ]);
      }),
      { numRuns: 300 },
    );
  });

  it('a department without code or name, or with a field too long, is refused in every encoding alike', () => {
    const broken = fc.oneof(
      department.map((d) => ({ orgName: d.orgName })),
      department.map((d) => ({ orgCode: d.orgCode, orgName: '' })),
      department.map((d) => ({ orgCode: d.orgCode })),
      department.map((d) => ({ orgCode: 'x'.repeat(65), orgName: d.orgName })),
      department.map((d) => ({ orgCode: d.orgCode, orgName: 'x'.repeat(129) })),
      department.map((d) => ({ orgCode: d.orgCode, orgName: d.orgName, parentCode: 'x'.repeat(65) })),
      department.map((d) => ({ orgCode: 1, orgName: d.orgName })),
    );
    fc.assert(
      fc.property(list, broken, fc.nat(), (items, bad, at) => {
        const array: unknown[] = items.map(([d, s]) => asObject(members(d, s)));
        array.splice(at % (array.length + 1), 0, bad);
        for (const encoding of [array, JSON.stringify(array)])
          expect(allOrgSyncSchema.safeParse(body(encoding)).success).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});
