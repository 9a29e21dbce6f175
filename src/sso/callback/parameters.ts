/** The unified login returns only `code` and `tenant` (contract §4): both present, one each, bounded. */
import { notes } from '../../ops/log.js';
import { fail, type Answered, type CallbackContext } from './context.js';

const MAX_CODE = 2048;
const MAX_TENANT = 64;

export async function parameters(ctx: CallbackContext): Promise<Answered | void> {
  const { query } = ctx.req;
  // A repeated parameter arrives as an array: not a string, so refused like a missing one.
  const code = typeof query.code === 'string' ? query.code : '';
  // One seed page names it tenant_id; the unified login sends `tenant` (contract §4).
  const tenantParam = query.tenant ?? query.tenant_id;
  const tenantId = typeof tenantParam === 'string' ? tenantParam : '';
  if (!code || code.length > MAX_CODE || !tenantId || tenantId.length > MAX_TENANT)
    return fail(ctx, 'bad_request');
  ctx.code = code;
  ctx.tenantId = tenantId;
  notes(ctx.res).fields = { tenantId };
}
