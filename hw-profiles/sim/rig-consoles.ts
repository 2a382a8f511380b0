/**
 * The two devices' diagnostics consoles in the simulated rig, each on a socat pty pair with the
 * real serialport bindings (console-pty.ts): the terminal ends are `<dir>/hot` and `<dir>/cold`,
 * listed in the ready information as `consoles`, for picocom, tio, screen or a test.
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
 *   consoles.paths    // { hot: '<dir>/hot', cold: '<dir>/cold' }
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
import { serveConsoleOnPty, type ConsolePty } from './console-pty.ts';

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

export interface RigConsoles {
  /** Terminal ends of the two consoles. */
  readonly paths: { hot: string; cold: string };
  /** The operator password the rig set for a device without an operator. */
  readonly password: string;
  readonly hot: ConsolePty;
  readonly cold: ConsolePty;
  close(): Promise<void>;
}

/** The first operator password of a world's consoles, from its seed (as world-keys.ts derives the others). */
export function consolePassword(seed: string): string {
  return bytesToHex(new SeededRandom(`hsm-sim-world/${seed}`).fork('console-password').bytes(8));
}

export async function serveRigConsoles(options: RigConsoleOptions): Promise<RigConsoles> {
  const { dir, clock, random, hot, cold, kdf, log } = options;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const password = consolePassword(options.seed);
  const served: ConsolePty[] = [];
  const serve = async (name: 'hot' | 'cold'): Promise<ConsolePty> => {
    // A link left by a rig that did not stop cleanly would stand in socat's way.
    for (const path of [join(dir, name), join(dir, `${name}.device`)]) rmSync(path, { force: true });
    const consoleRandom = random.fork(`${name}-console@${clock.now()}`);
    const { host, commands } = name === 'hot' ? hotConsole(hot, { random: consoleRandom }) : coldConsole(cold, { random: consoleRandom });
    const store = name === 'hot' ? hot.store : cold.store;
    // Before serving, so the first screen already says to log in.
    const credentials = new OperatorCredentials({ store, clock, random: consoleRandom, ...(kdf === undefined ? {} : { kdf }) });
    if (!credentials.exists()) await credentials.create(password);
    const pty = await serveConsoleOnPty({
      dir,
      name,
      clock,
      random: consoleRandom,
      store,
      host,
      commands,
      ...(kdf === undefined ? {} : { kdf }),
      ...(log === undefined ? {} : { log: log.child({ device: `hsm-${name}` }) }),
    });
    served.push(pty);
    return pty;
  };
  const close = async (): Promise<void> => {
    for (const pty of served.splice(0).reverse()) await pty.close();
  };
  try {
    const hotPty = await serve('hot');
    const coldPty = await serve('cold');
    return { paths: { hot: hotPty.terminalPath, cold: coldPty.terminalPath }, password, hot: hotPty, cold: coldPty, close };
  } catch (error) {
    await close();
    throw error;
  }
}
