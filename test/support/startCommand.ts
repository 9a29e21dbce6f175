/**
 * How production starts the relay: package.json's `start` script, `node <flags> dist/main.js`, is
 * the one place its node flags are written. The Dockerfile's CMD is checked against it
 * (test/ops/start-command.test.ts, and the image test reads PID 1's command line against it), and
 * the benchmarks start their relays with the same flags, so that what they measure is what
 * `npm start` and the image run.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout's package.json: found upwards, as this file is also run compiled from .bench-build/out/. */
function packageJson(): { scripts?: Record<string, string> } {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file))
      return JSON.parse(readFileSync(file, 'utf8')) as { scripts?: Record<string, string> };
    if (dirname(dir) === dir) throw new Error('no package.json above test/support/startCommand');
  }
}

/** The words of `npm start`: ['node', ...flags, 'dist/main.js']. */
export function startCommand(): string[] {
  const words = (packageJson().scripts?.start ?? '').split(/\s+/).filter(Boolean);
  if (
    words[0] !== 'node' ||
    words.at(-1) !== 'dist/main.js' ||
    words.slice(1, -1).some((w) => !w.startsWith('--'))
  )
    throw new Error(`package.json's start script is not "node [--flag…] dist/main.js": ${words.join(' ')}`);
  return words;
}

/** The node flags production runs the relay with (between `node` and `dist/main.js`). */
export const productionNodeFlags = (): string[] => startCommand().slice(1, -1);
