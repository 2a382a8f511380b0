/**
 * The SMS strings HSM-Cold and the V-Device (chaincloud-v) exchange, byte for byte
 * (spec/chaincloud-protocol.md §"SMS messages"), and the app's own admin commands. The single
 * source for the firmware, the V-Device emulator and the tests.
 *
 *   V-Device → HSM-Cold                       HSM-Cold → V-Device
 *   CC:QH:<QH>:H_ID:<hId>:                    CC:QC:<QC>:C_ID:<cId>:H_ID:<hId>
 *   CC:CHANNEL_OK:<cId>:                      CC:HOT_ADDRESSES:<b>:<sig>:<cId>:<coin>
 *   CC:VERIFY_HOT_ADDRESSES:<b>:<coin>:       CC:COLD_ADDRESSES:<b>:<sig>:<cId>:<coin>
 *   CC:VERIFY_COLD_ADDRESSES:<b>:<coin>:
 *
 * The app splits the text after "CC:" with Java's `String.split(":")` (trailing empty fields
 * dropped) and requires exactly 6 fields in a QC reply and 5 in a batch reply (spec "What the
 * released app does"). Every HSM-Cold message fits one GSM-7 SMS (the app handles each PDU on
 * its own), and ids stay within a Java int, which the app parses them into. Keys are
 * compressed secp256k1 points in upper-case hex. Parsing accepts the app's trailing colon and
 * tolerates its absence; anything else is a typed error naming the field, and changes nothing.
 * @module
 */
import { base64 } from '@scure/base';
import { parseBatchNo } from '../crypto/batch-content.ts';
import { isCoin, type Coin } from '../crypto/networks.ts';
import { secp } from '../crypto/secp.ts';
import { HsmError } from '../errors.ts';
import { planSms } from '../gsm/pdu.ts';

export const SMS_PREFIX = 'CC:';
/** Longest SMS text handled (a batch reply is about 130 characters). */
export const MAX_SMS_TEXT = 480;
/** The largest channel id the app can hold (it parses cId into a Java `Integer`). */
export const MAX_CHANNEL_ID = 2 ** 31 - 1;

/** The app's own texts, byte for byte (SMSServiceBase, SMSServiceImpl, WorkService). */
export const APP_TEXTS = {
  formatError: 'sms format is error',
  loopStarted: 'the loop is started',
  loopStopped: 'the loop is stopped',
  pingOk: 'ping is ok',
  pingFailed: 'ping failed',
  pingPostError: 'post tx to ChainCloud is error',
  pingStatusError: 'get tx status from ChainCloud is error',
  noChannel: 'SMS channel is not established, please first SMS channel...',
  channelTimeNotOk: 'channel establish--time is not ok',
  channelNotExist: 'create channel failed-- channel is not exist',
  channelFormatError: 'channel update sms format is error',
  addressFormatError: 'address check sms format is error',
  addressSignException: 'address sign check exception',
  txOutInvalid: 'tx out invalid',
  decryptError: 'AES decrypt error',
  balanceNotEnough: 'balance is not enough and loop is stop',
  balanceLow: 'Balance has reached the minimum limit, please recharge as soon as possible',
} as const;
/** What the app answers to a text it cannot place. */
export const APP_FORMAT_ERROR_REPLY = APP_TEXTS.formatError;

/**
 * Java's `text.split(sep)` for a one-character separator: trailing empty strings are removed
 * (so `"CHANNEL_OK:7:"` gives 2 fields where JavaScript gives 3), leading ones kept.
 */
export function javaSplit(text: string, separator: string): string[] {
  const fields = text.split(separator);
  while (fields.length > 0 && fields[fields.length - 1] === '') fields.pop();
  return text === '' ? [''] : fields;
}

/** Throws unless `text` goes out as one GSM-7 SMS, unaltered (no UCS-2, no concatenation). */
export function assertOneGsm7Sms(text: string, field = 'text'): string {
  try {
    planSms(text, { alphabet: 'gsm7', maxParts: 1 });
  } catch (cause) {
    throw new HsmError('SMS_TOO_LONG', `${field} does not fit one GSM-7 SMS (${text.length} characters)`, { field, cause });
  }
  return text;
}

export type VDeviceMessage =
  | { kind: 'channel-request'; qh: string; hId: number }
  | { kind: 'channel-ok'; cId: number }
  | { kind: 'verify-addresses'; addressType: 'hot' | 'cold'; batchNo: number; coin: Coin };

export type ColdMessage =
  | { kind: 'channel-reply'; qc: string; cId: number; hId: number }
  | { kind: 'addresses'; addressType: 'hot' | 'cold'; batchNo: number; signature: string; cId: number; coin: Coin };

function smsError(message: string, field: string): HsmError {
  return new HsmError('SMS_FORMAT', message, { field });
}

/** A channel public key: compressed secp256k1, upper-case hex (lower case accepted, normalised). */
export function parseChannelKey(text: string, field: string): string {
  if (!/^(02|03)[0-9A-Fa-f]{64}$/.test(text)) throw smsError(`${field} must be a compressed public key in hex (66 characters)`, field);
  const upper = text.toUpperCase();
  if (!secp.utils.isValidPublicKey(Buffer.from(upper, 'hex'), true)) throw smsError(`${field} is not a point on secp256k1`, field);
  return upper;
}

function parseId(text: string, field: string): number {
  if (!/^(0|[1-9][0-9]{0,14})$/.test(text)) throw smsError(`${field} must be a decimal integer, got "${text.slice(0, 20)}"`, field);
  return Number(text);
}

function parseCoinField(text: string): Coin {
  if (!isCoin(text)) throw smsError(`coin must be BTC, LTC or DOGE, got "${text.slice(0, 10)}"`, 'coin');
  return text;
}

/** The fields after "CC:", without the trailing empty field a final colon leaves. */
function fieldsOf(text: string): string[] {
  const body = text.trim();
  if (body.length > MAX_SMS_TEXT) throw smsError(`message of ${body.length} characters is longer than any CC: message`, 'text');
  if (!body.startsWith(SMS_PREFIX)) throw smsError('not a CC: message', 'text');
  const fields = body.slice(SMS_PREFIX.length).split(':');
  if (fields.length > 1 && fields[fields.length - 1] === '') fields.pop();
  return fields;
}

/** Parses a message from the V-Device. */
export function parseVDeviceMessage(text: string): VDeviceMessage {
  const fields = fieldsOf(text);
  const [tag = '', ...rest] = fields;
  switch (tag) {
    case 'QH': {
      if (rest.length !== 3 || rest[1] !== 'H_ID') throw smsError('expected CC:QH:<QH>:H_ID:<hId>:', 'text');
      return { kind: 'channel-request', qh: parseChannelKey(rest[0] ?? '', 'QH'), hId: parseId(rest[2] ?? '', 'H_ID') };
    }
    case 'CHANNEL_OK': {
      if (rest.length !== 1) throw smsError('expected CC:CHANNEL_OK:<cId>:', 'text');
      return { kind: 'channel-ok', cId: parseId(rest[0] ?? '', 'cId') };
    }
    case 'VERIFY_HOT_ADDRESSES':
    case 'VERIFY_COLD_ADDRESSES': {
      if (rest.length !== 2) throw smsError(`expected CC:${tag}:<batchNo>:<coin>:`, 'text');
      let batchNo: number;
      try {
        batchNo = parseBatchNo(rest[0] ?? '', 'batchNo');
      } catch (cause) {
        throw new HsmError('SMS_FORMAT', (cause as Error).message, { field: 'batchNo', cause });
      }
      return { kind: 'verify-addresses', addressType: tag === 'VERIFY_HOT_ADDRESSES' ? 'hot' : 'cold', batchNo, coin: parseCoinField(rest[1] ?? '') };
    }
    default:
      throw smsError(`unknown CC: message "${tag.slice(0, 24)}"`, 'text');
  }
}

/** Formats a message of HSM-Cold exactly as the app expects it: one GSM-7 SMS, ids the app can parse. */
export function formatColdMessage(message: ColdMessage): string {
  if (!Number.isSafeInteger(message.cId) || message.cId < 0 || message.cId > MAX_CHANNEL_ID) {
    throw new HsmError('SMS_FORMAT', `cId ${message.cId} is beyond what the app can parse (0..${MAX_CHANNEL_ID})`, { field: 'cId' });
  }
  switch (message.kind) {
    case 'channel-reply':
      return assertOneGsm7Sms(`CC:QC:${message.qc.toUpperCase()}:C_ID:${message.cId}:H_ID:${message.hId}`);
    case 'addresses':
      return assertOneGsm7Sms(`CC:${message.addressType === 'hot' ? 'HOT' : 'COLD'}_ADDRESSES:${message.batchNo}:${message.signature}:${message.cId}:${message.coin}`);
  }
}

/**
 * Parses HSM-Cold's messages the way the app does (for the V-Device emulator and tests): the
 * text after `CC:` split as Java splits it; a message of another shape is an error whose
 * field is `text` (the app ignores it silently).
 */
export function parseColdMessage(text: string): ColdMessage {
  if (!text.startsWith(SMS_PREFIX)) throw smsError('not a CC: message', 'text');
  const fields = javaSplit(text.slice(SMS_PREFIX.length), ':');
  const [tag] = fields;
  if (tag === 'QC') {
    if (fields.length !== 6 || fields[2] !== 'C_ID' || fields[4] !== 'H_ID') throw smsError('a QC reply has exactly 6 fields', 'text');
    return { kind: 'channel-reply', qc: parseChannelKey(fields[1] ?? '', 'QC'), cId: parseId(fields[3] ?? '', 'C_ID'), hId: parseId(fields[5] ?? '', 'H_ID') };
  }
  if (tag === 'HOT_ADDRESSES' || tag === 'COLD_ADDRESSES') {
    if (fields.length !== 5) throw smsError('a batch reply has exactly 5 fields', 'text');
    const signature = fields[2] ?? '';
    try {
      if (base64.decode(signature).length !== 65) throw new Error('length');
    } catch {
      throw smsError('the batch signature must be a 65-byte base64 message signature', 'sig');
    }
    return {
      kind: 'addresses',
      addressType: tag === 'HOT_ADDRESSES' ? 'hot' : 'cold',
      batchNo: parseBatchNo(fields[1] ?? '', 'batchNo'),
      signature,
      cId: parseId(fields[3] ?? '', 'cId'),
      coin: parseCoinField(fields[4] ?? ''),
    };
  }
  throw smsError(`unknown CC: message "${(tag ?? '').slice(0, 24)}"`, 'text');
}

export function formatVDeviceMessage(message: VDeviceMessage): string {
  switch (message.kind) {
    case 'channel-request':
      return `CC:QH:${message.qh.toUpperCase()}:H_ID:${message.hId}:`;
    case 'channel-ok':
      return `CC:CHANNEL_OK:${message.cId}:`;
    case 'verify-addresses':
      return `CC:VERIFY_${message.addressType === 'hot' ? 'HOT' : 'COLD'}_ADDRESSES:${message.batchNo}:${message.coin}:`;
  }
}

/** Commands the administrator's phone sends to the V-Device app itself. */
export const APP_ADMIN_COMMANDS = ['START_LOOP', 'STOP_LOOP', 'PING', 'TIME'] as const;
export type AppAdminCommand = (typeof APP_ADMIN_COMMANDS)[number];

/** The app's answer to TIME: `CC:V:<datetime>`. */
export function formatAppTimeReply(datetime: string): string {
  return `CC:V:${datetime}`;
}

/** Typographic characters with a plain GSM-7 spelling. */
const PLAIN_SPELLING: Record<string, string> = { '\u2026': '...', '\u2013': '-', '\u2014': '-', '\u2018': "'", '\u2019': "'", '\u201c': '"', '\u201d': '"' };

/**
 * Administrator alerts from HSM-Cold: plain GSM-7 text within one SMS (160 characters), so
 * any phone shows them. Not part of the app protocol.
 */
export function formatAdminAlert(text: string): string {
  // Characters of the GSM 03.38 basic set only (no escapes, nothing a phone would alter).
  const clean = text.replace(/[\u2026\u2013\u2014\u2018\u2019\u201c\u201d]/g, (c) => PLAIN_SPELLING[c] ?? '?').replace(/[^A-Za-z0-9 .,:;!?()'"<>+\-=_/@#%&*$]/g, '?');
  const message = `HSM-COLD ALERT: ${clean}`;
  return message.length <= 160 ? message : `${message.slice(0, 157)}...`;
}
