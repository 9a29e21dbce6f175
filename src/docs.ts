/**
 * `npm run docs`: writes the documents that are generated from the code, so they cannot drift:
 * `docs/api.md` from the seller API's contract, `docs/configuration.md` from src/variables.ts. test/ops/docs.test.ts fails when one is stale.
 */
import { writeFileSync } from 'node:fs';
import { renderApiReference } from './api/reference.js';
import { renderConfigurationTable } from './variables.js';

export const GENERATED_DOCS: Record<string, () => string> = {
  'docs/api.md': renderApiReference,
  'docs/configuration.md': renderConfigurationTable,
};

const isMain = import.meta.url === `file://${process.argv[1]}`;
if (isMain) {
  for (const [path, render] of Object.entries(GENERATED_DOCS)) {
    writeFileSync(new URL(`../${path}`, import.meta.url), render());
    process.stdout.write(`wrote ${path}\n`);
  }
}
