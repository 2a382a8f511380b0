/**
 * An emulated GSM modem: speaks the AT command set on a byte `Port` as a real module does, and
 * attaches to a `SimulatedGsmNetwork` with its SIM.
 *
 * Input is assembled byte by byte (Gammu writes one byte per millisecond before it knows the
 * model), echoed when echo is on, and a line runs when CR arrives (V.250 §5.2). Commands on one
 * line (`AT+CMEE=1;+CREG=2`, `ATE0V1`) run in order and stop at the first error. While a command
 * runs (latency, send delay) input waits in a queue, so a PDU written before the `> ` prompt is
 * printed is not lost (serialport-gsm does that). After the prompt, Ctrl-Z sends and ESC aborts
 * (27.005 §3.5.1). URCs wait while a command runs or the prompt is open.
 *
 * The control API (inject SMS and status reports, registration and signal changes, SIM removal,
 * full storage, forced errors, latency, send delays, hangs) is how tests and the rig drive it;
 * every argument is checked and a bad one is an `HsmError` that changes nothing.
 * @module
 */
import type { Clock, TimerHandle } from '../../../shared/clock.ts';
import { HsmError } from '../../../shared/errors.ts';
import { CMS, CR, CTRL_Z, ESC, LF, REG_STAT, SMS_STAT, type SmsStat } from '../../../shared/gsm/at-codes.ts';
import { splitParams } from '../../../shared/gsm/at-parser.ts';
import {
  MAX_PDU_HEX,
  decodePdu,
  encodeDeliver,
  encodeStatusReport,
  hexToBytes,
  parsePhoneNumber,
  type DecodedPdu,
  type DecodedSubmit,
  type EncodedPdu,
} from '../../../shared/gsm/pdu.ts';
import type { Port } from '../../../shared/port.ts';
import { SeededRandom } from '../../../shared/random.ts';
import type { CommandCall, CommandError, CommandOutcome, ModemContext, ModemNv, ModemSettings, PromptSpec, SimState } from './command-kit.ts';
import { cmeText, cmsText } from './error-texts.ts';
import { COMMANDS, VENDOR_COMMANDS, cusdLine } from './modem-commands.ts';
import { modemProfile, type ModemProfile, type ModemProfileName } from './modem-profiles.ts';
import { luhnDigit, type DeliveryOutcome, type NetworkEndpoint, type SimCard, type SimulatedGsmNetwork, type UssdAnswer } from './network.ts';
import { textView } from './sms-commands.ts';
import { SmsStorage } from './sms-storage.ts';
import { cdsLine, cmtLines, typedDeliver, typedSubmit } from './text-mode.ts';

export type HangRecovery = 'power-cycle' | 'port-reopen' | 'manual';

/**
 * Where the SIM keeps what outlives the modem: EF_SMSS, the last TP-MR it handed out
 * (3GPP TS 31.102 §4.2.9), by IMSI.
 */
export interface SimStore {
  lastMessageReference(imsi: string): number | undefined;
  saveMessageReference(imsi: string, messageReference: number): void;
}

export interface EmulatedModemOptions {
  clock: Clock;
  profile?: ModemProfileName | ModemProfile;
  network?: SimulatedGsmNetwork;
  sim?: SimCard;
  /** 15 digits; default: the profile's TAC and digits drawn from `random`. */
  imei?: string;
  random?: SeededRandom;
  /** Keeps the SIM's message reference across modem instances (a new process, a swapped modem). */
  simStore?: SimStore;
}

export interface InjectSmsOptions {
  from: string;
  text: string;
  alphabet?: 'auto' | 'gsm7' | 'ucs2';
  referenceBits?: 8 | 16;
  concatReference?: number;
  /**
   * Which parts to deliver, in which order, as 1-based part numbers (a subset leaves the rest
   * undelivered), or `reverse`; default all in order.
   */
  order?: readonly number[] | 'reverse';
  /** SCTS (Unix ms); default: network time. */
  timestamp?: number;
}

export interface InjectStatusReportOptions {
  messageReference: number;
  recipient: string;
  /** TP-ST; default 0 (delivered). */
  status?: number;
  timestamp?: number;
  discharge?: number;
}

/** A submission the modem accepted (with or without a network behind it). */
export interface SentRecord {
  messageReference: number;
  pdu: string;
  submit: DecodedSubmit;
  at: number;
}

export interface ForcedError {
  /** Command name as in the table (`+CMGS`, `+CMGL`, `E`...). */
  command: string;
  error: { cms: number } | { cme: number } | 'error';
  /** How many times it fires; default 1. */
  times?: number;
}

type Mode = 'command' | 'prompt';

const MAX_INPUT_QUEUE = 65_536;
/** SIMCom `AT+CSCLK=2`: the module sleeps after this long without input. */
const SLEEP_AFTER_MS = 5_000;
/** Time the network takes to answer a USSD request. */
const USSD_ANSWER_MS = 1_500;
/** The settings `AT&W` saves and `ATZ` and power-on restore. */
const SAVED_SETTINGS = ['echo', 'verbose', 'quiet', 'cmee', 'csclk', 'clts'] as const;
const MAX_COMMAND_LINE = 2048;
const MAX_PROMPT_TEXT = 1024;

function controlError(message: string, field: string): HsmError {
  return new HsmError('MODEM_BAD_ARGUMENT', message, { field });
}

function checkMs(value: number, field: string, max = 600_000): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > max) {
    throw controlError(`${field} must be a number of ms in 0-${max}`, field);
  }
}

function defaultSettings(smsc: string, profile: ModemProfile): ModemSettings {
  const first = Object.keys(profile.memories)[0] ?? 'SM';
  return {
    echo: true,
    verbose: true,
    quiet: false,
    cmee: 0,
    cmgf: 0,
    cscs: profile.charsets[0] ?? 'IRA',
    csdh: 0,
    csmp: { fo: 17, vp: 167, pid: 0, dcs: 0 },
    cnmi: { mode: 2, mt: 1, bm: 0, ds: 0, bfr: 0 },
    creg: 0,
    cgreg: 0,
    copsFormat: 0,
    cfun: 1,
    csca: smsc,
    mem: [first, first, first],
    signalReports: profile.signalUrc?.onAtBoot ?? false,
    smsReports: true,
    memoryFullReports: profile.memoryFullUrc?.onAtBoot ?? false,
    ringReports: true,
    actReports: false,
    crc: 0,
    clip: 0,
    cmms: 0,
    cusd: 0,
    phonebook: 'SM',
    urcPort: profile.atPort,
    csclk: 0,
    clts: 0,
  };
}

export class EmulatedModem implements ModemContext {
  readonly profile: ModemProfile;
  readonly imei: string;
  readonly clock: Clock;
  private readonly network: SimulatedGsmNetwork | undefined;
  private readonly random: SeededRandom;
  private readonly storages = new Map<string, SmsStorage>();
  private readonly simStore: SimStore | undefined;
  private simCard: SimCard | undefined;
  private hostPresence: (() => boolean) | undefined;

  // Per power cycle
  settings: ModemSettings;
  private port: Port | undefined;
  private unsubscribe: Array<() => void> = [];
  private powered = false;
  private epoch = 0;
  private timers = new Set<TimerHandle>();
  private mode: Mode = 'command';
  private busy = false;
  private input: number[] = [];
  private line = '';
  private lineOverflow = false;
  private promptText = '';
  private prompt: PromptSpec | undefined;
  private urcQueue: string[][] = [];
  private bootDone = false;
  private simStatus: SimState = 'absent';
  private detachNetwork: (() => void) | undefined;
  private lastRegStat = -1;
  private clockOffsetMs = 0;
  private clockZone: number | undefined;
  private lastIncomingIndex: number | undefined;
  private promptOverflow = false;
  /** SIMCom `+CSCLK=2`: asleep; the next input byte wakes the module and is lost. */
  private asleep = false;
  private sleepTimer: TimerHandle | undefined;

  // Survive power cycles
  readonly nv: ModemNv = { saved: {}, callReadyUrc: true };
  private pinAttemptsLeft = 3;
  private nextMr = 0;
  private rssi = 21;
  private ber = 0;
  private forcedReg: number | undefined;
  private latencyMs = 0;
  private readonly commandLatency = new Map<string, number>();
  private sendDelay: readonly [number, number] = [1_500, 1_500];
  private readonly forcedErrors: Array<{ command: string; error: CommandError; remaining: number }> = [];
  private hung: HangRecovery | undefined;
  private interleave = false;
  private readonly counts = new Map<string, number>();
  private readonly sentLog: SentRecord[] = [];
  private readonly trafficListeners = new Set<(direction: 'in' | 'out', bytes: Uint8Array) => void>();

  constructor(options: EmulatedModemOptions) {
    this.clock = options.clock;
    this.profile = typeof options.profile === 'object' ? options.profile : modemProfile(options.profile ?? 'default');
    this.network = options.network;
    this.random = options.random ?? new SeededRandom(`modem/${options.sim?.msisdn ?? 'none'}`);
    this.simCard = options.sim;
    this.simStore = options.simStore;
    this.nextMr = this.storedNextMr();
    if (options.imei !== undefined && !/^[0-9]{15}$/.test(options.imei)) throw controlError('an IMEI is 15 digits', 'imei');
    const body = `${this.profile.tac}${String(this.random.fork('imei').int(10 ** 6)).padStart(6, '0')}`;
    this.imei = options.imei ?? `${body}${luhnDigit(body)}`;
    for (const [name, capacity] of Object.entries(this.profile.memories)) {
      this.storages.set(name, new SmsStorage(name, capacity, this.profile.storageIndexBase));
    }
    this.settings = defaultSettings(this.smscOfSim(), this.profile);
  }

  // -------------------------------------------------------------------------------------------
  // Power and wiring

  /** Powers the modem on behind `port` (USB plugged in, or the serial line connected). */
  connect(port: Port): void {
    if (this.powered) this.powerOff();
    this.port = port;
    this.unsubscribe = [
      port.onData((chunk) => this.receive(chunk)),
      port.onClose(() => {
        if (this.port === port) this.powerOff();
      }),
    ];
    this.powerOn();
  }

  /** Power lost (unplugged): everything in flight is gone, settings return to defaults. */
  disconnect(): void {
    this.powerOff();
  }

  get isPowered(): boolean {
    return this.powered;
  }

  /** The host closed and reopened its end of the line (clears a `port-reopen` hang). */
  hostPortReopened(): void {
    if (this.hung === 'port-reopen') this.hung = undefined;
    this.input = [];
    this.line = '';
  }

  private powerOn(): void {
    this.epoch++;
    this.powered = true;
    if (this.hung === 'power-cycle') this.hung = undefined;
    this.resetVolatile();
    const epoch = this.epoch;
    const boot = (): void => {
      if (epoch !== this.epoch) return;
      this.bootDone = true;
      for (const urc of this.profile.bootUrcs) {
        if (urc === 'Call Ready' && !this.nv.callReadyUrc) continue; // SIMCom +CIURC=0
        this.urc([urc.startsWith('+CPIN:') ? this.cpinUrc() : urc]);
      }
      this.updateRegistration();
      this.startPeriodicUrcs();
    };
    if (this.profile.bootDelayMs === 0) boot();
    else this.timer(this.profile.bootDelayMs, boot);
  }

  private powerOff(): void {
    if (!this.powered) return;
    this.powered = false;
    this.epoch++;
    for (const handle of this.timers) this.clock.clearTimeout(handle);
    this.timers.clear();
    for (const off of this.unsubscribe.splice(0)) off();
    this.port = undefined;
    this.bootDone = false;
    this.updateRegistration();
  }

  private resetVolatile(): void {
    this.settings = { ...defaultSettings(this.smscOfSim(), this.profile), ...this.nv.saved };
    this.asleep = false;
    this.sleepTimer = undefined;
    this.mode = 'command';
    this.busy = false;
    this.input = [];
    this.line = '';
    this.lineOverflow = false;
    this.promptText = '';
    this.prompt = undefined;
    this.urcQueue = [];
    this.bootDone = false;
    this.simStatus = this.simCard === undefined ? 'absent' : this.pinAttemptsLeft === 0 ? 'puk' : this.simCard.pin !== undefined ? 'pin' : 'ready';
    this.lastRegStat = -1;
    this.clockOffsetMs = 0;
    this.clockZone = undefined;
  }

  private reboot(): void {
    const port = this.port;
    this.powerOff();
    if (port !== undefined && port.isOpen) this.connect(port);
  }

  /** The TP-MR after the one the SIM handed out last. */
  private storedNextMr(): number {
    const last = this.simCard === undefined ? undefined : this.simStore?.lastMessageReference(this.simCard.imsi);
    return last === undefined ? 0 : (last + 1) % 256;
  }

  private smscOfSim(): string {
    if (this.simCard === undefined || this.network === undefined) return '';
    return this.network.carrier(this.simCard.carrierId).smsc;
  }

  // -------------------------------------------------------------------------------------------
  // ModemContext (what command handlers see)

  get sim(): SimCard | undefined {
    return this.simCard;
  }

  get simState(): SimState {
    return this.simStatus;
  }

  get booted(): boolean {
    return this.bootDone;
  }

  enterPin(pin: string): 'ok' | 'wrong' | 'blocked' {
    if (this.simCard?.pin === undefined || pin === this.simCard.pin) {
      this.pinAttemptsLeft = 3;
      this.simStatus = 'ready';
      this.timer(0, () => this.updateRegistration());
      return 'ok';
    }
    this.pinAttemptsLeft--;
    if (this.pinAttemptsLeft <= 0) {
      this.simStatus = 'puk';
      return 'blocked';
    }
    return 'wrong';
  }

  registration(): { stat: number; lac: string; ci: string } {
    const location = { lac: '00C3', ci: '1A2B' };
    if (this.forcedReg !== undefined) return { stat: this.forcedReg, ...location };
    if (!this.powered || !this.bootDone || this.settings.cfun !== 1 || this.simStatus !== 'ready') return { stat: REG_STAT.notRegistered, ...location };
    if (this.network === undefined || this.simCard === undefined) return { stat: REG_STAT.home, ...location };
    return { stat: this.network.inService(this.simCard.msisdn) ? REG_STAT.home : REG_STAT.searching, ...location };
  }

  signal(): { rssi: number; ber: number } {
    if (this.settings.cfun !== 1) return { rssi: 99, ber: 99 };
    return { rssi: this.rssi, ber: this.ber };
  }

  operator(): { name: string; mccMnc: string } | undefined {
    if (this.network === undefined || this.simCard === undefined) return undefined;
    const carrier = this.network.carrier(this.simCard.carrierId);
    return { name: carrier.name, mccMnc: carrier.mccMnc };
  }

  storage(memory: string): SmsStorage | undefined {
    return this.storages.get(memory);
  }

  networkClock(): { at: number; timeZoneMinutes: number } {
    const base = this.network?.now() ?? this.clock.now();
    return { at: base + this.clockOffsetMs, timeZoneMinutes: this.clockZone ?? this.network?.timeZoneMinutes ?? 0 };
  }

  setClock(at: number, timeZoneMinutes: number): void {
    this.clockOffsetMs = at - (this.network?.now() ?? this.clock.now());
    this.clockZone = timeZoneMinutes;
  }

  setFunctionality(fun: number, reset: boolean): () => void {
    return () => {
      if (reset) {
        this.reboot();
        return;
      }
      this.settings.cfun = fun;
      this.updateRegistration();
    };
  }

  factoryReset(): void {
    const echo = this.settings.echo;
    this.settings = defaultSettings(this.smscOfSim(), this.profile);
    this.settings.echo = echo;
  }

  restoreProfile(): void {
    const echo = this.settings.echo;
    this.settings = { ...defaultSettings(this.smscOfSim(), this.profile), ...this.nv.saved };
    this.settings.echo = this.nv.saved.echo ?? echo;
  }

  saveProfile(): void {
    for (const key of SAVED_SETTINGS) (this.nv.saved as Record<string, unknown>)[key] = this.settings[key];
  }

  requestUssd(request: string): void {
    const sim = this.simCard;
    this.timer(USSD_ANSWER_MS, () => {
      const answer: UssdAnswer = this.network === undefined || sim === undefined ? { status: 4 } : this.network.ussd(sim.msisdn, request);
      if (this.settings.cusd === 1) this.urc([cusdLine(this, answer.status, answer.text)]);
    });
  }

  /** Tells the modem how to learn whether a program holds its host end (a pty); URCs nobody can read are lost, as from a UART. */
  setHostPresence(present: (() => boolean) | undefined): void {
    this.hostPresence = present;
  }

  // -------------------------------------------------------------------------------------------
  // Input

  private receive(chunk: Uint8Array): void {
    this.emitTraffic('in', chunk);
    if (this.hung !== undefined || !this.powered) return;
    let bytes: Iterable<number> = chunk;
    if (this.asleep) {
      this.asleep = false; // woken by serial data; the waking byte is lost (SIMCom +CSCLK=2)
      bytes = chunk.subarray(1);
    }
    for (const byte of bytes) {
      if (this.input.length < MAX_INPUT_QUEUE) this.input.push(byte);
    }
    this.armSleep();
    this.pump();
  }

  /** `+CSCLK=2`: sleep once the line has been quiet for SLEEP_AFTER_MS and nothing is pending. */
  private armSleep(): void {
    if (this.sleepTimer !== undefined) {
      this.clock.clearTimeout(this.sleepTimer);
      this.timers.delete(this.sleepTimer);
      this.sleepTimer = undefined;
    }
    if (this.settings.csclk !== 2) return;
    this.sleepTimer = this.timer(SLEEP_AFTER_MS, () => {
      this.sleepTimer = undefined;
      if (this.settings.csclk !== 2) return;
      if (this.busy || this.mode !== 'command' || this.input.length > 0 || this.line !== '') this.armSleep();
      else this.asleep = true;
    });
  }

  private pump(): void {
    while (this.powered && !this.busy && this.input.length > 0 && this.hung === undefined) {
      const byte = this.input.shift() as number;
      if (this.mode === 'prompt') this.promptByte(byte);
      else this.commandByte(byte);
    }
    if (this.powered && !this.busy && this.mode === 'command' && this.line === '') this.flushUrcs();
  }

  private commandByte(byte: number): void {
    if (byte === LF) return;
    if (byte === ESC || byte === CTRL_Z) {
      this.line = '';
      this.lineOverflow = false;
      return;
    }
    if (this.settings.echo) this.write(Uint8Array.of(byte));
    if (byte === CR) {
      const line = this.line;
      const overflow = this.lineOverflow;
      this.line = '';
      this.lineOverflow = false;
      if (overflow) this.finish([], 'error');
      else this.executeLine(line);
      return;
    }
    if (byte === 0x08) {
      this.line = this.line.slice(0, -1);
      return;
    }
    if (this.line.length >= MAX_COMMAND_LINE) this.lineOverflow = true;
    else this.line += String.fromCharCode(byte);
  }

  private promptByte(byte: number): void {
    const spec = this.prompt as PromptSpec;
    if (byte === CTRL_Z) {
      this.mode = 'command';
      this.prompt = undefined;
      const text = this.promptText;
      const overflow = this.promptOverflow;
      this.promptText = '';
      this.promptOverflow = false;
      if (overflow) this.finish([], { cms: spec.kind === 'send-text' ? CMS.invalidTextParameter : CMS.invalidPduParameter });
      else this.completePrompt(spec, text);
      return;
    }
    if (byte === ESC) {
      this.mode = 'command';
      this.prompt = undefined;
      this.promptText = '';
      this.finish([], 'ok');
      return;
    }
    if (this.settings.echo && byte !== LF) this.write(Uint8Array.of(byte));
    if (byte === CR || byte === LF) {
      if (spec.kind === 'send-text' && byte === CR) {
        this.promptText += '\n';
        this.writePrompt();
      }
      return;
    }
    if (this.promptText.length < MAX_PROMPT_TEXT) this.promptText += String.fromCharCode(byte);
    else this.promptOverflow = true;
  }

  // -------------------------------------------------------------------------------------------
  // Command lines

  private executeLine(raw: string): void {
    const upper = raw.toUpperCase();
    const start = upper.indexOf('AT');
    if (start === -1) return; // V.250 §5.2.1: characters before "AT" are ignored
    const calls = parseCommandLine(raw.slice(start + 2));
    if (calls === undefined) {
      this.finish([], 'error');
      return;
    }
    if (calls.length === 0) {
      this.count('AT');
      this.finishAfter(this.latencyFor(['AT']), [], 'ok');
      return;
    }
    /** Information text of each command: its lines go out as one block (27.005 §3.4.2). */
    const lines: string[][] = [];
    let outcome: CommandOutcome | undefined;
    const afters: Array<() => void> = [];
    for (let i = 0; i < calls.length; i++) {
      const call = calls[i] as CommandCall;
      this.count(call.name);
      const forced = call.name === '+CMGS' || call.name === '+CMSS' ? undefined : this.takeForcedError(call.name);
      outcome = forced !== undefined ? { lines: [], error: forced } : this.dispatch(call);
      if (outcome.lines.length > 0) lines.push(outcome.lines);
      if (outcome.error !== undefined) break;
      if (outcome.after !== undefined) afters.push(outcome.after);
      if ((outcome.prompt !== undefined || outcome.send !== undefined) && i !== calls.length - 1) {
        outcome = { lines: [], error: 'error' };
        break;
      }
    }
    const latency = this.latencyFor(calls.map((c) => c.name));
    const final = outcome as CommandOutcome;
    this.busy = true;
    this.afterDelay(latency, () => {
      if (final.error !== undefined) {
        this.finish(lines, final.error);
      } else if (final.prompt !== undefined) {
        this.writeLines(lines);
        this.openPrompt(final.prompt);
      } else if (final.send !== undefined) {
        this.writeLines(lines);
        this.sendStored(final.send.memory, final.send.index);
      } else if (this.profile.cpinWithoutOk && calls.length === 1 && calls[0]?.name === '+CPIN' && calls[0].form === 'read') {
        this.writeLines(lines);
        this.idle();
      } else {
        this.finish(lines, 'ok');
      }
      for (const after of afters) after();
    });
  }

  private dispatch(call: CommandCall): CommandOutcome {
    const handler = COMMANDS[call.name] ?? (this.profile.vendorCommands.includes(call.name) ? VENDOR_COMMANDS[call.name] : undefined);
    if (handler === undefined) return { lines: [], error: 'unknown' };
    return handler(this, call);
  }

  private latencyFor(names: readonly string[]): number {
    return names.reduce((sum, name) => sum + (this.commandLatency.get(name) ?? this.latencyMs), 0);
  }

  private afterDelay(ms: number, fn: () => void): void {
    if (ms <= 0) fn();
    else this.timer(ms, fn);
  }

  private finishAfter(ms: number, lines: string[][], result: 'ok' | CommandError): void {
    this.busy = true;
    this.afterDelay(ms, () => this.finish(lines, result));
  }

  /** Writes the information lines and the final result code, then takes the next input. */
  private finish(lines: ReadonlyArray<readonly string[]>, result: 'ok' | CommandError): void {
    this.writeLines(lines);
    this.writeFinal(result);
    this.idle();
  }

  private idle(): void {
    this.busy = false;
    this.armSleep();
    this.pump();
  }

  /** Each block is `\r\n<line>\r\n<line>...\r\n` (V.250 §5.7.1 verbose framing). */
  private writeLines(blocks: ReadonlyArray<readonly string[]>): void {
    for (const block of blocks) {
      const text = block.join('\r\n');
      this.write(this.settings.verbose ? `\r\n${text}\r\n` : `${text}\r\n`);
      if (this.interleave) this.flushUrcs();
    }
  }

  private writeFinal(result: 'ok' | CommandError): void {
    if (this.settings.quiet) return;
    const text = this.finalText(result);
    if (!this.settings.verbose) {
      const numeric = result === 'ok' ? '0' : text === 'ERROR' ? '4' : text;
      this.write(`${numeric}\r`);
      return;
    }
    this.write(`\r\n${text}\r\n`);
  }

  private finalText(result: 'ok' | CommandError): string {
    if (result === 'ok') return 'OK';
    if (result === 'error') return 'ERROR';
    if (result === 'unknown') return this.profile.unknownCommand;
    if (this.settings.cmee === 0) return 'ERROR';
    if ('cme' in result) return `+CME ERROR: ${this.settings.cmee === 2 ? cmeText(result.cme) : result.cme}`;
    return `+CMS ERROR: ${this.settings.cmee === 2 ? cmsText(result.cms) : result.cms}`;
  }

  // -------------------------------------------------------------------------------------------
  // The SMS prompt and sending (27.005 §3.5.1)

  private openPrompt(spec: PromptSpec): void {
    this.mode = 'prompt';
    this.prompt = spec;
    this.promptText = '';
    this.writePrompt();
    this.idle();
  }

  private writePrompt(): void {
    this.write(this.profile.prompt === 'space' ? '\r\n> ' : '\r\n>\r\n');
  }

  private completePrompt(spec: PromptSpec, text: string): void {
    this.busy = true;
    if (spec.kind === 'send-text' || spec.kind === 'write-text') {
      const view = textView(this);
      const stored = spec.kind === 'write-text' && (spec.stat === SMS_STAT.recUnread || spec.stat === SMS_STAT.recRead);
      const clock = this.networkClock();
      const to = spec.kind === 'send-text' ? spec.to : spec.address;
      const pdu = stored ? typedDeliver(to, text, view, clock.at, clock.timeZoneMinutes) : typedSubmit(to, text, view);
      if (typeof pdu === 'number') this.finish([], { cms: pdu });
      else if (spec.kind === 'write-text') this.storeWritten(pdu.hex, pdu.tpduLength, spec.stat);
      else this.send(pdu.hex, decodePdu(pdu.hex) as DecodedSubmit, '+CMGS');
      return;
    }
    const checked = this.checkPdu(text.trim(), spec.length, spec.kind === 'write-pdu' && spec.stat <= SMS_STAT.recRead ? 'deliver' : 'submit');
    if (typeof checked === 'number') this.finish([], { cms: checked });
    else if (spec.kind === 'write-pdu') this.storeWritten(checked.hex, checked.tpduLength, spec.stat);
    else this.send(checked.hex, checked.decoded as DecodedSubmit, '+CMGS');
  }

  /** `AT+CMGW`: stores in the write memory, `+CMGW: <index>`. */
  private storeWritten(hex: string, tpduLength: number, stat: SmsStat): void {
    const storage = this.storages.get(this.settings.mem[1]) as SmsStorage;
    const index = storage.store(hex, tpduLength, stat);
    if (index === undefined) this.finish([], { cms: CMS.memoryFull });
    else this.finish([[`+CMGW: ${index}`]], 'ok');
  }

  /**
   * `<length>` must count the TPDU octets (SCA excluded) and the PDU must be of the expected
   * type. Octets after the user data are refused, or dropped on modules that send such PDUs
   * (the profile's `trailingOctets`).
   */
  private checkPdu(hex: string, length: number, type: 'submit' | 'deliver'): { hex: string; tpduLength: number; decoded: DecodedPdu } | number {
    if (hex.length === 0 || hex.length > MAX_PDU_HEX) return CMS.invalidPduParameter;
    let bytes: Uint8Array;
    try {
      bytes = hexToBytes(hex);
    } catch {
      return CMS.invalidPduParameter;
    }
    const sca = bytes[0] as number;
    if (bytes.length - 1 - sca !== length) return CMS.invalidPduParameter;
    let candidate = hex.toUpperCase();
    for (;;) {
      try {
        const decoded = decodePdu(candidate);
        if (decoded.type !== type) return CMS.invalidPduParameter;
        return { hex: candidate, tpduLength: candidate.length / 2 - 1 - sca, decoded };
      } catch (error) {
        const trailing = error instanceof HsmError && error.code === 'PDU_TRAILING_DATA';
        if (!trailing || this.profile.trailingOctets !== 'ignore') return CMS.invalidPduParameter;
        candidate = candidate.slice(0, -2);
      }
    }
  }

  private sendStored(memory: string, index: number): void {
    const storage = this.storages.get(memory) as SmsStorage;
    const message = storage.peek(index);
    const decoded = message === undefined ? undefined : decodePdu(message.pdu);
    if (message === undefined || decoded?.type !== 'submit') {
      this.finish([], { cms: CMS.invalidMemoryIndex });
      return;
    }
    this.send(message.pdu, decoded, '+CMSS', () => {
      const stored = storage.peek(index);
      if (stored !== undefined) {
        storage.delete(index);
        storage.store(stored.pdu, stored.tpduLength, SMS_STAT.stoSent);
      }
    });
  }

  /** Hands the SMS-SUBMIT to the network after the send delay; `+CMGS: <mr>` on success. */
  private send(hex: string, submit: DecodedSubmit, command: '+CMGS' | '+CMSS', onSent?: () => void): void {
    const forced = this.takeForcedError(command);
    const delay = this.drawSendDelay();
    this.afterDelay(delay, () => {
      if (forced !== undefined) {
        this.finish([], forced);
        return;
      }
      if (submit.smsc === undefined && this.settings.csca === '') {
        this.finish([], { cms: CMS.smscAddressUnknown });
        return;
      }
      const reg = this.registration().stat;
      if (reg !== REG_STAT.home && reg !== REG_STAT.roaming) {
        this.finish([], { cms: CMS.noNetworkService });
        return;
      }
      const mr = this.nextMr;
      if (this.network !== undefined && this.simCard !== undefined) {
        const result = this.network.submit(this.simCard.msisdn, mr, submit);
        if (!result.ok) {
          this.finish([], { cms: result.cms });
          return;
        }
      }
      this.nextMr = (this.nextMr + 1) % 256;
      if (this.simCard !== undefined) this.simStore?.saveMessageReference(this.simCard.imsi, mr);
      this.sentLog.push({ messageReference: mr, pdu: hex, submit, at: this.clock.now() });
      onSent?.();
      this.finish([[`${command}: ${mr}`]], 'ok');
    });
  }

  private drawSendDelay(): number {
    const [min, max] = this.sendDelay;
    return min + this.random.float() * (max - min);
  }

  // -------------------------------------------------------------------------------------------
  // Network side

  private networkEndpoint(sim: SimCard): NetworkEndpoint {
    return {
      msisdn: sim.msisdn,
      deliverSms: (pdu) => this.receiveSms(pdu),
      deliverStatusReport: (pdu) => this.receiveStatusReport(pdu),
      serviceChanged: () => this.updateRegistration(),
    };
  }

  private wantsService(): boolean {
    return this.powered && this.bootDone && this.settings.cfun === 1 && this.simStatus === 'ready' && this.forcedReg === undefined;
  }

  private updateRegistration(): void {
    if (this.network !== undefined && this.simCard !== undefined) {
      const wants = this.wantsService();
      if (wants && this.detachNetwork === undefined) {
        try {
          this.detachNetwork = this.network.attach(this.networkEndpoint(this.simCard), this.simCard.carrierId);
        } catch {
          this.detachNetwork = undefined;
        }
      } else if (!wants && this.detachNetwork !== undefined) {
        this.detachNetwork();
        this.detachNetwork = undefined;
      }
    }
    if (!this.powered) return;
    const reg = this.registration();
    if (reg.stat === this.lastRegStat) return;
    this.lastRegStat = reg.stat;
    const located = reg.stat === REG_STAT.home || reg.stat === REG_STAT.roaming;
    if (this.settings.creg > 0) this.urc([`+CREG: ${reg.stat}${this.settings.creg === 2 && located ? `,"${reg.lac}","${reg.ci}"` : ''}`]);
    if (this.settings.cgreg > 0) this.urc([`+CGREG: ${reg.stat}${this.settings.cgreg === 2 && located ? `,"${reg.lac}","${reg.ci}"` : ''}`]);
    if (located && this.settings.clts === 1) this.reportNetworkTime();
  }

  /** SIMCom `+CLTS=1`: the time and zone the network sends on registration (NITZ). */
  private reportNetworkTime(): void {
    const { at, timeZoneMinutes } = this.networkClock();
    const local = new Date(at + timeZoneMinutes * 60_000);
    const quarters = timeZoneMinutes / 15;
    const fields = [local.getUTCFullYear(), local.getUTCMonth() + 1, local.getUTCDate(), local.getUTCHours(), local.getUTCMinutes(), local.getUTCSeconds()];
    this.urc([`*PSUTTZ: ${fields.join(',')},"${quarters < 0 ? '-' : '+'}${Math.abs(quarters)}",0`]);
    this.urc(['DST: 0']);
  }

  /** An SMS-DELIVER from the network (or injected): stored + `+CMTI`, or routed as `+CMT`. */
  private receiveSms(pdu: EncodedPdu): DeliveryOutcome {
    if (!this.powered || !this.bootDone) return 'unavailable';
    const { mt } = this.settings.cnmi;
    const reports = this.settings.smsReports;
    if ((mt === 2 || mt === 3) && reports) {
      this.urc(this.settings.cmgf === 0 ? [`+CMT: ,${pdu.tpduLength}`, pdu.hex] : cmtLines(pdu.hex, textView(this)));
      return 'stored';
    }
    const memory = this.settings.mem[2];
    const storage = this.storages.get(memory) as SmsStorage;
    const index = storage.store(pdu.hex, pdu.tpduLength, SMS_STAT.recUnread);
    if (index === undefined) {
      const full = this.profile.memoryFullUrc;
      if (full !== undefined && this.settings.memoryFullReports) this.urc([full.line]);
      return 'memory-full';
    }
    this.lastIncomingIndex = index;
    if (mt !== 0 && reports) this.urc([`+CMTI: "${memory}",${index}`]);
    return 'stored';
  }

  /** An SMS-STATUS-REPORT: dropped (ds=0), routed as `+CDS` (1) or stored + `+CDSI` (2). */
  private receiveStatusReport(pdu: EncodedPdu): DeliveryOutcome {
    if (!this.powered || !this.bootDone) return 'unavailable';
    const { ds } = this.settings.cnmi;
    if (ds === 0) return 'stored';
    if (ds === 1) {
      if (this.settings.smsReports) this.urc(this.settings.cmgf === 0 ? [`+CDS: ${pdu.tpduLength}`, pdu.hex] : [cdsLine(pdu.hex, textView(this)) as string]);
      return 'stored';
    }
    const memory = this.settings.mem[2];
    const storage = this.storages.get(memory) as SmsStorage;
    const index = storage.store(pdu.hex, pdu.tpduLength, SMS_STAT.recUnread, true);
    if (index === undefined) return 'memory-full';
    if (this.settings.smsReports) this.urc([`+CDSI: "${memory}",${index}`]);
    return 'stored';
  }

  // -------------------------------------------------------------------------------------------
  // Output

  /**
   * An unsolicited result code. Lost, as a UART's output is, when it goes to another port
   * (Quectel `+QURCCFG`) or no program holds the host end.
   */
  private urc(lines: string[]): void {
    if (!this.powered || this.hung !== undefined) return;
    if (this.settings.urcPort !== this.profile.atPort) return;
    if (this.hostPresence !== undefined && !this.hostPresence()) return;
    this.urcQueue.push(lines);
    if (!this.busy && this.mode === 'command' && this.line === '') this.flushUrcs();
  }

  private flushUrcs(): void {
    for (const lines of this.urcQueue.splice(0)) this.write(`\r\n${lines.join('\r\n')}\r\n`);
  }

  private cpinUrc(): string {
    switch (this.simStatus) {
      case 'absent':
        return '+CPIN: NOT INSERTED';
      case 'pin':
        return '+CPIN: SIM PIN';
      case 'puk':
        return '+CPIN: SIM PUK';
      default:
        return '+CPIN: READY';
    }
  }

  private startPeriodicUrcs(): void {
    const signal = this.profile.signalUrc;
    if (signal === undefined || signal.trigger.kind !== 'periodic') return;
    const every = signal.trigger.intervalMs;
    const tick = (): void => {
      this.reportSignal();
      this.timer(every, tick);
    };
    this.timer(every, tick);
  }

  /** The profile's signal report, when the host has it on. */
  private reportSignal(): void {
    const signal = this.profile.signalUrc;
    if (signal === undefined || !this.settings.signalReports || !this.bootDone) return;
    const { rssi, ber } = this.signal();
    this.urc([signal.template.replace('{rssi}', String(rssi)).replace('{ber}', String(ber))]);
  }

  private write(data: string | Uint8Array): void {
    const port = this.port;
    if (port === undefined || !port.isOpen || this.hung !== undefined) return;
    const bytes = typeof data === 'string' ? Uint8Array.from(Buffer.from(data, 'latin1')) : data;
    this.emitTraffic('out', bytes);
    try {
      port.write(bytes);
    } catch {
      // The line went away while writing: what a real modem's UART does too.
    }
  }

  private timer(ms: number, fn: () => void): TimerHandle {
    const epoch = this.epoch;
    const handle = this.clock.setTimeout(() => {
      this.timers.delete(handle);
      if (epoch === this.epoch) fn();
    }, ms);
    this.timers.add(handle);
    return handle;
  }

  private count(name: string): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
  }

  private takeForcedError(command: string): CommandError | undefined {
    const index = this.forcedErrors.findIndex((f) => f.command === command);
    if (index === -1) return undefined;
    const forced = this.forcedErrors[index] as { command: string; error: CommandError; remaining: number };
    forced.remaining--;
    if (forced.remaining <= 0) this.forcedErrors.splice(index, 1);
    return forced.error;
  }

  private emitTraffic(direction: 'in' | 'out', bytes: Uint8Array): void {
    for (const listener of this.trafficListeners) listener(direction, bytes);
  }

  // -------------------------------------------------------------------------------------------
  // Control API

  /** Delivers an SMS as if the network had (parts in the given order); returns their locations. */
  injectSms(options: InjectSmsOptions): Array<number | undefined> {
    this.requirePowered();
    parsePhoneNumber(options.from, 'from');
    if (options.alphabet !== undefined && !['auto', 'gsm7', 'ucs2'].includes(options.alphabet)) {
      throw controlError('alphabet must be auto, gsm7 or ucs2', 'alphabet');
    }
    if (options.referenceBits !== undefined && options.referenceBits !== 8 && options.referenceBits !== 16) {
      throw controlError('referenceBits must be 8 or 16', 'referenceBits');
    }
    if (options.timestamp !== undefined) checkMs(options.timestamp, 'timestamp', Number.MAX_SAFE_INTEGER);
    const referenceBits = options.referenceBits ?? 8;
    const parts = encodeDeliver({
      from: options.from,
      text: options.text,
      timestamp: options.timestamp ?? this.networkClock().at,
      timeZoneMinutes: this.network?.timeZoneMinutes ?? 0,
      alphabet: options.alphabet ?? 'auto',
      referenceBits,
      concatReference: options.concatReference ?? this.random.int(referenceBits === 8 ? 0x100 : 0x10000),
      maxParts: 16,
      smsc: this.settings.csca === '' ? undefined : this.settings.csca,
    });
    const order = options.order === 'reverse' ? parts.map((_, i) => parts.length - i) : (options.order ?? parts.map((_, i) => i + 1));
    const distinct = new Set(order);
    if (order.length === 0 || distinct.size !== order.length || order.some((n) => !Number.isInteger(n) || n < 1 || n > parts.length)) {
      throw controlError(`order must list distinct part numbers 1-${parts.length}`, 'order');
    }
    return order.map((n) => {
      this.lastIncomingIndex = undefined;
      const outcome = this.receiveSms(parts[n - 1] as EncodedPdu);
      return outcome === 'stored' ? this.lastIncomingIndex : undefined;
    });
  }

  /** Delivers a raw SMS-DELIVER PDU (SMSC address + TPDU hex). */
  injectPdu(hex: string): DeliveryOutcome {
    this.requirePowered();
    const decoded = decodePdu(hex);
    if (decoded.type !== 'deliver') throw controlError('only an SMS-DELIVER can be injected as a received SMS', 'pdu');
    const bytes = hexToBytes(hex);
    return this.receiveSms({ hex: hex.toUpperCase(), tpduLength: bytes.length - 1 - (bytes[0] as number) });
  }

  injectStatusReport(options: InjectStatusReportOptions): DeliveryOutcome {
    this.requirePowered();
    const now = this.networkClock().at;
    const pdu = encodeStatusReport({
      messageReference: options.messageReference,
      recipient: options.recipient,
      timestamp: options.timestamp ?? now,
      discharge: options.discharge ?? now,
      status: options.status ?? 0,
    });
    return this.receiveStatusReport(pdu);
  }

  /** Overrides registration (`undefined` gives it back to the network). */
  setRegistration(stat: number | undefined): void {
    if (stat !== undefined && (!Number.isInteger(stat) || stat < 0 || stat > 5)) throw controlError('a registration state is 0-5', 'stat');
    this.forcedReg = stat;
    this.updateRegistration();
  }

  setSignal(rssi: number, ber = 0): void {
    if (!Number.isInteger(rssi) || !((rssi >= 0 && rssi <= 31) || rssi === 99)) throw controlError('rssi is 0-31 or 99', 'rssi');
    if (!Number.isInteger(ber) || !((ber >= 0 && ber <= 7) || ber === 99)) throw controlError('ber is 0-7 or 99', 'ber');
    const changed = rssi !== this.rssi || ber !== this.ber;
    this.rssi = rssi;
    this.ber = ber;
    if (changed && this.powered && this.profile.signalUrc?.trigger.kind === 'on-change') this.reportSignal();
  }

  removeSim(): void {
    this.simCard = undefined;
    this.simStatus = 'absent';
    this.updateRegistration();
  }

  insertSim(sim: SimCard): void {
    if (this.simCard !== undefined) throw controlError('a SIM is already inserted', 'sim');
    parsePhoneNumber(sim.msisdn, 'msisdn');
    this.simCard = sim;
    this.nextMr = this.storedNextMr();
    this.pinAttemptsLeft = 3;
    this.simStatus = sim.pin !== undefined ? 'pin' : 'ready';
    if (this.settings.csca === '') this.settings.csca = this.smscOfSim();
    this.updateRegistration();
  }

  /** Fills a memory with read messages so the next incoming SMS finds no room. */
  fillStorage(memory?: string): void {
    const storage = this.requireStorage(memory ?? this.settings.mem[2]);
    const filler = encodeDeliver({ from: '+10000', text: 'filler', timestamp: this.networkClock().at })[0] as EncodedPdu;
    while (!storage.full) storage.store(filler.hex, filler.tpduLength, SMS_STAT.recRead);
  }

  clearStorage(memory?: string): void {
    this.requireStorage(memory ?? this.settings.mem[0]).clear();
  }

  /** Makes the next `times` runs of `command` fail with `error`. */
  failNext(forced: ForcedError): void {
    if (typeof forced.command !== 'string' || !/^([+^$&][A-Z0-9]{1,12}|[A-Z])$/.test(forced.command)) {
      throw controlError('command must be a command name such as +CMGS', 'command');
    }
    const times = forced.times ?? 1;
    if (!Number.isInteger(times) || times < 1 || times > 1000) throw controlError('times must be 1-1000', 'times');
    const error = forced.error;
    if (error !== 'error') {
      const code = 'cms' in error ? error.cms : error.cme;
      if (!Number.isInteger(code) || code < 0 || code > 999) throw controlError('an error code is 0-999', 'error');
    }
    this.forcedErrors.push({ command: forced.command, error, remaining: times });
  }

  /** Delay before every reply (or before replies to one command). */
  setLatency(ms: number, command?: string): void {
    checkMs(ms, 'latencyMs', 60_000);
    if (command === undefined) this.latencyMs = ms;
    else this.commandLatency.set(command, ms);
  }

  /** Time the network takes to accept an SMS-SUBMIT: fixed or drawn from [min, max]. */
  setSendDelay(ms: number | readonly [number, number]): void {
    const [min, max] = typeof ms === 'number' ? [ms, ms] : ms;
    checkMs(min, 'sendDelayMs');
    checkMs(max, 'sendDelayMs');
    if (max < min) throw controlError('the send delay range must be [min, max]', 'sendDelayMs');
    this.sendDelay = [min, max];
  }

  /** Stops answering: input is swallowed and nothing is printed until `recovery` happens. */
  hang(recovery: HangRecovery = 'power-cycle'): void {
    if (!['power-cycle', 'port-reopen', 'manual'].includes(recovery)) throw controlError('recovery must be power-cycle, port-reopen or manual', 'recovery');
    this.hung = recovery;
    this.input = [];
  }

  unhang(): void {
    this.hung = undefined;
  }

  get isHung(): boolean {
    return this.hung !== undefined;
  }

  /** Prints queued URCs between the lines of the next replies (URCs inside a reply). */
  interleaveUrcs(on: boolean): void {
    this.interleave = on;
  }

  /** Prints an arbitrary unsolicited line (vendor URCs, noise). */
  emitUrc(line: string): void {
    if (typeof line !== 'string' || line.length === 0 || line.length > 512 || /[\r\n]/.test(line)) {
      throw controlError('a URC is one line of 1-512 characters', 'line');
    }
    this.urc([line]);
  }

  invocations(command: string): number {
    return this.counts.get(command) ?? 0;
  }

  get sent(): readonly SentRecord[] {
    return this.sentLog;
  }

  messages(memory?: string): ReturnType<SmsStorage['all']> {
    return this.requireStorage(memory ?? this.settings.mem[0]).all();
  }

  /** Every byte in and out, for transcripts and debugging. */
  onTraffic(listener: (direction: 'in' | 'out', bytes: Uint8Array) => void): () => void {
    this.trafficListeners.add(listener);
    return () => this.trafficListeners.delete(listener);
  }

  private requirePowered(): void {
    if (!this.powered) throw new HsmError('MODEM_OFF', 'the modem is not powered (unplugged)', { field: 'modem' });
  }

  private requireStorage(memory: string): SmsStorage {
    const storage = this.storages.get(memory);
    if (storage === undefined) throw controlError(`no memory "${memory}" in profile ${this.profile.name}`, 'memory');
    return storage;
  }
}

/**
 * Splits the text after `AT` into commands (V.250 §5.2.1-5.3): basic ones (`E1`, `&F`, `S0=0`)
 * may follow each other directly; extended ones (`+CMGF=0`) are separated by `;`. Spaces outside
 * quotes are ignored and names are case-insensitive. Undefined on a syntax error.
 */
export function parseCommandLine(text: string): CommandCall[] | undefined {
  let rest = '';
  let quoted = false;
  for (const char of text) {
    if (char === '"') quoted = !quoted;
    if (!quoted && char === ' ') continue;
    rest += quoted ? char : char.toUpperCase();
  }
  if (quoted) return undefined;
  const calls: CommandCall[] = [];
  let i = 0;
  while (i < rest.length) {
    const c = rest[i] as string;
    if (c === ';') {
      i++;
      continue;
    }
    if ('+^$*#%!'.includes(c)) {
      let j = i + 1;
      while (j < rest.length && /[A-Z0-9_]/.test(rest[j] as string)) j++;
      const name = rest.slice(i, j);
      if (name.length < 2) return undefined;
      let end = j;
      let inQuotes = false;
      while (end < rest.length && (inQuotes || rest[end] !== ';')) {
        if (rest[end] === '"') inQuotes = !inQuotes;
        end++;
      }
      const tail = rest.slice(j, end);
      i = end;
      if (tail === '') calls.push({ name, form: 'exec', raw: '', args: [] });
      else if (tail === '?') calls.push({ name, form: 'read', raw: '', args: [] });
      else if (tail === '=?') calls.push({ name, form: 'test', raw: '', args: [] });
      else if (tail.startsWith('=')) calls.push({ name, form: 'set', raw: tail.slice(1), args: splitParams(tail.slice(1)) });
      else return undefined;
      continue;
    }
    if (c === '&') {
      const match = /^&([A-Z])([0-9]*)/.exec(rest.slice(i));
      if (match === null) return undefined;
      calls.push({ name: `&${match[1]}`, form: 'set', raw: match[2] as string, args: [match[2] as string] });
      i += match[0].length;
      continue;
    }
    if (c === 'S') {
      const match = /^S([0-9]{1,3})(=[0-9]{0,3}|\?)?/.exec(rest.slice(i));
      if (match === null) return undefined;
      calls.push({ name: 'S', form: match[2] === '?' ? 'read' : 'set', raw: match[0].slice(1), args: [] });
      i += match[0].length;
      continue;
    }
    if (/[A-Z]/.test(c)) {
      const match = /^([A-Z])([0-9]*)/.exec(rest.slice(i)) as RegExpExecArray;
      calls.push({ name: match[1] as string, form: 'set', raw: match[2] as string, args: [match[2] as string] });
      i += match[0].length;
      continue;
    }
    return undefined;
  }
  return calls;
}
