// What ships: the integration kit is its own package that loads nothing of the relay, and the
// relay's production build (what the Docker image runs) holds neither the sandbox nor the demo.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tsc = join(root, 'node_modules/typescript/bin/tsc');
const files = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)],
  );
/** The packages a module names (`import … from 'x'`, `export … from 'x'`, `import('x')`), relative paths left out. */
const bareImports = (text: string) =>
  new Set(
    [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"]([^'"]+)['"]/g)]
      .map((m) => m[1]!)
      .filter((s) => !s.startsWith('.'))
      .map((s) => (s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]!)),
  );
const union = (sets: Set<string>[]) => [...new Set(sets.flatMap((s) => [...s]))].sort();

describe('the integration kit package (packages/relay-client)', () => {
  let out: string;
  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), 'relay-client-'));
    execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.client.json'), '--outDir', out]);
  }, 60_000);
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('is built from the client, the contract and the vocabulary only', () => {
    expect(
      files(out)
        .map((f) => relative(out, f))
        .filter((f) => f.endsWith('.js'))
        .sort(),
    ).toEqual([
      'api/contract.js',
      'client/assertion.js',
      'client/index.js',
      'client/middleware.js',
      'client/relayClient.js',
      'client/webhook.js',
      'vocabulary.js',
    ]);
  });

  it('loads only jose and standardwebhooks at run time, and its types need only zod, jose and express', () => {
    // What Node loads from the entry point, following relative imports (a value import of the
    // contract would pull zod in through ../api/contract.js).
    const loaded = new Set<string>();
    const visit = (file: string) => {
      if (loaded.has(file)) return;
      loaded.add(file);
      for (const m of readFileSync(file, 'utf8').matchAll(
        /(?:from\s+|import\s*\(\s*|import\s+)['"](\.[^'"]+)['"]/g,
      ))
        visit(join(dirname(file), m[1]!));
    };
    visit(join(out, 'client/index.js'));
    expect([...loaded].map((f) => relative(out, f)).sort()).toEqual([
      'client/assertion.js',
      'client/index.js',
      'client/middleware.js',
      'client/relayClient.js',
      'client/webhook.js',
    ]);
    const js = [...loaded];
    expect(union(js.map((f) => bareImports(readFileSync(f, 'utf8'))))).toEqual(['jose', 'standardwebhooks']);
    const dts = files(out).filter((f) => f.endsWith('.d.ts'));
    expect(union(dts.map((f) => bareImports(readFileSync(f, 'utf8'))))).toEqual(['express', 'jose', 'zod']);
  });

  it('declares exactly what it loads, and none of the relay’s own dependencies', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'packages/relay-client/package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      peerDependencies: Record<string, string>;
      exports: Record<string, { types: string; import: string }>;
    };
    expect(Object.keys(pkg.dependencies).sort()).toEqual(['jose', 'standardwebhooks', 'zod']);
    expect(Object.keys(pkg.peerDependencies)).toEqual(['@types/express']);
    expect(pkg.exports['.']).toEqual({ types: './dist/client/index.d.ts', import: './dist/client/index.js' });
    const relay = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    // the versions the relay itself is tested with
    for (const name of ['jose', 'standardwebhooks', 'zod'])
      expect(pkg.dependencies[name]).toBe(relay.dependencies[name]);
  });
});

describe("the relay's production build", () => {
  it('compiles neither the sandbox, the demo nor the integration kit', () => {
    const listed = execFileSync(
      process.execPath,
      [tsc, '-p', join(root, 'tsconfig.build.json'), '--listFilesOnly'],
      {
        encoding: 'utf8',
      },
    )
      .split('\n')
      .filter((f) => f.startsWith(join(root, 'src')));
    expect(listed.length).toBeGreaterThan(40);
    expect(listed.filter((f) => /\/src\/(sandbox|demo|client)\//.test(f))).toEqual([]);
    expect(listed.some((f) => f.endsWith('/src/main.ts'))).toBe(true);
  }, 60_000);

  it('is what the Docker image copies: the sandbox, demo and kit are kept out of its context', () => {
    const ignored = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n');
    for (const path of ['src/sandbox', 'src/demo', 'src/client', 'views/sandbox', 'test', 'bench'])
      expect(ignored).toContain(path);
  });
});
