/**
 * `npm run docs`: writes the documents that are generated from the code, so they cannot drift:
 * `docs/api.md` from the seller API's contract. test/ops/docs.test.ts fails when one is stale.
 */
import { writeFileSync } from 'node:fs';
import { renderApiReference } from './api/reference.js';

export const GENERATED_DOCS: Record<string, () => string> = {
  'docs/api.md': renderApiReference,
};

const isMain = import.meta.url === `file://${process.argv[1]}`;
if (isMain) {
  for (const [path, render] of Object.entries(GENERATED_DOCS)) {
    writeFileSync(new URL(`../${path}`, import.meta.url), render());
    process.stdout.write(`wrote ${path}\n`);
  }
}
