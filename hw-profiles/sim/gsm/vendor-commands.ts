/**
 * Vendor commands, each known only to the profiles that list them, each doing what the
 * module's manual says it does (modem-profiles.ts cites the manuals):
 *
 * - Huawei `^CURC=<0|1>`: periodic reports (`^RSSI`...) off or on.
 * - Huawei `^PORTSEL=<0|1>`: URCs to the modem port or the PCUI port (the emulated tty).
 * - Quectel `+QINDCFG=<type>[,<enable>[,<savetonvram>]]`: which `+QIND` reports come ("csq"
 *   signal, "smsfull" memory full, "smsincoming" +CMTI/+CMT/+CDS, "ring", "act", or "all").
 * - Quectel `+QURCCFG="urcport"[,<port>]`: the port URCs go to; the emulated tty is "usbat".
 * - SIMCom `+CSCLK=<0|1|2>`: slow clock; 2 sleeps after 5 s without input and loses the byte
 *   that wakes it; 1 follows DTR, which a pty does not carry, so the module stays awake.
 * - SIMCom `+CIURC=<0|1>`: "Call Ready" among the boot URCs or not (kept at once).
 * - SIMCom `+CLTS=<0|1>`: network time and zone reported (`*PSUTTZ`, `DST`) on registration;
 *   saved with `AT&W`.
 * @module
 */
import { unquote } from '../../../shared/gsm/at-parser.ts';
import { fail, intArg, numericSetting, ok, quoted, type CommandHandler, type ModemSettings } from './command-kit.ts';

const curc: CommandHandler = (ctx, call) => {
  if (call.form === 'test') return ok('^CURC: (0-1)');
  if (call.form === 'read') return ok(`^CURC: ${ctx.settings.signalReports ? 1 : 0}`);
  const value = intArg(call.args[0], 0, 1);
  if (value === undefined) return fail('error');
  ctx.settings.signalReports = value === 1;
  return ok();
};

/** The `+QINDCFG` report types and the setting each one switches. */
const QIND_TYPES = {
  csq: 'signalReports',
  smsfull: 'memoryFullReports',
  smsincoming: 'smsReports',
  ring: 'ringReports',
  act: 'actReports',
} as const satisfies Record<string, keyof ModemSettings>;
type QindType = keyof typeof QIND_TYPES;

const qindcfg: CommandHandler = (ctx, call) => {
  const types = Object.keys(QIND_TYPES) as QindType[];
  if (call.form === 'test') return ok(`+QINDCFG: ("all",${types.map(quoted).join(',')}),(0,1),(0,1)`);
  if (call.form !== 'set') return fail('error');
  const type = unquote(call.args[0]).toLowerCase();
  const chosen = type === 'all' ? types : types.includes(type as QindType) ? [type as QindType] : undefined;
  if (chosen === undefined || call.args.length > 3) return fail('error');
  if (call.args.length === 1) {
    const on = chosen.every((t) => ctx.settings[QIND_TYPES[t]]);
    return ok(`+QINDCFG: ${quoted(type)},${on ? 1 : 0}`);
  }
  const enable = intArg(call.args[1], 0, 1);
  const toNv = call.args[2] === undefined ? 0 : intArg(call.args[2], 0, 1);
  if (enable === undefined || toNv === undefined) return fail('error');
  for (const t of chosen) {
    ctx.settings[QIND_TYPES[t]] = enable === 1;
    if (toNv === 1) ctx.nv.saved[QIND_TYPES[t]] = enable === 1;
  }
  return ok();
};

const URC_PORTS = ['usbat', 'usbmodem', 'uart1'];

const qurccfg: CommandHandler = (ctx, call) => {
  if (call.form === 'test') return ok(`+QURCCFG: "urcport",(${URC_PORTS.map(quoted).join(',')})`);
  if (call.form !== 'set' || unquote(call.args[0]).toLowerCase() !== 'urcport' || call.args.length > 2) return fail('error');
  if (call.args.length === 1) return ok(`+QURCCFG: "urcport",${quoted(ctx.settings.urcPort)}`);
  const port = unquote(call.args[1]).toLowerCase();
  if (!URC_PORTS.includes(port)) return fail('error');
  ctx.settings.urcPort = port;
  ctx.nv.saved.urcPort = port; // saved at once (EC25 manual, +QURCCFG)
  return ok();
};

/** Huawei `^PORTSEL`: 0 sends URCs to the modem port, 1 to the PCUI port (the emulated tty). */
const portsel: CommandHandler = (ctx, call) => {
  if (call.form === 'test') return ok('^PORTSEL: (0,1)');
  if (call.form === 'read') return ok(`^PORTSEL: ${ctx.settings.urcPort === 'modem' ? 0 : 1}`);
  const value = intArg(call.args[0], 0, 1);
  if (value === undefined || call.args.length > 1) return fail('error');
  ctx.settings.urcPort = value === 1 ? 'pcui' : 'modem';
  return ok();
};

const ciurc: CommandHandler = (ctx, call) => {
  if (call.form === 'test') return ok('+CIURC: (0,1)');
  if (call.form === 'read') return ok(`+CIURC: ${ctx.nv.callReadyUrc ? 1 : 0}`);
  const value = intArg(call.args[0], 0, 1);
  if (value === undefined) return fail('error');
  ctx.nv.callReadyUrc = value === 1;
  return ok();
};

export const VENDOR_COMMANDS: Readonly<Record<string, CommandHandler>> = {
  '^CURC': curc,
  '^PORTSEL': portsel,
  '+QINDCFG': qindcfg,
  '+QURCCFG': qurccfg,
  '+CSCLK': numericSetting('+CSCLK', 'csclk', 2),
  '+CIURC': ciurc,
  '+CLTS': numericSetting('+CLTS', 'clts', 1),
};
