/**
 * Hardware test mode: each conformance suite runs once against emulated hardware (always) and
 * once against the real device an environment variable names (HSM_TEST_MODEM, HSM_TEST_LINK,
 * HSM_TEST_CONSOLE). Without the variable the real-device tests are skipped at run time with
 * the reason (`ctx.skip(note)`, shown by `vitest --reporter=verbose`), and the reason is
 * printed once when the file loads, so the default reporter shows it too. The emulated runs
 * need socat for their ptys: without it they skip the same way (under CI they fail).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'vitest';
import { createPtyPair } from '../../hw-profiles/sim/uart/pty-pair.ts';
import { osTool } from '../helpers/os-tools.ts';

/** The emulated targets' ptys come from socat. */
export const socat = osTool('socat', 'socat');

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

/** What a suite runs against: emulated hardware, or the device a variable names. */
export interface Target<T> {
  skipReason: string | undefined;
  open(): Promise<T>;
}

/** Skips the running test, with the reason, when the target has no device. */
export function skipUnlessDevice(ctx: TestContext, target: Target<unknown>): void {
  ctx.skip(target.skipReason !== undefined, target.skipReason);
}

/** The two ends of one serial line. */
export interface Line {
  a: string;
  b: string;
  baudRate: number;
  close(): Promise<void>;
}

/** A socat pty pair in a directory of its own (not tempDir(), which goes after each test). */
export function emulatedLine(names: [string, string]): Target<Line> {
  return {
    skipReason: socat.skipReason,
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'hsm-hw-line-'));
      const pair = await createPtyPair({ linkA: join(dir, names[0]), linkB: join(dir, names[1]) });
      return {
        a: pair.pathA,
        b: pair.pathB,
        baudRate: 115_200,
        async close() {
          await pair.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  };
}

/** The line a variable names (two paths), at the rate `baudVariable` gives (default 115200). */
export function realLine(target: HardwareTarget, baudVariable: string): Target<Line> {
  return {
    skipReason: target.skipReason,
    async open() {
      const [a, b] = target.paths as [string, string];
      return { a, b, baudRate: envNumber(baudVariable, 115_200), close: async () => undefined };
    },
  };
}
