#!/usr/bin/env node
// `npm run build`: compiles the TypeScript sources to plain JavaScript in dist/
// (tsconfig.build.json), which bin/hsm.mjs and the device processes run with node alone.
//
// `npm ci` runs it as the prepare step (`--prepare`). An install without the development
// dependencies (`npm ci --omit=dev` on a device) has no compiler: there it keeps the dist/
// that came with the code, and fails only when there is none.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = fileURLToPath(new URL('../dist', import.meta.url));
const entry = fileURLToPath(new URL('../dist/scripts/hsm.js', import.meta.url));

let tsc;
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
} catch {
  tsc = undefined;
}

if (tsc === undefined) {
  if (process.argv.includes('--prepare') && existsSync(entry)) {
    console.error('build: no TypeScript compiler here (production install); using the compiled dist/ that came with the code');
    process.exit(0);
  }
  console.error('build: the TypeScript compiler is a development dependency: run `npm ci` (not --omit=dev), or copy a built dist/ here (docs/raspberry-pi.md)');
  process.exit(1);
}

// A clean tree: nothing compiled from a source that no longer exists.
rmSync(dist, { recursive: true, force: true });
const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);
