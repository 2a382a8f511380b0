/**
 * `hsm modem-sim --pty <path> --msisdn <number> [--profile sim800c]`: serves one emulated GSM
 * modem on a pty, for any AT client (Gammu, minicom, the firmware's driver), attached to a
 * simulated two-carrier network. What the modem sends is delivered: to numbers of other
 * modems served with `--peer <msisdn>=<path>` (on the other carrier, with the same profile
 * unless `--peer-profile` names another), and to any other number as the outside world.
 *
 * The SIMs keep their files (the last message reference) in `--state-dir`, by default
 * $XDG_STATE_HOME/hsm/modem-sim, so a restart goes on where the last run stopped.
 *
 * stdout: one JSON object per line: `ready`, then network events (`submitted`, `delivered`,
 * `status-report`, ...) and replies to control commands. stdin: control commands, one JSON
 * object per line, for the first modem or the one `"modem": "<msisdn>"` names
 * (hw-profiles/sim/gsm/modem-control.ts). SIGINT/SIGTERM remove the ptys.
 * @module
 */
import { existsSync, lstatSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { RealClock } from '../../shared/clock.ts';
import { HsmError } from '../../shared/errors.ts';
import { parsePhoneNumber } from '../../shared/gsm/pdu.ts';
import { SeededRandom } from '../../shared/random.ts';
import { EmulatedModem } from '../../hw-profiles/sim/gsm/emulated-modem.ts';
import { applyControl, type ControlTarget } from '../../hw-profiles/sim/gsm/modem-control.ts';
import { MODEM_PROFILE_NAMES, modemProfile } from '../../hw-profiles/sim/gsm/modem-profiles.ts';
import { serveModemOnPty, type ServedModem } from '../../hw-profiles/sim/gsm/modem-pty.ts';
import { SimulatedGsmNetwork, defaultCarriers, type NetworkEvent, type SimCard } from '../../hw-profiles/sim/gsm/network.ts';
import { SimFileStore } from '../../hw-profiles/sim/gsm/sim-store.ts';
import { parseIntegerOption, run } from './output.ts';

interface ModemSimOptions {
  pty: string;
  msisdn: string;
  profile: string;
  peerProfile?: string;
  carrier: string;
  peer: string[];
  stateDir?: string;
  sendDelay: string;
  seed: string;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function checkPtyPath(path: string, field: string): string {
  const absolute = resolve(path);
  if (!existsSync(dirname(absolute))) throw new HsmError('BAD_OPTION', `--${field}: the directory ${dirname(absolute)} does not exist`, { field });
  let present = false;
  try {
    lstatSync(absolute);
    present = true;
  } catch {
    present = false;
  }
  if (present) throw new HsmError('BAD_OPTION', `--${field}: ${absolute} already exists`, { field });
  return absolute;
}

function line(data: unknown): void {
  process.stdout.write(`${JSON.stringify(data)}\n`);
}

function eventLine(event: NetworkEvent): Record<string, unknown> | undefined {
  switch (event.type) {
    case 'submitted':
      return { event: 'submitted', id: event.submission.id, from: event.submission.from, to: event.submission.to, text: event.submission.text, concat: event.submission.concat ?? null };
    case 'delivered':
      return { event: 'delivered', id: event.delivery.submissionId, from: event.delivery.from, to: event.delivery.to, text: event.delivery.text, external: event.delivery.external, duplicate: event.delivery.duplicate };
    case 'status-report':
      return { event: 'status-report', id: event.submissionId, to: event.to, status: event.status };
    case 'refused':
      return { event: 'refused', from: event.from, to: event.to, cms: event.cms, reason: event.reason };
    case 'lost':
    case 'duplicated':
    case 'expired':
      return { event: event.type, id: event.submissionId, to: event.to };
    case 'carrier':
      return { event: 'carrier', id: event.carrierId, up: event.up };
    default:
      return undefined;
  }
}

/** Where the SIMs keep their files when `--state-dir` is not given. */
function defaultStateDir(): string {
  const base = process.env.XDG_STATE_HOME !== undefined && process.env.XDG_STATE_HOME !== '' ? process.env.XDG_STATE_HOME : join(homedir(), '.local', 'state');
  return join(base, 'hsm', 'modem-sim');
}

async function serve(options: ModemSimOptions): Promise<void> {
  const pty = checkPtyPath(options.pty, 'pty');
  parsePhoneNumber(options.msisdn, 'msisdn');
  const profile = modemProfile(options.profile, 'profile');
  const peerProfile = modemProfile(options.peerProfile ?? options.profile, 'peer-profile');
  if (options.carrier !== 'A' && options.carrier !== 'B') throw new HsmError('BAD_OPTION', '--carrier must be A or B', { field: 'carrier' });
  const sendDelay = parseIntegerOption(options.sendDelay, 'send-delay');
  if (sendDelay > 60_000) throw new HsmError('BAD_OPTION', '--send-delay is at most 60000 ms', { field: 'send-delay' });
  const peers = options.peer.map((spec) => {
    const match = /^(\+?[0-9]{1,20})=(.+)$/.exec(spec);
    if (match === null) throw new HsmError('BAD_OPTION', '--peer takes <msisdn>=<pty path>', { field: 'peer' });
    return { msisdn: match[1] as string, pty: checkPtyPath(match[2] as string, 'peer') };
  });
  const numbers = new Set([options.msisdn, ...peers.map((p) => p.msisdn)]);
  if (numbers.size !== peers.length + 1) throw new HsmError('BAD_OPTION', 'every modem needs its own number', { field: 'peer' });

  const simStore = new SimFileStore(resolve(options.stateDir ?? defaultStateDir()));
  const clock = new RealClock();
  const random = new SeededRandom(options.seed);
  const network = new SimulatedGsmNetwork({ clock, carriers: defaultCarriers(), random: random.fork('network') });
  const otherCarrier = options.carrier === 'A' ? 'B' : 'A';

  /** Every served modem by MSISDN, the first one first: what control lines address. */
  const targets = new Map<string, ControlTarget>();
  const served: ServedModem[] = [];
  const shutdown = async (): Promise<void> => {
    network.stop();
    for (const s of served.splice(0)) await s.close().catch(() => undefined);
  };
  const start = async (sim: SimCard, modem: EmulatedModem, path: string): Promise<void> => {
    modem.setSendDelay(sendDelay);
    const one = await serveModemOnPty(modem, path);
    served.push(one);
    targets.set(sim.msisdn, { modem, network, sim, unplug: () => one.unplug(), replug: () => one.replug() });
  };
  const sim = network.issueSim({ carrierId: options.carrier, msisdn: options.msisdn });
  const modem = new EmulatedModem({ clock, network, sim, profile, random: random.fork('modem'), simStore });
  const peerReady: Array<Record<string, string>> = [];
  try {
    await start(sim, modem, pty);
    for (const peer of peers) {
      const peerSim = network.issueSim({ carrierId: otherCarrier, msisdn: peer.msisdn });
      const peerModem = new EmulatedModem({ clock, network, sim: peerSim, profile: peerProfile, random: random.fork(`peer/${peer.msisdn}`), simStore });
      await start(peerSim, peerModem, peer.pty);
      peerReady.push({ msisdn: peer.msisdn, pty: peer.pty, profile: peerProfile.name, imei: peerModem.imei, imsi: peerSim.imsi });
    }
  } catch (error) {
    await shutdown();
    throw error;
  }
  network.onEvent((event) => {
    const out = eventLine(event);
    if (out !== undefined) line(out);
  });
  // The signal handlers go in before the ready line: whoever reads it may signal at once.
  let input: ReturnType<typeof createInterface> | undefined;
  const stopped = new Promise<void>((resolveStop) => {
    const stop = (): void => {
      input?.close();
      void shutdown().then(() => resolveStop());
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  line({ event: 'ready', pty, msisdn: sim.msisdn, carrier: sim.carrierId, profile: profile.name, imei: modem.imei, imsi: sim.imsi, iccid: sim.iccid, peers: peerReady });

  const targetOf = (msisdn: string | undefined): ControlTarget => {
    const target = targets.get(msisdn ?? sim.msisdn);
    if (target === undefined) throw new HsmError('MODEM_BAD_CONTROL', `no served modem has the number ${msisdn} (there are ${[...targets.keys()].join(', ')})`, { field: 'modem' });
    return target;
  };
  input = createInterface({ input: process.stdin });
  let queue = Promise.resolve();
  input.on('line', (text) => {
    if (text.trim() === '') return;
    queue = queue.then(async () => line(await applyControl(targetOf, text)));
  });

  await stopped;
  line({ event: 'stopped' });
}

export function configureModemSim(command: Command): void {
  command
    .requiredOption('--pty <path>', 'path the AT client opens (created as a symlink to a pty)')
    .requiredOption('--msisdn <number>', "the SIM's phone number, e.g. +4917000000001")
    .option('--profile <name>', `modem quirk profile: ${MODEM_PROFILE_NAMES.join(', ')}`, 'default')
    .option('--peer-profile <name>', 'quirk profile of the --peer modems (default: --profile)')
    .option('--carrier <id>', 'carrier of the SIM: A or B', 'A')
    .option('--peer <msisdn=path>', 'also serve a phone with this number at this path, on the other carrier (repeatable)', collect, [])
    .option('--send-delay <ms>', 'time the network takes to accept an SMS', '1500')
    .option('--seed <text>', 'seed for identities and network faults', 'modem-sim')
    .option('--state-dir <dir>', 'where the SIMs keep their files (message references); default $XDG_STATE_HOME/hsm/modem-sim')
    .action((options: ModemSimOptions) => run({ json: true }, () => serve(options)));
}
