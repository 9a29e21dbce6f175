import { describe, expect, it } from '@jest/globals';
import { ANSWERED } from '../../../src/sso/callback/context.js';
import { session } from '../../../src/sso/callback/session.js';
import type { SignedIn } from '../../../src/sso/sessions.js';
import { APP_ID } from '../../support/relay.js';
import {
  failureOf,
  fake,
  grant,
  idpConfig,
  logins,
  NOW,
  signedIn,
  TENANT_ID,
  tenantRecord,
  userInfo,
} from './fakes.js';

const found = {
  tenantId: TENANT_ID,
  tenant: tenantRecord({ instanceIds: ['inst-2', 'inst-3'] }),
  idp: idpConfig,
  grant: grant(),
  user: userInfo({ mobile: '13800000001' }),
};

describe('callback step: session', () => {
  it('saves the sign-in under a new session id, tokens sealed to that id, indexed first', async () => {
    const registered: [string, SignedIn][] = [];
    const f = fake({
      login: signedIn({ userName: 'someone-before' }),
      found,
      env: { SESSION_ABSOLUTE_SECONDS: '3600' },
    });
    f.deps.sessions.register = async (sid, login) => {
      // indexed before the record is saved, so a revocation can always find it
      expect(f.session.saved).toBeUndefined();
      registered.push([sid, structuredClone(login)]);
      return 'registered';
    };
    expect(await session(f.ctx)).toBeUndefined();
    expect(f.session.regenerated).toBe(1);
    expect(f.req.sessionID).toBe('sid-new-1');
    // the new id carries the tenant's hash tag (genid reads this)
    expect(f.req.signInTenant).toBe(TENANT_ID);
    const expected: SignedIn = {
      tenantId: TENANT_ID,
      appId: APP_ID,
      userName: 'alice',
      domainName: 'https://acme.idp.example',
      instanceId: 'inst-2',
      profile: { name: '爱丽丝', email: 'alice@acme.example', mobile: '13800000001' },
      loginAt: NOW,
      absoluteExpiresAt: NOW + 3600_000,
      tokens: { v: 1, access: 'sealed:sid-new-1:access-token', expiresAt: grant().expiresAt },
    };
    expect(registered).toEqual([['sid-new-1', expected]]);
    expect(f.session.saved).toEqual(expected);
    expect(f.session.destroyed).toBe(false);
    expect(await logins(f.metrics, 'success')).toBe(1);
    expect(f.res.body).toBeUndefined();
  });

  it.each([
    ['instance_frozen', 'instance_frozen', 403],
    ['instance_released', 'instance_released', 403],
    ['app_unknown', 'no_client', 400],
  ] as const)(
    'refused by the index (the tenant got blocked or its app deleted meanwhile: %s): the %s page (%d), no session kept, the mirror not asked again',
    async (reason, page, status) => {
      const f = fake({ found });
      f.deps.sessions.register = async () => reason;
      f.deps.mirror.authorize = async () => {
        throw new Error('the index already said why');
      };
      expect(await session(f.ctx)).toBe(ANSWERED);
      expect(f.res.statusCode).toBe(status);
      expect(failureOf(f.res)).toBe(page);
      expect(f.session.destroyed).toBe(true);
      expect(f.session.saved).toBeUndefined();
      expect(await logins(f.metrics, page)).toBe(1);
      expect(await logins(f.metrics, 'success')).toBe(0);
    },
  );
});
