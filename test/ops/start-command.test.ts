// How production starts the relay is written once, in package.json's `start` script; the image's
// CMD must be the same command, and node must accept its flags (a flag node refuses would stop the
// relay from starting at all, in the image as under npm start).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { productionNodeFlags, startCommand } from '../support/startCommand.js';

const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
/** The image's CMD in exec form (the last CMD line, as Docker takes the last one). */
const imageCmd = () => {
  const line =
    dockerfile
      .split('\n')
      .filter((l) => l.startsWith('CMD '))
      .at(-1) ?? '';
  return JSON.parse(line.slice('CMD '.length)) as string[];
};

describe('the production start command', () => {
  it("is the image's CMD, word for word, in exec form (node is PID 1)", () => {
    expect(imageCmd()).toEqual(startCommand());
  });

  it('turns V8’s memory reducer off: after an idle spell it discards the optimized hot path (docs/production.md)', () => {
    expect(productionNodeFlags()).toContain('--no-memory-reducer');
  });

  it('has node flags that this node accepts', () => {
    expect(() =>
      execFileSync(process.execPath, [...productionNodeFlags(), '-e', '0'], { stdio: 'pipe' }),
    ).not.toThrow();
    // …which would fail on a flag node does not know:
    expect(() =>
      execFileSync(process.execPath, ['--no-such-v8-flag-here', '-e', '0'], { stdio: 'pipe' }),
    ).toThrow();
  });
});
