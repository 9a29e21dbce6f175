// `npm run bench` runs the benchmarks compiled by tsc, as production runs the relay: under tsx
// (esbuild with keepNames) every closure created per request pays a defineProperty call, which
// would measure the loader rather than the code. views/ and test/fixtures are linked beside the
// compiled tree so paths relative to a module resolve as they do from dist/.
import { existsSync, symlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
for (const dir of ['views', 'test']) {
  const link = `${root}.bench-build/${dir}`;
  if (!existsSync(link)) symlinkSync(`${root}${dir}`, link, 'dir');
}
await import('../.bench-build/bench/run.js');
