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
    // Every `hsm` a test starts (bin/hsm.mjs) runs the sources, never a stale dist/; the ARM slice
    // (test/arm/, `npm run test:arm`) runs the compiled code and has its own config.
    env: { HSM_RUN_SOURCES: '1' },
    reporters: ['default'],
  },
});
