import { existsSync } from 'node:fs';

// The browser end-to-end test needs Debian's chromium (apt-get install chromium). Without it the
// test is left out with a notice; CI sets E2E_REQUIRED=1 so a missing browser fails the run.
const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(chromium);
if (!haveChromium) {
  if (process.env.E2E_REQUIRED)
    throw new Error(`E2E_REQUIRED is set but ${chromium} is missing: apt-get install chromium`);
  console.warn(
    `note: ${chromium} not found, so the browser end-to-end test (test/e2e) is not run; apt-get install chromium`,
  );
}

/** Native ESM jest (see toolchain notes): ts-jest in ESM mode, `.js` stripped from relative imports. */
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  testPathIgnorePatterns: haveChromium ? ['/node_modules/'] : ['/node_modules/', '/test/e2e/'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] },
  globalSetup: '<rootDir>/test/support/globalSetup.js',
  globalTeardown: '<rootDir>/test/support/globalTeardown.js',
  testTimeout: 30000,
};
