import { availableParallelism } from 'node:os';
import { configDefaults, defineConfig } from 'vitest/config';

// `npm test`: every *.test.ts but the soak files. `npm run soak` (HSM_SOAK=1): the *.soak.test.ts
// files, and full counts wherever a test asks soakCount() (test/helpers/soak.ts). CI runs both.
const soak = process.env.HSM_SOAK === '1';

export default defineConfig({
  test: {
    include: soak ? ['test/**/*.soak.test.ts'] : ['test/**/*.test.ts'],
    exclude: soak ? [...configDefaults.exclude] : [...configDefaults.exclude, 'test/**/*.soak.test.ts'],
    // Crash, fuzz and e2e suites spawn processes and ptys; give them room on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two files at a time even on two cores (vitest's default there is one): many tests spend
    // their time waiting on child processes, ptys and sockets, and a second worker fills it.
    // Tests wait for the states they need, never for durations, so sharing the cores makes
    // them slower, not flaky.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    reporters: ['default'],
  },
});
