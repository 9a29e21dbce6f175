import { describe, expect, it } from '@jest/globals';
import type { AuthorizeAnswer, AuthorizeReason } from '../../../src/mirror/mirror.js';
import { notes } from '../../../src/ops/log.js';
import { authorization } from '../../../src/sso/callback/authorization.js';
import { ANSWERED } from '../../../src/sso/callback/context.js';
import { APP_ID } from '../../support/relay.js';
import { failureOf, fake, logins, TENANT_ID, userInfo } from './fakes.js';

const found = { tenantId: TENANT_ID, user: userInfo() };
const refused = (reason: AuthorizeReason): AuthorizeAnswer => ({ allowed: false, reason });

describe('callback step: authorization', () => {
  it('asks the mirror about this user, in this tenant, for KOO_APP_ID, and lets an allowed one on', async () => {
    const asked: unknown[] = [];
    const f = fake({ found });
    f.deps.mirror.authorize = async (...args) => {
      asked.push(args);
      return { allowed: true, reason: 'ok' };
    };
    expect(await authorization(f.ctx)).toBeUndefined();
    expect(asked).toEqual([[TENANT_ID, APP_ID, 'alice']]);
    expect(f.res.body).toBeUndefined();
  });

  it.each([
    ['tenant_unknown', 'unknown_tenant', 400, undefined],
    // deleted after the identity-server step found it
    ['app_unknown', 'no_client', 400, undefined],
    ['user_disabled', 'user_disabled', 403, undefined],
    ['instance_frozen', 'instance_frozen', 403, undefined],
    ['instance_released', 'instance_released', 403, undefined],
    ['not_authorized', 'not_authorized', 403, 'not_authorized'],
    ['user_unknown', 'not_authorized', 403, 'user_unknown'],
    ['role_missing', 'not_authorized', 403, 'role_missing'],
  ] as const)('answers the reason %s with the %s page (%d)', async (reason, page, status, detail) => {
    const f = fake({ found });
    f.deps.mirror.authorize = async () => refused(reason);
    expect(await authorization(f.ctx)).toBe(ANSWERED);
    expect(f.res.statusCode).toBe(status);
    expect(failureOf(f.res)).toBe(page);
    expect(notes(f.ctx.res).fields?.detail).toBe(detail);
    expect(await logins(f.metrics, page)).toBe(1);
  });
});
