/**
 * Typed readings of the information lines of AT replies (3GPP TS 27.007, 27.005). Pure; each
 * reader checks the shape it expects and throws `AT_BAD_RESPONSE` naming the command otherwise.
 * @module
 */
import { HsmError } from '../errors.ts';
import { splitParams, unquote } from './at-parser.ts';

function bad(field: string, message: string): HsmError<'AT_BAD_RESPONSE'> {
  return new HsmError('AT_BAD_RESPONSE', `unexpected reply to ${field}: ${message}`, { field });
}

function lineWith(lines: readonly string[], prefix: string, field: string): string {
  const line = lines.find((l) => l.startsWith(prefix));
  if (line === undefined) throw bad(field, `no ${prefix} line`);
  return line.slice(prefix.length);
}

function int(value: string | undefined, field: string, max = 0xffff): number {
  if (value === undefined || !/^[0-9]{1,6}$/.test(value.trim())) throw bad(field, `"${value ?? ''}" is not a number`);
  const n = Number(value.trim());
  if (n > max) throw bad(field, `${n} is out of range`);
  return n;
}

/** The first information line: `AT+CGMI`, `AT+CGMM`, `AT+CGMR` (27.007 §5.1-5.3), trimmed. */
export function parseTextLine(lines: readonly string[], field: string): string {
  const line = lines.find((l) => l.trim().length > 0);
  if (line === undefined) throw bad(field, 'no information line');
  return line.replace(/^\+CG[MS][IMRN]:\s*/, '').trim();
}

/** `AT+CGSN` (IMEI), `AT+CIMI` (IMSI), `AT+CCID` (ICCID): digits, possibly after a prefix. */
export function parseDigits(lines: readonly string[], field: string, min: number, max: number): string {
  for (const raw of lines) {
    const value = unquote(raw.replace(/^\+?[A-Z^]+:\s*/, '').trim());
    if (new RegExp(`^[0-9]{${min},${max}}F?$`).test(value)) return value.replace(/F$/, '');
  }
  throw bad(field, `no ${min}-${max} digit value`);
}

/** `+CSQ: <rssi>,<ber>` (27.007 §8.5). */
export function parseCsq(lines: readonly string[]): { rssi: number; ber: number } {
  const [rssi, ber] = splitParams(lineWith(lines, '+CSQ:', 'AT+CSQ'));
  return { rssi: int(rssi, 'AT+CSQ', 99), ber: int(ber, 'AT+CSQ', 99) };
}

/** `+CREG: <n>,<stat>[,<lac>,<ci>[,<AcT>]]` (27.007 §7.2); also `+CGREG`. */
export function parseRegistration(lines: readonly string[], prefix: '+CREG:' | '+CGREG:'): { stat: number; lac?: string; ci?: string } {
  const field = `AT${prefix.slice(0, -1)}?`;
  const params = splitParams(lineWith(lines, prefix, field));
  const stat = int(params[1], field, 10);
  return params.length >= 4 ? { stat, lac: unquote(params[2]), ci: unquote(params[3]) } : { stat };
}

/** `+CPIN: <code>` (27.007 §8.3): READY, SIM PIN, SIM PUK... */
export function parseCpin(lines: readonly string[]): string {
  const value = unquote(lineWith(lines, '+CPIN:', 'AT+CPIN?').trim());
  if (!/^[A-Z0-9 -]{2,20}$/.test(value)) throw bad('AT+CPIN?', `"${value}" is not a PIN state`);
  return value;
}

/** `+COPS: <mode>[,<format>,<oper>[,<AcT>]]` (27.007 §7.3). */
export function parseCops(lines: readonly string[]): { mode: number; operator?: string } {
  const params = splitParams(lineWith(lines, '+COPS:', 'AT+COPS?'));
  const mode = int(params[0], 'AT+COPS?', 4);
  return params.length >= 3 ? { mode, operator: unquote(params[2]) } : { mode };
}

/** `+CSCA: <sca>,<tosca>` (27.005 §3.3.1); an empty address means none is set. */
export function parseCsca(lines: readonly string[]): string | undefined {
  const params = splitParams(lineWith(lines, '+CSCA:', 'AT+CSCA?'));
  const address = unquote(params[0]);
  if (address === '') return undefined;
  if (!/^\+?[0-9]{1,20}$/.test(address)) throw bad('AT+CSCA?', `"${address}" is not an SMSC address`);
  return address;
}

export interface CpmsUsage {
  used: number;
  total: number;
}

/** `+CPMS: <used1>,<total1>,<used2>,<total2>,<used3>,<total3>` (reply to the set command). */
export function parseCpmsSet(lines: readonly string[]): CpmsUsage {
  const params = splitParams(lineWith(lines, '+CPMS:', 'AT+CPMS'));
  return { used: int(params[0], 'AT+CPMS'), total: int(params[1], 'AT+CPMS') };
}

/** `+CPMS: "SM",u,t,"SM",u,t,"SM",u,t` (reply to the query): usage of the read storage. */
export function parseCpmsQuery(lines: readonly string[]): CpmsUsage & { storage: string } {
  const params = splitParams(lineWith(lines, '+CPMS:', 'AT+CPMS?'));
  return { storage: unquote(params[0]), used: int(params[1], 'AT+CPMS?'), total: int(params[2], 'AT+CPMS?') };
}

export interface ListedPdu {
  index: number;
  stat: number;
  length: number;
  pdu: string;
}

/** `+CMGL: <index>,<stat>,[<alpha>],<length>` each followed by its PDU line (27.005 §3.4.2). */
export function parseCmgl(lines: readonly string[]): ListedPdu[] {
  const out: ListedPdu[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (!line.startsWith('+CMGL:')) continue;
    const params = splitParams(line.slice(6));
    const pdu = lines[i + 1];
    if (pdu === undefined || !/^[0-9A-Fa-f]+$/.test(pdu)) throw bad('AT+CMGL', `entry ${params[0] ?? '?'} has no PDU line`);
    out.push({
      index: int(params[0], 'AT+CMGL'),
      stat: int(params[1], 'AT+CMGL', 3),
      length: int(params[params.length - 1], 'AT+CMGL', 255),
      pdu: pdu.toUpperCase(),
    });
    i++;
  }
  return out;
}

/** `+CMGR: <stat>,[<alpha>],<length>` then the PDU (27.005 §3.4.3); undefined for an empty slot. */
export function parseCmgr(lines: readonly string[]): { stat: number; length: number; pdu: string } | undefined {
  const index = lines.findIndex((l) => l.startsWith('+CMGR:'));
  if (index === -1) return undefined;
  const params = splitParams((lines[index] as string).slice(6));
  // Some modems report an empty slot as "+CMGR: 0,,0" with no PDU line.
  if (params[params.length - 1] === '0' && lines[index + 1] === undefined) return undefined;
  const pdu = lines[index + 1];
  if (pdu === undefined || !/^[0-9A-Fa-f]+$/.test(pdu)) throw bad('AT+CMGR', 'no PDU line');
  return { stat: int(params[0], 'AT+CMGR', 3), length: int(params[params.length - 1], 'AT+CMGR', 255), pdu: pdu.toUpperCase() };
}

/** `+CMGS: <mr>` (27.005 §3.5.1). */
export function parseCmgs(lines: readonly string[]): number {
  const params = splitParams(lineWith(lines, '+CMGS:', 'AT+CMGS'));
  return int(params[0], 'AT+CMGS', 255);
}

/** `+CCLK: "yy/MM/dd,hh:mm:ss±zz"` (27.007 §8.15); zz in quarters of an hour. Unix ms. */
export function parseCclk(lines: readonly string[]): { at: number; timeZoneMinutes: number } {
  const value = unquote(lineWith(lines, '+CCLK:', 'AT+CCLK?').trim());
  const match = /^(\d{2})\/(\d{2})\/(\d{2}),(\d{2}):(\d{2}):(\d{2})([+-]\d{1,2})?$/.exec(value);
  if (match === null) throw bad('AT+CCLK?', `"${value}" is not a clock value`);
  const [, yy, mo, dd, hh, mi, ss, zz] = match;
  const tz = zz === undefined ? 0 : Number(zz) * 15;
  const local = Date.UTC(2000 + Number(yy), Number(mo) - 1, Number(dd), Number(hh), Number(mi), Number(ss));
  const check = new Date(local);
  if (check.getUTCMonth() !== Number(mo) - 1 || check.getUTCDate() !== Number(dd) || Number(hh) > 23 || Number(mi) > 59 || Number(ss) > 59) {
    throw bad('AT+CCLK?', `"${value}" is not a valid date`);
  }
  return { at: local - tz * 60_000, timeZoneMinutes: tz };
}
