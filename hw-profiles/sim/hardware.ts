/**
 * The simulated machine behind a simulated profile (`sim.json`): everything a device finds on
 * a real board, made of ptys, so the firmware opens it with the real serialport bindings.
 *
 * - each emulated modem is served on its own pty (modem-pty.ts), attached to a
 *   `SimulatedGsmNetwork` (made here unless one is given) with a SIM issued per the profile
 *   (the IMSI or ICCID the profile matches on, the carrier and number it names);
 * - the links are one socat pty pair: HSM-Hot's `link.path` at one end, HSM-Cold's at the
 *   other (a profile with one device gets `<name>-peer` as the far end);
 * - each console is a pty pair: the device's end, and `<name>-terminal` for a terminal program;
 * - each state directory is a fresh directory (mode 0700).
 *
 * `paths` maps every placeholder name to what stands behind it, `profile` is the profile with
 * them resolved (`resolveSimPaths`). `faults` are what an operator would do to the hardware:
 * pull a stick, take the SIM out, lose coverage. `startLinkStandIn(role)` puts a link session
 * on that role's end of the link, for when no real device runs there.
 *
 * The modems run on the given clock; a simulated clock must be moving (advanced, or running
 * scaled), because serving a modem waits for it to finish booting.
 * @module
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../../shared/clock.ts';
import { HsmError } from '../../shared/errors.ts';
import { REG_STAT } from '../../shared/gsm/at-codes.ts';
import type { LinkRole } from '../../shared/link/link-crypto.ts';
import type { SeededRandom } from '../../shared/random.ts';
import { SIM_PREFIX, isSimPath, profileRoles, resolveSimPaths, simPlaceholders, type ModemSpec, type Profile, type Role } from '../profile.ts';
import { EmulatedModem } from './gsm/emulated-modem.ts';
import type { ModemProfileName } from './gsm/modem-profiles.ts';
import { serveModemOnPty, type ServedModem } from './gsm/modem-pty.ts';
import { SimulatedGsmNetwork, defaultCarriers, type SimCard } from './gsm/network.ts';
import { startLinkStandIn, type LinkStandIn } from './link-standin.ts';
import { tieDirectory } from './lifeline.ts';
import { createPtyPair, type PtyPair } from './uart/pty-pair.ts';

export interface SimHardwareOptions {
  /** A simulated profile (board `sim`), placeholders unresolved. */
  profile: Profile;
  clock: Clock;
  random: SeededRandom;
  /** The network the modems attach to; one with carriers A and B is made when absent. */
  network?: SimulatedGsmNetwork;
}

export interface SimModem {
  readonly name: string;
  readonly modem: EmulatedModem;
  readonly sim: SimCard;
  readonly served: ServedModem;
}

export interface SimFaults {
  /** The stick is pulled: its pty disappears. */
  unplugModem(name: string): Promise<void>;
  /** Plugged back in: the pty comes back at the same path and the modem boots. */
  replugModem(name: string): Promise<void>;
  removeSim(name: string): void;
  insertSim(name: string): void;
  /** Registration lost (`+CREG` stat 2, searching, unless told otherwise). */
  deregister(name: string, stat?: number): void;
  /** Registration back to what the network gives. */
  reregister(name: string): void;
  /** The modem stops answering anything. */
  hangModem(name: string): void;
  unhangModem(name: string): void;
  setSignal(name: string, rssi: number): void;
}

export interface SimHardware {
  /** The private directory everything lives in. */
  readonly dir: string;
  /** Placeholder name → pty or directory; plus `<console>-terminal` and `<link>-peer` ends. */
  readonly paths: Readonly<Record<string, string>>;
  /** The profile with every placeholder resolved. */
  readonly profile: Profile;
  readonly network: SimulatedGsmNetwork;
  readonly modems: Readonly<Record<string, SimModem>>;
  readonly faults: SimFaults;
  /**
   * Processes that hold the simulated ports open by design: this one (spare descriptors that
   * keep the ptys up) and the socat relays. `hsm doctor` does not count them as intruders.
   */
  ownPids(): number[];
  /** A link session playing `role` on that role's end of the link (see link-standin.ts). */
  startLinkStandIn(role: LinkRole): Promise<LinkStandIn>;
  stop(): Promise<void>;
}

function placeholderName(value: string, field: string): string {
  if (!isSimPath(value)) throw new HsmError('SIM_HARDWARE', `${field} is ${value}, not a sim:<name> placeholder`, { field });
  return value.slice(SIM_PREFIX.length);
}

export async function startSimHardware(options: SimHardwareOptions): Promise<SimHardware> {
  const { profile, clock, random } = options;
  if (profile.board !== 'sim') throw new HsmError('SIM_HARDWARE', `profile ${profile.name} is for a ${profile.board}, not the simulated machine`, { field: 'board' });
  const roles = profileRoles(profile);
  const linkNames = roles.map((role) => placeholderName((profile[role] as NonNullable<Profile[Role]>).link.path, `${role}.link.path`));
  const [first, second] = linkNames as [string, string | undefined];
  /** The link's far end: the other device's link port, or a spare end when the profile has one device. */
  const far = second ?? `${first}-peer`;
  const dir = mkdtempSync(join(tmpdir(), 'hsm-sim-'));
  const forgetDir = tieDirectory(dir);
  const paths: Record<string, string> = {};
  const pairs: PtyPair[] = [];
  const modems: Record<string, SimModem> = {};
  const standIns = new Set<LinkStandIn>();
  const ownNetwork = options.network === undefined;
  const network = options.network ?? new SimulatedGsmNetwork({ clock, carriers: defaultCarriers(), random: random.fork('network') });
  const at = (name: string): string => join(dir, name);

  const stop = async (): Promise<void> => {
    for (const standIn of [...standIns]) await standIn.stop().catch(() => undefined);
    for (const m of Object.values(modems)) await m.served.close().catch(() => undefined);
    for (const pair of pairs.splice(0)) await pair.close().catch(() => undefined);
    if (ownNetwork) network.stop();
    rmSync(dir, { recursive: true, force: true });
    forgetDir();
  };

  try {
    for (const role of roles) {
      const section = profile[role] as NonNullable<Profile[Role]>;
      const name = placeholderName(section.stateDir, `${role}.stateDir`);
      paths[name] = at(name);
      mkdirSync(paths[name], { mode: 0o700 });
      chmodSync(paths[name], 0o700);
    }

    pairs.push(await createPtyPair({ linkA: at(first), linkB: at(far) }));
    paths[first] = at(first);
    paths[far] = at(far);

    for (const role of roles) {
      const consolePort = (profile[role] as NonNullable<Profile[Role]>).console;
      if (consolePort === undefined) continue;
      const name = placeholderName(consolePort.path, `${role}.console.path`);
      pairs.push(await createPtyPair({ linkA: at(name), linkB: at(`${name}-terminal`) }));
      paths[name] = at(name);
      paths[`${name}-terminal`] = at(`${name}-terminal`);
    }

    // Served side by side: each waits for its modem to finish booting.
    const serving = (profile.cold?.modems ?? []).map(async (spec, i) => {
      const emulated = spec.emulated;
      if (emulated === undefined) throw new HsmError('SIM_HARDWARE', `modem ${spec.name} has no emulated modem behind it`, { field: `cold.modems[${i}].emulated` });
      const sim = network.issueSim({ carrierId: emulated.carrier, msisdn: emulated.msisdn, ...identityOf(spec) });
      const modem = new EmulatedModem({ clock, network, sim, profile: emulated.model as ModemProfileName, random: random.fork(`modem/${spec.name}`) });
      const name = placeholderName(emulated.port, `cold.modems[${i}].emulated.port`);
      paths[name] = at(name);
      modems[spec.name] = { name: spec.name, modem, sim, served: await serveModemOnPty(modem, at(name)) };
    });
    const outcomes = await Promise.allSettled(serving);
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed !== undefined) throw failed.reason;

    for (const { name, field } of simPlaceholders(profile)) {
      if (paths[name] === undefined) throw new HsmError('SIM_HARDWARE', `${field} names sim:${name}, which is none of the simulated ports, modems or state directories`, { field });
    }
  } catch (error) {
    await stop();
    throw error;
  }

  const modem = (name: string): SimModem => {
    const found = Object.hasOwn(modems, name) ? modems[name] : undefined;
    if (found === undefined) throw new HsmError('SIM_HARDWARE', `no simulated modem ${name} (there are ${Object.keys(modems).join(', ')})`, { field: 'modem' });
    return found;
  };
  const resolved = resolveSimPaths(profile, paths);

  return {
    dir,
    paths,
    profile: resolved,
    network,
    modems,
    faults: {
      unplugModem: (name) => modem(name).served.unplug(),
      replugModem: (name) => modem(name).served.replug(),
      removeSim: (name) => modem(name).modem.removeSim(),
      insertSim: (name) => {
        const m = modem(name);
        if (m.modem.sim === undefined) m.modem.insertSim(m.sim);
      },
      deregister: (name, stat = REG_STAT.searching) => modem(name).modem.setRegistration(stat),
      reregister: (name) => modem(name).modem.setRegistration(undefined),
      hangModem: (name) => modem(name).modem.hang('manual'),
      unhangModem: (name) => modem(name).modem.unhang(),
      setSignal: (name, rssi) => modem(name).modem.setSignal(rssi),
    },
    ownPids: () => [process.pid, ...pairs.map((p) => p.pid), ...Object.values(modems).map((m) => m.served.socatPid)].filter((pid): pid is number => pid !== undefined),
    async startLinkStandIn(role) {
      const section = resolved[role];
      const path = section !== undefined ? section.link.path : at(far);
      const baudRate = (resolved[role] ?? resolved[role === 'hot' ? 'cold' : 'hot'])?.link.baudRate ?? 115_200;
      const standIn = await startLinkStandIn({ path, role, baudRate, clock, random: random.fork(`stand-in/${role}/${standIns.size}`) });
      standIns.add(standIn);
      const stopStandIn = standIn.stop;
      return {
        ...standIn,
        stop: async () => {
          standIns.delete(standIn);
          await stopStandIn();
        },
      };
    },
    stop,
  };
}

function identityOf(spec: ModemSpec): { imsi?: string; iccid?: string } {
  if (spec.match.by === 'imsi') return { imsi: spec.match.value };
  if (spec.match.by === 'iccid') return { iccid: spec.match.value };
  return {};
}
