/**
 * `hsm hot --profile <name|file>` and `hsm cold --profile <name|file>`: run one device on the
 * machine a hardware profile describes (hw-profiles/run-device.ts), on real ports or, for the
 * simulated profile, on simulated hardware started first. The device's operator console is
 * served on the profile's console port. Logs are JSON lines on stdout.
 *
 * Under systemd (NOTIFY_SOCKET set) it reports READY=1, its state as STATUS=, and WATCHDOG=1
 * every half WATCHDOG_USEC while the device's machine is healthy (systemd.ts). SIGINT and
 * SIGTERM stop the device cleanly (store closed, ports released) and exit 0.
 * @module
 */
import type { Command } from 'commander';
import { RealClock } from '../../shared/clock.ts';
import { createLogger } from '../../shared/log.ts';
import { deviceConsole } from '../../hw-profiles/device-console.ts';
import { runDevice, type RunningDevice } from '../../hw-profiles/run-device.ts';
import { systemRandom } from '../../shared/random.ts';
import type { Role } from '../../hw-profiles/profile.ts';
import { openMachine, type Machine } from './machine.ts';
import { reportError } from './output.ts';
import { systemdNotifier } from './systemd.ts';

interface DeviceOptions {
  profile: string;
  stateDir?: string;
  seed: string;
}

async function serve(role: Role, options: DeviceOptions): Promise<void> {
  const clock = new RealClock();
  const log = createLogger({ name: `hsm-${role}` });
  const notifier = systemdNotifier(log);
  let machine: Machine | undefined;
  let device: RunningDevice | undefined;
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) {
      process.exit(1); // a second signal: do not wait any longer
    }
    stopping = true;
    log.info({ signal }, 'stopping');
    await device?.stop().catch((error: unknown) => log.error({ err: (error as Error).message }, 'stop failed'));
    await machine?.stop().catch(() => undefined);
    await notifier?.flush();
    // node-serialport can leave a read pending after close (serialport#2776); do not wait for it.
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  try {
    machine = await openMachine(options.profile, { clock, seed: options.seed });
    if (machine.hardware !== undefined) log.info({ paths: machine.hardware.paths }, 'simulated hardware ready');
    device = await runDevice(role, machine.profile, {
      clock,
      log,
      // The operator console on the profile's console port (provisioning, unlock, diagnostics).
      attachConsole: deviceConsole({ clock, random: systemRandom, log }),
      ...(options.stateDir === undefined ? {} : { stateDir: options.stateDir }),
      ...(notifier === undefined ? {} : { notify: (state: string) => notifier.notify(state) }),
      ...(notifier?.watchdogIntervalMs === undefined ? {} : { watchdogIntervalMs: notifier.watchdogIntervalMs }),
    });
    log.info({ state: device.state() }, 'device started');
  } catch (error) {
    reportError({}, error);
    await device?.stop().catch(() => undefined);
    await machine?.stop().catch(() => undefined);
    await notifier?.flush();
    process.exit(2);
  }
}

export function configureDevice(role: Role, command: Command): void {
  command
    .requiredOption('--profile <name|file>', 'a shipped profile (hw-profiles/profiles/) or a profile file')
    .option('--state-dir <dir>', "instead of the profile's state directory")
    .option('--seed <text>', 'seed of the simulated hardware (simulated profile only)', 'hsm-sim')
    .action((options: DeviceOptions) => serve(role, options));
}
