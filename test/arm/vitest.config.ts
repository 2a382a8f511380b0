import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// `npm run test:arm`, the ARM slice: the compiled code (the script builds it first) run by
// Node's own arm64 and armv7 builds under qemu-user, installed by them (scripts/pi/emulate.sh).
// One file per architecture, side by side; emulation is slow, hence the limits.
export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['test/arm/**/*.arm.ts'],
    testTimeout: 30 * 60_000,
    hookTimeout: 30 * 60_000,
    pool: 'forks',
    // arm64 and armv7 side by side, even on a 2-core machine (each mostly waits on qemu).
    maxWorkers: 2,
    reporters: ['default'],
  },
});
