import { SimulatedClock } from '../../shared/clock.ts';
import { SeededRandom } from '../../shared/random.ts';
import { Modem, type ModemOptions } from '../../shared/gsm/modem.ts';
import { EmulatedModemDevice } from '../../hw-profiles/sim/gsm/modem-device.ts';
import { modemProfile, type ModemProfileName } from '../../hw-profiles/sim/gsm/modem-profiles.ts';
import { SimulatedGsmNetwork, defaultCarriers, type SimCard } from '../../hw-profiles/sim/gsm/network.ts';

/**
 * Advances the simulated clock in steps until `promise` settles (bytes on an emulated line
 * and every timeout move only with the clock). Fails after `limitMs` of simulated time.
 */
export async function drive<T>(clock: SimulatedClock, promise: Promise<T>, options: { stepMs?: number; limitMs?: number } = {}): Promise<T> {
  const step = options.stepMs ?? 5;
  const limit = options.limitMs ?? 300_000;
  let settled = false;
  let value: T | undefined;
  let failure: unknown;
  promise.then(
    (v) => {
      settled = true;
      value = v;
    },
    (e: unknown) => {
      settled = true;
      failure = e;
    },
  );
  const start = clock.monotonic();
  await clock.advance(0);
  while (!settled) {
    if (clock.monotonic() - start > limit) throw new Error(`still pending after ${limit} ms of simulated time`);
    await clock.advance(step);
  }
  if (failure !== undefined) throw failure;
  return value as T;
}

/** Advances the clock until `condition` holds. */
export async function until(clock: SimulatedClock, condition: () => boolean, options: { stepMs?: number; limitMs?: number } = {}): Promise<void> {
  const step = options.stepMs ?? 5;
  const limit = options.limitMs ?? 300_000;
  const start = clock.monotonic();
  while (!condition()) {
    if (clock.monotonic() - start > limit) throw new Error(`condition not met after ${limit} ms of simulated time`);
    await clock.advance(step);
  }
}

export interface World {
  clock: SimulatedClock;
  network: SimulatedGsmNetwork;
  random: SeededRandom;
}

export function world(seed = 'gsm-test'): World {
  const clock = new SimulatedClock();
  const random = new SeededRandom(seed);
  const network = new SimulatedGsmNetwork({ clock, carriers: defaultCarriers(), random: random.fork('network') });
  for (const id of network.carrierIds) network.setFaults(id, { delayMs: [200, 400] });
  return { clock, network, random };
}

export interface EmulatorBench {
  w: World;
  device: EmulatedModemDevice;
  term: Terminal;
}

/**
 * One emulated modem with a SIM on carrier A, booted, a terminal on its host end and the
 * boot output discarded: the bench for tests of the emulator's AT behaviour.
 */
export async function emulatorBench(options: { profile?: ModemProfileName; simPin?: string; noSim?: boolean; msisdn?: string } = {}): Promise<EmulatorBench> {
  const w = world();
  const msisdn = options.msisdn ?? '+4917000000001';
  const sim = options.noSim ? undefined : w.network.issueSim({ carrierId: 'A', msisdn, ...(options.simPin ? { pin: options.simPin } : {}) });
  const device = new EmulatedModemDevice({ clock: w.clock, network: w.network, ...(sim ? { sim } : {}), profile: options.profile ?? 'default' });
  device.modem.setSendDelay(2_000);
  const term = new Terminal(w.clock, device.openHostPort());
  await w.clock.advance(modemProfile(options.profile ?? 'default').bootDelayMs + 10);
  term.take();
  return { w, device, term };
}

export interface ModemRig {
  device: EmulatedModemDevice;
  sim: SimCard;
  modem: Modem;
}

export function modemRig(w: World, options: { msisdn: string; carrierId?: string; profile?: ModemProfileName; pin?: string; simPin?: string; name?: string; driver?: Partial<ModemOptions> }): ModemRig {
  const sim = w.network.issueSim({ carrierId: options.carrierId ?? 'A', msisdn: options.msisdn, ...(options.simPin !== undefined ? { pin: options.simPin } : {}) });
  const device = new EmulatedModemDevice({ clock: w.clock, network: w.network, sim, profile: options.profile ?? 'default', random: w.random.fork(options.msisdn) });
  device.modem.setSendDelay(2_000);
  const modem = new Modem({
    clock: w.clock,
    name: options.name ?? 'sim1',
    openPort: () => device.openHostPort(),
    ...(options.pin !== undefined ? { pin: options.pin } : {}),
    random: w.random.fork(`driver/${options.msisdn}`),
    ...options.driver,
  });
  return { device, sim, modem };
}

/** A dumb terminal on the host end of an emulated modem: type, wait, read what came back. */
export class Terminal {
  private output = '';

  constructor(
    private readonly clock: SimulatedClock,
    private readonly port: import('../../shared/port.ts').Port,
  ) {
    port.onData((chunk) => (this.output += Buffer.from(chunk).toString('latin1')));
  }

  type(text: string): void {
    this.port.write(Uint8Array.from(Buffer.from(text, 'latin1')));
  }

  /** Types one byte per `gapMs`, as Gammu does before it knows the model. */
  async typeSlowly(text: string, gapMs = 1): Promise<void> {
    for (const byte of Buffer.from(text, 'latin1')) {
      this.port.write(Uint8Array.of(byte));
      await this.clock.advance(gapMs);
    }
  }

  /** Everything received since the last call. */
  take(): string {
    const out = this.output;
    this.output = '';
    return out;
  }

  /** Types `line` + CR and returns the output once a final result code (or `until`) has arrived. */
  async command(line: string, until: RegExp = /\r\n(OK|ERROR|\+CM[ES] ERROR: [^\r]*|COMMAND NOT SUPPORT)\r\n$/, limitMs = 120_000): Promise<string> {
    this.type(`${line}\r`);
    return this.read(until, limitMs);
  }

  async read(until: RegExp, limitMs = 120_000): Promise<string> {
    const start = this.clock.monotonic();
    while (!until.test(this.output)) {
      if (this.clock.monotonic() - start > limitMs) throw new Error(`no ${until} after ${limitMs} ms; got ${JSON.stringify(this.output)}`);
      await this.clock.advance(1);
    }
    return this.take();
  }
}
