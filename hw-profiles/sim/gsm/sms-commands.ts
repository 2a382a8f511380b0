/**
 * SMS commands of the emulated modem (3GPP TS 27.005 §3): configuration, the message memories,
 * reading, listing, deleting, writing and sending, in PDU mode (§4) and text mode (§3, shown
 * and typed per text-mode.ts).
 * @module
 */
import { CME, CMS, SMS_STAT, type SmsStat } from '../../../shared/gsm/at-codes.ts';
import { unquote } from '../../../shared/gsm/at-parser.ts';
import { fail, intArg, numericSetting, ok, quoted, simGate, type CommandHandler, type CommandOutcome, type ModemContext } from './command-kit.ts';
import type { SmsStorage, StoredMessage } from './sms-storage.ts';
import { TE_CHARSETS, type TeCharset } from './te-charset.ts';
import { storedEntry, typedAddress, type TextModeView } from './text-mode.ts';

/** SMS commands fail while the module boots (SIM busy) or without a usable SIM. */
function smsGate(ctx: ModemContext): CommandOutcome | undefined {
  if (!ctx.booted) return fail({ cms: CMS.simBusy });
  return simGate(ctx, true);
}

export function textView(ctx: Pick<ModemContext, 'settings'>): TextModeView {
  const s = ctx.settings;
  return { charset: s.cscs, csdh: s.csdh, csca: s.csca, csmp: s.csmp };
}

// ---------------------------------------------------------------------------------------------
// Configuration (27.005 §3.1-3.3, 27.007 §5.5)

const cmgf: CommandHandler = numericSetting('+CMGF', 'cmgf', 1, { cms: CMS.operationNotSupported });

const cscs: CommandHandler = (ctx, call) => {
  const offered = ctx.profile.charsets;
  if (call.form === 'test') return ok(`+CSCS: (${offered.map(quoted).join(',')})`);
  if (call.form === 'read') return ok(`+CSCS: ${quoted(ctx.settings.cscs)}`);
  const charset = unquote(call.args[0]).toUpperCase();
  if (!offered.includes(charset as TeCharset) || !TE_CHARSETS.includes(charset as TeCharset)) return fail({ cme: CME.operationNotSupported });
  ctx.settings.cscs = charset as TeCharset;
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

const csdh: CommandHandler = numericSetting('+CSDH', 'csdh', 1, { cms: CMS.operationNotSupported });

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

/** `AT+CMMS` (27.005 §3.5.6): keeps the link open between messages; nothing to hold open here. */
const cmms: CommandHandler = numericSetting('+CMMS', 'cmms', 2, { cms: CMS.operationNotSupported });

// ---------------------------------------------------------------------------------------------
// Stored messages (27.005 §3.4-3.5)

const TEXT_STATS: Readonly<Record<string, number>> = { 'REC UNREAD': 0, 'REC READ': 1, 'STO UNSENT': 2, 'STO SENT': 3, ALL: 4 };

function entryLines(ctx: ModemContext, message: StoredMessage, index?: number): string[] {
  if (ctx.settings.cmgf === 0) {
    return [index === undefined ? `+CMGR: ${message.stat},,${message.tpduLength}` : `+CMGL: ${index},${message.stat},,${message.tpduLength}`, message.pdu];
  }
  const entry = storedEntry(message.pdu, message.stat, textView(ctx), index);
  return entry.data === undefined ? [entry.header] : [entry.header, entry.data];
}

const cmgl: CommandHandler = (ctx, call) => {
  if (call.form === 'test') return ok(ctx.settings.cmgf === 1 ? '+CMGL: ("REC UNREAD","REC READ","STO UNSENT","STO SENT","ALL")' : '+CMGL: (0-4)');
  const gate = smsGate(ctx);
  if (gate !== undefined) return gate;
  let stat: number | undefined;
  if (ctx.settings.cmgf === 1) stat = call.form === 'exec' ? 0 : TEXT_STATS[unquote(call.args[0]).toUpperCase()];
  else stat = call.form === 'exec' ? 0 : intArg(call.args[0], 0, 4);
  if (stat === undefined) return fail({ cms: ctx.settings.cmgf === 1 ? CMS.invalidTextParameter : CMS.invalidPduParameter });
  const storage = ctx.storage(ctx.settings.mem[0]) as SmsStorage;
  return ok(...storage.list(stat).flatMap((message) => entryLines(ctx, message, message.index)));
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
  return ok(...entryLines(ctx, message));
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
// Sending and writing (27.005 §3.5)

/** <toda>/<tooa>: 145 or 129, or absent. */
function addressType(arg: string | undefined): number | undefined | false {
  if (arg === undefined || arg === '') return undefined;
  const value = intArg(arg, 128, 255);
  return value === undefined ? false : value;
}

const cmgs: CommandHandler = (ctx, call) => {
  if (call.form === 'test') return ok();
  const gate = smsGate(ctx);
  if (gate !== undefined) return gate;
  if (call.form !== 'set') return fail({ cms: CMS.operationNotAllowed });
  if (ctx.settings.cmgf === 1) {
    const toda = addressType(call.args[1]);
    const to = toda === false || call.args.length > 2 ? undefined : typedAddress(unquote(call.args[0]), toda, ctx.settings.cscs);
    if (to === undefined) return fail({ cms: CMS.invalidTextParameter });
    return { lines: [], prompt: { kind: 'send-text', to } };
  }
  const length = intArg(call.args[0], 1, 164);
  if (length === undefined || call.args.length > 1) return fail({ cms: CMS.invalidPduParameter });
  return { lines: [], prompt: { kind: 'send-pdu', length } };
};

/**
 * `AT+CMGW` (27.005 §3.5.3). PDU mode: `=<length>[,<stat>]`. Text mode:
 * `[=<oa/da>[,<tooa/toda>[,<stat>]]]`; a REC stat stores an SMS-DELIVER from <oa>, a STO stat
 * an SMS-SUBMIT to <da>.
 */
const cmgw: CommandHandler = (ctx, call) => {
  if (call.form === 'test') return ok();
  const gate = smsGate(ctx);
  if (gate !== undefined) return gate;
  if (ctx.settings.cmgf === 1) {
    const type = addressType(call.args[1]);
    const stat = call.args[2] === undefined ? SMS_STAT.stoUnsent : TEXT_STATS[unquote(call.args[2]).toUpperCase()];
    const address = type === false ? undefined : typedAddress(unquote(call.args[0]), type, ctx.settings.cscs);
    if (call.form !== 'set' || address === undefined || stat === undefined || stat === SMS_STAT.all || call.args.length > 3) {
      return fail({ cms: CMS.invalidTextParameter });
    }
    return { lines: [], prompt: { kind: 'write-text', address, stat: stat as SmsStat } };
  }
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

/** `AT+CNMA` (27.005 §3.4.4): nothing here waits for an acknowledgement (`+CSMS=0`). */
const cnma: CommandHandler = () => fail({ cms: CMS.noCnmaExpected });

export const SMS_COMMANDS: Readonly<Record<string, CommandHandler>> = {
  '+CMGF': cmgf,
  '+CSCS': cscs,
  '+CSCA': csca,
  '+CSDH': csdh,
  '+CSMP': csmp,
  '+CSMS': csms,
  '+CNMI': cnmi,
  '+CPMS': cpms,
  '+CMMS': cmms,
  '+CMGL': cmgl,
  '+CMGR': cmgr,
  '+CMGD': cmgd,
  '+CMGS': cmgs,
  '+CMGW': cmgw,
  '+CMSS': cmss,
  '+CNMA': cnma,
};
