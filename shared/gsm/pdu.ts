/**
 * SMS PDUs as they cross the AT interface in PDU mode (3GPP TS 27.005 §3.1 `<pdu>`): an SMSC
 * address (24.011 §8.2.5.1) followed by a TPDU (23.040 §9.2.2): SMS-SUBMIT going out,
 * SMS-DELIVER and SMS-STATUS-REPORT coming in.
 *
 * Encoding refuses what it cannot carry unchanged: text is checked against the GSM-7 tables
 * (gsm7.ts) or UCS-2 before anything is built, split into parts on character boundaries (never
 * through an escape sequence), and every part is decoded again and compared. Decoding bounds
 * every length before reading, and any malformed field is an `HsmError` naming it.
 *
 * The codec is this module's own. node-pdu 2.1.1, the library the design named, serves the
 * tests as an independent oracle instead: it cannot encode SMS-STATUS-REPORT, maps 0x5F to '`'
 * (not '§'), replaces characters outside GSM-7 with a space, draws concatenation references
 * from Math.random, stamps DELIVERs in the host's time zone, and decodes truncated PDUs
 * without complaint.
 * @module
 */
import { HsmError } from '../errors.ts';
import { firstNonGsm7, packSeptets, septetsToText, textToSeptets, unpackSeptets } from './gsm7.ts';

export type PduErrorCode =
  | 'PDU_HEX'
  | 'PDU_TOO_LONG'
  | 'PDU_TRUNCATED'
  | 'PDU_TRAILING_DATA'
  | 'PDU_BAD_ADDRESS'
  | 'PDU_BAD_TIMESTAMP'
  | 'PDU_BAD_UDH'
  | 'PDU_BAD_LENGTH'
  | 'PDU_UNSUPPORTED'
  | 'SMS_TEXT_UNENCODABLE'
  | 'SMS_TEXT_TOO_LONG'
  | 'SMS_BAD_ARGUMENT';

function pduError(code: PduErrorCode, message: string, field: string): HsmError<PduErrorCode> {
  return new HsmError(code, message, { field });
}

// ---------------------------------------------------------------------------------------------
// Sizes (23.040 §9.2.3)

/** Longest TPDU: SMS-SUBMIT with a 12-octet address, 7-octet VP and 140 octets of user data. */
export const MAX_TPDU_OCTETS = 164;
/** SMSC address field: length octet + TOA + up to 10 octets of digits (24.011 §8.2.5.1). */
export const MAX_SCA_OCTETS = 12;
/** Longest hex string accepted as an AT `<pdu>`. */
export const MAX_PDU_HEX = 2 * (MAX_SCA_OCTETS + MAX_TPDU_OCTETS);
export const MAX_USER_DATA_OCTETS = 140;
export const MAX_GSM7_SEPTETS = 160;
/** TP-OA/TP-DA/TP-RA carry at most 20 digits (23.040 §9.1.2.5). */
export const MAX_ADDRESS_DIGITS = 20;
/** A concatenated message has at most 255 parts (23.040 §9.2.3.24.1). */
export const MAX_CONCAT_PARTS = 255;

// ---------------------------------------------------------------------------------------------
// Types

export type AddressKind = 'international' | 'national' | 'unknown' | 'alphanumeric' | 'other';

export interface SmsAddress {
  /** Digits with a leading '+' for international numbers; the decoded name when alphanumeric. */
  number: string;
  kind: AddressKind;
  /** Type-of-address octet (23.040 §9.1.2.5). */
  toa: number;
}

export type SmsEncoding = 'gsm7' | '8bit' | 'ucs2';

export interface ConcatInfo {
  reference: number;
  referenceBits: 8 | 16;
  total: number;
  sequence: number;
}

export interface UserData {
  encoding: SmsEncoding;
  /** The text (8-bit data is shown as Latin-1 characters, one per octet). */
  text: string;
  /** Octets of 8-bit data after the header. */
  bytes?: Uint8Array;
  concat?: ConcatInfo;
  /** The raw fields, so a network can forward them unchanged: TP-UDL, TP-UDHI, TP-UD. */
  raw: { udl: number; udhi: boolean; ud: Uint8Array };
}

export interface DecodedDeliver {
  type: 'deliver';
  smsc: string | undefined;
  originator: SmsAddress;
  protocolId: number;
  dcs: number;
  /** TP-SCTS as Unix ms, and the time zone it was given in (minutes east of UTC). */
  timestamp: number;
  timeZoneMinutes: number;
  moreMessagesToSend: boolean;
  statusReportIndication: boolean;
  userData: UserData;
}

export interface DecodedSubmit {
  type: 'submit';
  smsc: string | undefined;
  messageReference: number;
  destination: SmsAddress;
  protocolId: number;
  dcs: number;
  statusReportRequest: boolean;
  rejectDuplicates: boolean;
  /** TP-VPF (23.040 §9.2.3.3): 0 none, 1 enhanced, 2 relative, 3 absolute. */
  validityFormat: 0 | 1 | 2 | 3;
  validity: Uint8Array;
  userData: UserData;
}

export interface DecodedStatusReport {
  type: 'status-report';
  smsc: string | undefined;
  messageReference: number;
  recipient: SmsAddress;
  /** When the SMSC received the SMS-SUBMIT (TP-SCTS). */
  timestamp: number;
  /** When the final status was reached (TP-DT). */
  discharge: number;
  /** TP-ST (23.040 §9.2.3.15): 0x00 delivered, 0x20-0x3F still trying, 0x40-0x7F failed. */
  status: number;
}

export type DecodedPdu = DecodedDeliver | DecodedSubmit | DecodedStatusReport;

export interface EncodedPdu {
  /** Hex of SMSC address + TPDU, as written after the `> ` prompt. */
  hex: string;
  /** TPDU octets: the `<length>` of `AT+CMGS`/`AT+CMGW` (27.005 §3.5.1). */
  tpduLength: number;
}

// ---------------------------------------------------------------------------------------------
// Hex

export function hexToBytes(hex: string, field = 'pdu'): Uint8Array {
  if (hex.length > MAX_PDU_HEX) throw pduError('PDU_TOO_LONG', `a PDU is at most ${MAX_PDU_HEX} hex digits, got ${hex.length}`, field);
  if (hex.length % 2 !== 0) throw pduError('PDU_HEX', 'a PDU has an even number of hex digits', field);
  if (!/^[0-9A-Fa-f]*$/.test(hex)) throw pduError('PDU_HEX', 'a PDU is made of hex digits only', field);
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

export function bytesToHexUpper(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex').toUpperCase();
}

class Reader {
  offset = 0;
  constructor(private readonly bytes: Uint8Array) {}

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  octet(field: string): number {
    if (this.offset >= this.bytes.length) throw pduError('PDU_TRUNCATED', `the PDU ends before ${field}`, field);
    return this.bytes[this.offset++] as number;
  }

  take(length: number, field: string): Uint8Array {
    if (length > this.remaining) throw pduError('PDU_TRUNCATED', `the PDU ends inside ${field} (${length} octets needed, ${this.remaining} left)`, field);
    const out = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Addresses (23.040 §9.1.2.5, 24.011 §8.2.5.1)

const TOA_INTERNATIONAL = 0x91;
const TOA_UNKNOWN = 0x81;

function addressKind(toa: number): AddressKind {
  switch ((toa >> 4) & 0x07) {
    case 0:
      return 'unknown';
    case 1:
      return 'international';
    case 2:
      return 'national';
    case 5:
      return 'alphanumeric';
    default:
      return 'other';
  }
}

/** Digits of a semi-octet string; 0xA-0xE are `*#abc` and 0xF is the filler (23.040 §9.1.2.3). */
const SEMI_OCTET_DIGITS = '0123456789*#abc';

function decodeSemiOctets(bytes: Uint8Array, digits: number, field: string): string {
  let out = '';
  for (let i = 0; i < digits; i++) {
    const byte = bytes[i >> 1] as number;
    const nibble = i % 2 === 0 ? byte & 0x0f : byte >> 4;
    if (nibble === 0x0f) throw pduError('PDU_BAD_ADDRESS', `filler digit inside ${field}`, field);
    out += SEMI_OCTET_DIGITS[nibble] as string;
  }
  return out;
}

function encodeSemiOctets(digits: string): Uint8Array {
  const out = new Uint8Array(Math.ceil(digits.length / 2));
  for (let i = 0; i < digits.length; i++) {
    const nibble = SEMI_OCTET_DIGITS.indexOf(digits[i] as string);
    const index = i >> 1;
    out[index] = (out[index] as number) | (i % 2 === 0 ? nibble : nibble << 4);
  }
  if (digits.length % 2 === 1) out[out.length - 1] = (out[out.length - 1] as number) | 0xf0;
  return out;
}

/** TP-OA / TP-DA / TP-RA: length in useful semi-octets, TOA, digits. */
function readAddress(reader: Reader, field: string): SmsAddress {
  const digits = reader.octet(field);
  if (digits > MAX_ADDRESS_DIGITS) throw pduError('PDU_BAD_ADDRESS', `${field} has ${digits} digits (at most ${MAX_ADDRESS_DIGITS})`, field);
  const toa = reader.octet(field);
  if ((toa & 0x80) === 0) throw pduError('PDU_BAD_ADDRESS', `${field} has a type-of-address octet without bit 8 set`, field);
  const body = reader.take(Math.ceil(digits / 2), field);
  const kind = addressKind(toa);
  if (kind === 'alphanumeric') {
    const septets = Math.floor((digits * 4) / 7);
    return { number: septetsToText(unpackSeptets(body, septets)), kind, toa };
  }
  const number = decodeSemiOctets(body, digits, field);
  return { number: kind === 'international' ? `+${number}` : number, kind, toa };
}

/** The SMSC address before the TPDU: length in octets (TOA included), 0 = use +CSCA. */
function readSca(reader: Reader): string | undefined {
  const octets = reader.octet('sca');
  if (octets === 0) return undefined;
  if (octets > MAX_SCA_OCTETS - 1) throw pduError('PDU_BAD_ADDRESS', `the SMSC address is ${octets} octets long (at most ${MAX_SCA_OCTETS - 1})`, 'sca');
  const toa = reader.octet('sca');
  const body = reader.take(octets - 1, 'sca');
  const last = body[body.length - 1];
  const digits = body.length * 2 - (last !== undefined && last >> 4 === 0x0f ? 1 : 0);
  const number = decodeSemiOctets(body, digits, 'sca');
  return addressKind(toa) === 'international' ? `+${number}` : number;
}

/** A phone number as the user gives it: `+` and 1-20 digits (international) or 1-20 digits. */
export function parsePhoneNumber(value: string, field: string): { digits: string; toa: number } {
  if (typeof value !== 'string') throw pduError('PDU_BAD_ADDRESS', `${field} must be a phone number`, field);
  const match = /^(\+?)([0-9]{1,20})$/.exec(value);
  if (match === null) throw pduError('PDU_BAD_ADDRESS', `${field} must be "+" and 1-20 digits, or 1-20 digits`, field);
  return { digits: match[2] as string, toa: match[1] === '+' ? TOA_INTERNATIONAL : TOA_UNKNOWN };
}

function encodeAddress(value: string, field: string): Uint8Array {
  const { digits, toa } = parsePhoneNumber(value, field);
  return Uint8Array.of(digits.length, toa, ...encodeSemiOctets(digits));
}

function encodeSca(smsc: string | undefined): Uint8Array {
  if (smsc === undefined) return Uint8Array.of(0);
  const { digits, toa } = parsePhoneNumber(smsc, 'smsc');
  if (digits.length > 2 * (MAX_SCA_OCTETS - 2)) throw pduError('PDU_BAD_ADDRESS', 'the SMSC address is too long', 'smsc');
  const body = encodeSemiOctets(digits);
  return Uint8Array.of(body.length + 1, toa, ...body);
}

// ---------------------------------------------------------------------------------------------
// Time stamps (23.040 §9.2.3.11): YY MM DD hh mm ss TZ, semi-octets swapped, TZ in quarters

function bcd(octet: number, field: string): number {
  const low = octet & 0x0f;
  const high = octet >> 4;
  if (low > 9 || high > 9) throw pduError('PDU_BAD_TIMESTAMP', `${field} has a non-decimal digit`, field);
  return low * 10 + high;
}

function readTimestamp(reader: Reader, field: string): { at: number; tzMinutes: number } {
  const o = reader.take(7, field);
  const yy = bcd(o[0] as number, field);
  // Two-digit years: 90-99 are 1990s (old network equipment and published examples), else 20yy.
  const year = yy >= 90 ? 1900 + yy : 2000 + yy;
  const month = bcd(o[1] as number, field);
  const day = bcd(o[2] as number, field);
  const hour = bcd(o[3] as number, field);
  const minute = bcd(o[4] as number, field);
  const second = bcd(o[5] as number, field);
  const tzOctet = o[6] as number;
  const tzTens = tzOctet & 0x07;
  const tzUnits = tzOctet >> 4;
  if (tzUnits > 9) throw pduError('PDU_BAD_TIMESTAMP', `${field} has a non-decimal time zone`, field);
  const quarters = tzTens * 10 + tzUnits;
  if (quarters > 56) throw pduError('PDU_BAD_TIMESTAMP', `${field} has a time zone beyond ±14 h`, field);
  const tzMinutes = (tzOctet & 0x08 ? -1 : 1) * quarters * 15;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 59) {
    throw pduError('PDU_BAD_TIMESTAMP', `${field} is not a valid date and time`, field);
  }
  const local = Date.UTC(year, month - 1, day, hour, minute, second);
  return { at: local - tzMinutes * 60_000, tzMinutes };
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** Encodes `at` (Unix ms) as local time in the zone `tzMinutes` east of UTC (a multiple of 15). */
export function encodeTimestamp(at: number, tzMinutes = 0): Uint8Array {
  if (!Number.isFinite(at)) throw pduError('SMS_BAD_ARGUMENT', 'a time stamp must be a finite number of ms', 'timestamp');
  if (!Number.isInteger(tzMinutes) || tzMinutes % 15 !== 0 || Math.abs(tzMinutes) > 14 * 60) {
    throw pduError('SMS_BAD_ARGUMENT', 'the time zone must be a multiple of 15 minutes within ±14 h', 'timeZoneMinutes');
  }
  const local = new Date(at + tzMinutes * 60_000);
  const year = local.getUTCFullYear();
  if (year < 2000 || year > 2089) throw pduError('SMS_BAD_ARGUMENT', 'time stamps cover the years 2000-2089', 'timestamp');
  const swap = (n: number): number => ((n % 10) << 4) | Math.floor(n / 10);
  const quarters = Math.abs(tzMinutes) / 15;
  const tz = ((quarters % 10) << 4) | Math.floor(quarters / 10) | (tzMinutes < 0 ? 0x08 : 0);
  return Uint8Array.of(
    swap(year - 2000),
    swap(local.getUTCMonth() + 1),
    swap(local.getUTCDate()),
    swap(local.getUTCHours()),
    swap(local.getUTCMinutes()),
    swap(local.getUTCSeconds()),
    tz,
  );
}

// ---------------------------------------------------------------------------------------------
// Data coding scheme (23.038 §4)

function alphabetOf(dcs: number): SmsEncoding {
  const group = dcs >> 4;
  if (group <= 0x7) {
    if (dcs & 0x20) throw pduError('PDU_UNSUPPORTED', 'compressed user data is not supported', 'dcs');
    switch ((dcs >> 2) & 0x03) {
      case 1:
        return '8bit';
      case 2:
        return 'ucs2';
      default:
        return 'gsm7'; // 11 is reserved and read as the default alphabet (23.038 §4)
    }
  }
  if (group === 0xc || group === 0xd) return 'gsm7';
  if (group === 0xe) return 'ucs2';
  if (group === 0xf) return dcs & 0x04 ? '8bit' : 'gsm7';
  throw pduError('PDU_UNSUPPORTED', `data coding scheme 0x${dcs.toString(16).padStart(2, '0')} is reserved`, 'dcs');
}

const DCS_GSM7 = 0x00;
const DCS_UCS2 = 0x08;

// ---------------------------------------------------------------------------------------------
// User data (23.040 §9.2.3.16, §9.2.3.24)

const IEI_CONCAT_8 = 0x00;
const IEI_CONCAT_16 = 0x08;

function readUserData(reader: Reader, dcs: number, udhi: boolean): UserData {
  const encoding = alphabetOf(dcs);
  const udl = reader.octet('udl');
  const octets = encoding === 'gsm7' ? Math.ceil((udl * 7) / 8) : udl;
  if (encoding === 'gsm7' ? udl > MAX_GSM7_SEPTETS : udl > MAX_USER_DATA_OCTETS) {
    throw pduError('PDU_BAD_LENGTH', `TP-UDL ${udl} exceeds the maximum for ${encoding}`, 'udl');
  }
  const ud = reader.take(octets, 'ud');
  let headerOctets = 0;
  let concat: ConcatInfo | undefined;
  if (udhi) {
    if (ud.length === 0) throw pduError('PDU_BAD_UDH', 'TP-UDHI is set but there is no user data', 'udh');
    const udhl = ud[0] as number;
    headerOctets = 1 + udhl;
    if (headerOctets > ud.length) throw pduError('PDU_BAD_UDH', `the user data header (${udhl} octets) is longer than the user data`, 'udh');
    concat = readHeader(ud.subarray(1, headerOctets));
  }
  let text: string;
  let bytes: Uint8Array | undefined;
  if (encoding === 'gsm7') {
    const headerSeptets = Math.ceil((headerOctets * 8) / 7);
    if (headerSeptets > udl) throw pduError('PDU_BAD_UDH', 'the user data header is longer than TP-UDL', 'udh');
    const fillBits = headerSeptets * 7 - headerOctets * 8;
    text = septetsToText(unpackSeptets(ud.subarray(headerOctets), udl - headerSeptets, fillBits));
  } else if (encoding === 'ucs2') {
    const body = ud.subarray(headerOctets);
    if (body.length % 2 !== 0) throw pduError('PDU_BAD_LENGTH', 'UCS-2 user data has an odd number of octets', 'ud');
    text = '';
    for (let i = 0; i < body.length; i += 2) text += String.fromCharCode(((body[i] as number) << 8) | (body[i + 1] as number));
  } else {
    bytes = Uint8Array.from(ud.subarray(headerOctets));
    text = Buffer.from(bytes).toString('latin1');
  }
  const userData: UserData = { encoding, text, raw: { udl, udhi, ud: Uint8Array.from(ud) } };
  if (bytes !== undefined) userData.bytes = bytes;
  if (concat !== undefined) userData.concat = concat;
  return userData;
}

/** Walks the information elements; returns the concatenation IE if there is a valid one. */
function readHeader(header: Uint8Array): ConcatInfo | undefined {
  let offset = 0;
  let concat: ConcatInfo | undefined;
  while (offset < header.length) {
    if (offset + 2 > header.length) throw pduError('PDU_BAD_UDH', 'an information element is cut off', 'udh');
    const iei = header[offset] as number;
    const length = header[offset + 1] as number;
    const data = header.subarray(offset + 2, offset + 2 + length);
    if (data.length !== length) throw pduError('PDU_BAD_UDH', `information element 0x${iei.toString(16)} overruns the header`, 'udh');
    offset += 2 + length;
    let candidate: ConcatInfo | undefined;
    if (iei === IEI_CONCAT_8 && length === 3) {
      candidate = { reference: data[0] as number, referenceBits: 8, total: data[1] as number, sequence: data[2] as number };
    } else if (iei === IEI_CONCAT_16 && length === 4) {
      candidate = { reference: ((data[0] as number) << 8) | (data[1] as number), referenceBits: 16, total: data[2] as number, sequence: data[3] as number };
    } else if (iei === IEI_CONCAT_8 || iei === IEI_CONCAT_16) {
      throw pduError('PDU_BAD_UDH', 'a concatenation element has the wrong length', 'udh');
    }
    // A zero or out-of-range count or sequence number means the element is ignored (23.040 §9.2.3.24.1).
    if (candidate !== undefined && candidate.total >= 1 && candidate.sequence >= 1 && candidate.sequence <= candidate.total) concat = candidate;
  }
  return concat;
}

// ---------------------------------------------------------------------------------------------
// Decoding

/**
 * Decodes `<pdu>` as an SMS-DELIVER (TP-MTI 00), SMS-SUBMIT (01) or SMS-STATUS-REPORT (10),
 * the three a modem stores or routes to the host. `withSca: false` for bare TPDUs.
 */
export function decodePdu(hex: string, options: { withSca?: boolean } = {}): DecodedPdu {
  if (typeof hex !== 'string') throw pduError('PDU_HEX', 'a PDU is a hex string', 'pdu');
  const reader = new Reader(hexToBytes(hex.trim()));
  const smsc = options.withSca === false ? undefined : readSca(reader);
  const tpduStart = reader.offset;
  const first = reader.octet('firstOctet');
  const pdu = decodeTpdu(reader, first, smsc);
  if (reader.offset - tpduStart > MAX_TPDU_OCTETS) throw pduError('PDU_TOO_LONG', 'the TPDU is longer than 164 octets', 'pdu');
  if (reader.remaining > 0) throw pduError('PDU_TRAILING_DATA', `${reader.remaining} octets follow the end of the TPDU`, 'pdu');
  return pdu;
}

function decodeTpdu(reader: Reader, first: number, smsc: string | undefined): DecodedPdu {
  switch (first & 0x03) {
    case 0: {
      const originator = readAddress(reader, 'originator');
      const protocolId = reader.octet('pid');
      const dcs = reader.octet('dcs');
      const { at, tzMinutes } = readTimestamp(reader, 'scts');
      const userData = readUserData(reader, dcs, (first & 0x40) !== 0);
      return {
        type: 'deliver',
        smsc,
        originator,
        protocolId,
        dcs,
        timestamp: at,
        timeZoneMinutes: tzMinutes,
        moreMessagesToSend: (first & 0x04) === 0,
        statusReportIndication: (first & 0x20) !== 0,
        userData,
      };
    }
    case 1: {
      const messageReference = reader.octet('messageReference');
      const destination = readAddress(reader, 'destination');
      const protocolId = reader.octet('pid');
      const dcs = reader.octet('dcs');
      const validityFormat = ((first >> 3) & 0x03) as 0 | 1 | 2 | 3;
      const validity = Uint8Array.from(reader.take(validityFormat === 0 ? 0 : validityFormat === 2 ? 1 : 7, 'validity'));
      const userData = readUserData(reader, dcs, (first & 0x40) !== 0);
      return {
        type: 'submit',
        smsc,
        messageReference,
        destination,
        protocolId,
        dcs,
        statusReportRequest: (first & 0x20) !== 0,
        rejectDuplicates: (first & 0x04) !== 0,
        validityFormat,
        validity,
        userData,
      };
    }
    case 2: {
      const messageReference = reader.octet('messageReference');
      const recipient = readAddress(reader, 'recipient');
      const scts = readTimestamp(reader, 'scts');
      const discharge = readTimestamp(reader, 'dischargeTime');
      const status = reader.octet('status');
      // Optional TP-PI and what it announces (23.040 §9.2.2.3); read to the end so nothing trails.
      if (reader.remaining > 0) {
        const pi = reader.octet('parameterIndicator');
        if (pi & 0x01) reader.octet('pid');
        const dcs = pi & 0x02 ? reader.octet('dcs') : DCS_GSM7;
        if (pi & 0x04) readUserData(reader, dcs, (first & 0x40) !== 0);
      }
      return {
        type: 'status-report',
        smsc,
        messageReference,
        recipient,
        timestamp: scts.at,
        discharge: discharge.at,
        status,
      };
    }
    default:
      throw pduError('PDU_UNSUPPORTED', 'TP-MTI 11 is reserved', 'firstOctet');
  }
}

// ---------------------------------------------------------------------------------------------
// Planning: which alphabet, how many parts

export type AlphabetPolicy = 'gsm7' | 'ucs2' | 'auto';

export interface SmsPlan {
  encoding: 'gsm7' | 'ucs2';
  /** The text of each part, in order; joined they give back the input exactly. */
  parts: string[];
}

export interface PlanOptions {
  /** `gsm7` refuses text GSM-7 cannot carry; `auto` (default) falls back to UCS-2; `ucs2` always uses it. */
  alphabet?: AlphabetPolicy;
  /** Most parts a message may take. Default 6. */
  maxParts?: number;
  /** Size of the concatenation reference for multipart messages. Default 8. */
  referenceBits?: 8 | 16;
}

/** Concatenation header: UDHL + IEI + IEDL + (ref, total, seq). 6 octets (8-bit ref) or 7. */
function concatHeaderOctets(referenceBits: 8 | 16): number {
  return referenceBits === 8 ? 6 : 7;
}

/**
 * Chooses the alphabet and splits `text` into parts that each fit one SMS; refuses text that
 * would be altered (unknown characters, unpaired surrogates, characters beyond UCS-2).
 */
export function planSms(text: string, options: PlanOptions = {}): SmsPlan {
  if (typeof text !== 'string') throw pduError('SMS_BAD_ARGUMENT', 'the text must be a string', 'text');
  if (options.alphabet !== undefined && !['gsm7', 'ucs2', 'auto'].includes(options.alphabet)) {
    throw pduError('SMS_BAD_ARGUMENT', 'alphabet must be gsm7, ucs2 or auto', 'alphabet');
  }
  if (options.referenceBits !== undefined && options.referenceBits !== 8 && options.referenceBits !== 16) {
    throw pduError('SMS_BAD_ARGUMENT', 'referenceBits must be 8 or 16', 'referenceBits');
  }
  const maxParts = options.maxParts ?? 6;
  if (!Number.isInteger(maxParts) || maxParts < 1 || maxParts > MAX_CONCAT_PARTS) {
    throw pduError('SMS_BAD_ARGUMENT', `maxParts must be an integer 1-${MAX_CONCAT_PARTS}`, 'maxParts');
  }
  const referenceBits = options.referenceBits ?? 8;
  if (text.length === 0) return { encoding: 'gsm7', parts: [''] };
  const bad = firstNonGsm7(text);
  if (bad === -1 && options.alphabet !== 'ucs2') return splitGsm7(text, maxParts, referenceBits);
  if (options.alphabet === 'gsm7' && bad !== -1) {
    throw pduError('SMS_TEXT_UNENCODABLE', `character ${describeChar(text, bad)} at position ${bad} is not in the GSM 7-bit alphabet`, 'text');
  }
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdfff) {
      throw pduError('SMS_TEXT_UNENCODABLE', `character ${describeChar(text, i)} at position ${i} is outside UCS-2`, 'text');
    }
  }
  return splitUnits(text, 'ucs2', 70, Math.floor((MAX_USER_DATA_OCTETS - concatHeaderOctets(referenceBits)) / 2), maxParts);
}

function describeChar(text: string, index: number): string {
  const point = text.codePointAt(index) ?? 0;
  return `U+${point.toString(16).toUpperCase().padStart(4, '0')}`;
}

function splitGsm7(text: string, maxParts: number, referenceBits: 8 | 16): SmsPlan {
  const single = textToSeptets(text).length;
  if (single <= MAX_GSM7_SEPTETS) return { encoding: 'gsm7', parts: [text] };
  const perPart = MAX_GSM7_SEPTETS - Math.ceil((concatHeaderOctets(referenceBits) * 8) / 7);
  const parts: string[] = [];
  let current = '';
  let used = 0;
  for (const char of text) {
    const cost = textToSeptets(char).length;
    if (used + cost > perPart) {
      parts.push(current);
      current = '';
      used = 0;
    }
    current += char;
    used += cost;
  }
  parts.push(current);
  if (parts.length > maxParts) {
    throw pduError('SMS_TEXT_TOO_LONG', `the text needs ${parts.length} SMS parts (at most ${maxParts})`, 'text');
  }
  return { encoding: 'gsm7', parts };
}

function splitUnits(text: string, encoding: 'ucs2', single: number, perPart: number, maxParts: number): SmsPlan {
  if (text.length <= single) return { encoding, parts: [text] };
  const parts: string[] = [];
  for (let i = 0; i < text.length; i += perPart) parts.push(text.slice(i, i + perPart));
  if (parts.length > maxParts) {
    throw pduError('SMS_TEXT_TOO_LONG', `the text needs ${parts.length} SMS parts (at most ${maxParts})`, 'text');
  }
  return { encoding, parts };
}

// ---------------------------------------------------------------------------------------------
// Encoding

interface UserDataFields {
  dcs: number;
  udhi: boolean;
  udl: number;
  ud: Uint8Array;
}

function buildUserData(text: string, encoding: 'gsm7' | 'ucs2', concat: ConcatInfo | undefined): UserDataFields {
  const header =
    concat === undefined
      ? new Uint8Array(0)
      : concat.referenceBits === 8
        ? Uint8Array.of(5, IEI_CONCAT_8, 3, concat.reference, concat.total, concat.sequence)
        : Uint8Array.of(6, IEI_CONCAT_16, 4, concat.reference >> 8, concat.reference & 0xff, concat.total, concat.sequence);
  if (encoding === 'gsm7') {
    const septets = textToSeptets(text);
    const headerSeptets = Math.ceil((header.length * 8) / 7);
    const fillBits = headerSeptets * 7 - header.length * 8;
    const body = packSeptets(septets, fillBits);
    const ud = new Uint8Array(header.length + body.length);
    ud.set(header, 0);
    // The first body octet shares its low fill bits with nothing: the header ends on an octet.
    ud.set(body, header.length);
    return { dcs: DCS_GSM7, udhi: header.length > 0, udl: headerSeptets + septets.length, ud };
  }
  const body = new Uint8Array(text.length * 2);
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    body[2 * i] = unit >> 8;
    body[2 * i + 1] = unit & 0xff;
  }
  const ud = new Uint8Array(header.length + body.length);
  ud.set(header, 0);
  ud.set(body, header.length);
  return { dcs: DCS_UCS2, udhi: header.length > 0, udl: ud.length, ud };
}

function checkByte(value: number, field: string, max = 255): number {
  if (!Number.isInteger(value) || value < 0 || value > max) throw pduError('SMS_BAD_ARGUMENT', `${field} must be an integer 0-${max}`, field);
  return value;
}

function concatFor(plan: SmsPlan, index: number, reference: number | undefined, referenceBits: 8 | 16): ConcatInfo | undefined {
  if (plan.parts.length === 1) return undefined;
  if (reference === undefined) throw pduError('SMS_BAD_ARGUMENT', 'a multipart message needs a concatenation reference', 'concatReference');
  checkByte(reference, 'concatReference', referenceBits === 8 ? 0xff : 0xffff);
  return { reference, referenceBits, total: plan.parts.length, sequence: index + 1 };
}

function assemble(sca: Uint8Array, tpdu: number[] | Uint8Array): EncodedPdu {
  const tpduBytes = Uint8Array.from(tpdu);
  const all = new Uint8Array(sca.length + tpduBytes.length);
  all.set(sca, 0);
  all.set(tpduBytes, sca.length);
  return { hex: bytesToHexUpper(all), tpduLength: tpduBytes.length };
}

export interface SubmitOptions extends PlanOptions {
  to: string;
  text: string;
  /** TP-MR; most modems overwrite it with their own counter and report that in `+CMGS`. */
  messageReference?: number;
  /** Required when the text needs more than one part. */
  concatReference?: number;
  statusReportRequest?: boolean;
  /** Relative validity period, TP-VP octet (23.040 §9.2.3.12.1); omitted when undefined. */
  validityPeriod?: number;
  /** SMSC address; undefined writes `00` (the modem uses `+CSCA`). */
  smsc?: string;
}

/** SMS-SUBMIT PDUs (23.040 §9.2.2.2) for `text`, one per part. */
export function encodeSubmit(options: SubmitOptions): EncodedPdu[] {
  const destination = encodeAddress(options.to, 'to');
  const sca = encodeSca(options.smsc);
  const mr = checkByte(options.messageReference ?? 0, 'messageReference');
  if (options.validityPeriod !== undefined) checkByte(options.validityPeriod, 'validityPeriod');
  const referenceBits = options.referenceBits ?? 8;
  const plan = planSms(options.text, options);
  const encoded = plan.parts.map((part, index) => {
    const userData = buildUserData(part, plan.encoding, concatFor(plan, index, options.concatReference, referenceBits));
    // fo: RP(7)=0 UDHI(6) SRR(5) VPF(4-3) RD(2)=0 MTI(1-0)=01
    const first =
      0x01 | (options.validityPeriod !== undefined ? 0x10 : 0) | (options.statusReportRequest ? 0x20 : 0) | (userData.udhi ? 0x40 : 0);
    const vp = options.validityPeriod !== undefined ? [options.validityPeriod] : [];
    return assemble(sca, [first, mr, ...destination, 0x00, userData.dcs, ...vp, userData.udl, ...userData.ud]);
  });
  verifyRoundTrip(encoded, plan, 'submit');
  return encoded;
}

export interface DeliverOptions extends PlanOptions {
  from: string;
  text: string;
  timestamp: number;
  timeZoneMinutes?: number;
  concatReference?: number;
  statusReportIndication?: boolean;
  smsc?: string;
}

/** SMS-DELIVER PDUs (23.040 §9.2.2.1) for `text`, one per part (what a network hands a modem). */
export function encodeDeliver(options: DeliverOptions): EncodedPdu[] {
  const originator = encodeAddress(options.from, 'from');
  const sca = encodeSca(options.smsc);
  const scts = encodeTimestamp(options.timestamp, options.timeZoneMinutes ?? 0);
  const referenceBits = options.referenceBits ?? 8;
  const plan = planSms(options.text, options);
  const encoded = plan.parts.map((part, index) => {
    const userData = buildUserData(part, plan.encoding, concatFor(plan, index, options.concatReference, referenceBits));
    // fo: RP(7)=0 UDHI(6) SRI(5) LP(3)=0 MMS(2)=1 (no more messages) MTI=00
    const first = 0x04 | (options.statusReportIndication ? 0x20 : 0) | (userData.udhi ? 0x40 : 0);
    return assemble(sca, [first, ...originator, 0x00, userData.dcs, ...scts, userData.udl, ...userData.ud]);
  });
  verifyRoundTrip(encoded, plan, 'deliver');
  return encoded;
}

export interface RawDeliverOptions {
  from: string;
  timestamp: number;
  timeZoneMinutes?: number;
  protocolId: number;
  dcs: number;
  userData: { udl: number; udhi: boolean; ud: Uint8Array };
  statusReportIndication?: boolean;
  smsc?: string;
}

/**
 * An SMS-DELIVER that carries another message's user data unchanged: what an SMSC makes of an
 * SMS-SUBMIT (same TP-PID, TP-DCS, TP-UDHI, TP-UDL and TP-UD, 23.040 §9.2.2.1).
 */
export function encodeDeliverRaw(options: RawDeliverOptions): EncodedPdu {
  const originator = encodeAddress(options.from, 'from');
  const sca = encodeSca(options.smsc);
  const scts = encodeTimestamp(options.timestamp, options.timeZoneMinutes ?? 0);
  checkByte(options.protocolId, 'protocolId');
  checkByte(options.dcs, 'dcs');
  checkByte(options.userData.udl, 'udl');
  if (options.userData.ud.length > MAX_USER_DATA_OCTETS) throw pduError('PDU_BAD_LENGTH', 'user data is longer than 140 octets', 'ud');
  const first = 0x04 | (options.statusReportIndication ? 0x20 : 0) | (options.userData.udhi ? 0x40 : 0);
  const encoded = assemble(sca, [first, ...originator, options.protocolId, options.dcs, ...scts, options.userData.udl, ...options.userData.ud]);
  decodePdu(encoded.hex); // a malformed user data field fails here, not at the receiver
  return encoded;
}

export interface StatusReportOptions {
  messageReference: number;
  recipient: string;
  /** When the SMSC received the SMS-SUBMIT. */
  timestamp: number;
  /** When the final status was reached. */
  discharge: number;
  timeZoneMinutes?: number;
  /** TP-ST (23.040 §9.2.3.15). */
  status: number;
  smsc?: string;
}

/**
 * SMS-STATUS-REPORT (23.040 §9.2.2.3), built by hand:
 *   fo(MTI=10, MMS=1) ‖ TP-MR ‖ TP-RA ‖ TP-SCTS(7) ‖ TP-DT(7) ‖ TP-ST
 */
export function encodeStatusReport(options: StatusReportOptions): EncodedPdu {
  const mr = checkByte(options.messageReference, 'messageReference');
  const status = checkByte(options.status, 'status', 0x7f);
  const recipient = encodeAddress(options.recipient, 'recipient');
  const sca = encodeSca(options.smsc);
  const tz = options.timeZoneMinutes ?? 0;
  return assemble(sca, [0x06, mr, ...recipient, ...encodeTimestamp(options.timestamp, tz), ...encodeTimestamp(options.discharge, tz), status]);
}

/** Decodes every part again and checks it carries exactly the planned text. */
function verifyRoundTrip(encoded: EncodedPdu[], plan: SmsPlan, kind: 'submit' | 'deliver'): void {
  encoded.forEach((pdu, index) => {
    const decoded = decodePdu(pdu.hex);
    if (decoded.type !== kind || decoded.userData.text !== plan.parts[index]) {
      throw new Error(`invariant failed: part ${index + 1} of the ${kind} does not decode to its text`);
    }
  });
}

/** TP-ST classes (23.040 §9.2.3.15). */
export function statusReportOutcome(status: number): 'delivered' | 'pending' | 'failed' {
  if (status <= 0x1f) return 'delivered';
  if (status <= 0x3f) return 'pending';
  return 'failed';
}
