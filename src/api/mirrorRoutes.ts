/** Read access to the mirror for the seller's app (contract §5). */
import express, { type Router } from 'express';
import { z } from 'zod';
import type { Mirror } from '../mirror/mirror.js';
import {
  publicInstance,
  publicInstanceCopy,
  publicOrg,
  publicTenant,
  publicUser,
} from '../mirror/records.js';
import { ApiError } from './errors.js';

const identifier = z.string().min(1).max(64);
const authorizeBody = z.object({
  tenantId: identifier,
  userName: identifier,
  appId: identifier.optional(),
  role: z.enum(['user', 'admin']).optional(),
});
const departmentsQuery = z.object({ parent: z.string().max(64).optional() });

function parsed<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
  throw new ApiError(400, 'invalid_request', `${where}${issue.message}`);
}

export function mirrorRoutes(mirror: Mirror, appId: string): Router {
  const router = express.Router();

  router.get('/tenants/:tenantId', async (req, res) => {
    const tenantId = parsed(identifier, req.params.tenantId);
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
    });
  });

  router.get('/instances/:instanceId', async (req, res) => {
    const found = await mirror.instance(parsed(identifier, req.params.instanceId));
    if (!found) throw new ApiError(404, 'not_found', 'No such instance in the mirror.');
    res.json(publicInstance(found.record, found.tenantIds));
  });

  router.get('/tenants/:tenantId/users/:userName', async (req, res) => {
    const user = await mirror.user(
      parsed(identifier, req.params.tenantId),
      appId,
      parsed(identifier, req.params.userName),
    );
    if (!user) throw new ApiError(404, 'not_found', 'No such user of this app in the tenant.');
    res.json(publicUser(user));
  });

  router.get('/tenants/:tenantId/departments', async (req, res) => {
    const tenantId = parsed(identifier, req.params.tenantId);
    const { parent } = parsed(departmentsQuery, req.query);
    const [tenant, departments] = await Promise.all([
      mirror.tenant(tenantId),
      mirror.departments(tenantId, parent),
    ]);
    if (!tenant) throw new ApiError(404, 'not_found', 'No such tenant in the mirror.');
    res.json({ departments: departments.map(publicOrg) });
  });

  router.post('/authorize', express.json({ limit: '16kb' }), async (req, res) => {
    const body = parsed(authorizeBody, req.body ?? {});
    const answer = await mirror.authorize(body.tenantId, body.appId ?? appId, body.userName, body.role);
    res.json({
      allowed: answer.allowed,
      reason: answer.reason,
      ...(answer.user ? { user: publicUser(answer.user) } : {}),
    });
  });

  return router;
}
