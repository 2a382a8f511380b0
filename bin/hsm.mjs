#!/usr/bin/env node
// Launcher for the `hsm` CLI: runs the compiled JavaScript in dist/ (`npm run build`, which
// `npm ci` runs as its prepare step) with node alone. With HSM_RUN_SOURCES=1 it runs the
// TypeScript sources through tsx instead (a development install; the tests set it, so they
// never run a stale build).
import { existsSync } from 'node:fs';

if (process.env.HSM_RUN_SOURCES === '1') {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../scripts/hsm.ts');
} else {
  const compiled = new URL('../dist/scripts/hsm.js', import.meta.url);
  if (!existsSync(compiled)) {
    process.stderr.write('hsm: no compiled code in dist/; run `npm run build` (npm ci runs it), or set HSM_RUN_SOURCES=1 in a development install\n');
    process.exit(2);
  }
  await import(compiled.href);
}
