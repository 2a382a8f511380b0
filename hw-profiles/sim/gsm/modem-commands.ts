/**
 * The emulated modem's command table: one handler per AT command name, each answering as
 * 3GPP TS 27.007 (general, network, SIM) and 27.005 (SMS) describe, with the quirks of the
 * active profile. Handlers are synchronous and only read and change the modem through
 * `ModemContext`; timing, echo, framing and the `> ` prompt belong to the engine
 * (emulated-modem.ts).
 * @module
 */
import { CME, CMS, SMS_STAT, SMS_STAT_TEXT, isRegistered, type SmsStat } from '../../../shared/gsm/at-codes.ts';
import { unquote } from '../../../shared/gsm/at-parser.ts';
import { decodePdu } from '../../../shared/gsm/pdu.ts';
import type { ModemProfile } from './modem-profiles.ts';
import type { SimCard } from './network.ts';
import type { SmsStorage, StoredMessage } from './sms-storage.ts';

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
  | { kind: 'write-pdu'; length: number; stat: SmsStat };

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
  cscs: string;
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
  /** Huawei `AT^CURC=0` mutes periodic URCs. */
  periodicUrcs: boolean;
}

export type SimState = 'absent' | 'pin' | 'puk' | 'ready';

export interface ModemContext {
  readonly profile: ModemProfile;
  readonly settings: ModemSettings;
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
  factoryReset(): void;
}

export type CommandHandler = (ctx: ModemContext, call: CommandCall) => CommandOutcome;

const ok = (...lines: string[]): CommandOutcome => ({ lines });
const fail = (error: CommandError): CommandOutcome => ({ lines: [], error });

function intArg(value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined || !/^[0-9]{1,6}$/.test(value)) return undefined;
  const n = Number(value);
  return n >= min && n <= max ? n : undefined;
}

function quoted(value: string): string {
  return `"${value}"`;
}

/** Basic commands whose only job is to be accepted (`ATE`, `ATV`... are handled separately). */
function accept(): CommandOutcome {
  return ok();
}

// ---------------------------------------------------------------------------------------------
// Gates

function simGate(ctx: ModemContext, sms: boolean): CommandOutcome | undefined {
  switch (ctx.simState) {
    case 'absent':
      return fail(sms ? { cms: CMS.simNotInserted } : { cme: CME.simNotInserted });
    case 'pin':
      return fail(sms ? { cms: CMS.simPinRequired } : { cme: CME.simPinRequired });
    case 'puk':
      return fail(sms ? { cms: CMS.simFailure } : { cme: CME.simPukRequired });
    default:
      return undefined;
  }
}

/** SMS commands fail while the module boots (SIM busy) or without a usable SIM. */
function smsGate(ctx: ModemContext): CommandOutcome | undefined {
  if (!ctx.booted) return fail({ cms: CMS.simBusy });
  return simGate(ctx, true);
}

// ---------------------------------------------------------------------------------------------
// Identification (27.007 §5)

function identity(value: (ctx: ModemContext) => string): CommandHandler {
  return (ctx, call) => (call.form === 'test' ? ok() : ok(value(ctx)));
}

const imsi: CommandHandler = (ctx, call) => {
  if (call.form === 'test') return ok();
  const gate = simGate(ctx, false);
  if (gate !== undefined) return gate;
  return ok((ctx.sim as SimCard).imsi);
};

const iccid: CommandHandler = (ctx, call) => {
  if (call.form === 'test') return ok();
  if (ctx.sim === undefined) return fail({ cme: CME.simNotInserted });
  return ok(`${ctx.profile.ccidPrefix}${ctx.sim.iccid}`);
};

// ---------------------------------------------------------------------------------------------
// General and SIM (27.007 §8)

const cmee: CommandHandler = (ctx, call) => {
  if (call.form === 'test') return ok('+CMEE: (0-2)');
  if (call.form === 'read') return ok(`+CMEE: ${ctx.settings.cmee}`);
  const value = call.form === 'exec' ? 0 : intArg(call.args[0], 0, 2);
  if (value === undefined) return fail({ cme: CME.operationNotSupported });
  ctx.settings.cmee = value as 0 | 1 | 2;
  return ok();
};

const cpin: CommandHandler = (ctx, call) => {
  if (call.form === 'test') return ok();
  if (call.form === 'read') {
    if (ctx.simState === 'absent') return fail({ cme: CME.simNotInserted });
    const code = ctx.simState === 'ready' ? 'READY' : ctx.simState === 'pin' ? 'SIM PIN' : 'SIM PUK';
    return ok(`+CPIN: ${code}`);
  }
  if (call.form !== 'set') return fail('error');
  if (ctx.simState === 'absent') return fail({ cme: CME.simNotInserted });
  if (ctx.simState === 'ready') return fail({ cme: CME.operationNotAllowed });
  if (ctx.simState === 'puk') return fail({ cme: CME.simPukRequired });
  const pin = unquote(call.args[0]);
  switch (ctx.enterPin(pin)) {
    case 'ok':
      return ok();
    case 'blocked':
      return fail({ cme: CME.simPukRequired });
    default:
      return fail({ cme: CME.incorrectPassword });
  }
};

const csq: CommandHandler = (ctx, call) => {
  if (call.form === 'test') return ok('+CSQ: (0-31,99),(0-7,99)');
  const { rssi, ber } = ctx.signal();
  return ok(`+CSQ: ${rssi},${ber}`);
};

const cfun: CommandHandler = (ctx, call) => {
  if (call.form === 'test') return ok('+CFUN: (0,1,4),(0,1)');
  if (call.form === 'read') return ok(`+CFUN: ${ctx.settings.cfun}`);
  const fun = call.form === 'exec' ? undefined : intArg(call.args[0], 0, 4);
  const reset = call.args[1] === undefined ? 0 : intArg(call.args[1], 0, 1);
  if (fun === undefined || fun === 2 || fun === 3 || reset === undefined) return fail({ cme: CME.operationNotSupported });
  const after = ctx.setFunctionality(fun, reset === 1);
  return { lines: [], after };
};

const cbc: CommandHandler = (_ctx, call) => (call.form === 'test' ? ok('+CBC: (0-2),(0-100)') : ok('+CBC: 0,95,4120'));

const cclk: CommandHandler = (ctx, call) => {
  if (call.form === 'test') return ok();
  if (call.form === 'read') {
    const { at, timeZoneMinutes } = ctx.networkClock();
    const local = new Date(at + timeZoneMinutes * 60_000);
    const two = (n: number): string => String(n).padStart(2, '0');
    const quarters = timeZoneMinutes / 15;
    const zone = `${quarters < 0 ? '-' : '+'}${two(Math.abs(quarters))}`;
    const text = `${two(local.getUTCFullYear() % 100)}/${two(local.getUTCMonth() + 1)}/${two(local.getUTCDate())},${two(local.getUTCHours())}:${two(local.getUTCMinutes())}:${two(local.getUTCSeconds())}${zone}`;
    return ok(`+CCLK: ${quoted(text)}`);
  }
  const match = /^"(\d{2})\/(\d{2})\/(\d{2}),(\d{2}):(\d{2}):(\d{2})([+-]\d{2})"$/.exec(call.raw);
  if (match === null) return fail({ cme: CME.operationNotSupported });
  const [, yy, mo, dd, hh, mi, ss, zz] = match;
  const tz = Number(zz) * 15;
  const local = Date.UTC(2000 + Number(yy), Number(mo) - 1, Number(dd), Number(hh), Number(mi), Number(ss));
  if (Number.isNaN(local) || Math.abs(tz) > 14 * 60) return fail({ cme: CME.operationNotSupported });
  ctx.setClock(local - tz * 60_000, tz);
  return ok();
};

// ---------------------------------------------------------------------------------------------
// Network (27.007 §7)

function registrationCommand(prefix: '+CREG' | '+CGREG', key: 'creg' | 'cgreg'): CommandHandler {
  return (ctx, call) => {
    if (call.form === 'test') return ok(`${prefix}: (0-2)`);
    if (call.form === 'read') {
      const n = ctx.settings[key];
      const reg = ctx.registration();
      const location = n === 2 && isRegistered(reg.stat) ? `,${quoted(reg.lac)},${quoted(reg.ci)}` : '';
      return ok(`${prefix}: ${n},${reg.stat}${location}`);
    }
    const n = call.form === 'exec' ? 0 : intArg(call.args[0], 0, 2);
    if (n === undefined) return fail({ cme: CME.operationNotSupported });
    ctx.settings[key] = n as 0 | 1 | 2;
    return ok();
  };
}

const cgatt: CommandHandler = (ctx, call) => {
  if (call.form === 'test') return ok('+CGATT: (0,1)');
  if (call.form === 'read') return ok(`+CGATT: ${isRegistered(ctx.registration().stat) ? 1 : 0}`);
  return intArg(call.args[0], 0, 1) === undefined ? fail({ cme: CME.operationNotSupported }) : ok();
};

const cops: CommandHandler = (ctx, call) => {
  const operator = ctx.operator();
  if (call.form === 'test') {
    const list = operator === undefined ? '' : `(2,${quoted(operator.name)},${quoted(operator.name.slice(0, 8))},${quoted(operator.mccMnc)}),`;
    return ok(`+COPS: ${list},(0-4),(0-2)`);
  }
  if (call.form === 'read') {
    if (operator === undefined || !isRegistered(ctx.registration().stat)) return ok('+COPS: 0');
    const format = ctx.settings.copsFormat;
    const name = format === 2 ? operator.mccMnc : format === 1 ? operator.name.slice(0, 8) : operator.name;
    return ok(`+COPS: 0,${format},${quoted(name)}`);
  }
  const mode = call.form === 'exec' ? 0 : intArg(call.args[0], 0, 4);
  if (mode === undefined) return fail({ cme: CME.operationNotSupported });
  if (mode === 3) {
    const format = intArg(call.args[1], 0, 2);
    if (format === undefined) return fail({ cme: CME.operationNotSupported });
    ctx.settings.copsFormat = format as 0 | 1 | 2;
  }
  return ok();
};

const cnum: CommandHandler = (ctx, call) => {
  if (call.form === 'test') return ok();
  const gate = simGate(ctx, false);
  if (gate !== undefined) return gate;
  const msisdn = (ctx.sim as SimCard).msisdn;
  return ok(`+CNUM: "",${quoted(msisdn)},${msisdn.startsWith('+') ? 145 : 129}`);
};

// ---------------------------------------------------------------------------------------------
// SMS configuration (27.005 §3.1-3.3)

const cmgf: CommandHandler = (ctx, call) => {
  if (call.form === 'test') return ok('+CMGF: (0,1)');
  if (call.form === 'read') return ok(`+CMGF: ${ctx.settings.cmgf}`);
  const mode = call.form === 'exec' ? 0 : intArg(call.args[0], 0, 1);
  if (mode === undefined) return fail({ cms: CMS.operationNotSupported });
  ctx.settings.cmgf = mode as 0 | 1;
  return ok();
};

const CHARSETS = ['IRA', 'GSM', 'UCS2'];

const cscs: CommandHandler = (ctx, call) => {
  if (call.form === 'test') return ok(`+CSCS: (${CHARSETS.map(quoted).join(',')})`);
  if (call.form === 'read') return ok(`+CSCS: ${quoted(ctx.settings.cscs)}`);
  const charset = unquote(call.args[0]).toUpperCase();
  if (!CHARSETS.includes(charset)) return fail({ cme: CME.operationNotSupported });
  ctx.settings.cscs = charset;
  return ok();
};

const csca: CommandHandler = (ctx, call) => {
  if (call.form === 'test') return ok();
  if (call.form === 'read') {
    const address = ctx.settings.csca;
    return ok(`+CSCA: ${quoted(address)},${address.startsWith('+') ? 145 : 129}`);
  }
  const address = unquote(call.args[0]);
  if (!/^(\+?[0-9]{1,20})?$/.test(address)) return fail({ cms: CMS.invalidTextParameter });
  ctx.settings.csca = address;
  return ok();
};

const csdh: CommandHandler = (ctx, call) => {
  if (call.form === 'test') return ok('+CSDH: (0,1)');
  if (call.form === 'read') return ok(`+CSDH: ${ctx.settings.csdh}`);
  const value = call.form === 'exec' ? 0 : intArg(call.args[0], 0, 1);
  if (value === undefined) return fail({ cms: CMS.operationNotSupported });
  ctx.settings.csdh = value as 0 | 1;
  return ok();
};

const csmp: CommandHandler = (ctx, call) => {
  const p = ctx.settings.csmp;
  if (call.form === 'test') return ok();
  if (call.form === 'read') return ok(`+CSMP: ${p.fo},${p.vp},${p.pid},${p.dcs}`);
  const values = call.args.map((a) => (a === '' ? undefined : intArg(a, 0, 255)));
  if (call.args.length > 4 || values.some((v, i) => v === undefined && call.args[i] !== '')) return fail({ cms: CMS.invalidTextParameter });
  ctx.settings.csmp = { fo: values[0] ?? p.fo, vp: values[1] ?? p.vp, pid: values[2] ?? p.pid, dcs: values[3] ?? p.dcs };
  return ok();
};

const csms: CommandHandler = (_ctx, call) => {
  if (call.form === 'test') return ok('+CSMS: (0,1)');
  if (call.form === 'read') return ok('+CSMS: 0,1,1,1');
  return intArg(call.args[0], 0, 1) === undefined ? fail({ cms: CMS.operationNotSupported }) : ok('+CSMS: 1,1,1');
};

const cnmi: CommandHandler = (ctx, call) => {
  const c = ctx.settings.cnmi;
  if (call.form === 'test') return ok('+CNMI: (0-3),(0-3),(0-3),(0-2),(0,1)');
  if (call.form === 'read') return ok(`+CNMI: ${c.mode},${c.mt},${c.bm},${c.ds},${c.bfr}`);
  const limits = [3, 3, 3, 2, 1];
  if (call.args.length > 5) return fail({ cms: CMS.operationNotSupported });
  const values = call.args.map((a, i) => (a === '' ? undefined : intArg(a, 0, limits[i] as number)));
  if (values.some((v, i) => v === undefined && call.args[i] !== '')) return fail({ cms: CMS.operationNotSupported });
  ctx.settings.cnmi = { mode: values[0] ?? c.mode, mt: values[1] ?? c.mt, bm: values[2] ?? c.bm, ds: values[3] ?? c.ds, bfr: values[4] ?? c.bfr };
  return ok();
};

const cpms: CommandHandler = (ctx, call) => {
  const memories = Object.keys(ctx.profile.memories);
  const usage = (name: string): string => {
    const storage = ctx.storage(name) as SmsStorage;
    return `${storage.used},${storage.capacity}`;
  };
  if (call.form === 'test') {
    const list = `(${memories.map(quoted).join(',')})`;
    return ok(`+CPMS: ${list},${list},${list}`);
  }
  const gate = smsGate(ctx);
  if (gate !== undefined) return gate;
  if (call.form === 'read') return ok(`+CPMS: ${ctx.settings.mem.map((m) => `${quoted(m)},${usage(m)}`).join(',')}`);
  const chosen = call.args.map((a) => unquote(a).toUpperCase());
  if (chosen.length < 1 || chosen.length > 3 || chosen.some((m) => !memories.includes(m))) return fail({ cms: CMS.operationNotAllowed });
  const mem = [...ctx.settings.mem] as [string, string, string];
  chosen.forEach((m, i) => (mem[i] = m));
  ctx.settings.mem = mem;
  return ok(`+CPMS: ${mem.map(usage).join(',')}`);
};

// ---------------------------------------------------------------------------------------------
// Stored messages (27.005 §3.4-3.5)

function twoDigits(n: number): string {
  return String(n).padStart(2, '0');
}

function textTimestamp(at: number, tzMinutes: number): string {
  const local = new Date(at + tzMinutes * 60_000);
  const quarters = tzMinutes / 15;
  return `${twoDigits(local.getUTCFullYear() % 100)}/${twoDigits(local.getUTCMonth() + 1)}/${twoDigits(local.getUTCDate())},${twoDigits(local.getUTCHours())}:${twoDigits(local.getUTCMinutes())}:${twoDigits(local.getUTCSeconds())}${quarters < 0 ? '-' : '+'}${twoDigits(Math.abs(quarters))}`;
}

/** Text in the TE character set (27.005 §3.1 `<data>`): UCS2 shows UTF-16BE hex. */
export function toCharset(text: string, charset: string): string {
  if (charset !== 'UCS2') return text;
  let hex = '';
  for (let i = 0; i < text.length; i++) hex += text.charCodeAt(i).toString(16).toUpperCase().padStart(4, '0');
  return hex;
}

export function fromCharset(text: string, charset: string): string | undefined {
  if (charset !== 'UCS2') return text;
  if (!/^([0-9A-Fa-f]{4})*$/.test(text)) return undefined;
  let out = '';
  for (let i = 0; i < text.length; i += 4) out += String.fromCharCode(parseInt(text.slice(i, i + 4), 16));
  return out;
}

/** Text-mode header and data of a stored message (27.005 §3.4.2, §3.4.3). */
function textModeEntry(ctx: ModemContext, message: StoredMessage, indexPrefix: string): [string, string | undefined] {
  const stat = quoted(SMS_STAT_TEXT[message.stat] ?? 'REC READ');
  const decoded = decodePdu(message.pdu);
  const charset = ctx.settings.cscs;
  if (decoded.type === 'status-report') {
    const ra = decoded.recipient.number;
    return [`${indexPrefix}${stat},6,${decoded.messageReference},${quoted(ra)},${decoded.recipient.toa},${quoted(textTimestamp(decoded.timestamp, 0))},${quoted(textTimestamp(decoded.discharge, 0))},${decoded.status}`, undefined];
  }
  if (decoded.type === 'deliver') {
    const details = ctx.settings.csdh === 1 ? `,${decoded.originator.toa},${decoded.userData.text.length}` : '';
    const header = `${indexPrefix}${stat},${quoted(toCharset(decoded.originator.number, charset))},,${quoted(textTimestamp(decoded.timestamp, decoded.timeZoneMinutes))}${details}`;
    return [header, toCharset(decoded.userData.text, charset)];
  }
  const details = ctx.settings.csdh === 1 ? `,${decoded.destination.toa},${decoded.userData.text.length}` : '';
  return [`${indexPrefix}${stat},${quoted(toCharset(decoded.destination.number, charset))},${details}`, toCharset(decoded.userData.text, charset)];
}

const TEXT_STATS: Readonly<Record<string, number>> = { 'REC UNREAD': 0, 'REC READ': 1, 'STO UNSENT': 2, 'STO SENT': 3, ALL: 4 };

const cmgl: CommandHandler = (ctx, call) => {
  if (call.form === 'test') return ok(ctx.settings.cmgf === 1 ? '+CMGL: ("REC UNREAD","REC READ","STO UNSENT","STO SENT","ALL")' : '+CMGL: (0-4)');
  const gate = smsGate(ctx);
  if (gate !== undefined) return gate;
  let stat: number | undefined;
  if (ctx.settings.cmgf === 1) stat = call.form === 'exec' ? 0 : TEXT_STATS[unquote(call.args[0]).toUpperCase()];
  else stat = call.form === 'exec' ? 0 : intArg(call.args[0], 0, 4);
  if (stat === undefined) return fail({ cms: ctx.settings.cmgf === 1 ? CMS.invalidTextParameter : CMS.invalidPduParameter });
  const storage = ctx.storage(ctx.settings.mem[0]) as SmsStorage;
  const lines: string[] = [];
  for (const message of storage.list(stat)) {
    if (ctx.settings.cmgf === 1) {
      const [header, data] = textModeEntry(ctx, message, `+CMGL: ${message.index},`);
      lines.push(header);
      if (data !== undefined) lines.push(data);
    } else {
      lines.push(`+CMGL: ${message.index},${message.stat},,${message.tpduLength}`, message.pdu);
    }
  }
  return ok(...lines);
};

const cmgr: CommandHandler = (ctx, call) => {
  if (call.form === 'test') return ok();
  const gate = smsGate(ctx);
  if (gate !== undefined) return gate;
  const storage = ctx.storage(ctx.settings.mem[0]) as SmsStorage;
  const index = intArg(call.args[0], 0, 65_535);
  if (call.form !== 'set' || index === undefined || !storage.isValidIndex(index)) return fail({ cms: CMS.invalidMemoryIndex });
  const message = storage.read(index);
  if (message === undefined) return ctx.profile.emptyRead === 'ok' ? ok() : fail({ cms: CMS.invalidMemoryIndex });
  if (ctx.settings.cmgf === 1) {
    const [header, data] = textModeEntry(ctx, message, '+CMGR: ');
    return data === undefined ? ok(header) : ok(header, data);
  }
  return ok(`+CMGR: ${message.stat},,${message.tpduLength}`, message.pdu);
};

const cmgd: CommandHandler = (ctx, call) => {
  if (call.form === 'test') {
    const storage = ctx.storage(ctx.settings.mem[0]) as SmsStorage;
    return ok(`+CMGD: (${storage.all().map((m) => m.index).join(',')}),(0-4)`);
  }
  const gate = smsGate(ctx);
  if (gate !== undefined) return gate;
  const storage = ctx.storage(ctx.settings.mem[0]) as SmsStorage;
  const index = intArg(call.args[0], 0, 65_535);
  const flag = call.args[1] === undefined ? 0 : intArg(call.args[1], 0, 4);
  if (call.form !== 'set' || index === undefined || flag === undefined) return fail({ cms: CMS.invalidPduParameter });
  if (flag === 0) {
    if (!storage.isValidIndex(index)) return fail({ cms: CMS.invalidMemoryIndex });
    storage.delete(index);
  } else {
    storage.deleteByFlag(flag as 1 | 2 | 3 | 4);
  }
  return ok();
};

// ---------------------------------------------------------------------------------------------
// Sending (27.005 §3.5)

const cmgs: CommandHandler = (ctx, call) => {
  if (call.form === 'test') return ok();
  const gate = smsGate(ctx);
  if (gate !== undefined) return gate;
  if (call.form !== 'set') return fail({ cms: CMS.operationNotAllowed });
  if (ctx.settings.cmgf === 1) {
    const to = fromCharset(unquote(call.args[0]), ctx.settings.cscs);
    if (to === undefined || !/^\+?[0-9]{1,20}$/.test(to)) return fail({ cms: CMS.invalidTextParameter });
    return { lines: [], prompt: { kind: 'send-text', to } };
  }
  const length = intArg(call.args[0], 1, 164);
  if (length === undefined || call.args.length > 1) return fail({ cms: CMS.invalidPduParameter });
  return { lines: [], prompt: { kind: 'send-pdu', length } };
};

const cmgw: CommandHandler = (ctx, call) => {
  if (call.form === 'test') return ok();
  const gate = smsGate(ctx);
  if (gate !== undefined) return gate;
  if (ctx.settings.cmgf === 1) return fail({ cms: CMS.operationNotSupported });
  const length = intArg(call.args[0], 1, 164);
  const stat = call.args[1] === undefined ? SMS_STAT.stoUnsent : intArg(call.args[1], 0, 3);
  if (call.form !== 'set' || length === undefined || stat === undefined) return fail({ cms: CMS.invalidPduParameter });
  return { lines: [], prompt: { kind: 'write-pdu', length, stat: stat as SmsStat } };
};

const cmss: CommandHandler = (ctx, call) => {
  if (call.form === 'test') return ok();
  const gate = smsGate(ctx);
  if (gate !== undefined) return gate;
  const storage = ctx.storage(ctx.settings.mem[1]) as SmsStorage;
  const index = intArg(call.args[0], 0, 65_535);
  if (call.form !== 'set' || index === undefined || !storage.isValidIndex(index) || storage.peek(index) === undefined) {
    return fail({ cms: CMS.invalidMemoryIndex });
  }
  return { lines: [], send: { memory: ctx.settings.mem[1], index } };
};

const cnma: CommandHandler = () => fail({ cms: CMS.noCnmaExpected });

// ---------------------------------------------------------------------------------------------
// V.250 basic commands

const echo: CommandHandler = (ctx, call) => {
  const value = call.raw === '' ? 0 : intArg(call.raw, 0, 1);
  if (value === undefined) return fail('error');
  ctx.settings.echo = value === 1;
  return ok();
};

const verbose: CommandHandler = (ctx, call) => {
  const value = call.raw === '' ? 0 : intArg(call.raw, 0, 1);
  if (value === undefined) return fail('error');
  ctx.settings.verbose = value === 1;
  return ok();
};

const quiet: CommandHandler = (ctx, call) => {
  const value = call.raw === '' ? 0 : intArg(call.raw, 0, 1);
  if (value === undefined) return fail('error');
  ctx.settings.quiet = value === 1;
  return ok();
};

const reset: CommandHandler = (ctx) => {
  ctx.factoryReset();
  return ok();
};

const info: CommandHandler = (ctx) => ok(ctx.profile.manufacturer, ctx.profile.model, ctx.profile.revision);

const curc: CommandHandler = (ctx, call) => {
  if (call.form === 'read') return ok(`^CURC: ${ctx.settings.periodicUrcs ? 1 : 0}`);
  const value = intArg(call.args[0], 0, 1);
  if (value === undefined) return fail('error');
  ctx.settings.periodicUrcs = value === 1;
  return ok();
};

const ceer: CommandHandler = () => ok('+CEER: No cause');

// ---------------------------------------------------------------------------------------------
// The table

export const COMMANDS: Readonly<Record<string, CommandHandler>> = {
  E: echo,
  V: verbose,
  Q: quiet,
  Z: reset,
  '&F': reset,
  '&W': accept,
  '&C': accept,
  '&D': accept,
  X: accept,
  L: accept,
  M: accept,
  S: accept,
  I: info,
  '+CGMI': identity((ctx) => ctx.profile.manufacturer),
  '+GMI': identity((ctx) => ctx.profile.manufacturer),
  '+CGMM': identity((ctx) => ctx.profile.model),
  '+GMM': identity((ctx) => ctx.profile.model),
  '+CGMR': identity((ctx) => ctx.profile.revision),
  '+GMR': identity((ctx) => ctx.profile.revision),
  '+CGSN': identity((ctx) => ctx.imei),
  '+GSN': identity((ctx) => ctx.imei),
  '+CIMI': imsi,
  '+CCID': iccid,
  '+CMEE': cmee,
  '+CPIN': cpin,
  '+CSQ': csq,
  '+CFUN': cfun,
  '+CBC': cbc,
  '+CCLK': cclk,
  '+CREG': registrationCommand('+CREG', 'creg'),
  '+CGREG': registrationCommand('+CGREG', 'cgreg'),
  '+CGATT': cgatt,
  '+COPS': cops,
  '+CNUM': cnum,
  '+CMGF': cmgf,
  '+CSCS': cscs,
  '+CSCA': csca,
  '+CSDH': csdh,
  '+CSMP': csmp,
  '+CSMS': csms,
  '+CNMI': cnmi,
  '+CPMS': cpms,
  '+CMGL': cmgl,
  '+CMGR': cmgr,
  '+CMGD': cmgd,
  '+CMGS': cmgs,
  '+CMGW': cmgw,
  '+CMSS': cmss,
  '+CNMA': cnma,
  '+CEER': ceer,
  '+CHUP': accept,
  '+CLIP': accept,
  '+CUSD': accept,
  '+CMMS': accept,
};

/** Commands only the profiles that list them know; the others answer them as unknown. */
export const VENDOR_COMMANDS: Readonly<Record<string, CommandHandler>> = {
  '^CURC': curc,
};

/** Accepts a vendor command with no modelled effect. */
export const ACCEPT: CommandHandler = accept;
