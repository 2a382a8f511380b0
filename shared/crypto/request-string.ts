/**
 * The Hot-Sending request as the V-Device signs it (`vc_code`), and its `outs` list.
 *
 * Request string (spec §"vc_code"; exact bytes, no spaces, values inserted raw):
 *   {"coin_code":"<coin_code>","is_dynamic_fee":<0|1>,"outs":"<outs>","user_tx_no":"<user_tx_no>"}
 * with `,"outType":<n>` before the closing brace when outType is present and not 0, then
 * `,"memo":"<memo>"` when a memo is present.
 *
 * Because values are inserted raw, every field is restricted to characters that cannot close
 * a JSON string: two different requests can never produce the same signed string.
 *
 * `outs` = `addr,value;addr,value;...`, values in the coin's smallest unit, or the literal
 * `PING` (the app's end-to-end health check, verified and answered, never spent).
 * @module
 */
import { HsmError } from '../errors.ts';
import { decodeAddress, type DecodedAddress } from './address.ts';
import { parseCoin, type Coin, type NetworkParams } from './networks.ts';

export const PING_OUTS = 'PING';
/** Bounds checked before any parsing. */
export const MAX_OUTS_LENGTH = 16_384;
export const MAX_OUTS_ENTRIES = 200;
export const MAX_MEMO_LENGTH = 256;
const USER_TX_NO = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const MEMO = /^[\x20-\x7e]*$/;

export interface HotSendRequest {
  coinCode: Coin;
  userTxNo: string;
  /** The `outs` text exactly as sent (it is signed raw). */
  outs: string;
  isDynamicFee: 0 | 1;
  outType?: number | undefined;
  memo?: string | undefined;
}

export interface Payment {
  address: string;
  decoded: DecodedAddress;
  value: bigint;
}

export type ParsedOuts = { kind: 'ping' } | { kind: 'payments'; payments: Payment[]; total: bigint };

/** Validates the scalar fields of a request; returns it unchanged. */
export function checkRequestFields(request: HotSendRequest): HotSendRequest {
  parseCoin(request.coinCode, 'coin_code');
  if (!USER_TX_NO.test(request.userTxNo)) {
    throw new HsmError(
      'BAD_USER_TX_NO',
      'user_tx_no must be 1-64 characters of letters, digits, "_", "." or "-", starting with a letter or digit',
      { field: 'user_tx_no' },
    );
  }
  if (request.isDynamicFee !== 0 && request.isDynamicFee !== 1) {
    throw new HsmError('BAD_IS_DYNAMIC_FEE', `is_dynamic_fee must be 0 or 1, got ${String(request.isDynamicFee)}`, {
      field: 'is_dynamic_fee',
    });
  }
  if (request.outType !== undefined && (!Number.isSafeInteger(request.outType) || request.outType < 0)) {
    throw new HsmError('BAD_OUT_TYPE', `outType must be a non-negative integer, got ${String(request.outType)}`, { field: 'outType' });
  }
  if (request.memo !== undefined) {
    if (request.memo.length > MAX_MEMO_LENGTH) {
      throw new HsmError('BAD_MEMO', `memo is ${request.memo.length} characters, at most ${MAX_MEMO_LENGTH} allowed`, { field: 'memo' });
    }
    if (!MEMO.test(request.memo) || request.memo.includes('"') || request.memo.includes('\\')) {
      throw new HsmError('BAD_MEMO', 'memo must be printable ASCII without " or \\', { field: 'memo' });
    }
  }
  if (request.outs.length > MAX_OUTS_LENGTH) {
    throw new HsmError('BAD_OUTS', `outs is ${request.outs.length} characters, at most ${MAX_OUTS_LENGTH} allowed`, { field: 'outs' });
  }
  if (/["\\\u0000-\u001f]/.test(request.outs)) {
    throw new HsmError('BAD_OUTS', 'outs contains a quote, backslash or control character', { field: 'outs' });
  }
  return request;
}

/** The exact string the V-Device signs for `request`. */
export function requestString(request: HotSendRequest): string {
  return formatRequestString(checkRequestFields(request));
}

/**
 * The string as the app builds it (TxRequest.toString), with no check of the fields: what an
 * app signs whatever it was given. Verifiers use `requestString`, which refuses ambiguous fields.
 */
export function formatRequestString(request: Omit<HotSendRequest, 'coinCode'> & { coinCode: string }): string {
  let text =
    `{"coin_code":"${request.coinCode}","is_dynamic_fee":${request.isDynamicFee},` +
    `"outs":"${request.outs}","user_tx_no":"${request.userTxNo}"`;
  if (request.outType !== undefined && request.outType !== 0) text += `,"outType":${request.outType}`;
  if (request.memo !== undefined) text += `,"memo":"${request.memo}"`;
  return `${text}}`;
}

/**
 * Parses `outs` for `network`: every entry `address,value` with an address valid for the coin,
 * an integer value > 0 and at most the coin's supply, no empty entries, and a total within the
 * supply. Errors name the entry, e.g. `outs[2].value`.
 */
export function parseOuts(outs: string, network: NetworkParams): ParsedOuts {
  if (outs.length > MAX_OUTS_LENGTH) {
    throw new HsmError('BAD_OUTS', `outs is ${outs.length} characters, at most ${MAX_OUTS_LENGTH} allowed`, { field: 'outs' });
  }
  if (outs === PING_OUTS) return { kind: 'ping' };
  if (outs.length === 0) throw new HsmError('BAD_OUTS', 'outs is empty', { field: 'outs' });
  const entries = outs.split(';');
  if (entries.length > MAX_OUTS_ENTRIES) {
    throw new HsmError('BAD_OUTS', `outs has ${entries.length} entries, at most ${MAX_OUTS_ENTRIES} allowed`, { field: 'outs' });
  }
  const payments: Payment[] = [];
  let total = 0n;
  for (const [i, entry] of entries.entries()) {
    const field = `outs[${i}]`;
    if (entry.length === 0) {
      throw new HsmError('BAD_OUTS', `${field} is empty (a stray ";")`, { field });
    }
    const parts = entry.split(',');
    if (parts.length !== 2) {
      throw new HsmError('BAD_OUTS', `${field} must be "address,value", got ${parts.length - 1} commas`, { field });
    }
    const [address = '', valueText = ''] = parts;
    const decoded = decodeAddress(address, network, `${field}.address`);
    const value = parseAmount(valueText, network, `${field}.value`);
    total += value;
    payments.push({ address, decoded, value });
  }
  if (total > network.maxMoney) {
    throw new HsmError('BAD_OUTS', `the total of outs exceeds the ${network.coin} supply`, { field: 'outs' });
  }
  return { kind: 'payments', payments, total };
}

/** An integer amount in the smallest unit: digits only, no leading zero, 1..maxMoney. */
export function parseAmount(text: string, network: NetworkParams, field = 'value'): bigint {
  if (!/^[1-9][0-9]{0,19}$/.test(text)) {
    throw new HsmError('BAD_AMOUNT', `${field} must be a positive integer in the smallest unit without sign, point or leading zero, got "${text}"`, {
      field,
    });
  }
  const value = BigInt(text);
  if (value > network.maxMoney) {
    throw new HsmError('BAD_AMOUNT', `${field} exceeds the ${network.coin} supply`, { field });
  }
  return value;
}

export function formatOuts(payments: ReadonlyArray<{ address: string; value: bigint }>): string {
  return payments.map((p) => `${p.address},${p.value}`).join(';');
}
