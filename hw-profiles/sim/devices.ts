/**
 * The two HSMs as the rig runs them. In one process (`InProcessDevices`) they share the rig's
 * clock and talk over an emulated UART pair; as separate processes (devices-processes.ts) they
 * run the same firmware over socat ptys with the real serialport bindings. Either way the rig
 * provisions a new world (mnemonics, PINs and platform key from the seed, pairing by file) and
 * unlocks a resumed one, playing the operator.
 * @module
 */
import type { SimulatedClock } from '../../shared/clock.ts';
import { createPairingFile } from '../../shared/link/pairing.ts';
import type { Logger } from '../../shared/log.ts';
import type { LogFormat } from '../../shared/log-format.ts';
import type { SeededRandom } from '../../shared/random.ts';
import { identityPublicKey } from '../../shared/store/identity.ts';
import type { KdfCost } from '../../shared/store/vault.ts';
import { ColdDevice } from '../../hsm-cold/main.ts';
import { HsmHot } from '../../hsm-hot/main.ts';
import type { ProvisioningInput } from '../../hsm-hot/provisioning.ts';
import { coldView, hotView, type DeviceView } from './dashboard/device-view.ts';
import type { SimStore } from './gsm/emulated-modem.ts';
import { EmulatedModemDevice } from './gsm/modem-device.ts';
import type { SimCard, SimulatedGsmNetwork } from './gsm/network.ts';
import { VirtualSerialPair } from './uart/virtual-pair.ts';
import { LINK_BAUD_RATE, PLATFORM_KEY_SCOPES, coldConfig, hotConfig } from './world-config.ts';
import type { WorldKeys } from './world-keys.ts';


/**
 * HSM-Hot's provisioning in the simulated world: the world's PIN, mnemonic and platform key,
 * paired with `cold` by a pairing file, as an operator does at install (the rig and the bench).
 */
export function worldHotProvisioning(keys: WorldKeys, cold: ColdDevice, random: SeededRandom): ProvisioningInput {
  return {
    pin: keys.hotPin,
    mnemonic: { restore: keys.hotMnemonic },
    platformKeys: [{ key: keys.platformPublicKey, scopes: [...PLATFORM_KEY_SCOPES], label: 'platform' }],
    pairing: {
      method: 'file',
      file: async (hotIdentity) => {
        const file = createPairingFile(hotIdentity, identityPublicKey(cold.store) as string, random);
        await cold.importPairing(file);
        return file;
      },
    },
  };
}

export interface DevicesContext {
  clock: SimulatedClock;
  random: SeededRandom;
  network: SimulatedGsmNetwork;
  /** HSM-Cold's SIM1 and SIM2. */
  sims: readonly [SimCard, SimCard];
  /** Where the SIMs keep their files (message references) across runs of the world. */
  simStore: SimStore;
  keys: WorldKeys;
  stateDir: (device: 'hot' | 'cold') => string;
  /** Waits, in world time, until `condition` holds. */
  waitFor: (condition: () => boolean, what: string, limitMs?: number) => Promise<void>;
  /** Waits for `promise`, moving world time meanwhile. */
  settle: <T>(promise: Promise<T>, what: string, limitMs?: number) => Promise<T>;
  kdf?: KdfCost;
  /** Where the consoles' terminal ends go (`<dir>/hot`, `<dir>/cold`), and their first password. */
  consoles: { dir: string; password: string };
  /** How the device processes write their logs (the rig's own format). */
  logFormat?: LogFormat;
  /** Publishes a world event (the supervisor's restarts). */
  publish: (type: string, details: Record<string, unknown>) => void;
  log: Logger;
}

export interface DeviceStates {
  hot: string;
  cold: string;
}

/** A supervised device process (separate processes only): restarted as systemd would. */
export interface DeviceSupervision {
  /** `running`; `restarting` (waiting RestartSec, or booting); `failed` (start limit); `stopped` (exited cleanly on its own). */
  state: 'running' | 'restarting' | 'failed' | 'stopped';
  /** Restarts after the process died on its own (a `kill` fault's power cycle is not one). */
  restarts: number;
  lastExit: { at: string; code: number | null; signal: string | null } | null;
}

/** What the rig needs from its devices, whichever way they run. */
export interface RigDevices {
  readonly hostUrl: string;
  readonly hotIdentity: string;
  readonly coldIdentity: string;
  states(): DeviceStates;
  /** What the dashboard shows of a device (dashboard/device-view.ts); null while it is not running. */
  view(device: 'hot' | 'cold'): Promise<DeviceView | null>;
  /** Makes the link lossy (probability per byte of a bit flip); 0 ends it. */
  linkNoise(bitFlipRate: number): void;
  unplugModem(index: 0 | 1): void;
  replugModem(index: 0 | 1): void;
  /** Kills a device without warning and starts it again (separate processes only). */
  kill?(device: 'hot' | 'cold'): Promise<void>;
  /** The supervisor's view of each device process (separate processes only). */
  supervision?(): Record<'hot' | 'cold', DeviceSupervision>;
  stop(): Promise<void>;
}

export class InProcessDevices implements RigDevices {
  hot!: HsmHot;
  cold!: ColdDevice;
  readonly wire: VirtualSerialPair;
  readonly modems: [EmulatedModemDevice, EmulatedModemDevice];

  private constructor(private readonly ctx: DevicesContext) {
    const { clock, random, network, sims } = ctx;
    this.wire = new VirtualSerialPair({ clock, baudRate: LINK_BAUD_RATE, random: random.fork('link-wire'), name: 'hsm-link' });
    this.modems = [
      new EmulatedModemDevice({ clock, network, sim: sims[0], profile: 'sim800c', random: random.fork('modem-sim1'), name: 'cold-sim1', simStore: ctx.simStore }),
      new EmulatedModemDevice({ clock, network, sim: sims[1], profile: 'e3372', random: random.fork('modem-sim2'), name: 'cold-sim2', simStore: ctx.simStore }),
    ];
  }

  static async start(ctx: DevicesContext): Promise<InProcessDevices> {
    const devices = new InProcessDevices(ctx);
    await devices.boot();
    return devices;
  }

  get hostUrl(): string {
    const url = this.hot.hostUrl;
    if (url === undefined) throw new Error('invariant failed: HSM-Hot is not listening');
    return url;
  }

  get hotIdentity(): string {
    return this.hot.identity as string;
  }

  get coldIdentity(): string {
    return identityPublicKey(this.cold.store) as string;
  }

  states(): DeviceStates {
    return { hot: this.hot.state, cold: JSON.stringify(this.cold.snapshot.value) };
  }

  async view(device: 'hot' | 'cold'): Promise<DeviceView | null> {
    return device === 'hot' ? hotView(this.hot, this.ctx.clock) : coldView(this.cold, this.ctx.clock);
  }

  linkNoise(bitFlipRate: number): void {
    this.wire.setFaults(bitFlipRate > 0 ? { bitFlipRate } : {});
  }

  unplugModem(index: 0 | 1): void {
    this.modems[index].unplug();
  }

  replugModem(index: 0 | 1): void {
    this.modems[index].replug();
  }

  async stop(): Promise<void> {
    await this.hot.stop();
    await this.cold.shutdown();
  }

  private async boot(): Promise<void> {
    const { clock, random, keys, waitFor, kdf, log } = this.ctx;
    const bootTag = `@${clock.now()}`;
    this.cold = new ColdDevice({
      stateDir: this.ctx.stateDir('cold'),
      clock,
      random: random.fork(`hsm-cold${bootTag}`),
      link: { openPort: () => this.wire.open('b'), baudRate: LINK_BAUD_RATE },
      modems: [
        { name: 'sim1', openPort: () => this.modems[0].openHostPort(), expect: { imsi: this.ctx.sims[0].imsi } },
        { name: 'sim2', openPort: () => this.modems[1].openHostPort(), expect: { imsi: this.ctx.sims[1].imsi } },
      ],
      log: log.child({ device: 'hsm-cold' }),
    });
    this.cold.start();
    await waitFor(() => this.cold.snapshot.matches('provisioning') || this.cold.snapshot.matches('locked'), 'HSM-Cold to boot');
    if (this.cold.snapshot.matches('provisioning')) {
      await this.cold.provision({ pin: keys.coldPin, mnemonic: keys.coldMnemonic, config: coldConfig(), ...(kdf === undefined ? {} : { kdf }) });
    } else {
      this.cold.unlock(keys.coldPin);
    }
    await waitFor(() => this.cold.snapshot.matches('running'), 'HSM-Cold to run');

    this.hot = await HsmHot.start({
      stateDir: this.ctx.stateDir('hot'),
      clock,
      random: random.fork(`hsm-hot${bootTag}`),
      openLinkPort: () => this.wire.open('a'),
      baudRate: LINK_BAUD_RATE,
      listen: { host: '127.0.0.1', port: 0 },
      config: hotConfig(),
      ...(kdf === undefined ? {} : { kdf }),
      log: log.child({ device: 'hsm-hot' }),
    });
    if (this.hot.state === 'uninitialised') {
      const result = await this.hot.provision(worldHotProvisioning(keys, this.cold, random.fork('pairing')));
      if (!result.paired) throw new Error(`pairing failed: ${result.pairingError?.message ?? 'unknown'}`);
    } else {
      await this.hot.unlock(keys.hotPin);
    }
    await waitFor(() => this.hot.state === 'running' && this.hot.linkUp, 'the HSM link to come up', 120_000);
  }
}
