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

/** A JSON value that may arrive as a string holding JSON, even JSON5 with unquoted keys (§3.5). */
function embeddedJson(fieldName: string) {
  return (value: unknown, ctx: z.RefinementCtx): unknown => {
    if (typeof value !== 'string') return value;
    try {
      return JSON5.parse(value);
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
const optionalText = (max: number) =>
  str(max)
    .nullish()
    .transform((v) => (v === null || v === undefined || v === '' ? undefined : v));
const employeeType = z
  .union([z.number(), z.string().regex(/^\d+$/, 'must be 1, 2, 3 or 4')], {
    error: expected('must be 1, 2, 3 or 4'),
  })
  .transform(Number)
  .refine((v) => [1, 2, 3, 4].includes(v), 'must be 1, 2, 3 or 4')
  .optional();
const extensionFields = z
  .object({
    entryDate: optionalText(32),
    employeeType: z.union([employeeType, z.null()], { error: expected('must be 1, 2, 3 or 4') }).optional(),
    workPlace: optionalText(255),
  })
  .loose();

const user = z
  .object(
    {
      userName: id(),
      name: str(64).optional(),
      orgCode: str(64).optional(),
      position: optionalText(64),
      employeeCode: optionalText(64),
      employeeType: z.union([employeeType, z.null()], { error: expected('must be 1, 2, 3 or 4') }).optional(),
      role: z
        .string({ error: expected('must be "user" or "admin"') })
        .transform((v) => v.toLowerCase())
        .refine((v): v is 'user' | 'admin' => v === 'user' || v === 'admin', 'must be "user" or "admin"')
        .optional(),
      enable: z
        .union([z.enum(['true', 'false', 'TRUE', 'FALSE', 'True', 'False']), z.boolean()], {
          error: expected('must be the string "true" or "false"'),
        })
        .transform((v) => v === true || (typeof v === 'string' && v.toLowerCase() === 'true'))
        .optional(),
      mobile: optionalText(32),
      email: optionalText(128),
      workPlace: optionalText(255),
      entryDate: optionalText(32),
      extension: z
        .union([extensionFields, z.null()])
        .optional()
        .refine(
          (e) => e === undefined || e === null || JSON.stringify(e).length <= 4096,
          'must be at most 4096 bytes of JSON',
        ),
    },
    { error: expected('must be an object') },
  )
  .transform(({ extension, ...u }) => ({
    ...u,
    // V1 and MIW put these inside `extension`; the top level wins when both are present.
    entryDate: u.entryDate ?? extension?.entryDate,
    employeeType: u.employeeType ?? extension?.employeeType ?? undefined,
    workPlace: u.workPlace ?? extension?.workPlace,
    ...(extension ? { extension: extension as Record<string, unknown> } : {}),
  }));

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

const orgInfo = z.preprocess(
  (v) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? { ...v, orgName: orgName(v as Record<string, unknown>) }
      : v,
  z.object(
    { orgCode: id(), orgName: str(128).min(1, 'must not be empty'), parentCode },
    { error: expected('must be an object') },
  ),
);

export const MAX_DEPARTMENTS_PER_PUSH = 100_000;

export const allOrgSyncSchema = z
  .object({
    instanceId: maybeEmpty(),
    tenantId: id(),
    orgInfoList: z.preprocess(
      embeddedJson('orgInfoList'),
      z
        .array(orgInfo, { error: expected('must be a list of departments') })
        .max(MAX_DEPARTMENTS_PER_PUSH, `must hold at most ${MAX_DEPARTMENTS_PER_PUSH} departments`),
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

export const KIT_INTERFACES = [
  'tenantSync',
  'applicationSync',
  'authSync',
  'singleOrgSync',
  'allOrgSync',
] as const;
export type KitInterface = (typeof KIT_INTERFACES)[number];

export const kitSchemas = {
  tenantSync: tenantSyncSchema,
  applicationSync: applicationSyncSchema,
  authSync: authSyncSchema,
  singleOrgSync: singleOrgSyncSchema,
  allOrgSync: allOrgSyncSchema,
} as const;

/** One sentence naming the first problem, for `resultMsg`; never echoes the offending value. */
export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid body';
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') return `unexpected fields ${issue.keys.join(', ')}`;
  return path ? `${path} ${issue.message}` : issue.message;
}
