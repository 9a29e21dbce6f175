// The generated documents are what the code says: `npm run docs` rewrites them, and this fails
// when a committed one is stale (the contract or the configuration changed without them).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { operations } from '../../src/api/contract.js';
import { GENERATED_DOCS } from '../../src/docs.js';

describe('generated documents', () => {
  it.each(Object.entries(GENERATED_DOCS))('%s is up to date (run npm run docs)', (path, render) => {
    const committed = readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
    expect(committed).toBe(render());
  });

  it('documents every operation of the contract, with its named body and answers', () => {
    const api = GENERATED_DOCS['docs/api.md']!();
    for (const op of Object.values(operations))
      expect(api).toContain(`## \`${op.method.toUpperCase()} /api/v1${op.path}\` — ${op.summary}`);
    expect(api).toMatch(/^Body: `AuthorizeRequest`/m);
    expect(api).toMatch(/^ {2}- `tenantId`: string/m);
    expect(api).toMatch(/^\| 200 \| .*body: `AuthorizeAnswer` \|$/m);
  });
});
