/**
 * The package the code runs from: where the files that ship beside it live (package.json, the
 * hardware profiles), and how to start another of its modules as a process.
 *
 * The same modules run from the TypeScript sources (tests, development: `shared/package.ts`)
 * or from the compiled JavaScript `npm run build` writes to `dist/` (`dist/shared/package.js`),
 * one directory deeper. Only the latter is what devices run: plain `node`, no loader.
 * @module
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** True when this code runs from the TypeScript sources, false from the compiled `dist/`. */
const RUNNING_SOURCES = import.meta.url.endsWith('.ts');

/** The package's root directory (where package.json is). */
export const PACKAGE_ROOT = fileURLToPath(new URL(RUNNING_SOURCES ? '../' : '../../', import.meta.url));

/** A path inside the package, from its root: `packagePath('hw-profiles', 'profiles')`. */
export function packagePath(...parts: string[]): string {
  return join(PACKAGE_ROOT, ...parts);
}

let version: string | undefined;

/** The package's version (package.json), which is the firmware's. */
export function packageVersion(): string {
  version ??= (JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { version: string }).version;
  return version;
}

/**
 * V8 flags every device process runs with (forked by the simulated rig, or started by its
 * systemd unit, scripts/pi/hsm-*.service): a young generation of 2 × 2 MiB instead of Node's
 * 2 × 16 MiB keeps a device about 25 MiB smaller in resident memory (`npm run bench`, the
 * steady-state figure), for more frequent minor collections at a device's small allocation rate.
 */
export const DEVICE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2'];

/**
 * The file of module `name` in the caller's directory, in the form the caller runs from
 * (`.ts` source or compiled `.js`): `moduleBeside(import.meta.url, 'device-process')`.
 */
export function moduleBeside(callerUrl: string, name: string): string {
  return fileURLToPath(new URL(`./${name}${callerUrl.endsWith('.ts') ? '.ts' : '.js'}`, callerUrl));
}

/**
 * Node options for a child process that runs `entry`, a module of this package: none for the
 * compiled JavaScript; the TypeScript loader (tsx, a development dependency) for a source file.
 */
export function execArgvFor(entry: string): string[] {
  return entry.endsWith('.ts') ? ['--import', import.meta.resolve('tsx')] : [];
}
