/**
 * The basic instance interfaces applied to the mirror (contract §3b): each instance is a record
 * in the `{inst}` slot, and each tenant bound to it (by tenantSync) holds a copy in its own slot
 * (gate.ts). A change writes the record first, then the copies; where the store cannot do both
 * in one step (Redis Cluster), transactSlots applies them slot by slot and the copies catch up
 * before the call is answered, or on the marketplace's retry if the answer was 000005.
 *
 * Ordering: each aspect (status, expireTime, productId) remembers the signed time of its last
 * change, so a late older call does not undo a newer one; calls signed at the same time (the
 * same millisecond, or second where the timestamp is in seconds) apply in arrival order, since
 * exact repeats are caught otherwise: renewals and upgrades are idempotent on their order, a
 * status already held changes nothing, and a released instance is final.
 */
import type {
  NewInstance,
  RefreshInstance,
  ReleaseInstance,
  UpdateInstanceStatus,
  UpgradeInstance,
} from '../kit/basicSchemas.js';
import { KitRefusal, ResultCode } from '../kit/resultCodes.js';
import { projectOnto, readTenantGate, type TenantGateReads } from './gate.js';
import type { WriteOp } from '../store/store.js';
import type { EventType } from '../vocabulary.js';
import {
  instanceCopy,
  orderKey,
  parseJson,
  publicInstance,
  type InstanceChange,
  type InstanceRecord,
} from './records.js';
import {
  eventOps,
  transactSlots,
  type MirrorContext,
  type SlotsPlan,
  type SlotWrite,
} from './transaction.js';

/** How many changes and applied orders an instance keeps (repeats arrive within hours). */
export const INSTANCE_HISTORY_LIMIT = 100;

export interface InstanceOutcome {
  /** `unknown`: no such instance (the caller decides what that means for its activity) */
  kind: 'applied' | 'unchanged' | 'unknown';
  instanceId: string;
  /** tenants bound to the instance, whose copies were brought up to date */
  tenants: number;
  /** browser sessions ended because a tenant became blocked */
  sessionsEnded: number;
}

const settle = (first: InstanceOutcome, sessionsEnded: number): InstanceOutcome => ({
  ...first,
  sessionsEnded,
});

interface InstanceReads {
  raw: string | null;
  rawLinks: string | null;
  tenants: TenantGateReads[];
}

async function readInstance(ctx: MirrorContext, instanceId: string): Promise<InstanceReads> {
  const { store, keys } = ctx;
  const [raw, rawLinks] = await Promise.all([
    store.hGet(keys.instances(), instanceId),
    store.hGet(keys.instanceLinks(), instanceId),
  ]);
  const tenantIds = parseJson<string[]>(rawLinks) ?? [];
  // Any change of a copy can leave a tenant blocked, whose sessions then end in the same write.
  const tenants = await Promise.all(tenantIds.map((t) => readTenantGate(ctx, t, ctx.gating !== false)));
  return { raw, rawLinks, tenants };
}

/**
 * The whole plan of a change: the instance's own write (`own`, empty when nothing changed), then
 * the copy of `record` for every bound tenant whose copy is older.
 */
function withCopies(
  ctx: MirrorContext,
  record: InstanceRecord,
  tenants: TenantGateReads[],
  own: SlotWrite | null,
): SlotsPlan<InstanceOutcome> {
  const copy = instanceCopy(record);
  const plans = tenants.map((t) => projectOnto(ctx, t, record.instanceId, copy));
  return {
    writes: [own ?? { guards: [], ops: [] }, ...plans.map((p) => p.write)],
    result: {
      kind: own ? 'applied' : 'unchanged',
      instanceId: record.instanceId,
      tenants: tenants.length,
      sessionsEnded: plans.reduce((n, p) => n + p.sessionsEnded, 0),
    },
  };
}

/** What a change did, as the change feed says it: a renewal that also thaws is both. */
export function instanceEventTypes(current: InstanceRecord | null, next: InstanceRecord): EventType[] {
  if (!current) return ['instance.created'];
  const change = next.history.at(-1)!;
  const types: EventType[] = [];
  if (change.activity === 'refreshInstance' && change.orderId) types.push('instance.renewed');
  if (change.activity === 'upgradeInstance') types.push('instance.upgraded');
  if (next.status !== current.status)
    types.push(
      next.status === 'frozen'
        ? 'instance.frozen'
        : next.status === 'released'
          ? 'instance.released'
          : 'instance.unfrozen',
    );
  return types;
}

/**
 * The change's events, in the instance's slot: the record after it, without its history, and the
 * tenants bound to it (the event's `tenantId` is the first, null while none is).
 */
function instanceEventOps(
  ctx: MirrorContext,
  current: InstanceRecord | null,
  next: InstanceRecord,
  rawLinks: string | null,
): WriteOp[] {
  const tenantIds = parseJson<string[]>(rawLinks) ?? [];
  const { history: _history, ...data } = publicInstance(next, tenantIds);
  return instanceEventTypes(current, next).flatMap((type) =>
    eventOps(ctx, 'instances', type, tenantIds[0] ?? null, data),
  );
}

/** The record after `change`: one more revision, the change in its history (and its order). */
export function withChange(
  current: InstanceRecord,
  change: InstanceChange,
  next: Partial<InstanceRecord>,
): InstanceRecord {
  const orderAdded =
    change.orderId && change.orderLineId ? [orderKey(change.orderId, change.orderLineId)] : [];
  return {
    ...current,
    ...next,
    rev: current.rev + 1,
    updatedAt: Math.max(current.updatedAt, change.at),
    orders: [...current.orders, ...orderAdded].slice(-INSTANCE_HISTORY_LIMIT),
    history: [...current.history, change].slice(-INSTANCE_HISTORY_LIMIT),
  };
}

/** The record a purchase creates: active, with the order as its first history entry. */
export function newInstanceRecord(call: NewInstance, instanceId: string, at: number): InstanceRecord {
  return {
    instanceId,
    orderId: call.orderId,
    orderLineId: call.orderLineId,
    productId: call.productId ?? '',
    status: 'active',
    expireTime: call.expireTime ?? null,
    testFlag: call.testFlag,
    createdAt: at,
    updatedAt: at,
    rev: 1,
    statusAt: at,
    expireAt: at,
    productAt: at,
    orders: [orderKey(call.orderId, call.orderLineId)],
    history: [
      {
        activity: 'newInstance',
        at,
        orderId: call.orderId,
        orderLineId: call.orderLineId,
        status: 'active',
        expireTime: call.expireTime ?? null,
        ...(call.productId ? { productId: call.productId } : {}),
      },
    ],
  };
}

/** newInstance: idempotent on orderId + orderLineId; the first businessId becomes the instanceId. */
export function applyNewInstance(
  ctx: MirrorContext,
  call: NewInstance,
  at: number,
  notAfter: number,
): Promise<InstanceOutcome> {
  const { store, keys } = ctx;
  const key = orderKey(call.orderId, call.orderLineId);
  return transactSlots(
    ctx,
    notAfter,
    async () => {
      const ordered = await store.hGet(keys.instanceOrders(), key);
      const reads = await readInstance(ctx, ordered ?? call.businessId);
      return { ordered, ...reads };
    },
    ({ ordered, raw, rawLinks, tenants }) => {
      const instanceId = ordered ?? call.businessId;
      const current = parseJson<InstanceRecord>(raw);
      if (current && !ordered)
        throw new KitRefusal(
          ResultCode.invalidRequest,
          'businessId already names an instance of another order; send a new businessId',
        );
      const record = current ?? newInstanceRecord(call, instanceId, at);
      const created: SlotWrite | null = current
        ? null
        : {
            guards: [
              { key: keys.instanceOrders(), field: key, equals: null },
              { key: keys.instances(), field: instanceId, equals: null },
              { key: keys.instanceLinks(), field: instanceId, equals: rawLinks },
            ],
            ops: [
              { op: 'hset', key: keys.instanceOrders(), entries: [[key, instanceId]] },
              { op: 'hset', key: keys.instances(), entries: [[instanceId, JSON.stringify(record)]] },
              ...instanceEventOps(ctx, null, record, rawLinks),
            ],
          };
      // A tenantSync that named this instance before the purchase reached us is bound already.
      return withCopies(ctx, record, tenants, created);
    },
    { settle },
  );
}

/**
 * A change of a known instance. `decide` returns the record after the call, or null when the
 * call changes nothing (a repeat, a stale call, a released instance). Bound tenants' copies are
 * brought up to date either way, which completes a change interrupted between slots.
 */
function applyChange(
  ctx: MirrorContext,
  instanceId: string,
  notAfter: number,
  decide: (current: InstanceRecord) => InstanceRecord | null,
): Promise<InstanceOutcome> {
  const { keys } = ctx;
  return transactSlots(
    ctx,
    notAfter,
    () => readInstance(ctx, instanceId),
    ({ raw, rawLinks, tenants }) => {
      const current = parseJson<InstanceRecord>(raw);
      if (!current)
        return { writes: [], result: { kind: 'unknown', instanceId, tenants: 0, sessionsEnded: 0 } };
      const next = decide(current);
      const changed: SlotWrite | null = next
        ? {
            guards: [
              { key: keys.instances(), field: instanceId, equals: raw },
              { key: keys.instanceLinks(), field: instanceId, equals: rawLinks },
            ],
            ops: [
              { op: 'hset', key: keys.instances(), entries: [[instanceId, JSON.stringify(next)]] },
              ...instanceEventOps(ctx, current, next, rawLinks),
            ],
          }
        : null;
      return withCopies(ctx, next ?? current, tenants, changed);
    },
    { settle },
  );
}

const seen = (r: InstanceRecord, orderId: string, orderLineId: string) =>
  r.orders.includes(orderKey(orderId, orderLineId));

/** A new product named by a renewal or an upgrade, unless a later call already set one: the change and the record's part. */
function productChange(r: InstanceRecord, productId: string | undefined, at: number) {
  if (!productId || at < r.productAt) return { change: {}, record: {} };
  return { change: { productId }, record: { productId, productAt: at } };
}

/**
 * refreshInstance: a renewal, a trial made formal, or a renewal period given back (`scene`).
 * `unfreeze`: the call also says the instance is active as of its signed time, which ends a
 * freeze signed before it and outranks one that arrives later but was signed before. V1 has no
 * UNFREEZE: its `expireInstance` freezes, and the renewal that follows is what opens the instance
 * again.
 */
export function applyRefreshInstance(
  ctx: MirrorContext,
  call: RefreshInstance,
  at: number,
  notAfter: number,
  options: { unfreeze?: boolean } = {},
) {
  return applyChange(ctx, call.instanceId, notAfter, (r) => {
    if (r.status === 'released') return null;
    const renews = !seen(r, call.orderId, call.orderLineId) && at >= r.expireAt;
    const activates = options.unfreeze === true && at >= r.statusAt;
    const thaws = activates && r.status === 'frozen';
    if (!renews && !thaws) return null;
    const product = renews ? productChange(r, call.productId, at) : { change: {}, record: {} };
    return withChange(
      r,
      {
        activity: 'refreshInstance',
        at,
        // a renewal seen before that only thaws adds no order
        ...(renews
          ? { orderId: call.orderId, orderLineId: call.orderLineId, expireTime: call.expireTime }
          : {}),
        scene: call.scene,
        ...(thaws ? { status: 'active' as const } : {}),
        ...product.change,
      },
      {
        ...(renews ? { expireTime: call.expireTime, expireAt: at } : {}),
        ...(activates ? { status: 'active' as const, statusAt: at } : {}),
        ...product.record,
      },
    );
  });
}

/** updateInstanceStatus: FREEZE when the subscription lapses, UNFREEZE when it is renewed in time. */
export function applyUpdateInstanceStatus(
  ctx: MirrorContext,
  call: UpdateInstanceStatus,
  at: number,
  notAfter: number,
) {
  const status = call.status === 'FREEZE' ? 'frozen' : 'active';
  return applyChange(ctx, call.instanceId, notAfter, (r) => {
    if (r.status === 'released' || r.status === status || at < r.statusAt) return null;
    return withChange(r, { activity: 'updateInstanceStatus', at, status }, { status, statusAt: at });
  });
}

/** releaseInstance: final; an unknown or already released instance is a success that changes nothing. */
export function applyReleaseInstance(
  ctx: MirrorContext,
  call: ReleaseInstance,
  at: number,
  notAfter: number,
) {
  return applyChange(ctx, call.instanceId, notAfter, (r) => {
    if (r.status === 'released') return null;
    return withChange(
      r,
      {
        activity: 'releaseInstance',
        at,
        status: 'released',
        ...(call.orderId ? { orderId: call.orderId } : {}),
        ...(call.orderLineId ? { orderLineId: call.orderLineId } : {}),
      },
      // A release is final whatever its time: nothing can bring the instance back.
      { status: 'released', statusAt: Math.max(at, r.statusAt) },
    );
  });
}

/** upgradeInstance: a new order on the same instance, possibly for another product. */
export function applyUpgradeInstance(
  ctx: MirrorContext,
  call: UpgradeInstance,
  at: number,
  notAfter: number,
) {
  return applyChange(ctx, call.instanceId, notAfter, (r) => {
    if (r.status === 'released' || seen(r, call.orderId, call.orderLineId)) return null;
    const product = productChange(r, call.productId, at);
    return withChange(
      r,
      {
        activity: 'upgradeInstance',
        at,
        orderId: call.orderId,
        orderLineId: call.orderLineId,
        ...product.change,
      },
      product.record,
    );
  });
}

/** The known instances among `ids`, in the order asked. */
export async function readInstances(ctx: MirrorContext, ids: readonly string[]): Promise<InstanceRecord[]> {
  if (ids.length === 0) return [];
  const raws = await ctx.store.hmGet(ctx.keys.instances(), ids);
  return raws.flatMap((raw) => {
    const r = parseJson<InstanceRecord>(raw);
    return r ? [r] : [];
  });
}
