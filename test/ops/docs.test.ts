// The generated documents are what the code says: `npm run docs` rewrites them, and this fails
// when a committed one is stale (the contract or the configuration changed without them).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { GENERATED_DOCS } from '../../src/docs.js';

describe('generated documents', () => {
  it.each(Object.entries(GENERATED_DOCS))('%s is up to date (run npm run docs)', (path, render) => {
    const committed = readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
    expect(committed).toBe(render());
  });

  it('documents every operation of the seller API', () => {
    const api = GENERATED_DOCS['docs/api.md']!();
    for (const route of [
      'GET /api/v1/session',
      'POST /api/v1/session/token',
      'POST /api/v1/authorize',
      'GET /api/v1/instances/{instanceId}',
      'GET /api/v1/tenants/{tenantId}/departments',
    ])
      expect(api).toContain(`## \`${route}\``);
  });
});
