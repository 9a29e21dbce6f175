// `npm run bench` runs the benchmarks compiled by tsc, as production runs the relay: under tsx
// (esbuild with keepNames) every closure created per request pays a defineProperty call, which
// would measure the loader rather than the code. views/ and test/fixtures are linked beside the
// compiled tree so paths relative to a module resolve as they do from dist/. `npm run faults`
// and `npm run soak` run bench/faults.ts and bench/soak.ts the same way (named by the first
// argument; the rest are theirs), and their relay processes the compiled src/main.js.
//
// The tree is .bench-build/out, not .bench-build itself: earlier runs linked all of test/ to
// .bench-build/test, and tsc would write the compiled test/support/fixtures.js through that link
// into the source tree.
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
for (const dir of ['views', 'test/fixtures']) {
  const link = `${root}.bench-build/out/${dir}`;
  if (existsSync(link)) continue;
  mkdirSync(dirname(link), { recursive: true });
  symlinkSync(`${root}${dir}`, link, 'dir');
}
const scripts = { faults: 'faults', soak: 'soak' };
const script = scripts[process.argv[2]];
if (script) process.argv.splice(2, 1); // the script reads only its own arguments
await import(`../.bench-build/out/bench/${script ?? 'run'}.js`);
