/**
 * The TE character set of `AT+CSCS` (3GPP TS 27.007 §5.5): how text crosses the AT interface
 * in text-mode SMS, addresses and USSD strings. Text here is a JS string; the wire form is a
 * string of byte values 0-255 (written to the port as Latin-1).
 *
 * - "GSM": one byte per GSM 7-bit default alphabet code (23.038 §6.2.1), the extension table
 *   behind 0x1B, so `€` is 1B 65 and `@` is 00 (27.005 Annex A).
 * - "IRA": ITU-T T.50 (ASCII) bytes 0x20-0x7E, CR and LF. A character IRA lacks is shown as `?`
 *   and, from the TE, refused.
 * - "8859-1": Latin-1 bytes; characters Latin-1 lacks are shown as `?`.
 * - "UCS2": four hex digits per UTF-16 code unit.
 * - "HEX": two hex digits per GSM 7-bit code (27.005 §3.1 <data>, "HEX").
 *
 * A string from the TE must also fit the GSM 7-bit alphabet when it becomes GSM 7-bit data;
 * that check belongs to the caller.
 * @module
 */
import { GSM7_ESCAPE, firstNonGsm7, septetsToText, textToSeptets } from '../../../shared/gsm/gsm7.ts';

export type TeCharset = 'IRA' | 'GSM' | 'UCS2' | 'HEX' | '8859-1';

export const TE_CHARSETS: readonly TeCharset[] = ['IRA', 'GSM', 'UCS2', 'HEX', '8859-1'];

const UNKNOWN = '?';

function isIra(code: number): boolean {
  return (code >= 0x20 && code <= 0x7e) || code === 0x0d || code === 0x0a;
}

/** GSM 7-bit codes of `text`, with `?` standing in for characters GSM lacks. */
function gsmCodes(text: string): number[] {
  const out: number[] = [];
  for (const char of text) out.push(...textToSeptets(firstNonGsm7(char) === -1 ? char : UNKNOWN));
  return out;
}

function hexOf(bytes: readonly number[], width: 2 | 4): string {
  return bytes.map((b) => b.toString(16).toUpperCase().padStart(width, '0')).join('');
}

/** `text` as the TE sees it in `charset`. */
export function toTe(text: string, charset: TeCharset): string {
  switch (charset) {
    case 'GSM':
      return String.fromCharCode(...gsmCodes(text));
    case 'HEX':
      return hexOf(gsmCodes(text), 2);
    case 'UCS2': {
      const units: number[] = [];
      for (let i = 0; i < text.length; i++) units.push(text.charCodeAt(i));
      return hexOf(units, 4);
    }
    case '8859-1':
      return [...text].map((c) => (c.charCodeAt(0) <= 0xff ? c : UNKNOWN)).join('');
    default:
      return [...text].map((c) => (isIra(c.charCodeAt(0)) ? c : UNKNOWN)).join('');
  }
}

function hexBytes(text: string, width: 2 | 4): number[] | undefined {
  if (text.length % width !== 0 || !/^[0-9A-Fa-f]*$/.test(text)) return undefined;
  const out: number[] = [];
  for (let i = 0; i < text.length; i += width) out.push(parseInt(text.slice(i, i + width), 16));
  return out;
}

function fromGsmCodes(codes: readonly number[]): string | undefined {
  if (codes.some((c) => c > 0x7f)) return undefined;
  if (codes.length > 0 && codes[codes.length - 1] === GSM7_ESCAPE) return undefined;
  return septetsToText(codes);
}

/** Text the TE sent in `charset` (bytes as a Latin-1 string); undefined when it is not valid there. */
export function fromTe(wire: string, charset: TeCharset): string | undefined {
  switch (charset) {
    case 'GSM':
      return fromGsmCodes([...wire].map((c) => c.charCodeAt(0)));
    case 'HEX': {
      const codes = hexBytes(wire, 2);
      return codes === undefined ? undefined : fromGsmCodes(codes);
    }
    case 'UCS2': {
      const units = hexBytes(wire, 4);
      return units === undefined ? undefined : String.fromCharCode(...units);
    }
    case '8859-1':
      return [...wire].every((c) => c.charCodeAt(0) <= 0xff) ? wire : undefined;
    default:
      return [...wire].every((c) => isIra(c.charCodeAt(0))) ? wire : undefined;
  }
}

/** Octets as two hex digits each, the form 8-bit, UCS2 and header-carrying user data takes in text mode. */
export function octetsToHex(bytes: Uint8Array): string {
  return hexOf([...bytes], 2);
}

export function hexToOctets(text: string): Uint8Array | undefined {
  const bytes = hexBytes(text, 2);
  return bytes === undefined ? undefined : Uint8Array.from(bytes);
}
