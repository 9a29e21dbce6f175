/**
 * The five kit push bodies (kit-sync-and-signing.md §3), validated at the edge.
 *
 * Lenient where the document lists variants (empty or missing instanceId/orderId on debug calls,
 * orgInfoList as an array or a JSON string with unquoted keys, OrgName/name aliases, user fields
 * inside `extension`, enable as the documented string or a boolean), strict about everything
 * else. Deletes only need the identifiers. Unknown fields are ignored (they are still signed).
 */
import JSON5 from 'json5';
import { z } from 'zod';
import { KIT_INTERFACES, type KitInterface } from '../vocabulary.js';
import { parseSyncTime } from './timestamp.js';

/** zod's error map sees the input; an absent field is named as missing rather than mistyped. */
const expected = (message: string) => (issue: { input?: unknown }) =>
  issue.input === undefined ? 'is required' : message;
const str = (max: number) =>
  z.string({ error: expected('must be a string') }).max(max, `must be at most ${max} characters`);
const id = (max = 64) => str(max).min(1, 'must not be empty');
/** Present but possibly empty, missing or null on the marketplace's own debug calls. */
const maybeEmpty = (max = 64) =>
  str(max)
    .nullish()
    .transform((v) => v ?? '');
const testFlag = z.union([z.literal(0), z.literal(1)], { error: expected('must be the number 0 or 1') });
const flag = <const T extends readonly number[]>(allowed: T) =>
  z
    .number({ error: expected(`must be one of the numbers ${allowed.join(', ')}`) })
    .refine((v): v is T[number] => allowed.includes(v), `must be one of the numbers ${allowed.join(', ')}`);
const syncTime = z
  .string({ error: expected('must be a string') })
  .refine((v) => parseSyncTime(v) !== null, 'must be a real time as yyyyMMddHHmmssSSS (UTC+8)');

/** domainName as the tenant's IdP base URL: scheme added when missing, one trailing slash dropped (joint-login.md §7). */
export function normalizeDomainName(value: string): string | null {
  let v = value.trim();
  if (!/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(v)) v = `https://${v}`;
  v = v.replace(/\/+$/, '');
  try {
    const url = new URL(v);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
    if (url.username || url.password || url.search || url.hash || !url.hostname) return null;
    return v;
  } catch {
    return null;
  }
}

/** JSON, or JSON5 with unquoted keys (§3.5); throws when it is neither. */
export function parseEmbeddedJson(text: string): unknown {
  try {
    // Plain JSON first: faster, and JSON5 writes to the console (not the log) about U+2028.
    return JSON.parse(text);
  } catch {
    return JSON5.parse(text);
  }
}

/** A JSON value that may arrive as a string holding JSON, even JSON5 with unquoted keys (§3.5). */
function embeddedJson(fieldName: string) {
  return (value: unknown, ctx: z.RefinementCtx): unknown => {
    if (typeof value !== 'string') return value;
    try {
      return parseEmbeddedJson(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: `is a string but not a JSON array (${fieldName})` });
      return z.NEVER;
    }
  };
}

const requireWhenNotDeleting = (
  body: { flag: number } & Record<string, unknown>,
  ctx: z.RefinementCtx,
  fields: readonly string[],
) => {
  if (body.flag === 0) return;
  for (const f of fields) {
    if (body[f] === undefined || body[f] === '')
      ctx.addIssue({ code: 'custom', path: [f], message: 'is required unless flag is 0 (delete)' });
  }
};

export const tenantSyncSchema = z
  .object({
    instanceId: maybeEmpty(),
    orderId: maybeEmpty(),
    tenantId: id(),
    tenantCode: str(64).optional(),
    name: str(255).optional(),
    domainName: str(255).optional(),
    flag: flag([0, 1, 2] as const),
    testFlag,
    timeStamp: syncTime,
  })
  .superRefine((b, ctx) => {
    requireWhenNotDeleting(b, ctx, ['tenantCode', 'name', 'domainName']);
    if (b.flag !== 0 && b.domainName && normalizeDomainName(b.domainName) === null)
      ctx.addIssue({
        code: 'custom',
        path: ['domainName'],
        message: 'must be an http(s) base URL without query',
      });
  })
  .transform((b) => ({
    ...b,
    tenantCode: b.tenantCode ?? '',
    name: b.name ?? '',
    domainName: b.domainName ? (normalizeDomainName(b.domainName) ?? '') : '',
    at: parseSyncTime(b.timeStamp)!,
  }));

export const applicationSyncSchema = z
  .object({
    instanceId: maybeEmpty(),
    tenantId: id(),
    appId: id(),
    clientId: str(64).optional(),
    clientSecret: str(4096).optional(),
    flag: flag([0, 1, 2] as const),
    testFlag,
    timeStamp: syncTime,
  })
  .superRefine((b, ctx) => requireWhenNotDeleting(b, ctx, ['clientId', 'clientSecret']))
  .transform((b) => ({
    ...b,
    clientId: b.clientId ?? '',
    clientSecret: b.clientSecret ?? '',
    at: parseSyncTime(b.timeStamp)!,
  }));

// nullish() rather than a union with null: zod checks it several times faster, per user field.
// The two lists can hold 500 users or tens of thousands of departments: their items are checked
// by zod with cheap field types and normalised in one object-level step (per-field unions and
// transforms made user validation five times slower).
const text = (max: number) => str(max).nullish();
const ROLES: Record<string, 'user' | 'admin'> = { user: 'user', admin: 'admin' };
const BOOLEAN_TEXT: Record<string, boolean> = { true: true, false: false };
const EMPLOYEE_TYPES = new Set([1, 2, 3, 4]);

type Ctx = z.RefinementCtx;
const problem = (ctx: Ctx, path: (string | number)[], message: string) =>
  ctx.addIssue({ code: 'custom', path, message });

/** employeeType: 1 regular, 2 intern, 3 dispatched, 4 outsourced; a number or its digits. */
function employeeTypeOf(v: unknown, ctx: Ctx, path: (string | number)[]): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
  if (!EMPLOYEE_TYPES.has(n)) problem(ctx, path, 'must be 1, 2, 3 or 4');
  return n;
}

const extensionOf = (v: unknown, ctx: Ctx) => {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) return void problem(ctx, ['extension'], 'must be an object');
  if (JSON.stringify(v).length > 4096) problem(ctx, ['extension'], 'must be at most 4096 bytes of JSON');
  const e = v as Record<string, unknown>;
  for (const [k, max] of [
    ['entryDate', 32],
    ['workPlace', 255],
  ] as const)
    if (e[k] !== undefined && e[k] !== null && (typeof e[k] !== 'string' || e[k].length > max))
      problem(ctx, ['extension', k], `must be a string of at most ${max} characters`);
  return e;
};

const user = z
  .object(
    {
      userName: id(),
      name: str(64).optional(),
      orgCode: str(64).optional(),
      position: text(64),
      employeeCode: text(64),
      employeeType: z.unknown().optional(),
      role: z.string({ error: expected('must be "user" or "admin"') }).optional(),
      enable: z
        .union([z.string(), z.boolean()], { error: expected('must be the string "true" or "false"') })
        .optional(),
      mobile: text(32),
      email: text(128),
      workPlace: text(255),
      entryDate: text(32),
      extension: z.unknown().optional(),
    },
    { error: expected('must be an object') },
  )
  .transform((u, ctx) => {
    const role = u.role === undefined ? undefined : ROLES[u.role.toLowerCase()];
    if (u.role !== undefined && !role) problem(ctx, ['role'], 'must be "user" or "admin"');
    const enable =
      u.enable === undefined || typeof u.enable === 'boolean'
        ? u.enable
        : BOOLEAN_TEXT[u.enable.toLowerCase()];
    if (u.enable !== undefined && enable === undefined)
      problem(ctx, ['enable'], 'must be the string "true" or "false"');
    const extension = extensionOf(u.extension, ctx);
    // V1 and MIW put these inside `extension`; the top level wins when both are present.
    const employeeType =
      employeeTypeOf(u.employeeType, ctx, ['employeeType']) ??
      employeeTypeOf(extension?.employeeType, ctx, ['extension', 'employeeType']);
    return {
      userName: u.userName,
      name: u.name,
      orgCode: u.orgCode,
      role,
      enable,
      position: u.position || undefined,
      employeeCode: u.employeeCode || undefined,
      employeeType,
      mobile: u.mobile || undefined,
      email: u.email || undefined,
      workPlace: u.workPlace || (extension?.workPlace as string | undefined) || undefined,
      entryDate: u.entryDate || (extension?.entryDate as string | undefined) || undefined,
      extension,
    };
  });

export const MAX_USERS_PER_PUSH = 500;

export const authSyncSchema = z
  .object({
    instanceId: maybeEmpty(),
    tenantId: id(),
    appId: id(),
    userList: z.preprocess(
      embeddedJson('userList'),
      z
        .array(user, { error: expected('must be a list of users') })
        .min(1, 'must hold at least one user')
        .max(MAX_USERS_PER_PUSH, `must hold at most ${MAX_USERS_PER_PUSH} users`),
    ),
    currentSyncTime: syncTime,
    flag: flag([0, 1, 2, 3] as const),
    testFlag,
    timeStamp: syncTime,
  })
  .superRefine((b, ctx) => {
    // A delete (0) or a cancellation (3) may name users only; adds and changes carry them whole.
    if (b.flag === 0 || b.flag === 3) return;
    b.userList.forEach((u, i) => {
      for (const f of ['name', 'orgCode', 'role', 'enable'] as const)
        if (u[f] === undefined)
          ctx.addIssue({
            code: 'custom',
            path: ['userList', i, f],
            message: 'is required when flag is 1 or 2',
          });
    });
  })
  .transform((b) => ({ ...b, at: parseSyncTime(b.currentSyncTime)! }));

const orgName = (input: Record<string, unknown>) => input.orgName ?? input.OrgName ?? input.name;
const parentCode = z
  .union([str(64), z.null()], { error: expected('must be a string') })
  .optional()
  .transform((v) => (v ? v : null));

export const singleOrgSyncSchema = z
  .preprocess(
    (v) =>
      v && typeof v === 'object' && !Array.isArray(v)
        ? { ...v, orgName: orgName(v as Record<string, unknown>) }
        : v,
    z.object({
      instanceId: maybeEmpty(),
      tenantId: id(),
      orgCode: id(),
      orgName: str(128).optional(),
      parentCode,
      flag: flag([0, 1, 2] as const),
      testFlag,
      timeStamp: syncTime,
    }),
  )
  .superRefine((b, ctx) => requireWhenNotDeleting(b, ctx, ['orgName']))
  .transform((b) => ({ ...b, orgName: b.orgName ?? '', at: parseSyncTime(b.timeStamp)! }));

/**
 * One department of a full list, checked by hand: a list may hold tens of thousands, where even
 * zod's object parse dominates the push. Same rules and messages as the zod fields above.
 */
function orgInfoOf(
  v: unknown,
  i: number,
  ctx: Ctx,
): { orgCode: string; orgName: string; parentCode: string | null } | undefined {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return void problem(ctx, [i], 'must be an object');
  const o = v as Record<string, unknown>;
  const orgCode = orgField(ctx, i, 'orgCode', o.orgCode, 64, true);
  const orgName = orgField(ctx, i, 'orgName', o.orgName ?? o.OrgName ?? o.name, 128, true);
  const parentCode = orgField(ctx, i, 'parentCode', o.parentCode, 64, false);
  return orgCode && orgName ? { orgCode, orgName, parentCode: parentCode ?? null } : undefined;
}

function orgField(
  ctx: Ctx,
  i: number,
  name: string,
  value: unknown,
  max: number,
  required: boolean,
): string | undefined {
  if (value === undefined || value === null || value === '') {
    if (required) problem(ctx, [i, name], value === '' ? 'must not be empty' : 'is required');
    return undefined;
  }
  if (typeof value !== 'string') return void problem(ctx, [i, name], 'must be a string');
  if (value.length > max) problem(ctx, [i, name], `must be at most ${max} characters`);
  return value;
}

// z.custom, not z.array(z.unknown()): the array is walked once, here, not also by zod.
const orgInfoList = z
  .custom<unknown[]>((v) => Array.isArray(v), { error: expected('must be a list of departments') })
  .transform((list, ctx) => {
    const out: { orgCode: string; orgName: string; parentCode: string | null }[] = [];
    for (let i = 0; i < list.length; i++) {
      const o = orgInfoOf(list[i], i, ctx);
      if (o) out.push(o);
    }
    return out;
  });

export const MAX_DEPARTMENTS_PER_PUSH = 100_000;

export const allOrgSyncSchema = z
  .object({
    instanceId: maybeEmpty(),
    tenantId: id(),
    orgInfoList: z.preprocess(
      embeddedJson('orgInfoList'),
      orgInfoList.refine(
        (l) => l.length <= MAX_DEPARTMENTS_PER_PUSH,
        `must hold at most ${MAX_DEPARTMENTS_PER_PUSH} departments`,
      ),
    ),
    testFlag,
    timeStamp: syncTime,
  })
  .transform((b) => ({ ...b, at: parseSyncTime(b.timeStamp)! }));

export type TenantSync = z.output<typeof tenantSyncSchema>;
export type ApplicationSync = z.output<typeof applicationSyncSchema>;
export type AuthSync = z.output<typeof authSyncSchema>;
export type SyncedUser = AuthSync['userList'][number];
export type SingleOrgSync = z.output<typeof singleOrgSyncSchema>;
export type AllOrgSync = z.output<typeof allOrgSyncSchema>;

export { KIT_INTERFACES, type KitInterface };

export const kitSchemas = {
  tenantSync: tenantSyncSchema,
  applicationSync: applicationSyncSchema,
  authSync: authSyncSchema,
  singleOrgSync: singleOrgSyncSchema,
  allOrgSync: allOrgSyncSchema,
} as const;

/**
 * A field name in `resultMsg`: the caller chose it (basic bodies accept any extra field), so
 * control characters show as '?' and a long one is cut, keeping the answer one line of at most
 * the 255 characters the document allows (§3).
 */
export function fieldName(name: PropertyKey): string {
  // eslint-disable-next-line no-control-regex -- replacing control characters is the point
  const printable = String(name).replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '?');
  return cut(printable, 64);
}

/** At most `max` characters, cut between code points. */
function cut(text: string, max: number): string {
  const chars = [...text];
  return chars.length > max ? `${chars.slice(0, max - 3).join('')}...` : text;
}

/** One sentence naming the first problem, for `resultMsg`; never echoes the offending value. */
export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid body';
  const path = issue.path.map(fieldName).join('.');
  const message =
    issue.code === 'unrecognized_keys'
      ? `unexpected fields ${issue.keys.map(fieldName).join(', ')}`
      : path
        ? `${path} ${issue.message}`
        : issue.message;
  return cut(message, 255);
}
