/**
 * What every AT command handler of the emulated modem works with: the parsed call, the outcome
 * it returns, the modem's settings and the `ModemContext` it reads and changes the modem
 * through, and small helpers for the common argument and reply shapes (3GPP TS 27.007 §4.1).
 * @module
 */
import { CME, CMS, type SmsStat } from '../../../shared/gsm/at-codes.ts';
import type { ModemProfile } from './modem-profiles.ts';
import type { SimCard } from './network.ts';
import type { SmsStorage } from './sms-storage.ts';
import type { TeCharset } from './te-charset.ts';

export type CommandForm = 'exec' | 'read' | 'test' | 'set';

export interface CommandCall {
  /** Upper-case name: `+CMGS`, `E`, `&F`, `^CURC`. */
  name: string;
  form: CommandForm;
  /** The text after `=` (set form) or the digits of a basic command, as typed. */
  raw: string;
  /** `raw` split at commas outside quotes (quotes kept). */
  args: string[];
}

export type CommandError = { cme: number } | { cms: number } | 'error' | 'unknown';

export type PromptSpec =
  | { kind: 'send-pdu'; length: number }
  | { kind: 'send-text'; to: string }
  | { kind: 'write-pdu'; length: number; stat: SmsStat }
  | { kind: 'write-text'; address: string; stat: SmsStat };

/** What a command produced: information lines and at most one of error, prompt or stored send. */
export interface CommandOutcome {
  lines: string[];
  error?: CommandError;
  /** Open the `> ` prompt (`+CMGS`, `+CMGW`); only as the last command of a line. */
  prompt?: PromptSpec;
  /** Send a stored message (`+CMSS`); only as the last command of a line. */
  send?: { memory: string; index: number };
  /** Runs after the final result is written (`AT+CFUN=1,1` reboots after its OK). */
  after?: () => void;
}

export interface ModemSettings {
  echo: boolean;
  verbose: boolean;
  quiet: boolean;
  cmee: 0 | 1 | 2;
  cmgf: 0 | 1;
  cscs: TeCharset;
  csdh: 0 | 1;
  csmp: { fo: number; vp: number; pid: number; dcs: number };
  cnmi: { mode: number; mt: number; bm: number; ds: number; bfr: number };
  creg: 0 | 1 | 2;
  cgreg: 0 | 1 | 2;
  copsFormat: 0 | 1 | 2;
  cfun: number;
  csca: string;
  /** Read/delete, write/send, receive memories (27.005 §3.2.2). */
  mem: [string, string, string];
  /** Signal URCs (Huawei `^CURC`, Quectel `+QINDCFG "csq"`). */
  signalReports: boolean;
  /** `+CMTI`, `+CMT`, `+CDS`, `+CDSI` (Quectel `+QINDCFG "smsincoming"`). */
  smsReports: boolean;
  /** The profile's memory-full URC (Quectel `+QINDCFG "smsfull"`). */
  memoryFullReports: boolean;
  /** Quectel `+QINDCFG "ring"` and `"act"`: no calls and no access technology changes happen here, so they report nothing. */
  ringReports: boolean;
  actReports: boolean;
  /** `+CRC` (27.007 §6.11), `+CLIP` (§7.6), `+CMMS` (27.005 §3.5.6), `+CUSD` result codes (27.007 §7.15). */
  crc: 0 | 1;
  clip: 0 | 1;
  cmms: 0 | 1 | 2;
  cusd: 0 | 1;
  /** `+CPBS` (27.007 §8.11). */
  phonebook: string;
  /**
   * The port URCs go to (Quectel `+QURCCFG "urcport"`, Huawei `^PORTSEL`); they are lost to
   * the emulated tty unless this is the profile's `atPort`.
   */
  urcPort: string;
  /** SIM800 `+CSCLK` (slow clock) and `+CLTS` (network time stamps). */
  csclk: 0 | 1 | 2;
  clts: 0 | 1;
}

/** What survives a power cycle: the profile saved with `AT&W` and what modules keep in NV at once. */
export interface ModemNv {
  saved: Partial<ModemSettings>;
  /** SIM800 `+CIURC`: "Call Ready" among the boot URCs. */
  callReadyUrc: boolean;
}

export type SimState = 'absent' | 'pin' | 'puk' | 'ready';

export interface ModemContext {
  readonly profile: ModemProfile;
  readonly settings: ModemSettings;
  readonly nv: ModemNv;
  readonly imei: string;
  readonly sim: SimCard | undefined;
  readonly simState: SimState;
  readonly booted: boolean;
  enterPin(pin: string): 'ok' | 'wrong' | 'blocked';
  registration(): { stat: number; lac: string; ci: string };
  signal(): { rssi: number; ber: number };
  operator(): { name: string; mccMnc: string } | undefined;
  storage(memory: string): SmsStorage | undefined;
  /** Network time (Unix ms) and zone, with the user's `AT+CCLK=` offset applied. */
  networkClock(): { at: number; timeZoneMinutes: number };
  setClock(at: number, timeZoneMinutes: number): void;
  /** `AT+CFUN`: 0 minimum, 1 full, 4 radio off; `reset` reboots after the reply. */
  setFunctionality(fun: number, reset: boolean): () => void;
  /** `AT&F`: factory settings. */
  factoryReset(): void;
  /** `ATZ`: the settings saved with `AT&W`. */
  restoreProfile(): void;
  /** `AT&W`. */
  saveProfile(): void;
  /** Hands a USSD string to the network; the answer comes later as `+CUSD`. */
  requestUssd(request: string): void;
}

export type CommandHandler = (ctx: ModemContext, call: CommandCall) => CommandOutcome;

export const ok = (...lines: string[]): CommandOutcome => ({ lines });
export const fail = (error: CommandError): CommandOutcome => ({ lines: [], error });

export function intArg(value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined || !/^[0-9]{1,6}$/.test(value)) return undefined;
  const n = Number(value);
  return n >= min && n <= max ? n : undefined;
}

export function quoted(value: string): string {
  return `"${value}"`;
}

/**
 * A numeric setting with test, read and set forms: `AT+X=?` → `+X: (range)`, `AT+X?` →
 * `+X: <n>`, `AT+X=<n>` stores it.
 */
export function numericSetting<K extends keyof ModemSettings>(prefix: string, key: K, max: number, error: CommandError = 'error'): CommandHandler {
  return (ctx, call) => {
    if (call.form === 'test') return ok(`${prefix}: (0${max > 1 ? `-${max}` : ',1'})`);
    if (call.form === 'read') return ok(`${prefix}: ${String(ctx.settings[key])}`);
    const value = call.form === 'exec' ? 0 : intArg(call.args[0], 0, max);
    if (value === undefined || call.args.length > 1) return fail(error);
    (ctx.settings as unknown as Record<string, unknown>)[key] = value;
    return ok();
  };
}

/** Commands that need the SIM fail without a usable one (+CME ERROR, or +CMS ERROR for SMS commands). */
export function simGate(ctx: ModemContext, sms: boolean): CommandOutcome | undefined {
  const codes = sms
    ? { absent: { cms: CMS.simNotInserted }, pin: { cms: CMS.simPinRequired }, puk: { cms: CMS.simFailure } }
    : { absent: { cme: CME.simNotInserted }, pin: { cme: CME.simPinRequired }, puk: { cme: CME.simPukRequired } };
  switch (ctx.simState) {
    case 'absent':
      return fail(codes.absent);
    case 'pin':
      return fail(codes.pin);
    case 'puk':
      return fail(codes.puk);
    default:
      return undefined;
  }
}

