/**
 * A real pty pair from socat, for end-to-end tests with the real serialport bindings and for
 * serving emulated devices to outside programs (Gammu, picocom):
 *
 *   socat -d -d pty,raw,echo=0,link=<a> pty,raw,echo=0,link=<b>
 *
 * When the last process holding one slave closes it, the master reads EIO and socat exits,
 * taking both ends with it. `keepOpen` holds a spare descriptor on each slave (never read), so
 * a device process can close, crash and reopen its end while the pair stays up.
 *
 * socat is the one program outside npm the simulation uses, and only for what needs a real
 * pty: `socatInstalled()` says whether it is there, and `requireSocat(field)` refuses, before
 * anything starts, an option that needs it. A socat started here never outlives this process
 * (lifeline.ts), however the process ends.
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, openSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { HsmError } from '../../../shared/errors.ts';
import { tieProcess } from '../lifeline.ts';

/** What to install on Debian, Ubuntu or Raspberry Pi OS to get socat. */
export const SOCAT_PACKAGE = 'socat';

/** Whether socat is on PATH (an executable file named `socat`). */
export function socatInstalled(path = process.env.PATH ?? ''): boolean {
  return path
    .split(delimiter)
    .filter((dir) => dir !== '')
    .some((dir) => {
      try {
        accessSync(join(dir, 'socat'), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
}

/** Refuses `what` (an option, named by `field`) when socat is missing, naming the package. */
export function requireSocat(what: string, field: string): void {
  if (!socatInstalled()) throw new HsmError('NEEDS_SOCAT', `${what} needs socat for its ptys, and socat is not installed: sudo apt-get install ${SOCAT_PACKAGE}`, { field });
}

export interface PtyPairOptions {
  /** Symlink paths for the two ends. */
  linkA: string;
  linkB: string;
  /** Hold a spare fd on each slave so ends can be reopened. Default true. */
  keepOpen?: boolean;
  /** How long to wait for socat to create the links. Default 5000 ms. */
  timeoutMs?: number;
}

export interface PtyPair {
  readonly pathA: string;
  readonly pathB: string;
  readonly pid: number | undefined;
  /** The spare descriptors this process holds on the two ends (`keepOpen`). */
  readonly spareFds: readonly number[];
  /** Whether socat is still running. */
  readonly alive: boolean;
  close(): Promise<void>;
}

export async function createPtyPair(options: PtyPairOptions): Promise<PtyPair> {
  const { linkA, linkB } = options;
  const child: ChildProcess = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${linkA}`, `pty,raw,echo=0,link=${linkB}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  let exited = false;
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const untie = tieProcess(child.pid);
  const exitPromise = new Promise<void>((resolve) => child.on('exit', () => ((exited = true), untie(), resolve())));
  let spawnFailed = false;
  const spawnError = new Promise<never>((_, reject) =>
    child.on('error', (error) => {
      spawnFailed = true;
      reject(new HsmError('PTY_SOCAT', `cannot run socat (sudo apt-get install ${SOCAT_PACKAGE}): ${error.message}`, { cause: error }));
    }),
  );

  const deadline = Date.now() + (options.timeoutMs ?? 5000);
  const ready = (async (): Promise<void> => {
    while (!(existsSync(linkA) && existsSync(linkB) && /PTY is[\s\S]*PTY is[\s\S]*starting data transfer loop/.test(stderr))) {
      if (spawnFailed) return;
      if (exited) throw new HsmError('PTY_SOCAT', `socat exited before the ptys were ready: ${stderr.trim()}`);
      if (Date.now() > deadline) throw new HsmError('PTY_SOCAT', `socat did not create ${linkA} and ${linkB} in time`);
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  try {
    await Promise.race([ready, spawnError]);
  } catch (error) {
    if (!exited && child.pid !== undefined) child.kill('SIGTERM');
    throw error;
  }

  const spares: number[] = [];
  if (options.keepOpen ?? true) {
    for (const path of [linkA, linkB]) spares.push(openSync(path, constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK));
  }

  return {
    pathA: linkA,
    pathB: linkB,
    pid: child.pid,
    spareFds: spares,
    get alive() {
      return !exited;
    },
    async close() {
      for (const fd of spares.splice(0)) closeSync(fd);
      if (!exited) child.kill('SIGTERM');
      await exitPromise;
    },
  };
}
