/**
 * The world real SMS clients are tested in: a simulated two-carrier network on the real clock,
 * emulated modems served on socat ptys for the client under test, and emulated phones (no pty)
 * on the other side of each exchange. Every served modem's AT traffic is recorded, and a client
 * run that fails or overruns its time limit fails with the transcript around the failure.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RealClock } from '../../shared/clock.ts';
import { decodePdu, encodeSubmit } from '../../shared/gsm/pdu.ts';
import type { Port } from '../../shared/port.ts';
import { SeededRandom } from '../../shared/random.ts';
import { EmulatedModem } from '../../hw-profiles/sim/gsm/emulated-modem.ts';
import { EmulatedModemDevice } from '../../hw-profiles/sim/gsm/modem-device.ts';
import type { ModemProfileName } from '../../hw-profiles/sim/gsm/modem-profiles.ts';
import { serveModemOnPty, type ServedModem } from '../../hw-profiles/sim/gsm/modem-pty.ts';
import { SimulatedGsmNetwork, defaultCarriers, type SimCard } from '../../hw-profiles/sim/gsm/network.ts';
import { TranscriptRecorder } from '../../hw-profiles/sim/gsm/transcript.ts';

export interface ModemSpec {
  msisdn: string;
  profile: ModemProfileName;
  carrier: 'A' | 'B';
}

/** A modem on a pty, for a client under test. */
export interface ServedPhone {
  msisdn: string;
  profile: ModemProfileName;
  path: string;
  modem: EmulatedModem;
  sim: SimCard;
  served: ServedModem;
  traffic: TranscriptRecorder;
}

/** A text as it arrived: parts joined in sequence order. */
export interface ArrivedText {
  from: string;
  text: string;
  parts: number;
}

export class ConformanceWorld {
  readonly clock = new RealClock();
  readonly network: SimulatedGsmNetwork;
  readonly dir: string;
  private readonly served = new Map<string, ServedPhone>();
  private nextReference = 0;
  private readonly phones = new Map<string, { device: EmulatedModemDevice; port: Port; output: { text: string } }>();

  private constructor(seed: string) {
    // Its own directory, removed by stop(): worlds of concurrent tests must not share a cleanup.
    this.dir = mkdtempSync(join(tmpdir(), 'hsm-conformance-'));
    this.network = new SimulatedGsmNetwork({ clock: this.clock, carriers: defaultCarriers(), random: new SeededRandom(`${seed}/network`) });
    for (const id of this.network.carrierIds) this.network.setFaults(id, { delayMs: [100, 300] });
  }

  /** Serves `modems` on ptys and attaches `phones` (numbers the clients send to and receive from). */
  static async start(options: { seed: string; modems: readonly ModemSpec[]; phones?: readonly ModemSpec[]; sendDelayMs?: number }): Promise<ConformanceWorld> {
    const world = new ConformanceWorld(options.seed);
    try {
      for (const spec of options.phones ?? []) world.addPhone(spec, options.seed);
      await Promise.all(options.modems.map((spec) => world.serve(spec, options.seed, options.sendDelayMs ?? 300)));
    } catch (error) {
      await world.stop();
      throw error;
    }
    return world;
  }

  private async serve(spec: ModemSpec, seed: string, sendDelayMs: number): Promise<void> {
    const sim = this.network.issueSim({ carrierId: spec.carrier, msisdn: spec.msisdn });
    const modem = new EmulatedModem({ clock: this.clock, network: this.network, sim, profile: spec.profile, random: new SeededRandom(`${seed}/${spec.msisdn}`) });
    modem.setSendDelay(sendDelayMs);
    const traffic = new TranscriptRecorder([`${spec.profile} modem ${spec.msisdn}, recorded from the emulator`]);
    modem.onTraffic((direction, bytes) => traffic.traffic(direction, bytes));
    const path = join(this.dir, `tty-${spec.msisdn.replace('+', '')}`);
    const served = await serveModemOnPty(modem, path);
    this.served.set(spec.msisdn, { msisdn: spec.msisdn, profile: spec.profile, path, modem, sim, served, traffic });
  }

  private addPhone(spec: ModemSpec, seed: string): void {
    const sim = this.network.issueSim({ carrierId: spec.carrier, msisdn: spec.msisdn });
    const device = new EmulatedModemDevice({ clock: this.clock, network: this.network, sim, profile: spec.profile, random: new SeededRandom(`${seed}/phone/${spec.msisdn}`), name: `phone-${spec.msisdn}` });
    device.modem.setSendDelay(100);
    const port = device.openHostPort();
    const output = { text: '' };
    port.onData((chunk) => (output.text += Buffer.from(chunk).toString('latin1')));
    this.phones.set(spec.msisdn, { device, port, output });
  }

  /** A phone sends `text` to `to` as a handset does: one `AT+CMGS` per part, in PDU mode. */
  async phoneSends(msisdn: string, to: string, text: string): Promise<void> {
    const phone = this.phones.get(msisdn);
    if (phone === undefined) throw new Error(`no phone ${msisdn}`);
    this.nextReference = (this.nextReference + 1) % 256;
    const parts = encodeSubmit({ to, text, concatReference: this.nextReference });
    for (const part of parts) {
      phone.output.text = '';
      phone.port.write(Buffer.from(`AT+CMGS=${part.tpduLength}\r${part.hex}\x1a`, 'latin1'));
      await this.until(`${msisdn} sends a part to ${to}`, () => /\+CMGS: \d+\r\n\r\nOK\r\n$/.test(phone.output.text), 20_000);
    }
  }

  modem(msisdn: string): ServedPhone {
    const found = this.served.get(msisdn);
    if (found === undefined) throw new Error(`no served modem ${msisdn}`);
    return found;
  }

  /** A directory of its own for one client's files. */
  subdir(name: string): string {
    const dir = join(this.dir, name);
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  /** The texts a phone (or a served modem) holds, multipart messages joined, in arrival order. */
  arrived(msisdn: string): ArrivedText[] {
    const modem = this.phones.get(msisdn)?.device.modem ?? this.served.get(msisdn)?.modem;
    if (modem === undefined) throw new Error(`no phone ${msisdn}`);
    const joined = new Map<string, { from: string; parts: Map<number, string>; total: number }>();
    const order: string[] = [];
    for (const stored of modem.messages()) {
      const pdu = decodePdu(stored.pdu);
      if (pdu.type !== 'deliver') continue;
      const concat = pdu.userData.concat;
      const key = concat === undefined ? `single/${stored.index}` : `${pdu.originator.number}/${concat.reference}`;
      let entry = joined.get(key);
      if (entry === undefined) {
        entry = { from: pdu.originator.number, parts: new Map(), total: concat?.total ?? 1 };
        joined.set(key, entry);
        order.push(key);
      }
      entry.parts.set(concat?.sequence ?? 1, pdu.userData.text);
    }
    return order.map((key) => {
      const entry = joined.get(key) as { from: string; parts: Map<number, string>; total: number };
      const text = [...entry.parts.entries()].sort(([a], [b]) => a - b).map(([, part]) => part).join('');
      return { from: entry.from, text, parts: entry.parts.size };
    });
  }

  /** Waits (real time) until `condition` holds. */
  async until(what: string, condition: () => boolean, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** The last `lines` lines of a served modem's AT traffic. */
  transcript(msisdn: string, lines = 60): string {
    const all = this.modem(msisdn).traffic.toString().trimEnd().split('\n');
    return all.slice(-lines).join('\n');
  }

  /**
   * Runs one client step within `timeoutMs`. A failure or an overrun fails with the step's name,
   * what `context` adds (a client's log) and the AT transcript of the modems it used; an overrun
   * also aborts `signal`, which ends the client's process.
   */
  async step<T>(what: string, modems: readonly string[], timeoutMs: number, run: (signal: AbortSignal) => Promise<T>, context?: () => string): Promise<T> {
    const abort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const overrun = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        abort.abort();
        reject(new Error(`did not finish within ${timeoutMs} ms (the client hung)`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([run(abort.signal), overrun]);
    } catch (error) {
      abort.abort();
      const transcripts = modems.map((m) => `--- AT transcript of ${m} (last lines) ---\n${this.transcript(m)}`).join('\n');
      const extra = context === undefined ? '' : `${context()}\n`;
      throw new Error(`${what}: ${error instanceof Error ? error.message : String(error)}\n${extra}${transcripts}`, { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }

  async stop(): Promise<void> {
    this.network.stop();
    for (const phone of this.phones.values()) phone.device.unplug();
    for (const phone of this.served.values()) await phone.served.close().catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
