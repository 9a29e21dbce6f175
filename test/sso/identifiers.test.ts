// Tenant ids and user names with Unicode, `:`, braces, `%`, spaces and 64 characters, through
// every route on Redis (the Redis Cluster runs the same scenarios in test/store/cluster.test.ts).
import { afterAll, beforeAll, describe } from '@jest/globals';
import { startSignInWorld, type SignInWorld } from '../support/world.js';
import { identifierScenarios } from './identifierScenarios.js';

describe('unusual identifiers on Redis', () => {
  let w: SignInWorld;
  beforeAll(async () => {
    w = await startSignInWorld();
  });
  afterAll(() => w.close());
  identifierScenarios(() => w);
});
