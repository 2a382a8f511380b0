/**
 * The host API's wire format: the single source of its operation names, scopes, error codes,
 * canonical JSON and the exact strings that are signed. Modelled on the Crypto Capital API
 * (spec/seeds/cryptocapital-*.md): JSON over a WebSocket, BitID-style key pairs, a nonce per
 * operation, an unsigned ack or err for every operation, results as messages signed by the
 * device.
 *
 * Frames (WebSocket text messages, UTF-8 JSON):
 *   device → client on connect  {"msg":"challenge","data":"<64 hex: 32 random bytes>"}
 *   client → device             {"op":"<op>","data":{"apiVersion":1,"key":K,"nonce":N,"params":{...},"signed":S}}
 *                               (`auth` has no params)
 *   device → client             {"msg":"ack","data":{"op":"<op>","nonce":N}}
 *                               {"msg":"err","data":{"op":"<op>"|null,"nonce":N|null,"code":C,"message":M[,"field":F]}}
 *   signed results              {"msg":"<type>","nonce":N,"data":{...},"signed":S}      reply to one operation
 *                               {"msg":"<type>","id":I,"data":{...},"signed":S}         journal message (history)
 *
 * K  = the client's registered secp256k1 public key, compressed, 66 lower-case hex characters.
 * N  = a safe integer (1..2^53-1), strictly greater than the last nonce accepted from K and at
 *      most MAX_NONCE_STEP above it, or at most the device's time in µs plus a day (a platform
 *      that lost its count may jump to the time); so no key can run out of nonces. The last
 *      nonce is stored, so the order survives restarts. A nonce is spent once the operation's
 *      signature verifies, also when the operation is then refused; it is checked only after
 *      the signature, so an unsigned message learns nothing about it.
 * S  = a Bitcoin message signature (BIP-137, base64, compressed key) over:
 *        auth                 "AUTH" + K + N + challenge
 *        any other operation  OP + K + N + canonical(params)      OP = the op name in upper case
 *      e.g. "TX_STATUS02ab…ef17{"user_tx_no":"8"}".
 * Device signatures (`signed` on results) are BIP-137 signatures by the device identity key
 * over canonical(message without "signed").
 * canonical(v) = JSON with object keys sorted by code unit, no whitespace, strings escaped as
 *      JSON.stringify does; params may hold only strings, safe integers, booleans, null,
 *      arrays and objects, at most 8 levels deep.
 * I  = journal message id: 1, 2, 3, ... per device, never reused; `history` replays the
 *      journal messages after a given id, byte for byte as they were first sent.
 * @module
 */
import { HsmError } from '../shared/errors.ts';

export const API_VERSION = 1;

export const SCOPES = ['address:read', 'tx:create', 'tx:read', 'events:read'] as const;
export type Scope = (typeof SCOPES)[number];

export const OPERATIONS = [
  'auth',
  'tx_request',
  'tx_status',
  'address_batch',
  'address_range',
  'channel_status',
  'device_status',
  'subscribe',
  'history',
] as const;
export type OperationName = (typeof OPERATIONS)[number];

/** Journal topics: what `subscribe` and `history` deliver. */
export const TOPICS = { tx: 'tx:read', events: 'events:read' } as const satisfies Record<string, Scope>;
export type Topic = keyof typeof TOPICS;

/** Error codes of the API itself; operations add their domain codes (BAD_OUTS, PSBT_*, ...). */
export const API_ERROR = {
  MESSAGE_TOO_LARGE: 'MESSAGE_TOO_LARGE',
  MESSAGE_BINARY: 'MESSAGE_BINARY',
  MESSAGE_MALFORMED: 'MESSAGE_MALFORMED',
  OP_UNKNOWN: 'OP_UNKNOWN',
  API_VERSION: 'API_VERSION',
  AUTH_REQUIRED: 'AUTH_REQUIRED',
  AUTH_ALREADY: 'AUTH_ALREADY',
  KEY_FORMAT: 'KEY_FORMAT',
  KEY_UNKNOWN: 'KEY_UNKNOWN',
  KEY_MISMATCH: 'KEY_MISMATCH',
  NONCE_INVALID: 'NONCE_INVALID',
  NONCE_REPLAYED: 'NONCE_REPLAYED',
  NONCE_STALE: 'NONCE_STALE',
  NONCE_TOO_FAR: 'NONCE_TOO_FAR',
  CONNECTION_LIMIT: 'CONNECTION_LIMIT',
  SIGNATURE_INVALID: 'SIGNATURE_INVALID',
  SCOPE_MISSING: 'SCOPE_MISSING',
  RATE_LIMITED: 'RATE_LIMITED',
  PARAMS_INVALID: 'PARAMS_INVALID',
  INTERNAL: 'INTERNAL',
} as const;

export const KEY_PATTERN = /^0[23][0-9a-f]{64}$/;

/** How far a nonce may go past the last one of its key (besides following the time in µs). */
export const MAX_NONCE_STEP = 2 ** 20;
/** How far ahead of the device's clock a time-based nonce may be (the platform's clock may run ahead). */
export const NONCE_CLOCK_SLACK_MS = 86_400_000;

/** The highest nonce key with last nonce `last` may use at device time `now` (Unix ms). */
export function maxNextNonce(last: number, now: number): number {
  return Math.min(Number.MAX_SAFE_INTEGER, Math.max(last + MAX_NONCE_STEP, (now + NONCE_CLOCK_SLACK_MS) * 1000));
}
export const MAX_PARAMS_DEPTH = 8;

/**
 * Canonical JSON of a value built from JSON.parse or from device data. Throws PARAMS_INVALID
 * for numbers that are not safe integers, values JSON cannot carry, and nesting beyond
 * `maxDepth`.
 */
export function canonicalJson(value: unknown, maxDepth = MAX_PARAMS_DEPTH, path = 'params'): string {
  return encode(value, maxDepth, path, 0);
}

function encode(value: unknown, maxDepth: number, path: string, depth: number): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) {
      throw new HsmError(API_ERROR.PARAMS_INVALID, `${path} must be an integer within ±(2^53-1)`, { field: path });
    }
    return JSON.stringify(value);
  }
  if (depth >= maxDepth) throw new HsmError(API_ERROR.PARAMS_INVALID, `${path} nests deeper than ${maxDepth} levels`, { field: path });
  if (Array.isArray(value)) return `[${value.map((v, i) => encode(v, maxDepth, `${path}[${i}]`, depth + 1)).join(',')}]`;
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const object = value as Record<string, unknown>;
    const keys = Object.keys(object).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${encode(object[k], maxDepth, `${path}.${k}`, depth + 1)}`).join(',')}}`;
  }
  throw new HsmError(API_ERROR.PARAMS_INVALID, `${path} holds a value JSON cannot carry`, { field: path });
}

export function authSigningString(key: string, nonce: number, challenge: string): string {
  return `AUTH${key}${nonce}${challenge}`;
}

export function operationSigningString(op: string, key: string, nonce: number, params: unknown): string {
  return `${op.toUpperCase()}${key}${nonce}${canonicalJson(params)}`;
}

/** Times on the wire, as the seed writes them: `2016-07-31T04:52:13` (UTC, whole seconds). */
export function apiTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19);
}

/** The text the device signs for a result message: canonical JSON of everything but `signed`. */
export function messageSigningString(message: Record<string, unknown>): string {
  const { signed: _signed, ...rest } = message;
  return canonicalJson(rest, 64, 'message');
}
