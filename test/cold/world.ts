/**
 * HSM-Cold in an emulated world: two emulated modems (SIM1 on carrier A, SIM2 on carrier B) on
 * the simulated GSM network, a virtual serial pair to an HSM-Hot stand-in (a real link endpoint
 * that records HSM-Cold's events and asks for approvals), and a scripted V-Device that sends
 * the app's exact strings from its number and reads what reaches it.
 */
import { SimulatedClock } from '../../shared/clock.ts';
import { AuditWitness } from '../../shared/link/audit-witness.ts';
import { LINK_COLLECTIONS, LinkEndpoint } from '../../shared/link/endpoint.ts';
import { DEVICE_MESSAGES } from '../../shared/link/messages.ts';
import { createPairingFile, importPairingFile, pairingRecord } from '../../shared/link/pairing.ts';
import { SeededRandom } from '../../shared/random.ts';
import { createIdentity, identityPublicKey } from '../../shared/store/identity.ts';
import { DeviceStore } from '../../shared/store/store.ts';
import { Vault } from '../../shared/store/vault.ts';
import { EmulatedModemDevice } from '../../hw-profiles/sim/gsm/modem-device.ts';
import { SimulatedGsmNetwork, defaultCarriers } from '../../hw-profiles/sim/gsm/network.ts';
import { VirtualSerialPair } from '../../hw-profiles/sim/uart/virtual-pair.ts';
import { ColdDevice } from '../../hsm-cold/main.ts';
import type { ColdConfigInput } from '../../hsm-cold/config.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN, FAST_KDF, MNEMONIC, V_DEVICE, at, baseConfig } from './fixture.ts';

export const COLD_SIM1 = '+8617000000001';
export const COLD_SIM2 = '+8617000000002';

/** Directories this module made itself; removed when the world shuts down. */
function ownDir(made: string[], prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export async function until(clock: SimulatedClock, condition: () => boolean, limitMs = 300_000, stepMs = 100): Promise<void> {
  const start = clock.monotonic();
  while (!condition()) {
    if (clock.monotonic() - start > limitMs) throw new Error(`condition not met after ${limitMs} ms of simulated time`);
    await clock.advance(stepMs);
  }
}

export async function settle<T>(clock: SimulatedClock, promise: Promise<T>, limitMs = 300_000): Promise<T> {
  let done = false;
  let value: T | undefined;
  let error: unknown;
  promise.then(
    (v) => ((done = true), (value = v)),
    (e) => ((done = true), (error = e)),
  );
  await until(clock, () => done, limitMs, 50);
  if (error !== undefined) throw error;
  return value as T;
}

export class HotStandIn {
  readonly store: DeviceStore;
  readonly vault: Vault;
  readonly identity: string;
  link!: LinkEndpoint;
  /** Records HSM-Cold's signed audit heads, as HSM-Hot does. */
  readonly witness: AuditWitness;
  readonly events: Array<{ kind: string; details: Record<string, unknown> }> = [];

  constructor(
    private readonly clock: SimulatedClock,
    private readonly random: SeededRandom,
    dir: string,
  ) {
    this.store = DeviceStore.open(dir, { app: 'hot-stand-in', schemaVersion: 1, clock, collections: LINK_COLLECTIONS });
    this.vault = new Vault(this.store, random);
    if (this.vault.state === 'uninitialised') {
      this.vault.initialise('1111', { kdf: FAST_KDF });
      this.store.transact((tx) => createIdentity(tx, this.vault, random, clock.now()));
    } else {
      this.vault.unlock('1111');
    }
    this.identity = identityPublicKey(this.store) as string;
    this.witness = new AuditWitness({ store: this.store, role: 'hot' });
  }

  connect(file: unknown, wire: VirtualSerialPair): void {
    if (pairingRecord(this.store) === undefined) importPairingFile(this.store, this.vault, 'hot', file, this.clock.now());
    this.link = new LinkEndpoint({ store: this.store, vault: this.vault, port: wire.open('a'), clock: this.clock, random: this.random, baudRate: 115_200, messages: DEVICE_MESSAGES });
    this.link.rpc.handle('hot.event', (body: { kind: string; details: Record<string, unknown> }) => {
      this.events.push(body);
      return {};
    });
    this.link.rpc.handle('link.time', () => ({ now: this.clock.now() }));
    this.witness.attach(this.link.rpc, this.link.peerIdentity, this.link.session);
    this.link.start();
  }
}

export interface ColdWorld {
  clock: SimulatedClock;
  random: SeededRandom;
  network: SimulatedGsmNetwork;
  wire: VirtualSerialPair;
  modems: [EmulatedModemDevice, EmulatedModemDevice];
  cold: ColdDevice;
  hot: HotStandIn;
  stateDir: string;
  /** The V-Device sends one SMS to HSM-Cold's first number. */
  vDeviceSends(text: string, from?: string): void;
  /** Texts that reached `number` (the V-Device by default), oldest first. */
  received(number?: string): string[];
  shutdown(): Promise<void>;
}

export async function coldWorld(options: { start?: number; config?: ColdConfigInput; seed?: string; stateDir?: string; hotDir?: string } = {}): Promise<ColdWorld> {
  const clock = new SimulatedClock({ start: options.start ?? at(23, 5) });
  const random = new SeededRandom(options.seed ?? 'cold-world');
  const network = new SimulatedGsmNetwork({ clock, carriers: defaultCarriers(), random: random.fork('network'), homeCountryCode: '86' });
  for (const id of network.carrierIds) network.setFaults(id, { delayMs: [500, 2000] });
  const sim1 = network.issueSim({ carrierId: 'A', msisdn: COLD_SIM1 });
  const sim2 = network.issueSim({ carrierId: 'B', msisdn: COLD_SIM2 });
  const modems: [EmulatedModemDevice, EmulatedModemDevice] = [
    new EmulatedModemDevice({ clock, network, sim: sim1, profile: 'sim800c', random: random.fork('modem1') }),
    new EmulatedModemDevice({ clock, network, sim: sim2, profile: 'e3372', random: random.fork('modem2') }),
  ];
  for (const m of modems) m.modem.setSendDelay(2_000);
  const wire = new VirtualSerialPair({ clock, baudRate: 115_200, random: random.fork('wire') });
  const made: string[] = [];
  const stateDir = options.stateDir ?? ownDir(made, 'hsm-cold-');
  const cold = new ColdDevice({
    stateDir,
    clock,
    random: random.fork('cold'),
    link: { openPort: () => wire.open('b'), baudRate: 115_200 },
    modems: [
      { name: 'sim1', openPort: () => modems[0].openHostPort(), expect: { imsi: sim1.imsi }, timeouts: { sendMs: 30_000 } },
      { name: 'sim2', openPort: () => modems[1].openHostPort(), expect: { imsi: sim2.imsi }, timeouts: { sendMs: 30_000 } },
    ],
    smsRetry: { initialMs: 5_000, maxMs: 60_000 },
  });
  const hot = new HotStandIn(clock, random.fork('hot'), options.hotDir ?? ownDir(made, 'hot-stand-in-'));
  cold.start();
  await until(clock, () => cold.snapshot.matches('provisioning') || cold.snapshot.matches('locked'), 10_000, 10);
  if (cold.snapshot.matches('provisioning')) {
    await settle(clock, cold.provision({ pin: '2468', mnemonic: MNEMONIC, config: options.config ?? baseConfig(), kdf: FAST_KDF }));
  } else {
    cold.unlock('2468');
  }
  await until(clock, () => cold.snapshot.matches('running'), 60_000, 10);
  const file = createPairingFile(hot.identity, identityPublicKey(cold.store)!, random.fork('pairing'));
  if (cold.status().link === undefined) await cold.importPairing(file);
  hot.connect(file, wire);
  await until(clock, () => cold.snapshot.matches({ running: { link: 'up', modems: 'usable' } }), 120_000);
  return {
    clock,
    random,
    network,
    wire,
    modems,
    cold,
    hot,
    stateDir,
    vDeviceSends: (text, from = V_DEVICE) => void network.sendFromOutside({ from, to: COLD_SIM1, text }),
    received: (number = V_DEVICE) => network.deliveries({ to: number }).map((d) => d.text),
    shutdown: async () => {
      hot.link?.stop();
      await cold.shutdown();
      await hot.store.close();
      for (const dir of made) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export { ADMIN, V_DEVICE };
