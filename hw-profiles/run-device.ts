/**
 * Runs one device (HSM-Hot or HSM-Cold) on the machine a hardware profile describes: the real
 * serial ports through node-serialport (a UART, a USB adapter, a USB modem, or a pty of the
 * simulated hardware), modems found by the SIM they hold, the state directory, the host API
 * address. `hsm hot|cold --profile` is a thin wrapper around it; the simulated rig calls it
 * with its own clock and randomness, so nothing here reads the time or draws randomness except
 * through them.
 *
 * The device is left in whatever state its store implies: a new one waits to be provisioned,
 * a provisioned one waits for its PIN, and both happen over the console, which `attachConsole`
 * serves on the profile's console port (device-console.ts has the device's own).
 *
 * While it runs, `notify` receives sd_notify(3) state lines: `READY=1` once started,
 * `STATUS=...` when the device's state changes, `WATCHDOG=1` every `watchdogIntervalMs` while
 * the device's machine is healthy (not failed, not stopped), and `STOPPING=1` at the end. A
 * device whose machine fails stops sending `WATCHDOG=1`, and the service manager restarts it.
 * @module
 */
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { RealClock, type Clock, type TimerHandle } from '../shared/clock.ts';
import { HsmError } from '../shared/errors.ts';
import { locateModemPort } from '../shared/gsm/modem-locator.ts';
import type { LinkTimings } from '../shared/link/session.ts';
import { createLogger, type Logger } from '../shared/log.ts';
import { openSerialPort, type Port } from '../shared/port.ts';
import { systemRandom, type RandomSource } from '../shared/random.ts';
import type { KdfCost } from '../shared/store/vault.ts';
import type { ColdDevice, ColdModemSpec } from '../hsm-cold/main.ts';
import type { HotConfigInput } from '../hsm-hot/config.ts';
import type { HsmHot } from '../hsm-hot/main.ts';
import { MODEM_MODELS, expandCandidates, profileSection, simPlaceholders, type ModemSpec, type PinRef, type PortSpec, type Profile, type Role } from './profile.ts';

export interface RunDeviceOverrides {
  clock?: Clock;
  random?: RandomSource;
  log?: Logger;
  /** Instead of the profile's state directory. */
  stateDir?: string;
  /** HSM-Hot's configuration, instead of the profile's (or the built-in defaults). */
  hotConfig?: HotConfigInput;
  /** Receives sd_notify(3) state lines (`READY=1`, `STATUS=...`, `WATCHDOG=1`, `STOPPING=1`). */
  notify?: (state: string) => void;
  /** Period of `WATCHDOG=1` while healthy; no watchdog when absent. */
  watchdogIntervalMs?: number;
  /** Where `{"credential": ...}` SIM PINs are read; default `$CREDENTIALS_DIRECTORY` (systemd). */
  credentialsDirectory?: string;
  /**
   * Serves the operator console on the profile's console port (device-console.ts serves the
   * device's own). Without it the console port is left untouched.
   */
  attachConsole?: (port: Port, device: RunningDevice) => Promise<() => Promise<void>> | (() => Promise<void>);
  /** PIN key-derivation cost (lower only in tests). */
  kdf?: KdfCost;
  linkTimings?: Partial<LinkTimings>;
  /** Timings on the wire (link, AT commands), when they should not follow `clock`. */
  wireClock?: Clock;
}

export interface RunningDevice {
  readonly role: Role;
  /** The profile it runs on. */
  readonly profile: Profile;
  readonly stateDir: string;
  readonly hot?: HsmHot;
  readonly cold?: ColdDevice;
  /** The device's state in a word or two (`locked`, `running`, ...). */
  state(): string;
  /** The machine runs (is not failed or stopped): what the watchdog reports. */
  healthy(): boolean;
  stop(): Promise<void>;
}

export async function runDevice(role: Role, profile: Profile, overrides: RunDeviceOverrides = {}): Promise<RunningDevice> {
  const section = profileSection(profile, role);
  const unresolved = simPlaceholders(profile).filter((p) => p.field.startsWith(`${role}.`));
  if (unresolved.length > 0) {
    const first = unresolved[0] as { name: string; field: string };
    throw new HsmError('PROFILE_SIM_PATH', `profile ${profile.name}: ${first.field} is still sim:${first.name}; start the simulated hardware first`, { field: first.field });
  }
  const clock = overrides.clock ?? new RealClock();
  const random = overrides.random ?? systemRandom;
  const log = overrides.log ?? createLogger({ name: `hsm-${role}` });
  const stateDir = overrides.stateDir ?? section.stateDir;
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const openPort = (spec: Pick<PortSpec, 'path' | 'baudRate'>) => () => openSerialPort({ path: spec.path, baudRate: spec.baudRate });
  log.info({ role, profile: profile.name, board: profile.board, link: section.link.path, console: section.console?.path ?? null, stateDir }, 'starting');

  // Each firmware is loaded only by the device that runs it: a device process holds one.
  let hot: HsmHot | undefined;
  let cold: ColdDevice | undefined;
  if (role === 'hot') {
    const { HsmHot } = await import('../hsm-hot/main.ts');
    const hotSection = profileSection(profile, 'hot');
    const config = overrides.hotConfig ?? (hotSection.config as HotConfigInput | undefined);
    hot = await HsmHot.start({
      stateDir,
      clock,
      random,
      openLinkPort: openPort(section.link),
      baudRate: section.link.baudRate,
      listen: { host: hotSection.hostApi.host, port: hotSection.hostApi.port },
      log,
      ...(config === undefined ? {} : { config }),
      ...(overrides.kdf === undefined ? {} : { kdf: overrides.kdf }),
      ...(overrides.linkTimings === undefined ? {} : { linkTimings: overrides.linkTimings }),
      ...(overrides.wireClock === undefined ? {} : { wireClock: overrides.wireClock }),
    });
  } else {
    const { ColdDevice } = await import('../hsm-cold/main.ts');
    const coldSection = profileSection(profile, 'cold');
    const credentials = overrides.credentialsDirectory ?? process.env.CREDENTIALS_DIRECTORY;
    const modems = coldSection.modems.map((spec, i) => modemSpec(spec, `cold.modems[${i}]`, clock, credentials));
    cold = new ColdDevice({
      stateDir,
      clock,
      random,
      link: { openPort: openPort(section.link), baudRate: section.link.baudRate, ...(overrides.linkTimings === undefined ? {} : { timings: overrides.linkTimings }) },
      modems,
      log,
      ...(overrides.wireClock === undefined ? {} : { wireClock: overrides.wireClock }),
    });
    cold.start();
  }

  const state = (): string => {
    if (hot !== undefined) return hot.state;
    const value = (cold as ColdDevice).snapshot.value;
    return typeof value === 'string' ? value : Object.keys(value)[0] ?? 'unknown';
  };
  const healthy = (): boolean => {
    if (hot !== undefined) return !['failed', 'stopped'].includes(hot.state);
    const snapshot = (cold as ColdDevice).snapshot;
    return snapshot.status === 'active' && !snapshot.matches('failed');
  };

  let stopping = false;
  let watchdog: TimerHandle | undefined;
  let lastStatus = '';
  let detachConsole: (() => Promise<void>) | undefined;
  const notify = (line: string): void => {
    try {
      overrides.notify?.(line);
    } catch (error) {
      log.warn({ err: (error as Error).message }, 'service notification failed');
    }
  };
  const reportStatus = (): void => {
    const status = `HSM-${role === 'hot' ? 'Hot' : 'Cold'} ${state()}`;
    if (status === lastStatus) return;
    lastStatus = status;
    notify(`STATUS=${status}`);
  };

  const device: RunningDevice = {
    role,
    profile,
    stateDir,
    ...(hot === undefined ? {} : { hot }),
    ...(cold === undefined ? {} : { cold }),
    state,
    healthy,
    async stop() {
      if (stopping) return;
      stopping = true;
      clock.clearInterval(watchdog);
      notify('STOPPING=1');
      if (detachConsole !== undefined) await detachConsole().catch((error: unknown) => log.warn({ err: (error as Error).message }, 'console detach failed'));
      if (hot !== undefined) await hot.stop();
      if (cold !== undefined) await cold.shutdown();
      log.info({ role }, 'stopped');
    },
  };

  try {
    if (section.console !== undefined) {
      if (overrides.attachConsole === undefined) {
        log.info({ console: section.console.path }, 'console port configured; no console attached');
      } else {
        const port = await openSerialPort({ path: section.console.path, baudRate: section.console.baudRate });
        detachConsole = await overrides.attachConsole(port, device);
      }
    }
  } catch (error) {
    await device.stop();
    throw error;
  }

  notify('READY=1');
  reportStatus();
  if (overrides.watchdogIntervalMs !== undefined) {
    watchdog = clock.setInterval(() => {
      reportStatus();
      if (healthy()) notify('WATCHDOG=1');
      else log.error({ state: state() }, 'device unhealthy; no watchdog notification');
    }, overrides.watchdogIntervalMs);
  }
  return device;
}

/** What HSM-Cold's modem pool needs for one profile modem: how to open it, and how to check it. */
function modemSpec(spec: ModemSpec, field: string, clock: Clock, credentialsDirectory: string | undefined): ColdModemSpec {
  const model = MODEM_MODELS[spec.model];
  const baudRate = spec.baudRate;
  const open = (path: string): Promise<Port> => openSerialPort({ path, baudRate });
  const base: ColdModemSpec = {
    name: spec.name,
    openPort: () => open(spec.match.value),
    quirks: model.quirks,
    ...(spec.smsc === undefined ? {} : { smsc: spec.smsc }),
    ...(spec.pin === undefined ? {} : { pin: readPin(spec.pin, `${field}.pin`, credentialsDirectory) }),
  };
  if (spec.match.by === 'path') return base;
  const identity = spec.match.by === 'imsi' ? { imsi: spec.match.value } : { iccid: spec.match.value };
  const candidates = spec.candidates ?? [];
  return {
    ...base,
    expect: identity,
    openPort: async () => (await locateModemPort({ candidates: () => expandCandidates(candidates), open, identity, clock })).port,
  };
}

/**
 * Reads a SIM PIN from where the profile says: a file only its owner can read, or a systemd
 * credential. Errors say where and why, never what was read.
 */
export function readPin(ref: PinRef, field: string, credentialsDirectory: string | undefined): string {
  let file: string;
  if ('file' in ref) {
    file = ref.file;
    let mode: number;
    try {
      mode = statSync(file).mode;
    } catch (error) {
      throw new HsmError('PIN_UNREADABLE', `the SIM PIN file ${file} cannot be read`, { field, cause: error });
    }
    if ((mode & 0o077) !== 0) throw new HsmError('PIN_FILE_MODE', `the SIM PIN file ${file} is readable by others; chmod 600 it`, { field });
  } else {
    if (credentialsDirectory === undefined || credentialsDirectory === '') {
      throw new HsmError('PIN_UNREADABLE', `the SIM PIN is the systemd credential ${ref.credential}, but no credentials were passed (LoadCredential=${ref.credential}:... in the unit)`, { field });
    }
    file = join(credentialsDirectory, ref.credential);
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new HsmError('PIN_UNREADABLE', `the SIM PIN ${'file' in ref ? `file ${file}` : `credential ${ref.credential}`} cannot be read`, { field, cause: error });
  }
  const pin = text.trim();
  if (!/^[0-9]{4,8}$/.test(pin)) throw new HsmError('PIN_FORMAT', `the SIM PIN in ${'file' in ref ? file : `credential ${ref.credential}`} is not 4-8 digits`, { field });
  return pin;
}
