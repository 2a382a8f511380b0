/**
 * Hardware test mode: each conformance suite runs once against emulated hardware (always) and
 * once against the real device an environment variable names (HSM_TEST_MODEM, HSM_TEST_LINK,
 * HSM_TEST_CONSOLE). Without the variable the real-device tests are skipped at run time with
 * the reason (`ctx.skip(note)`, shown by `vitest --reporter=verbose`), and the reason is
 * printed once when the file loads, so the default reporter shows it too.
 */
import { existsSync } from 'node:fs';

export interface HardwareTarget {
  /** The device paths the variable names (comma-separated), when it is set. */
  paths: string[] | undefined;
  /** Why the real-device tests do not run, when they do not. */
  skipReason: string | undefined;
}

export function hardwareTarget(variable: string, what: string, count: { min: number; max: number } = { min: 1, max: 1 }): HardwareTarget {
  const value = process.env[variable];
  if (value === undefined || value.trim() === '') {
    const skipReason = `${variable} is not set: no real device to test (set it to ${what})`;
    console.info(`hardware test mode: ${skipReason}`);
    return { paths: undefined, skipReason };
  }
  const paths = value.split(',').map((p) => p.trim());
  // A variable that is set but wrong fails the tests: the operator asked for them to run.
  if (paths.length < count.min || paths.length > count.max) throw new Error(`${variable} must name ${what}`);
  for (const path of paths) if (!existsSync(path)) throw new Error(`${variable} names ${path}, which does not exist`);
  return { paths, skipReason: undefined };
}

export function envNumber(variable: string, fallback: number): number {
  const value = process.env[variable];
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${variable} must be a positive integer, got ${value}`);
  return n;
}

export async function eventually(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
