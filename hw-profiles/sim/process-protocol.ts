/**
 * What the rig and a device process (device-process.ts) say to each other over the Node IPC
 * channel in `--processes` mode. The device's bytes never take this way: they cross the
 * simulated hardware's ptys. IPC carries only what a person or the world does to the device:
 * world time, the operator's provisioning and unlocking, and a stop.
 *
 *   rig → device   start    once: role, resolved profile, state directory, world time
 *                  clock    world time moved; the device follows and answers `clock-ack`
 *                  call     an operator action; answered by `result` with the same id
 *                           (the console itself is served on its pty, as on real hardware)
 *                  view     what the dashboard shows of the device; answered by `view`
 *                  stop     shut down and exit 0
 *   device → rig   started  the device is up (HSM-Hot: its host API URL and identity)
 *                  clock-ack, result, view
 *                  ask      the device needs the rig (HSM-Hot's pairing file); answered by `answer`
 *
 * The world's secrets (PINs, mnemonics) cross this channel: they are the simulated world's, made
 * from its seed, and the channel is a pipe between a parent and its child.
 * @module
 */
import type { LogFormat } from '../../shared/log-format.ts';
import type { KdfCost } from '../../shared/store/vault.ts';
import type { Profile, Role } from '../profile.ts';
import type { DeviceView } from './dashboard/device-view.ts';

export interface DeviceStatus {
  /** The device's state in a word or two (`locked`, `running`, ...). */
  state: string;
  /** HSM-Cold's full machine state (JSON), for the rig's device-state events. */
  detail: string;
  /** Running, with the link to the other device up. */
  linkUp: boolean;
  running: boolean;
  /** Waiting for bytes from the simulated hardware (a modem's answer). */
  awaiting?: boolean;
  /** World time (Unix ms) of the device's next timer, if any. */
  nextDue?: number;
  /** Set once known: HSM-Hot's host API URL. */
  hostUrl?: string;
  /** Set once provisioned: the device's identity public key (hex). */
  identity?: string;
}

export type OperatorCall =
  | { method: 'provision-cold'; pin: string; mnemonic: string }
  | { method: 'provision-hot'; pin: string; mnemonic: string; platformKey: string }
  | { method: 'unlock'; pin: string }
  | { method: 'import-pairing'; file: unknown }
  /** The console's first operator password, when the device has no operator yet (rig-consoles.ts). */
  | { method: 'console-password'; password: string };

export type RigToDevice =
  | { type: 'start'; role: Role; profile: Profile; stateDir: string; now: number; seed: string; kdf?: KdfCost; logLevel: string; logFormat: LogFormat }
  | { type: 'clock'; id: number; now: number }
  | { type: 'call'; id: number; call: OperatorCall }
  | { type: 'answer'; id: number; ok: boolean; value?: unknown; error?: string }
  | { type: 'view'; id: number }
  | { type: 'stop' };

export type DeviceToRig =
  | { type: 'started'; status: DeviceStatus }
  | { type: 'clock-ack'; id: number; status: DeviceStatus }
  | { type: 'result'; id: number; ok: boolean; value?: unknown; error?: string; status: DeviceStatus }
  | { type: 'ask'; id: number; question: 'pairing-file'; hotIdentity: string }
  /** dashboard/device-view.ts; null before the firmware runs. */
  | { type: 'view'; id: number; view: DeviceView | null }
  | { type: 'failed'; error: string };
