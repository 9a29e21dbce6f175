// Instance gating on the embedded store and on Redis (the Redis Cluster runs the same scenarios
// in test/store/cluster.test.ts), and with INSTANCE_GATING=off.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { API_KEY, APP_ID, type StoreKind } from '../support/relay.js';
import { startSignInWorld, type SignInWorld } from '../support/world.js';
import { gatingScenarios } from './gatingScenarios.js';

describe.each<StoreKind>(['memory', 'redis'])('instance gating on the %s store', (kind) => {
  let w: SignInWorld;
  beforeAll(async () => {
    w = await startSignInWorld({ store: kind });
  });
  afterAll(() => w.close());
  gatingScenarios(() => w);
});

describe('INSTANCE_GATING=off', () => {
  let w: SignInWorld;
  beforeAll(async () => {
    w = await startSignInWorld({ env: { INSTANCE_GATING: 'off' } });
  });
  afterAll(() => w.close());

  it('records a freeze but keeps sessions, sign-in and authorize open', async () => {
    const s = await w.signIn('alice');
    const r = await w.world.lifecycle(APP_ID, w.acme.tenantId, { kind: 'freeze' });
    expect(r.resultCode).toBe('000000');
    const instance = await w.relay.api(`/api/v1/instances/${w.acme.instanceId}`);
    expect(instance.body.status).toBe('frozen');
    const session = await w.relay.http
      .get('/api/v1/session')
      .set('Authorization', `Bearer ${API_KEY}`)
      .set('X-Session-Id', s.sid);
    expect(session.status).toBe(200);
    const answer = await w.relay.http
      .post('/api/v1/authorize')
      .set('Authorization', `Bearer ${API_KEY}`)
      .send({ tenantId: w.acme.tenantId, userName: 'alice' });
    expect(answer.body).toMatchObject({ allowed: true, reason: 'ok' });
    await w.signIn('bob');
  });
});
