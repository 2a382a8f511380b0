/**
 * The GSM modem driver: AT commands over a `Port` (node-serialport for real devices), one in
 * flight at a time, every timeout from the `Clock`.
 *
 * Bring-up (`start`): open the port, escape a pending prompt, `ATE0`, `ATV1`, `AT+CMEE=1`,
 * SIM PIN from the profile when asked (`AT+CPIN`, 27.007 §8.3; the PIN never reaches a log or an
 * error), identity (`+CGMI/+CGMM/+CGMR/+CGSN/+CIMI/+CCID`; the SIM is told apart by IMSI/ICCID,
 * never by tty name), PDU mode, SIM storage, `+CNMI=2,1,0,1,0` (27.005 §3.4.1), registration.
 *
 * Receiving: `+CMTI` and a periodic `AT+CMGL=4` find stored messages; each is handed to the
 * inbound handler, and deleted (`AT+CMGD`) only after the handler has returned, so a message
 * survives a crash between the two (the handler stores it durably, and de-duplicates a re-read).
 * Undecodable PDUs go to the handler too, so they can be set aside and deleted instead of being
 * read again forever.
 *
 * Health: a watchdog pings with `AT` when the line has been quiet, and after repeated failures
 * escalates: re-initialise, then `AT+CFUN=1,1`, then close and reopen the port (waiting for a
 * USB device to come back). A port that disappears goes straight to reopening.
 * @module
 */
import type { Clock, TimerHandle } from '../clock.ts';
import { HsmError } from '../errors.ts';
import { silentLogger, type Logger } from '../log.ts';
import type { Port } from '../port.ts';
import { systemRandom, type RandomSource } from '../random.ts';
import { CMS, ESC, CTRL_Z, DRIVER_CNMI, isRegistered, isTransientCms } from './at-codes.ts';
import { AtParser, type AtEvent, type ExchangeSpec, type FinalResult, type Urc } from './at-parser.ts';
import {
  parseCmgl,
  parseCmgr,
  parseCmgs,
  parseCops,
  parseCpin,
  parseCsca,
  parseCclk,
  parseCsq,
  parseDigits,
  parseRegistration,
  parseTextLine,
} from './at-responses.ts';
import { decodePdu, encodeSubmit, type AlphabetPolicy, type DecodedDeliver, type DecodedStatusReport } from './pdu.ts';

export type ModemState = 'stopped' | 'starting' | 'ready' | 'recovering' | 'failed';

export interface ModemIdentity {
  manufacturer: string;
  model: string;
  revision: string;
  imei: string;
  imsi: string;
  iccid: string | undefined;
}

export interface ModemHealth {
  state: ModemState;
  registered: boolean;
  /** `+CREG` stat (27.007 §7.2), -1 before the first reading. */
  regStat: number;
  /** `+CSQ` rssi 0-31, 99 unknown. */
  rssi: number;
  consecutiveFailures: number;
  lastSuccessAt: number | undefined;
  lastError: string | undefined;
}

/** A message read from the modem's storage or routed to the host. */
export type InboundSms =
  | { kind: 'deliver'; modem: string; storage: string | undefined; index: number | undefined; pdu: string; sms: DecodedDeliver }
  | { kind: 'status-report'; modem: string; storage: string | undefined; index: number | undefined; pdu: string; report: DecodedStatusReport }
  | { kind: 'undecodable'; modem: string; storage: string | undefined; index: number | undefined; pdu: string; error: HsmError };

export type ModemEvent =
  | { type: 'state'; state: ModemState }
  | { type: 'registration'; stat: number; registered: boolean }
  | { type: 'signal'; rssi: number }
  | { type: 'status-report'; report: DecodedStatusReport }
  | { type: 'recovery'; level: RecoveryLevel; reason: string }
  | { type: 'urc'; urc: Urc };

/** 1 re-initialise, 2 `AT+CFUN=1,1` then re-initialise, 3 reopen the port then re-initialise. */
export type RecoveryLevel = 1 | 2 | 3;

export interface ModemTimeouts {
  /** An ordinary command. Default 10 s. */
  commandMs?: number;
  /** From the PDU to `+CMGS` (27.005 allows minutes; real networks take up to ~30 s). Default 60 s. */
  sendMs?: number;
  /** From `AT+CMGS=<n>` to the prompt. Default 10 s. */
  promptMs?: number;
  /** The watchdog's `AT`. Default 5 s. */
  pingMs?: number;
}

export interface ModemQuirks {
  /** `AT+CPIN?` is answered without OK (Gammu F_CPIN_NO_OK). */
  cpinWithoutOk?: boolean;
  /** Extra commands after the standard init, errors tolerated (`AT^CURC=0` on Huawei sticks). */
  initCommands?: readonly string[];
  /** Time the module needs after `AT+CFUN=1,1` before it answers. Default 10 s. */
  resetDelayMs?: number;
}

export interface ModemOptions {
  clock: Clock;
  /** Opens the byte port; called again to reopen it after it disappeared. */
  openPort: () => Promise<Port> | Port;
  /** Short name for logs and events (`sim1`). */
  name: string;
  /** SIM PIN from the hardware profile, entered only when the SIM asks for it. */
  pin?: string;
  /** Refuse a modem whose SIM has another IMSI/ICCID (a swapped tty). */
  expect?: { imsi?: string; iccid?: string };
  /** SMSC to set when the SIM has none. */
  smsc?: string;
  timeouts?: ModemTimeouts;
  quirks?: ModemQuirks;
  /** Watchdog period; the line is pinged when it was quiet this long. Default 30 s. */
  watchdogMs?: number;
  /** Consecutive failures before the watchdog escalates. Default 2. */
  failuresBeforeRecovery?: number;
  /** `AT+CSQ`/`AT+CREG?` period. Default 60 s. */
  monitorMs?: number;
  /** `AT+CMGL=4` period (catches missed `+CMTI`). Default 60 s. */
  pollMs?: number;
  random?: RandomSource;
  log?: Logger;
}

export interface SendOptions {
  statusReport?: boolean;
  alphabet?: AlphabetPolicy;
  maxParts?: number;
  /** Concatenation reference for multipart texts; drawn at random when omitted. */
  concatReference?: number;
}

export interface SendResult {
  modem: string;
  /** TP-MR of each part as `+CMGS` reported it. */
  messageReferences: number[];
}

export type InboundHandler = (sms: InboundSms) => Promise<void> | void;

/** A command answered with ERROR, `+CME ERROR` or `+CMS ERROR`. */
export class ModemCommandError extends HsmError<'AT_ERROR' | 'AT_CME_ERROR' | 'AT_CMS_ERROR'> {
  readonly result: FinalResult;

  constructor(command: string, result: FinalResult) {
    const code = result.kind === 'cms' ? 'AT_CMS_ERROR' : result.kind === 'cme' ? 'AT_CME_ERROR' : 'AT_ERROR';
    const detail = result.kind === 'cms' || result.kind === 'cme' ? `${result.kind.toUpperCase()} ERROR ${result.text}` : result.kind === 'other' ? result.text : 'ERROR';
    super(code, `${command} failed: ${detail}`, { field: command });
    this.result = result;
  }

  /** The `+CMS ERROR` number, if that is what came back. */
  get cms(): number | undefined {
    return this.result.kind === 'cms' ? this.result.code : undefined;
  }

  get cme(): number | undefined {
    return this.result.kind === 'cme' ? this.result.code : undefined;
  }
}

/** Errors after which the same SMS may succeed later or through another modem. */
export function isTransientSendError(error: unknown): boolean {
  if (error instanceof ModemCommandError) {
    const cms = error.cms;
    if (cms !== undefined) return isTransientCms(cms);
    return error.result.kind !== 'other';
  }
  return error instanceof HsmError && ['MODEM_TIMEOUT', 'MODEM_DISCONNECTED', 'MODEM_NOT_READY', 'MODEM_NOT_REGISTERED', 'PORT_CLOSED', 'PORT_IO'].includes(error.code);
}

interface Waiter {
  onPrompt?: () => void;
  onFinal: (result: FinalResult, lines: string[]) => void;
  onClose: (error: HsmError) => void;
}

interface CommandOptions {
  timeoutMs?: number;
  responsePrefix?: string;
  finalPrefix?: string;
  /** Log the command as `<name>=<redacted>`: it carries a secret. */
  secret?: boolean;
}

const FATAL_INIT_CODES = ['MODEM_SIM_PIN_REQUIRED', 'MODEM_SIM_PIN_REJECTED', 'MODEM_SIM_BLOCKED', 'MODEM_WRONG_SIM', 'MODEM_NO_SIM'];

function commandName(line: string): string {
  const match = /^AT([+^$&][A-Z0-9]+|[A-Z])?/i.exec(line);
  return match?.[1]?.toUpperCase() ?? 'AT';
}

export class Modem {
  readonly name: string;
  private readonly clock: Clock;
  private readonly options: ModemOptions;
  private readonly log: Logger;
  private readonly random: RandomSource;
  private readonly parser = new AtParser();
  private port: Port | undefined;
  private portSubscriptions: Array<() => void> = [];
  private waiter: Waiter | undefined;
  private lock: Promise<void> = Promise.resolve();
  private readonly listeners = new Set<(event: ModemEvent) => void>();
  private inboundHandler: InboundHandler | undefined;
  private readonly timers: TimerHandle[] = [];
  private currentState: ModemState = 'stopped';
  private identityInfo: ModemIdentity | undefined;
  private smscAddress: string | undefined;
  private operatorName: string | undefined;
  private regStat = -1;
  private rssi = 99;
  private failures = 0;
  private lastSuccessAt: number | undefined;
  private lastActivity = 0;
  private lastError: string | undefined;
  private recovering: Promise<void> | undefined;
  private stopped = true;
  /** Incremented by every start(), so a recovery loop of an earlier run ends. */
  private generation = 0;
  private pinRejected = false;
  private processingStored = false;
  private readonly pendingIndexes = new Set<string>();

  constructor(options: ModemOptions) {
    if (typeof options.name !== 'string' || !/^[A-Za-z0-9_.-]{1,32}$/.test(options.name)) {
      throw new HsmError('MODEM_BAD_OPTION', 'a modem name is 1-32 letters, digits, dots, dashes or underscores', { field: 'name' });
    }
    if (options.pin !== undefined && !/^[0-9]{4,8}$/.test(options.pin)) {
      throw new HsmError('MODEM_BAD_OPTION', 'the SIM PIN must be 4-8 digits', { field: 'pin' });
    }
    if (options.smsc !== undefined && !/^\+?[0-9]{1,20}$/.test(options.smsc)) {
      throw new HsmError('MODEM_BAD_OPTION', 'the SMSC is "+" and 1-20 digits', { field: 'smsc' });
    }
    for (const line of options.quirks?.initCommands ?? []) {
      if (!/^AT[\x20-\x7e]{1,126}$/i.test(line)) throw new HsmError('MODEM_BAD_OPTION', 'init commands are AT command lines in printable ASCII', { field: 'quirks.initCommands' });
    }
    this.name = options.name;
    this.clock = options.clock;
    this.options = options;
    this.random = options.random ?? systemRandom;
    this.log = (options.log ?? silentLogger).child({ modem: options.name });
  }

  // -------------------------------------------------------------------------------------------
  // Lifecycle

  get state(): ModemState {
    return this.currentState;
  }

  get identity(): ModemIdentity | undefined {
    return this.identityInfo;
  }

  get smsc(): string | undefined {
    return this.smscAddress;
  }

  get operator(): string | undefined {
    return this.operatorName;
  }

  /** A command is on the wire and its final result has not come yet. */
  get awaitingReply(): boolean {
    return this.waiter !== undefined;
  }

  get health(): ModemHealth {
    return {
      state: this.currentState,
      registered: isRegistered(this.regStat),
      regStat: this.regStat,
      rssi: this.rssi,
      consecutiveFailures: this.failures,
      lastSuccessAt: this.lastSuccessAt,
      lastError: this.lastError,
    };
  }

  onEvent(listener: (event: ModemEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The one consumer of received messages; it must persist them before it returns. */
  setInboundHandler(handler: InboundHandler | undefined): void {
    this.inboundHandler = handler;
  }

  /**
   * Opens the port and brings the modem up. Resolves after the first attempt, ready or not;
   * recovery keeps trying in the background unless the SIM itself refused (state `failed`).
   */
  async start(): Promise<ModemState> {
    if (!this.stopped) return this.currentState;
    this.stopped = false;
    this.generation++;
    this.setState('starting');
    await new Promise<void>((resolve) => {
      void this.recover('start', 3, resolve);
    });
    if (!this.stopped) this.startTimers();
    return this.currentState;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const handle of this.timers.splice(0)) this.clock.clearInterval(handle);
    this.failWaiter(new HsmError('MODEM_STOPPED', `${this.name} was stopped`, { field: 'modem' }));
    await this.closePort();
    this.setState('stopped');
  }

  // -------------------------------------------------------------------------------------------
  // Public operations

  /** Runs one AT command line (e.g. `AT+CSQ`) and returns its information lines. */
  command(line: string, options: CommandOptions = {}): Promise<string[]> {
    if (typeof line !== 'string' || !/^AT[\x20-\x7e]{0,510}$/i.test(line)) {
      return Promise.reject(new HsmError('MODEM_BAD_COMMAND', 'a command line starts with AT and holds printable ASCII only', { field: 'command' }));
    }
    return this.exclusive(async () => {
      this.requireReady();
      return this.exchange(line, options);
    });
  }

  /**
   * Sends `text` to `to` as one or more SMS-SUBMITs. The text is checked before anything is
   * written: characters the chosen alphabet cannot carry are refused, never replaced.
   */
  async sendSms(to: string, text: string, options: SendOptions = {}): Promise<SendResult> {
    const maxParts = options.maxParts ?? 6;
    const concatReference = options.concatReference ?? (this.random.bytes(1)[0] as number);
    const pdus = encodeSubmit({
      to,
      text,
      statusReportRequest: options.statusReport ?? false,
      alphabet: options.alphabet ?? 'auto',
      maxParts,
      concatReference,
    });
    return this.exclusive(async () => {
      this.requireReady();
      if (!isRegistered(this.regStat)) {
        throw new HsmError('MODEM_NOT_REGISTERED', `${this.name} is not registered on a network`, { field: 'registration' });
      }
      const messageReferences: number[] = [];
      for (const pdu of pdus) {
        messageReferences.push(await this.submitPdu(pdu.hex, pdu.tpduLength));
      }
      this.log.info({ parts: pdus.length, messageReferences }, 'sms sent');
      return { modem: this.name, messageReferences };
    });
  }

  /** Reads every stored message, hands each to the inbound handler, then deletes it. */
  processStored(): Promise<number> {
    return this.exclusive(async () => {
      this.requireReady();
      return this.processStoredLocked();
    });
  }

  /**
   * Resolves once the modem is registered, home or roaming (27.007 §7.2), asking `AT+CREG?`
   * every `pollMs` besides listening for `+CREG` URCs; MODEM_NOT_REGISTERED after `timeoutMs`.
   */
  async waitForRegistration(timeoutMs = 60_000, pollMs = 2_000): Promise<void> {
    if (!(timeoutMs >= 0 && Number.isFinite(timeoutMs)) || !(pollMs > 0 && Number.isFinite(pollMs))) {
      throw new HsmError('MODEM_BAD_OPTION', 'registration wait and poll times must be positive numbers of ms', { field: 'timeoutMs' });
    }
    const deadline = this.clock.monotonic() + timeoutMs;
    while (!isRegistered(this.regStat)) {
      const left = deadline - this.clock.monotonic();
      if (left <= 0) {
        throw new HsmError('MODEM_NOT_REGISTERED', `${this.name} did not register within ${timeoutMs} ms (stat ${this.regStat})`, { field: 'registration' });
      }
      await this.clock.sleep(Math.min(pollMs, left));
      if (this.currentState === 'ready') await this.refreshHealth().catch(() => undefined);
    }
  }

  /**
   * The network's time as the modem keeps it (`AT+CCLK?`, 27.007 §8.15; set from NITZ by
   * the network): one of HSM-Cold's independent time sources. Unix ms.
   */
  networkTime(): Promise<{ at: number; timeZoneMinutes: number }> {
    return this.exclusive(async () => {
      this.requireReady();
      return parseCclk(await this.exchange('AT+CCLK?', { responsePrefix: '+CCLK:' }));
    });
  }

  /** Asks the modem for signal and registration now. */
  refreshHealth(): Promise<ModemHealth> {
    return this.exclusive(async () => {
      this.requireReady();
      await this.readHealth();
      return this.health;
    });
  }

  // -------------------------------------------------------------------------------------------
  // Bring-up

  private async initialise(): Promise<void> {
    const t = this.options.timeouts ?? {};
    const port = this.requirePort();
    port.write(Uint8Array.of(ESC, 0x0d)); // leave a pending `> ` prompt without sending
    await this.clock.sleep(100);
    this.parser.reset();
    let alive = false;
    for (let attempt = 0; attempt < 3 && !alive; attempt++) {
      try {
        await this.exchange('AT', { timeoutMs: t.pingMs ?? 5_000 });
        alive = true;
      } catch (error) {
        if (!(error instanceof HsmError) || error.code !== 'MODEM_TIMEOUT' || attempt === 2) throw error;
      }
    }
    await this.exchange('ATE0');
    await this.exchange('ATV1');
    await this.exchange('AT+CMEE=1');
    await this.unlockSim();
    await this.readIdentity();
    for (const extra of this.options.quirks?.initCommands ?? []) {
      await this.exchange(extra).catch((error: unknown) => this.log.warn({ command: commandName(extra), error: String(error) }, 'init command failed'));
    }
    await this.exchange('AT+CMGF=0');
    await this.retrySimBusy(() => this.exchange('AT+CPMS="SM","SM","SM"', { responsePrefix: '+CPMS:' }));
    const c = DRIVER_CNMI;
    await this.exchange(`AT+CNMI=${c.mode},${c.mt},${c.bm},${c.ds},${c.bfr}`);
    await this.exchange('AT+CREG=1');
    this.smscAddress = parseCsca(await this.exchange('AT+CSCA?', { responsePrefix: '+CSCA:' }));
    if (this.smscAddress === undefined && this.options.smsc !== undefined) {
      await this.exchange(`AT+CSCA="${this.options.smsc}"`);
      this.smscAddress = this.options.smsc;
    }
    await this.exchange('AT+COPS=3,0');
    await this.readHealth();
  }

  /** `+CPIN?` → READY, or enter the profile's PIN once (27.007 §8.3). */
  private async unlockSim(): Promise<void> {
    const cpin = async (): Promise<string> =>
      parseCpin(
        await this.exchange('AT+CPIN?', {
          responsePrefix: '+CPIN:',
          ...(this.options.quirks?.cpinWithoutOk ? { finalPrefix: '+CPIN:' } : {}),
        }),
      );
    let state: string;
    try {
      state = await this.retrySimBusy(cpin);
    } catch (error) {
      if (error instanceof ModemCommandError && error.cme === 10) {
        throw new HsmError('MODEM_NO_SIM', `${this.name} has no SIM card`, { field: 'sim' });
      }
      throw error;
    }
    if (state === 'READY') return;
    if (state === 'SIM PUK' || state === 'SIM PUK2') throw new HsmError('MODEM_SIM_BLOCKED', `the SIM in ${this.name} is blocked (PUK required)`, { field: 'sim' });
    if (state !== 'SIM PIN') throw new HsmError('MODEM_SIM_PIN_REQUIRED', `the SIM in ${this.name} asks for ${state}`, { field: 'sim' });
    const pin = this.options.pin;
    if (pin === undefined) throw new HsmError('MODEM_SIM_PIN_REQUIRED', `the SIM in ${this.name} needs a PIN and the profile has none`, { field: 'pin' });
    if (this.pinRejected) throw new HsmError('MODEM_SIM_PIN_REJECTED', `the SIM in ${this.name} rejected the PIN before; not trying again`, { field: 'pin' });
    try {
      await this.exchange(`AT+CPIN="${pin}"`, { secret: true });
    } catch (error) {
      if (error instanceof ModemCommandError) {
        this.pinRejected = true;
        throw new HsmError('MODEM_SIM_PIN_REJECTED', `the SIM in ${this.name} rejected the PIN`, { field: 'pin' });
      }
      throw error;
    }
    for (let i = 0; i < 10; i++) {
      if ((await cpin().catch(() => '')) === 'READY') return;
      await this.clock.sleep(1_000);
    }
    throw new HsmError('MODEM_SIM_PIN_REQUIRED', `the SIM in ${this.name} did not become ready after the PIN`, { field: 'sim' });
  }

  private async readIdentity(): Promise<void> {
    const manufacturer = parseTextLine(await this.exchange('AT+CGMI'), 'AT+CGMI');
    const model = parseTextLine(await this.exchange('AT+CGMM'), 'AT+CGMM');
    const revision = parseTextLine(await this.exchange('AT+CGMR'), 'AT+CGMR');
    const imei = parseDigits(await this.exchange('AT+CGSN'), 'AT+CGSN', 14, 17);
    const imsi = parseDigits(await this.retrySimBusy(() => this.exchange('AT+CIMI')), 'AT+CIMI', 6, 15);
    let iccid: string | undefined;
    for (const line of ['AT+CCID', 'AT^ICCID?', 'AT+QCCID']) {
      try {
        iccid = parseDigits(await this.exchange(line), line, 18, 20);
        break;
      } catch (error) {
        if (!(error instanceof ModemCommandError) && !(error instanceof HsmError && error.code === 'AT_BAD_RESPONSE')) throw error;
      }
    }
    const expect = this.options.expect;
    if (expect?.imsi !== undefined && expect.imsi !== imsi) {
      throw new HsmError('MODEM_WRONG_SIM', `${this.name} holds IMSI ${imsi}, expected ${expect.imsi}`, { field: 'imsi' });
    }
    if (expect?.iccid !== undefined && expect.iccid !== iccid) {
      throw new HsmError('MODEM_WRONG_SIM', `${this.name} holds ICCID ${iccid ?? 'unknown'}, expected ${expect.iccid}`, { field: 'iccid' });
    }
    this.identityInfo = { manufacturer, model, revision, imei, imsi, iccid };
  }

  /** SMS and SIM commands fail with 314/14 ("SIM busy") while a module boots: wait and retry. */
  private async retrySimBusy<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (error) {
        const busy = error instanceof ModemCommandError && (error.cms === CMS.simBusy || error.cme === 14 || error.cme === 515);
        if (!busy || attempt >= 15) throw error;
        await this.clock.sleep(1_000);
      }
    }
  }

  private async readHealth(): Promise<void> {
    const { rssi } = parseCsq(await this.exchange('AT+CSQ', { responsePrefix: '+CSQ:' }));
    this.updateSignal(rssi);
    const { stat } = parseRegistration(await this.exchange('AT+CREG?', { responsePrefix: '+CREG:' }), '+CREG:');
    this.updateRegistration(stat);
    if (isRegistered(stat)) {
      try {
        this.operatorName = parseCops(await this.exchange('AT+COPS?', { responsePrefix: '+COPS:' })).operator;
      } catch (error) {
        if (!(error instanceof ModemCommandError)) throw error;
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Sending (27.005 §3.5.1)

  private async submitPdu(hex: string, tpduLength: number): Promise<number> {
    const t = this.options.timeouts ?? {};
    const line = `AT+CMGS=${tpduLength}`;
    const port = this.requirePort();
    const result = await new Promise<{ result: FinalResult; lines: string[] }>((resolve, reject) => {
      let timer: TimerHandle | undefined;
      const arm = (ms: number, what: string): void => {
        this.clock.clearTimeout(timer);
        timer = this.clock.setTimeout(() => {
          this.waiter = undefined;
          this.parser.abandon();
          this.writeSafely(Uint8Array.of(ESC));
          reject(this.timeoutError('+CMGS', what));
        }, ms);
      };
      this.waiter = {
        onPrompt: () => {
          this.parser.expectEcho(hex);
          this.logCommand(`<pdu ${tpduLength} octets>`);
          if (!this.writeSafely(new Uint8Array([...Buffer.from(hex, 'latin1'), CTRL_Z]))) return;
          arm(t.sendMs ?? 60_000, 'the network answer');
        },
        onFinal: (final, lines) => {
          this.clock.clearTimeout(timer);
          resolve({ result: final, lines });
        },
        onClose: (error) => {
          this.clock.clearTimeout(timer);
          reject(error);
        },
      };
      this.parser.begin({ command: line, expectPrompt: true, responsePrefix: '+CMGS:' });
      this.logCommand(line);
      arm(t.promptMs ?? 10_000, 'the > prompt');
      try {
        port.write(Buffer.from(`${line}\r`, 'latin1'));
      } catch (error) {
        this.clock.clearTimeout(timer);
        this.waiter = undefined;
        reject(this.closedError(error));
      }
    });
    this.waiter = undefined;
    return parseCmgs(this.checkFinal('+CMGS', result.result, result.lines));
  }

  // -------------------------------------------------------------------------------------------
  // Receiving

  private async processStoredLocked(): Promise<number> {
    if (this.processingStored) return 0;
    this.processingStored = true;
    try {
      const listed = parseCmgl(await this.exchange('AT+CMGL=4', { responsePrefix: '+CMGL:', timeoutMs: 30_000 }));
      let handled = 0;
      for (const entry of listed) {
        if (await this.deliverAndDelete('SM', entry.index, entry.pdu)) handled++;
      }
      return handled;
    } finally {
      this.processingStored = false;
    }
  }

  private async readAndDeliver(storage: string, index: number): Promise<void> {
    const switchStorage = storage !== 'SM';
    if (switchStorage) await this.exchange(`AT+CPMS="${storage}"`, { responsePrefix: '+CPMS:' });
    try {
      let read: ReturnType<typeof parseCmgr>;
      try {
        read = parseCmgr(await this.exchange(`AT+CMGR=${index}`, { responsePrefix: '+CMGR:' }));
      } catch (error) {
        if (error instanceof ModemCommandError && error.cms === CMS.invalidMemoryIndex) return;
        throw error;
      }
      if (read !== undefined) await this.deliverAndDelete(storage, index, read.pdu);
    } finally {
      if (switchStorage) await this.exchange('AT+CPMS="SM"', { responsePrefix: '+CPMS:' });
    }
  }

  /** Hands one stored PDU to the handler; deletes it only after the handler returned. */
  private async deliverAndDelete(storage: string, index: number, pdu: string): Promise<boolean> {
    const handler = this.inboundHandler;
    if (handler === undefined) return false;
    await handler(this.classify(pdu, storage, index));
    await this.exchange(`AT+CMGD=${index}`);
    return true;
  }

  private classify(pdu: string, storage: string | undefined, index: number | undefined): InboundSms {
    const base = { modem: this.name, storage, index, pdu };
    try {
      const decoded = decodePdu(pdu);
      if (decoded.type === 'deliver') return { kind: 'deliver', ...base, sms: decoded };
      if (decoded.type === 'status-report') return { kind: 'status-report', ...base, report: decoded };
      return { kind: 'undecodable', ...base, error: new HsmError('PDU_UNEXPECTED', 'a stored SMS-SUBMIT is not an incoming message', { field: 'pdu' }) };
    } catch (error) {
      const typed = error instanceof HsmError ? error : new HsmError('PDU_INVALID', 'the PDU cannot be decoded', { field: 'pdu', cause: error });
      return { kind: 'undecodable', ...base, error: typed };
    }
  }

  private handleUrc(urc: Urc): void {
    this.emit({ type: 'urc', urc });
    switch (urc.kind) {
      case 'cmti':
      case 'cdsi': {
        const key = `${urc.storage}/${urc.index}`;
        if (this.pendingIndexes.has(key)) return;
        this.pendingIndexes.add(key);
        void this.exclusive(async () => {
          this.pendingIndexes.delete(key);
          if (this.currentState !== 'ready') return;
          await this.readAndDeliver(urc.storage, urc.index);
        }).catch((error: unknown) => {
          // Stopping fails the read in flight: the message stays in the modem's storage for the next start.
          if (this.stopped) this.log.debug({ error: String(error) }, 'reading a new message stopped with the modem');
          else this.log.warn({ error: String(error) }, 'reading a new message failed; the poll will retry');
        });
        return;
      }
      case 'cmt': {
        const sms = this.classify(urc.body, undefined, undefined);
        const handler = this.inboundHandler;
        if (handler !== undefined) void Promise.resolve(handler(sms)).catch((error: unknown) => this.log.error({ error: String(error) }, 'inbound handler failed for a routed SMS'));
        return;
      }
      case 'cds': {
        const sms = this.classify(urc.body, undefined, undefined);
        if (sms.kind === 'status-report') this.emit({ type: 'status-report', report: sms.report });
        const handler = this.inboundHandler;
        if (handler !== undefined) void Promise.resolve(handler(sms)).catch((error: unknown) => this.log.error({ error: String(error) }, 'inbound handler failed for a status report'));
        return;
      }
      case 'creg':
        this.updateRegistration(urc.stat);
        return;
      case 'signal':
        this.updateSignal(urc.rssi);
        return;
      case 'memory-full':
        void this.processStored().catch(() => undefined);
        return;
      case 'ready':
        if (urc.text === 'RDY' && this.currentState === 'ready') {
          // The module restarted by itself: its settings (PDU mode, CNMI) are gone.
          void this.recover('modem restarted', 1);
        }
        return;
      default:
        return;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Health, watchdog and recovery

  private startTimers(): void {
    const watchdogMs = this.options.watchdogMs ?? 30_000;
    this.timers.push(
      this.clock.setInterval(() => void this.watchdogTick(watchdogMs), watchdogMs),
      this.clock.setInterval(() => void this.refreshHealth().catch(() => undefined), this.options.monitorMs ?? 60_000),
      this.clock.setInterval(() => void this.processStored().catch(() => undefined), this.options.pollMs ?? 60_000),
    );
  }

  private async watchdogTick(quietMs: number): Promise<void> {
    if (this.currentState !== 'ready' || this.clock.monotonic() - this.lastActivity < quietMs) return;
    try {
      await this.exclusive(() => this.exchange('AT', { timeoutMs: this.options.timeouts?.pingMs ?? 5_000 }));
    } catch {
      // Failures are counted in exchange(); escalation happens there.
    }
  }

  private noteFailure(error: HsmError): void {
    this.failures++;
    this.lastError = error.message;
    if (this.currentState === 'ready' && this.failures >= (this.options.failuresBeforeRecovery ?? 2)) {
      void this.recover(error.message, 1);
    }
  }

  /**
   * Brings the modem back, starting at `level` and escalating after each failed attempt:
   * re-initialise → `AT+CFUN=1,1` → reopen the port. Runs until it succeeds, the SIM refuses
   * (state `failed`), or the modem is stopped.
   */
  private recover(reason: string, level: RecoveryLevel, firstAttemptDone?: () => void): Promise<void> {
    if (this.recovering !== undefined && firstAttemptDone === undefined) return this.recovering;
    const generation = this.generation;
    const live = (): boolean => !this.stopped && generation === this.generation;
    const run = async (): Promise<void> => {
      let current = level;
      let attempts = 0;
      if (this.currentState !== 'starting') this.setState('recovering');
      while (live()) {
        this.emit({ type: 'recovery', level: current, reason });
        // Starting is not recovering: only a modem brought back from trouble is worth a warning.
        this.log[reason === 'start' ? 'info' : 'warn']({ level: current, reason }, 'bringing the modem up');
        try {
          if (current === 3 || this.port === undefined || !this.port.isOpen) await this.exclusive(() => this.reopenPort());
          else if (current === 2) await this.resetModule();
          await this.exclusive(() => this.initialise());
          this.failures = 0;
          this.setState('ready');
          firstAttemptDone?.();
          void this.processStored().catch(() => undefined);
          return;
        } catch (error) {
          const typed = error instanceof HsmError ? error : new HsmError('MODEM_INIT', String(error), { field: 'modem' });
          this.lastError = typed.message;
          if (FATAL_INIT_CODES.includes(typed.code)) {
            this.log.error({ code: typed.code }, typed.message);
            this.setState('failed');
            firstAttemptDone?.();
            return;
          }
          if (!live()) break;
          if (this.currentState === 'starting') this.setState('recovering');
          firstAttemptDone?.();
          firstAttemptDone = undefined;
          attempts++;
          current = Math.min(3, current + 1) as RecoveryLevel;
          await this.clock.sleep(Math.min(30_000, 1_000 * 2 ** Math.min(attempts, 5)));
        }
      }
      firstAttemptDone?.();
    };
    const promise = run().finally(() => {
      if (this.recovering === promise) this.recovering = undefined;
    });
    this.recovering = promise;
    return promise;
  }

  /** `AT+CFUN=1,1` (27.007 §8.2): full functionality with a reset; then wait for the boot. */
  private async resetModule(): Promise<void> {
    await this.exclusive(async () => {
      try {
        await this.exchange('AT+CFUN=1,1');
      } catch (error) {
        if (!(error instanceof ModemCommandError)) throw error;
      }
    });
    await this.clock.sleep(this.options.quirks?.resetDelayMs ?? 10_000);
  }

  private async reopenPort(): Promise<void> {
    await this.closePort();
    const port = await this.options.openPort();
    this.parser.reset();
    this.port = port;
    this.portSubscriptions = [
      port.onData((chunk) => this.onData(chunk)),
      port.onClose((info) => {
        if (this.port !== port) return;
        this.port = undefined;
        for (const off of this.portSubscriptions.splice(0)) off();
        const error = new HsmError('MODEM_DISCONNECTED', `${this.name}: the port closed${info.reason ? ` (${info.reason})` : ''}`, { field: 'port' });
        this.failWaiter(error);
        this.lastError = error.message;
        this.updateRegistration(-1);
        if (!this.stopped) void this.recover('port disappeared', 3);
      }),
    ];
  }

  private async closePort(): Promise<void> {
    const port = this.port;
    this.port = undefined;
    for (const off of this.portSubscriptions.splice(0)) off();
    if (port !== undefined) await port.close().catch(() => undefined);
  }

  // -------------------------------------------------------------------------------------------
  // The exchange

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Writes one command line and waits for its final result (one in flight: callers hold the lock). */
  private async exchange(line: string, options: CommandOptions = {}): Promise<string[]> {
    const port = this.requirePort();
    const field = commandName(line);
    const timeoutMs = options.timeoutMs ?? this.options.timeouts?.commandMs ?? 10_000;
    const spec: ExchangeSpec = { command: line };
    if (options.responsePrefix !== undefined) spec.responsePrefix = options.responsePrefix;
    if (options.finalPrefix !== undefined) spec.finalPrefix = options.finalPrefix;
    const { result, lines } = await new Promise<{ result: FinalResult; lines: string[] }>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        this.waiter = undefined;
        this.parser.abandon();
        reject(this.timeoutError(field, 'a reply'));
      }, timeoutMs);
      this.waiter = {
        onFinal: (final, got) => {
          this.clock.clearTimeout(timer);
          resolve({ result: final, lines: got });
        },
        onClose: (error) => {
          this.clock.clearTimeout(timer);
          reject(error);
        },
      };
      this.parser.begin(spec);
      this.logCommand(options.secret ? `AT${field}=<redacted>` : line);
      try {
        port.write(Buffer.from(`${line}\r`, 'latin1'));
      } catch (error) {
        this.clock.clearTimeout(timer);
        this.waiter = undefined;
        reject(this.closedError(error));
      }
    });
    this.waiter = undefined;
    return this.checkFinal(field, result, lines);
  }

  private checkFinal(field: string, result: FinalResult, lines: string[]): string[] {
    this.lastActivity = this.clock.monotonic();
    this.failures = 0;
    this.lastSuccessAt = this.clock.now();
    if (result.kind === 'ok') return lines;
    throw new ModemCommandError(field, result);
  }

  private onData(chunk: Uint8Array): void {
    let events: AtEvent[];
    try {
      events = this.parser.push(chunk);
    } catch (error) {
      this.log.error({ error: String(error) }, 'AT parser failed');
      return;
    }
    for (const event of events) {
      switch (event.type) {
        case 'final':
          this.waiter?.onFinal(event.result, event.lines);
          break;
        case 'prompt':
          this.waiter?.onPrompt?.();
          break;
        case 'urc':
          this.handleUrc(event.urc);
          break;
        case 'error':
          this.log.warn({ code: event.error.code }, event.error.message);
          break;
        case 'stray':
          this.log.debug({ line: event.line }, 'late reply ignored');
          break;
        default:
          break;
      }
    }
  }

  private writeSafely(bytes: Uint8Array): boolean {
    try {
      this.requirePort().write(bytes);
      return true;
    } catch (error) {
      this.failWaiter(this.closedError(error));
      return false;
    }
  }

  private failWaiter(error: HsmError): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    this.parser.abandon();
    waiter?.onClose(error);
  }

  private timeoutError(field: string, what: string): HsmError {
    const error = new HsmError('MODEM_TIMEOUT', `${this.name}: no ${what} to ${field === 'AT' ? 'AT' : `AT${field}`}`, { field });
    this.noteFailure(error);
    return error;
  }

  private closedError(cause: unknown): HsmError {
    return new HsmError('MODEM_DISCONNECTED', `${this.name}: the port is gone`, { field: 'port', cause });
  }

  private requirePort(): Port {
    const port = this.port;
    if (port === undefined || !port.isOpen) throw new HsmError('MODEM_DISCONNECTED', `${this.name}: the port is not open`, { field: 'port' });
    return port;
  }

  private requireReady(): void {
    if (this.currentState !== 'ready') {
      throw new HsmError('MODEM_NOT_READY', `${this.name} is ${this.currentState}`, { field: 'state' });
    }
  }

  private logCommand(text: string): void {
    this.log.debug({ command: text }, 'at');
  }

  private setState(state: ModemState): void {
    if (state === this.currentState) return;
    this.currentState = state;
    this.log.info({ state }, 'modem state');
    this.emit({ type: 'state', state });
  }

  private updateRegistration(stat: number): void {
    if (stat === this.regStat) return;
    this.regStat = stat;
    this.emit({ type: 'registration', stat, registered: isRegistered(stat) });
  }

  private updateSignal(rssi: number): void {
    if (rssi === this.rssi) return;
    this.rssi = rssi;
    this.emit({ type: 'signal', rssi });
  }

  private emit(event: ModemEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (error) {
        this.log.error({ error: String(error) }, 'modem event listener failed');
      }
    }
  }
}
