/**
 * The two devices' diagnostics consoles in the simulated rig, each reachable two ways, both
 * listed in the ready information:
 *
 * - on a Unix socket, `<dir>/hot.sock` and `<dir>/cold.sock` (`consoleSockets`), always: the
 *   terminal is `hsm console hot|cold` (console-socket.ts), and nothing outside npm is needed;
 * - on a socat pty pair with the real serialport bindings (console-pty.ts), when socat is
 *   installed: the terminal ends are `<dir>/hot` and `<dir>/cold` (`consoles`), for picocom,
 *   tio or screen.
 *
 * The operator password: the console framework asks for it with `setup` at the first login,
 * and on a provisioned device `setup` first asks the device PIN, which only the rig knows. So
 * the rig plays the installer, as it does for provisioning: when a device has no operator yet,
 * it sets a password derived from the world seed (`consolePassword`, in the ready information
 * next to the other world credentials). A resumed world keeps whatever password its operator
 * set since. 2FA is left to the operator (`2fa enable`), as on a real device; codes follow the
 * world clock, which is real time at time scale 1.
 *
 *   const consoles = await serveRigConsoles({ dir, seed, clock, random, hot, cold, log });
 *   consoles.sockets  // { hot: '<dir>/hot.sock', cold: '<dir>/cold.sock' }
 *   consoles.ptys     // { hot: '<dir>/hot', cold: '<dir>/cold' } with socat, {} without
 *   await consoles.close();
 * @module
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../../shared/clock.ts';
import { OperatorCredentials, type ConsoleKdfCost } from '../../shared/console/operator.ts';
import { bytesToHex } from '../../shared/crypto/hash.ts';
import type { Logger } from '../../shared/log.ts';
import { SeededRandom } from '../../shared/random.ts';
import type { ColdDevice } from '../../hsm-cold/main.ts';
import { coldConsole } from '../../hsm-cold/console-commands.ts';
import type { HsmHot } from '../../hsm-hot/main.ts';
import { hotConsole } from '../../hsm-hot/console-commands.ts';
import { serveConsoleOnPty } from './console-pty.ts';
import { serveConsoleOnSocket } from './console-socket.ts';
import { socatInstalled } from './uart/pty-pair.ts';

export interface RigConsoleOptions {
  /** Directory for the pty links (made if missing). */
  dir: string;
  /** The world seed: the first operator password derives from it. */
  seed: string;
  clock: Clock;
  random: SeededRandom;
  hot: HsmHot;
  cold: ColdDevice;
  /** Cost of the operator password's scrypt (lower only in tests). */
  kdf?: ConsoleKdfCost;
  log?: Logger;
}

export type ConsoleName = 'hot' | 'cold';

export interface RigConsoles {
  /** The consoles' sockets, for `hsm console hot|cold`. */
  readonly sockets: Record<ConsoleName, string>;
  /** Terminal ends of the consoles' ptys (socat installed), for picocom, tio or screen. */
  readonly ptys: Partial<Record<ConsoleName, string>>;
  /** The operator password the rig set for a device without an operator. */
  readonly password: string;
  close(): Promise<void>;
}

/** Where a console's socket is, in the rig's console directory. */
export function consoleSocketPath(dir: string, name: ConsoleName): string {
  return join(dir, `${name}.sock`);
}

/** The first operator password of a world's consoles, from its seed (as world-keys.ts derives the others). */
export function consolePassword(seed: string): string {
  return bytesToHex(new SeededRandom(`hsm-sim-world/${seed}`).fork('console-password').bytes(8));
}

export async function serveRigConsoles(options: RigConsoleOptions): Promise<RigConsoles> {
  const { dir, clock, random, hot, cold, kdf, log } = options;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const password = consolePassword(options.seed);
  const withPty = socatInstalled();
  const closers: Array<() => Promise<void>> = [];
  const sockets = {} as Record<ConsoleName, string>;
  const ptys: Partial<Record<ConsoleName, string>> = {};
  const serve = async (name: ConsoleName): Promise<void> => {
    const store = name === 'hot' ? hot.store : cold.store;
    const consoleOptions = (way: string) => {
      const consoleRandom = random.fork(`${name}-console${way}@${clock.now()}`);
      const { host, commands } = name === 'hot' ? hotConsole(hot, { random: consoleRandom }) : coldConsole(cold, { random: consoleRandom });
      return {
        clock,
        random: consoleRandom,
        store,
        host,
        commands,
        ...(kdf === undefined ? {} : { kdf }),
        ...(log === undefined ? {} : { log: log.child({ device: `hsm-${name}` }) }),
      };
    };
    // Before serving, so the first screen already says to log in.
    const credentials = new OperatorCredentials({ store, clock, random: random.fork(`${name}-console-password`), ...(kdf === undefined ? {} : { kdf }) });
    if (!credentials.exists()) await credentials.create(password);
    const socket = await serveConsoleOnSocket(consoleSocketPath(dir, name), consoleOptions('-socket'));
    closers.push(() => socket.close());
    sockets[name] = socket.path;
    if (!withPty) return;
    // A link left by a rig that did not stop cleanly would stand in socat's way.
    for (const path of [join(dir, name), join(dir, `${name}.device`)]) rmSync(path, { force: true });
    const pty = await serveConsoleOnPty({ dir, name, ...consoleOptions('') });
    closers.push(() => pty.close());
    ptys[name] = pty.terminalPath;
  };
  const close = async (): Promise<void> => {
    for (const closer of closers.splice(0).reverse()) await closer();
  };
  try {
    await serve('hot');
    await serve('cold');
    return { sockets, ptys, password, close };
  } catch (error) {
    await close();
    throw error;
  }
}
