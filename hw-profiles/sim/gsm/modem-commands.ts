/**
 * The emulated modem's command table: one handler per AT command name, each answering as
 * 3GPP TS 27.007 (general, network, SIM) describes, with the quirks of the active profile. SMS
 * commands (27.005) are in sms-commands.ts, vendor commands in vendor-commands.ts. Handlers
 * are synchronous and only read and change the modem through `ModemContext`; timing, echo,
 * framing and the `> ` prompt belong to the engine (emulated-modem.ts).
 *
 * A command in the table does what it says or answers an error as the module would; none
 * answers OK and changes nothing, except basic V.250 commands about lines a pty does not have
 * (`&C`, `&D`, `L`, `M`, `X`, `S`).
 * @module
 */
import { CME, isRegistered } from '../../../shared/gsm/at-codes.ts';
import { unquote } from '../../../shared/gsm/at-parser.ts';
import { fail, intArg, numericSetting, ok, quoted, simGate, type CommandHandler, type CommandOutcome, type ModemContext } from './command-kit.ts';
import type { SimCard } from './network.ts';
import { SMS_COMMANDS } from './sms-commands.ts';
import { fromTe, toTe } from './te-charset.ts';
import { timeString } from './text-mode.ts';
import { packedHexToText, textToPackedHex } from './ussd.ts';
import { VENDOR_COMMANDS } from './vendor-commands.ts';

/** Basic commands about lines and speakers a pty does not have: accepted, nothing to do. */
function accept(): CommandOutcome {
  return ok();
}

// ---------------------------------------------------------------------------------------------
// Identification (V.250 §6.1, 27.007 §5)

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

/** `ATI`: the module's own layout of its identity. */
const info: CommandHandler = (ctx) => {
  const p = ctx.profile;
  const fields: Record<string, string> = { manufacturer: p.manufacturer, model: p.model, revision: p.revision, imei: ctx.imei, gcap: p.gcap };
  return ok(...p.ati.map((line) => line.replace(/\{(\w+)\}/g, (_, key: string) => fields[key] ?? '')));
};

const gcap: CommandHandler = (ctx, call) => (call.form === 'test' ? ok() : ok(`+GCAP: ${ctx.profile.gcap}`));

/** `AT+CLAC` (27.007 §8.37): every command this module answers, one per line. */
const clac: CommandHandler = (ctx, call) => {
  if (call.form === 'test') return ok();
  const names = [...Object.keys(COMMANDS), ...ctx.profile.vendorCommands];
  return ok(...names.map((name) => `AT${name}`));
};

// ---------------------------------------------------------------------------------------------
// General and SIM (27.007 §8)

const cmee: CommandHandler = numericSetting('+CMEE', 'cmee', 2, { cme: CME.operationNotSupported });

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

/** `AT+CPAS` (27.007 §8.1): 0 = ready; nothing here rings or calls. */
const cpas: CommandHandler = (_ctx, call) => (call.form === 'test' ? ok('+CPAS: (0-5)') : ok('+CPAS: 0'));

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

/** `AT+CCLK` (27.007 §8.15): `yy/MM/dd,hh:mm:ss±zz`, and `yyyy/…` on modules that take it. */
const cclk: CommandHandler = (ctx, call) => {
  if (call.form === 'test') return ok();
  if (call.form === 'read') {
    const { at, timeZoneMinutes } = ctx.networkClock();
    return ok(`+CCLK: ${quoted(timeString(at, timeZoneMinutes))}`);
  }
  const match = /^"(\d{2}|\d{4})\/(\d{2})\/(\d{2}),(\d{2}):(\d{2}):(\d{2})([+-]\d{2})"$/.exec(call.raw);
  if (match === null) return fail({ cme: CME.operationNotSupported });
  const [, year, mo, dd, hh, mi, ss, zz] = match as unknown as string[];
  if (!ctx.profile.cclkYearDigits.includes((year as string).length as 2 | 4)) return fail({ cme: CME.operationNotSupported });
  const tz = Number(zz) * 15;
  const fullYear = (year as string).length === 4 ? Number(year) : 2000 + Number(year);
  const local = Date.UTC(fullYear, Number(mo) - 1, Number(dd), Number(hh), Number(mi), Number(ss));
  const check = new Date(local);
  if (Number.isNaN(local) || check.getUTCDate() !== Number(dd) || Number(hh) > 23 || Number(mi) > 59 || Number(ss) > 59 || Math.abs(tz) > 14 * 60) {
    return fail({ cme: CME.operationNotSupported });
  }
  ctx.setClock(local - tz * 60_000, tz);
  return ok();
};

/** `AT+CPBS` (27.007 §8.11): the phonebook memory; entries are not modelled, so each is empty. */
const cpbs: CommandHandler = (ctx, call) => {
  const books = ctx.profile.phonebooks;
  if (call.form === 'test') return ok(`+CPBS: (${books.map(quoted).join(',')})`);
  if (call.form === 'read') return ok(`+CPBS: ${quoted(ctx.settings.phonebook)},0,${ctx.settings.phonebook === 'SM' ? 250 : 10}`);
  const book = unquote(call.args[0]).toUpperCase();
  if (call.form !== 'set' || !books.includes(book)) return fail({ cme: CME.operationNotAllowed });
  ctx.settings.phonebook = book;
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
  return ok(`+CNUM: "",${quoted(toTe(msisdn, ctx.settings.cscs))},${msisdn.startsWith('+') ? 145 : 129}`);
};

/** `AT+CLIP` (27.007 §7.6): <n> as set, <m> 1 (provisioned); no calls come in here. */
const clip: CommandHandler = (ctx, call) => {
  if (call.form === 'read') return ok(`+CLIP: ${ctx.settings.clip},1`);
  return numericSetting('+CLIP', 'clip', 1)(ctx, call);
};

/** `AT+CHUP` (27.007 §6.5): ends every call; with none in progress there is nothing to end. */
const hangUp: CommandHandler = () => ok();

/**
 * `AT+CUSD=[<n>[,<str>[,<dcs>]]]` (27.007 §7.15): <n> 0/1 turns the `+CUSD` result code off or
 * on, 2 cancels the session; <str> goes to the network after OK, its answer comes as `+CUSD`.
 */
const cusd: CommandHandler = (ctx, call) => {
  if (call.form === 'test') return ok('+CUSD: (0-2)');
  if (call.form === 'read') return ok(`+CUSD: ${ctx.settings.cusd}`);
  const n = call.form === 'exec' ? 0 : intArg(call.args[0], 0, 2);
  if (n === undefined || call.args.length > 3) return fail({ cme: CME.operationNotSupported });
  if (n !== 2) ctx.settings.cusd = n as 0 | 1;
  const str = call.args[1];
  if (str === undefined || n === 2) return ok();
  const dcs = call.args[2] === undefined ? 15 : intArg(call.args[2], 0, 255);
  if (dcs !== 15 && dcs !== 0) return fail({ cme: CME.operationNotSupported }); // GSM 7-bit only (23.038 §5)
  const gate = simGate(ctx, false);
  if (gate !== undefined) return gate;
  if (!isRegistered(ctx.registration().stat)) return fail({ cme: CME.noNetworkService });
  const raw = unquote(str);
  const request = ctx.profile.ussdStrings === 'packed-hex' ? packedHexToText(raw) : fromTe(raw, ctx.settings.cscs);
  if (request === undefined || request.length === 0 || request.length > 182) return fail({ cme: CME.invalidCharacters });
  ctx.requestUssd(request);
  return ok();
};

/** The `+CUSD` result code for a network answer, in the profile's string form. */
export function cusdLine(ctx: Pick<ModemContext, 'profile' | 'settings'>, status: number, text: string | undefined): string {
  if (text === undefined) return `+CUSD: ${status}`;
  const str = ctx.profile.ussdStrings === 'packed-hex' ? textToPackedHex(text) : toTe(text, ctx.settings.cscs);
  return `+CUSD: ${status},${quoted(str)},15`;
}

// ---------------------------------------------------------------------------------------------
// V.250 basic commands

function flag(key: 'echo' | 'verbose' | 'quiet'): CommandHandler {
  return (ctx, call) => {
    const value = call.raw === '' ? 0 : intArg(call.raw, 0, 1);
    if (value === undefined) return fail('error');
    ctx.settings[key] = value === 1;
    return ok();
  };
}

const factory: CommandHandler = (ctx) => {
  ctx.factoryReset();
  return ok();
};

const restore: CommandHandler = (ctx) => {
  ctx.restoreProfile();
  return ok();
};

const save: CommandHandler = (ctx) => {
  ctx.saveProfile();
  return ok();
};

const ceer: CommandHandler = () => ok('+CEER: No cause');

// ---------------------------------------------------------------------------------------------
// The table

export const COMMANDS: Readonly<Record<string, CommandHandler>> = {
  E: flag('echo'),
  V: flag('verbose'),
  Q: flag('quiet'),
  Z: restore,
  '&F': factory,
  '&W': save,
  '&C': accept,
  '&D': accept,
  X: accept,
  L: accept,
  M: accept,
  S: accept,
  I: info,
  '+GCAP': gcap,
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
  '+CLAC': clac,
  '+CMEE': cmee,
  '+CPIN': cpin,
  '+CPAS': cpas,
  '+CSQ': csq,
  '+CFUN': cfun,
  '+CBC': cbc,
  '+CCLK': cclk,
  '+CPBS': cpbs,
  '+CREG': registrationCommand('+CREG', 'creg'),
  '+CGREG': registrationCommand('+CGREG', 'cgreg'),
  '+CGATT': cgatt,
  '+COPS': cops,
  '+CNUM': cnum,
  '+CRC': numericSetting('+CRC', 'crc', 1),
  '+CLIP': clip,
  '+CHUP': hangUp,
  '+CUSD': cusd,
  '+CEER': ceer,
  ...SMS_COMMANDS,
};

export { VENDOR_COMMANDS };
export type { CommandCall, CommandError, CommandHandler, CommandOutcome, ModemContext, ModemNv, ModemSettings, PromptSpec, SimState } from './command-kit.ts';
