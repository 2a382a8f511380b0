/**
 * Tests that need a program from the operating system (socat, gammu, smsd, chromium, qemu...)
 * ask for it here. On a machine without it (a fresh laptop with only Node, where `npm test`
 * must still pass) the tests that need it are skipped, and one line says which tool is missing
 * and which package provides it. Under `CI=true` a missing tool is a failure, never a skip:
 * CI installs every tool (.ci/run) and must keep proving the suites that need them.
 *
 *   const socat = osTool('socat', 'socat');
 *   describe.skipIf(!socat.available)('over socat ptys', () => { ... });
 */
import { spawnSync } from 'node:child_process';

export interface OsTool {
  name: string;
  /** The Debian package that provides it. */
  aptPackage: string;
  /** Full path when found. */
  path: string | undefined;
  available: boolean;
  /** `needs <tool>: apt-get install <package>` when it is missing. */
  skipReason: string | undefined;
}

const announced = new Set<string>();

/** True when the run is CI's (`CI=true` or `CI=1`): missing tools fail there. */
export function underCi(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0';
}

/** Where `name` is on PATH, or undefined. */
export function findOnPath(name: string): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', name], { encoding: 'utf8' });
  const path = found.status === 0 ? found.stdout.trim() : '';
  return path === '' ? undefined : path;
}

/**
 * Looks up one OS tool. Missing: under CI it throws (the file fails with what to install);
 * otherwise it prints one skip line, once per tool and process, and reports it unavailable.
 */
export function osTool(name: string, aptPackage: string): OsTool {
  const path = findOnPath(name);
  if (path !== undefined) return { name, aptPackage, path, available: true, skipReason: undefined };
  const skipReason = `needs ${name}: apt-get install ${aptPackage}`;
  if (underCi()) throw new Error(`${name} is not installed (CI=true, so this fails instead of skipping): apt-get install ${aptPackage}`);
  if (!announced.has(name)) {
    announced.add(name);
    console.info(`skipped: ${skipReason}`);
  }
  return { name, aptPackage, path: undefined, available: false, skipReason };
}

/** All of several tools: available only when each one is. */
export function osTools(...tools: OsTool[]): { available: boolean; skipReason: string | undefined } {
  const missing = tools.filter((t) => !t.available);
  return { available: missing.length === 0, skipReason: missing.length === 0 ? undefined : missing.map((t) => t.skipReason).join('; ') };
}
