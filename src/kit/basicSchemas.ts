/**
 * The basic (instance) interface bodies (kit-sync-and-signing.md §4; contract §3b), validated at
 * the edge. Every value is a string, as the reference code binds the body as Map<String,String>;
 * fields we do not use are accepted (they are signed) but must be strings too.
 */
import { z } from 'zod';
import { BASIC_ACTIVITIES, REFRESH_SCENES, type BasicActivity } from '../vocabulary.js';
import { parseExpireTime } from './timestamp.js';

const expected = (message: string) => (issue: { input?: unknown }) =>
  issue.input === undefined ? 'is required' : message;
const str = (max: number) =>
  z.string({ error: expected('must be a string') }).max(max, `must be at most ${max} characters`);
const id = (max = 64) => str(max).min(1, 'must not be empty');
const testFlag = z
  .enum(['0', '1'], { error: expected('must be the string "0" or "1"') })
  .nullish()
  .transform((v) => (v === '1' ? 1 : 0) as 0 | 1);
/** An optional field: `null` is taken as absent, as the signed payload drops top-level nulls. */
const optional = <T extends z.ZodType>(schema: T) => schema.nullish().transform((v) => v ?? undefined);
/** UTC `yyyyMMddHHmmss`; the document's example has 17 digits (with ms), so both are accepted. */
const expireTime = str(17)
  .refine((v) => parseExpireTime(v) !== null, 'must be a real UTC time as yyyyMMddHHmmss (or 17 digits)')
  .transform((v) => new Date(parseExpireTime(v)!).toISOString());
/** Fields the relay does not use (customerId, skuCode, saasExtendParams, …) are strings or null. */
const otherFields = str(4096).nullable();

const activity = <const A extends string>(name: A) => z.literal(name);

export const newInstanceSchema = z
  .object({
    activity: activity('newInstance'),
    businessId: id(),
    orderId: id(),
    orderLineId: id(),
    productId: optional(str(64)),
    expireTime: optional(expireTime),
    testFlag,
  })
  .catchall(otherFields);

export const MAX_QUERY_INSTANCES = 100;

export const queryInstanceSchema = z
  .object({
    activity: activity('queryInstance'),
    instanceId: str(MAX_QUERY_INSTANCES * 65)
      .min(1, 'must not be empty')
      .transform((v, ctx) => {
        const ids = [...new Set(v.split(',').map((s) => s.trim()))];
        if (ids.length > MAX_QUERY_INSTANCES)
          ctx.addIssue({ code: 'custom', message: `must name at most ${MAX_QUERY_INSTANCES} instances` });
        if (ids.some((i) => i.length === 0 || i.length > 64))
          ctx.addIssue({
            code: 'custom',
            message: 'must be instance ids of 1 to 64 characters, comma-separated',
          });
        return ids;
      }),
    testFlag,
  })
  .catchall(otherFields);

export { REFRESH_SCENES };

export const refreshInstanceSchema = z
  .object({
    activity: activity('refreshInstance'),
    instanceId: id(),
    orderId: id(),
    orderLineId: id(),
    scene: z.enum(REFRESH_SCENES, { error: expected(`must be one of ${REFRESH_SCENES.join(', ')}`) }),
    expireTime,
    productId: optional(str(64)),
    testFlag,
  })
  .catchall(otherFields);

export const updateInstanceStatusSchema = z
  .object({
    activity: activity('updateInstanceStatus'),
    instanceId: id(),
    status: z.enum(['FREEZE', 'UNFREEZE'], { error: expected('must be "FREEZE" or "UNFREEZE"') }),
    testFlag,
  })
  .catchall(otherFields);

export const releaseInstanceSchema = z
  .object({
    activity: activity('releaseInstance'),
    instanceId: id(),
    orderId: optional(str(64)),
    orderLineId: optional(str(64)),
    testFlag,
  })
  .catchall(otherFields);

export const upgradeInstanceSchema = z
  .object({
    activity: activity('upgradeInstance'),
    instanceId: id(),
    orderId: id(),
    orderLineId: id(),
    productId: optional(str(64)),
    testFlag,
  })
  .catchall(otherFields);

export const basicSchemas = {
  newInstance: newInstanceSchema,
  queryInstance: queryInstanceSchema,
  refreshInstance: refreshInstanceSchema,
  updateInstanceStatus: updateInstanceStatusSchema,
  releaseInstance: releaseInstanceSchema,
  upgradeInstance: upgradeInstanceSchema,
} as const satisfies Record<BasicActivity, z.ZodType>;

export { BASIC_ACTIVITIES, type BasicActivity };

export type NewInstance = z.output<typeof newInstanceSchema>;
export type QueryInstance = z.output<typeof queryInstanceSchema>;
export type RefreshInstance = z.output<typeof refreshInstanceSchema>;
export type UpdateInstanceStatus = z.output<typeof updateInstanceStatusSchema>;
export type ReleaseInstance = z.output<typeof releaseInstanceSchema>;
export type UpgradeInstance = z.output<typeof upgradeInstanceSchema>;
