/**
 * The operator console of whichever device runs, for `runDevice`'s `attachConsole`: HSM-Hot's
 * commands (hsm-hot/console-commands.ts) or HSM-Cold's (hsm-cold/console-commands.ts), served
 * on the profile's console port with the device's clock, randomness and store.
 *
 *   await runDevice(role, profile, { attachConsole: deviceConsole({ clock, random, log }) });
 * @module
 */
import type { Clock } from '../shared/clock.ts';
import type { ConsoleKdfCost } from '../shared/console/operator.ts';
import { serveConsole, type ConsoleServer, type ServeConsoleOptions } from '../shared/console/serve.ts';
import type { Logger } from '../shared/log.ts';
import type { Port } from '../shared/port.ts';
import type { RandomSource } from '../shared/random.ts';
import type { KdfCost } from '../shared/store/vault.ts';
import type { RunningDevice } from './run-device.ts';

export interface DeviceConsoleOptions {
  clock: Clock;
  random: RandomSource;
  log?: Logger;
  /** Cost of the operator password's scrypt (lower only in tests). */
  kdf?: ConsoleKdfCost;
  /** Vault KDF cost of HSM-Cold's guided `provision` (lower only in tests). */
  vaultKdf?: KdfCost;
  /** Sees each console served (tests). */
  onServe?: (server: ConsoleServer) => void;
}

/**
 * An `attachConsole` for runDevice: serves the running device's console on the port, closes
 * both on detach. Only the device's own console commands are loaded.
 */
export function deviceConsole(options: DeviceConsoleOptions): (port: Port, device: RunningDevice) => Promise<() => Promise<void>> {
  return async (port, device) => {
    const { clock, random } = options;
    let served: Pick<ServeConsoleOptions, 'host' | 'commands' | 'store'>;
    if (device.hot !== undefined) {
      const { hotConsole } = await import('../hsm-hot/console-commands.ts');
      served = { ...hotConsole(device.hot, { random }), store: device.hot.store };
    } else if (device.cold !== undefined) {
      const { coldConsole } = await import('../hsm-cold/console-commands.ts');
      served = { ...coldConsole(device.cold, { random, ...(options.vaultKdf === undefined ? {} : { kdf: options.vaultKdf }) }), store: device.cold.store };
    } else {
      throw new Error('invariant failed: a running device is HSM-Hot or HSM-Cold');
    }
    const server = serveConsole({
      port,
      clock,
      random,
      ...served,
      ...(options.log === undefined ? {} : { log: options.log }),
      ...(options.kdf === undefined ? {} : { kdf: options.kdf }),
    });
    options.onServe?.(server);
    return async () => {
      server.close();
      await port.close();
    };
  };
}
