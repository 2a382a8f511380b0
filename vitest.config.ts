import { availableParallelism } from 'node:os';
import { configDefaults, defineConfig } from 'vitest/config';

// `npm test`: every *.test.ts but the soak and browser files. `npm run soak` (HSM_SOAK=1): the
// *.soak.test.ts files, and full counts wherever a test asks soakCount() (test/helpers/soak.ts).
// `npm run test:browser` (HSM_BROWSER=1): the *.browser.test.ts files, Chromium driving the
// dashboard. CI runs all three.
const soak = process.env.HSM_SOAK === '1';
const browser = process.env.HSM_BROWSER === '1';
const BROWSER_FILES = 'test/**/*.browser.test.ts';

function include(): string[] {
  if (browser) return [BROWSER_FILES];
  return soak ? ['test/**/*.soak.test.ts'] : ['test/**/*.test.ts'];
}

function exclude(): string[] {
  if (browser) return [...configDefaults.exclude];
  return soak ? [...configDefaults.exclude, BROWSER_FILES] : [...configDefaults.exclude, 'test/**/*.soak.test.ts', BROWSER_FILES];
}

export default defineConfig({
  test: {
    include: include(),
    exclude: exclude(),
    // Crash, fuzz and e2e suites spawn processes and ptys; give them room on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two files at a time even on two cores (vitest's default there is one): many tests spend
    // their time waiting on child processes, ptys and sockets, and a second worker fills it.
    // Tests wait for the states they need, never for durations, so sharing the cores makes
    // them slower, not flaky.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    // Every `hsm` a test starts (bin/hsm.mjs) runs the sources, never a stale dist/; the ARM slice
    // (test/arm/, `npm run test:arm`) runs the compiled code and has its own config.
    env: { HSM_RUN_SOURCES: '1' },
    reporters: ['default'],
  },
});
