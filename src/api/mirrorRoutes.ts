/** Read access to the mirror for the seller's app (contract §5). */
import express from 'express';
import type { Mirror } from '../mirror/mirror.js';
import {
  publicInstance,
  publicInstanceCopy,
  publicOrg,
  publicTenant,
  publicUser,
} from '../mirror/records.js';
import type { ApiRoutes } from './apiRoutes.js';
import { operations, type Answer } from './contract.js';
import { ApiError } from './errors.js';
import { sendJson } from './json.js';

/** Registers the mirror's operations on the API. */
export function mirrorRoutes(mirror: Mirror, appId: string, api: ApiRoutes): void {
  api.serve(operations.getTenant, async (_req, res, { params: { tenantId } }) => {
    const [tenant, instances] = await Promise.all([
      mirror.tenant(tenantId),
      mirror.tenantInstances(tenantId),
    ]);
    if (!tenant) throw new ApiError(404, 'not_found', 'No such tenant in the mirror.');
    res.json({
      ...publicTenant(tenant),
      instances: [...instances]
        .filter(([id]) => tenant.instanceIds.includes(id))
        .map(([id, copy]) => publicInstanceCopy(id, copy)),
    } satisfies Answer<'getTenant'>);
  });

  api.serve(operations.getInstance, async (_req, res, { params }) => {
    const found = await mirror.instance(params.instanceId);
    if (!found) throw new ApiError(404, 'not_found', 'No such instance in the mirror.');
    res.json(publicInstance(found.record, found.tenantIds));
  });

  api.serve(operations.getUser, async (_req, res, { params }) => {
    const user = await mirror.user(params.tenantId, appId, params.userName);
    if (!user) throw new ApiError(404, 'not_found', 'No such user of this app in the tenant.');
    res.json(publicUser(user));
  });

  api.serve(operations.listDepartments, async (_req, res, { params: { tenantId }, query }) => {
    const [tenant, departments] = await Promise.all([
      mirror.tenant(tenantId),
      mirror.departments(tenantId, query.parent),
    ]);
    if (!tenant) throw new ApiError(404, 'not_found', 'No such tenant in the mirror.');
    res.json({ departments: departments.map(publicOrg) } satisfies Answer<'listDepartments'>);
  });

  api.serve(operations.authorize, express.json({ limit: '16kb' }), async (_req, res, { body }) => {
    const answer = await mirror.authorize(body.tenantId, body.appId ?? appId, body.userName, body.role);
    sendJson(res, {
      allowed: answer.allowed,
      reason: answer.reason,
      ...(answer.user ? { user: publicUser(answer.user) } : {}),
    });
  });
}
