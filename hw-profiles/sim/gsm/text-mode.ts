/**
 * SMS text mode (`AT+CMGF=1`, 3GPP TS 27.005 §3): how stored and routed messages are shown
 * (`+CMGL`, `+CMGR`, `+CMT`, `+CDS`, with the `+CSDH=1` fields) and how text the TE types
 * after the `> ` prompt becomes a PDU.
 *
 * <data> (27.005 §3.1): GSM 7-bit text without a user data header is converted to the TE
 * character set; 8-bit and UCS2 data, and any user data with a header, are shown as two hex
 * digits per octet whatever `+CSCS` is. Addresses are in the TE character set. <length> counts
 * characters of converted text, octets otherwise.
 * @module
 */
import { CMS, SMS_STAT_TEXT, type SmsStat } from '../../../shared/gsm/at-codes.ts';
import {
  decodePdu,
  encodeDeliver,
  encodeSubmit,
  hexToBytes,
  type DecodedPdu,
  type EncodedPdu,
  type SmsAddress,
  type SmsEncoding,
  type UserData,
} from '../../../shared/gsm/pdu.ts';
import { fromTe, hexToOctets, octetsToHex, toTe, type TeCharset } from './te-charset.ts';

/** What text mode needs to know of the modem's settings. */
export interface TextModeView {
  charset: TeCharset;
  csdh: 0 | 1;
  /** `+CSCA`: shown as <sca> of a stored SUBMIT that carries none. */
  csca: string;
  csmp: { fo: number; vp: number; pid: number; dcs: number };
}

const quoted = (value: string): string => `"${value}"`;
const two = (n: number): string => String(n).padStart(2, '0');

/** `"yy/MM/dd,hh:mm:ss±zz"` without quotes: local time and the zone in quarters of an hour (27.005 §3.1 <scts>). */
export function timeString(at: number, tzMinutes: number): string {
  const local = new Date(at + tzMinutes * 60_000);
  const quarters = tzMinutes / 15;
  return `${two(local.getUTCFullYear() % 100)}/${two(local.getUTCMonth() + 1)}/${two(local.getUTCDate())},${two(local.getUTCHours())}:${two(local.getUTCMinutes())}:${two(local.getUTCSeconds())}${quarters < 0 ? '-' : '+'}${two(Math.abs(quarters))}`;
}

/** Type of address of a number as the TE writes it: 145 international, 129 otherwise (24.008 §10.5.4.7). */
export function typeOfAddress(number: string): number {
  return number.startsWith('+') ? 145 : 129;
}

/** The first octet of the TPDU (after the SMSC address). */
function firstOctet(hex: string): number {
  const bytes = hexToBytes(hex);
  return bytes[1 + (bytes[0] as number)] as number;
}

function data(userData: UserData, charset: TeCharset): { data: string; length: number } {
  if (userData.encoding === 'gsm7' && !userData.raw.udhi) return { data: toTe(userData.text, charset), length: userData.text.length };
  return { data: octetsToHex(userData.raw.ud), length: userData.raw.ud.length };
}

const address = (a: SmsAddress, charset: TeCharset): string => quoted(toTe(a.number, charset));

function sca(number: string | undefined, charset: TeCharset): string {
  const value = number ?? '';
  return `${quoted(toTe(value, charset))},${typeOfAddress(value)}`;
}

/** <vp> of a SUBMIT (27.005 §3.3.2): relative as an integer, absolute or enhanced as quoted hex, none empty. */
function validity(pdu: Extract<DecodedPdu, { type: 'submit' }>): string {
  if (pdu.validityFormat === 0) return '';
  if (pdu.validityFormat === 2) return String(pdu.validity[0]);
  return quoted(octetsToHex(pdu.validity));
}

export interface TextEntry {
  header: string;
  /** The <data> line; status reports have none. */
  data?: string;
}

/**
 * A stored message as `+CMGL` (`index` given) or `+CMGR` shows it (27.005 §3.4.2, §3.4.3).
 */
export function storedEntry(hex: string, stat: SmsStat, view: TextModeView, index?: number): TextEntry {
  const pdu = decodePdu(hex);
  const fo = firstOctet(hex);
  const { charset } = view;
  const head = index === undefined ? `+CMGR: ${quoted(SMS_STAT_TEXT[stat] as string)}` : `+CMGL: ${index},${quoted(SMS_STAT_TEXT[stat] as string)}`;
  if (pdu.type === 'status-report') {
    return { header: `${head},${statusReportFields(pdu, fo, charset)}` };
  }
  const body = data(pdu.userData, charset);
  if (pdu.type === 'deliver') {
    const scts = quoted(timeString(pdu.timestamp, pdu.timeZoneMinutes));
    const oa = address(pdu.originator, charset);
    if (index !== undefined) {
      const details = view.csdh === 1 ? `,${pdu.originator.toa},${body.length}` : '';
      return { header: `${head},${oa},,${scts}${details}`, data: body.data };
    }
    const details = view.csdh === 1 ? `,${pdu.originator.toa},${fo},${pdu.protocolId},${pdu.dcs},${sca(pdu.smsc, charset)},${body.length}` : '';
    return { header: `${head},${oa},,${scts}${details}`, data: body.data };
  }
  const da = address(pdu.destination, charset);
  if (index !== undefined) {
    const details = view.csdh === 1 ? `,${pdu.destination.toa},${body.length}` : '';
    return { header: `${head},${da},,${details}`, data: body.data };
  }
  const details = view.csdh === 1 ? `,${pdu.destination.toa},${fo},${pdu.protocolId},${pdu.dcs},${validity(pdu)},${sca(pdu.smsc ?? view.csca, charset)},${body.length}` : '';
  return { header: `${head},${da},${details}`, data: body.data };
}

/** <fo>,<mr>,<ra>,<tora>,<scts>,<dt>,<st> of a status report. */
function statusReportFields(pdu: Extract<DecodedPdu, { type: 'status-report' }>, fo: number, charset: TeCharset): string {
  return `${fo},${pdu.messageReference},${address(pdu.recipient, charset)},${pdu.recipient.toa},${quoted(timeString(pdu.timestamp, 0))},${quoted(timeString(pdu.discharge, 0))},${pdu.status}`;
}

/** `+CMT: <oa>,[<alpha>],<scts>[,...]` and its <data> for a routed SMS-DELIVER (27.005 §3.4.1). */
export function cmtLines(hex: string, view: TextModeView): string[] {
  const pdu = decodePdu(hex);
  if (pdu.type !== 'deliver') return [];
  const body = data(pdu.userData, view.charset);
  const details = view.csdh === 1 ? `,${pdu.originator.toa},${firstOctet(hex)},${pdu.protocolId},${pdu.dcs},${sca(pdu.smsc, view.charset)},${body.length}` : '';
  return [`+CMT: ${address(pdu.originator, view.charset)},,${quoted(timeString(pdu.timestamp, pdu.timeZoneMinutes))}${details}`, body.data];
}

/** `+CDS: <fo>,<mr>,...` for a routed SMS-STATUS-REPORT (27.005 §3.4.1). */
export function cdsLine(hex: string, view: TextModeView): string | undefined {
  const pdu = decodePdu(hex);
  if (pdu.type !== 'status-report') return undefined;
  return `+CDS: ${statusReportFields(pdu, firstOctet(hex), view.charset)}`;
}

/** The alphabet a TP-DCS selects (23.038 §4), for text typed at the prompt. */
function alphabetOf(dcs: number): SmsEncoding | undefined {
  const group = dcs >> 4;
  if (group <= 0x3) {
    if (dcs & 0x20) return undefined; // compressed
    return (['gsm7', '8bit', 'ucs2', undefined] as const)[(dcs >> 2) & 0x03];
  }
  if (group === 0xf) return dcs & 0x04 ? '8bit' : 'gsm7';
  return undefined;
}

/** An address the TE typed (<da>/<oa> in the TE character set, <toda> 145 or 129): the number, or undefined. */
export function typedAddress(raw: string, toda: number | undefined, charset: TeCharset): string | undefined {
  const number = fromTe(raw, charset);
  if (number === undefined || !/^\+?[0-9]{1,20}$/.test(number)) return undefined;
  if (toda === 145 && !number.startsWith('+')) return `+${number}`;
  return number;
}

/** The message text typed at the prompt, per `+CSMP` <dcs> and the TE character set; or the `+CMS ERROR`. */
function typedText(body: string, view: TextModeView): { text: string; encoding: 'gsm7' | 'ucs2' } | number {
  if (view.csmp.fo & 0x40) return CMS.operationNotSupported; // a header typed as hex is not modelled
  const encoding = alphabetOf(view.csmp.dcs);
  if (encoding === 'gsm7') {
    const text = fromTe(body, view.charset);
    return text === undefined ? CMS.invalidTextParameter : { text, encoding };
  }
  if (encoding === 'ucs2') {
    const octets = hexToOctets(body);
    if (octets === undefined || octets.length % 2 !== 0) return CMS.invalidTextParameter;
    let text = '';
    for (let i = 0; i < octets.length; i += 2) text += String.fromCharCode(((octets[i] as number) << 8) | (octets[i + 1] as number));
    return { text, encoding };
  }
  return CMS.operationNotSupported; // 8-bit data typed as hex is not modelled
}

/**
 * The SMS-SUBMIT for text typed after `AT+CMGS="<da>"` / `AT+CMGW="<da>"` (27.005 §3.5.1,
 * §3.5.3), with `+CSMP`'s first octet (status report request, validity period format) and
 * <vp>; or the `+CMS ERROR` code.
 */
export function typedSubmit(to: string, body: string, view: TextModeView): EncodedPdu | number {
  const typed = typedText(body, view);
  if (typeof typed === 'number') return typed;
  const { fo, vp } = view.csmp;
  try {
    const [pdu] = encodeSubmit({
      to,
      text: typed.text,
      alphabet: typed.encoding,
      maxParts: 1,
      statusReportRequest: (fo & 0x20) !== 0,
      ...((fo & 0x18) === 0x10 ? { validityPeriod: vp } : {}),
    });
    return pdu as EncodedPdu;
  } catch {
    return CMS.invalidTextParameter; // not in the GSM alphabet, or longer than one SMS
  }
}

/** An SMS-DELIVER the TE stores itself (`AT+CMGW="<oa>",,"REC READ"`), stamped now. */
export function typedDeliver(from: string, body: string, view: TextModeView, at: number, tzMinutes: number): EncodedPdu | number {
  const typed = typedText(body, view);
  if (typeof typed === 'number') return typed;
  try {
    const smsc = view.csca === '' ? {} : { smsc: view.csca };
    return encodeDeliver({ from, text: typed.text, alphabet: typed.encoding, maxParts: 1, timestamp: at, timeZoneMinutes: tzMinutes, ...smsc })[0] as EncodedPdu;
  } catch {
    return CMS.invalidTextParameter;
  }
}
