// The sandbox stands in for KooGallery: it must not sign, canonicalise or encrypt with the relay's
// own code, or a misreading shared by both would pass every test (see src/sandbox/marketplace).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';

const sandbox = fileURLToPath(new URL('../../src/sandbox', import.meta.url));
const files = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );

describe("the sandbox's independence from the relay", () => {
  it('imports nothing from the relay’s protocol, crypto, mirror or store code', () => {
    const offending = files(sandbox).flatMap((file) =>
      [...readFileSync(file, 'utf8').matchAll(/from '((?:\.\.\/)+(?:kit|crypto|mirror|store)\/[^']*)'/g)].map(
        (m) => `${file.slice(sandbox.length + 1)}: ${m[1]}`,
      ),
    );
    expect(offending).toEqual([]);
    expect(files(sandbox).length).toBeGreaterThan(10);
  });
});
