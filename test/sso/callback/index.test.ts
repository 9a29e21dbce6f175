import { describe, expect, it } from '@jest/globals';
import { ANSWERED, type CallbackContext, type Step } from '../../../src/sso/callback/context.js';
import { callbackSteps, runSteps } from '../../../src/sso/callback/index.js';
import { failureOf, fake, logins, TENANT_ID } from './fakes.js';

describe('the callback as a list of steps', () => {
  it('runs the checks in the order the callback depends on', () => {
    expect(callbackSteps.map((s) => s.name)).toEqual([
      'transport',
      'parameters',
      'pending',
      'identityServer',
      'idpLimit',
      'codeExchange',
      'userinfo',
      'authorization',
      'sessionConflict',
      'session',
      'redirect',
    ]);
  });

  it('stops at the first step that answers', async () => {
    const ran: string[] = [];
    const step =
      (name: string, answers = false): Step =>
      async () => {
        ran.push(name);
        return answers ? ANSWERED : undefined;
      };
    await runSteps(fake().ctx, [step('a'), step('b', true), step('c')]);
    expect(ran).toEqual(['a', 'b']);
  });

  it('refuses to end without an answer (a step list missing its last step)', async () => {
    await expect(runSteps(fake().ctx, [async () => undefined])).rejects.toThrow('no step answered');
  });

  it('signs a workbench callback in from start to end, on fakes', async () => {
    const f = fake({ query: { code: 'c', tenant: TENANT_ID }, env: { POST_LOGIN_PATH: '/home' } });
    await runSteps(f.ctx);
    expect([f.res.statusCode, f.res.location]).toEqual([302, '/home']);
    expect(f.session.saved).toMatchObject({ tenantId: TENANT_ID, userName: 'alice' });
    expect(await logins(f.metrics, 'success')).toBe(1);
  });

  it('ends at the first failure: a bad request never reaches the identity server', async () => {
    const f = fake({ query: { tenant: TENANT_ID } });
    const reached: CallbackContext[] = [];
    f.deps.idps.resolve = async () => {
      reached.push(f.ctx);
      throw new Error('not reached');
    };
    await runSteps(f.ctx);
    expect(failureOf(f.res)).toBe('bad_request');
    expect(reached).toEqual([]);
  });
});
