/**
 * Addresses: encode what the devices derive (P2PKH for every coin, P2WPKH for coins with
 * SegWit) and decode / validate anything a withdrawal may pay to (also P2SH, P2WSH, P2TR), with
 * a typed error naming what is wrong: characters, checksum, version byte or HRP, or coin.
 *
 * Layouts: base58check(version(1) ‖ hash160(20)) [Bitcoin wiki, "Technical background of
 * version 1 addresses"]; bech32(hrp, [witver] ‖ 5-bit(program)) with bech32 for v0 and bech32m
 * for v1+ [BIP173, BIP350].
 * @module
 */
import { bech32, bech32m, createBase58check } from '@scure/base';
import { HsmError } from '../errors.ts';
import { hash160, sha256 } from './hash.ts';
import { NETWORKS, type NetworkParams } from './networks.ts';

export const base58check = createBase58check(sha256);

export type DecodedAddressType = 'p2pkh' | 'p2sh' | 'p2wpkh' | 'p2wsh' | 'p2tr';

export interface DecodedAddress {
  type: DecodedAddressType;
  /** hash160 for p2pkh/p2sh/p2wpkh, the 32-byte program for p2wsh/p2tr. */
  program: Uint8Array;
  network: NetworkParams;
}

export type AddressErrorCode =
  | 'ADDRESS_EMPTY'
  | 'ADDRESS_TOO_LONG'
  | 'ADDRESS_CHARSET'
  | 'ADDRESS_CHECKSUM'
  | 'ADDRESS_VERSION'
  | 'ADDRESS_WRONG_NETWORK'
  | 'ADDRESS_PROGRAM';

function addressError(code: AddressErrorCode, message: string, field: string): HsmError<AddressErrorCode> {
  return new HsmError(code, message, { field });
}

export function p2pkhAddress(publicKey: Uint8Array, network: NetworkParams): string {
  return encodeBase58Address(network.p2pkhVersion, hash160(publicKey));
}

export function p2wpkhAddress(publicKey: Uint8Array, network: NetworkParams): string {
  if (network.bech32Hrp === undefined) {
    throw new HsmError('ADDRESS_WRONG_NETWORK', `${network.coin} has no SegWit addresses`, { field: 'type' });
  }
  if (publicKey.length !== 33) {
    throw new HsmError('ADDRESS_PROGRAM', 'P2WPKH needs a compressed (33-byte) public key', { field: 'publicKey' });
  }
  return encodeSegwitAddress(network.bech32Hrp, 0, hash160(publicKey));
}

export function encodeBase58Address(version: number, hash: Uint8Array): string {
  const payload = new Uint8Array(21);
  payload[0] = version;
  payload.set(hash, 1);
  return base58check.encode(payload);
}

export function encodeSegwitAddress(hrp: string, version: number, program: Uint8Array): string {
  const words = [version, ...bech32.toWords(program)];
  return version === 0 ? bech32.encode(hrp, words) : bech32m.encode(hrp, words);
}

const MAX_ADDRESS_LENGTH = 90; // BIP173 limit for a whole bech32 string; base58 ones are shorter
const BASE58_CHARS = /^[1-9A-HJ-NP-Za-km-z]+$/;

/**
 * Decodes `text` as an address of `network`; throws an HsmError naming the problem. The error
 * field is `field` (e.g. `outs[1].address`) so callers can point at the bad entry.
 */
export function decodeAddress(text: string, network: NetworkParams, field = 'address'): DecodedAddress {
  if (text.length === 0) throw addressError('ADDRESS_EMPTY', `${field} is empty`, field);
  if (text.length > MAX_ADDRESS_LENGTH) {
    throw addressError('ADDRESS_TOO_LONG', `${field} is ${text.length} characters, longer than any address`, field);
  }
  const separator = text.lastIndexOf('1');
  const hrp = separator > 0 ? text.slice(0, separator).toLowerCase() : '';
  if (separator > 0 && isKnownHrp(hrp)) return decodeSegwit(text, hrp, network, field);
  return decodeBase58(text, network, field);
}

/** True when `text` is a valid address of `network` (any supported type). */
export function isValidAddress(text: string, network: NetworkParams): boolean {
  try {
    decodeAddress(text, network);
    return true;
  } catch {
    return false;
  }
}

/** The scriptPubKey an output paying to `address` must carry. */
export function outputScript(address: DecodedAddress): Uint8Array {
  const p = address.program;
  switch (address.type) {
    case 'p2pkh': // OP_DUP OP_HASH160 <20> OP_EQUALVERIFY OP_CHECKSIG
      return Uint8Array.from([0x76, 0xa9, 0x14, ...p, 0x88, 0xac]);
    case 'p2sh': // OP_HASH160 <20> OP_EQUAL
      return Uint8Array.from([0xa9, 0x14, ...p, 0x87]);
    case 'p2wpkh': // OP_0 <20>
      return Uint8Array.from([0x00, 0x14, ...p]);
    case 'p2wsh': // OP_0 <32>
      return Uint8Array.from([0x00, 0x20, ...p]);
    case 'p2tr': // OP_1 <32>
      return Uint8Array.from([0x51, 0x20, ...p]);
  }
}

function isKnownHrp(hrp: string): boolean {
  return Object.values(NETWORKS).some((n) => n.bech32Hrp === hrp);
}

function networkNameForHrp(hrp: string): string {
  return Object.values(NETWORKS)
    .filter((n) => n.bech32Hrp === hrp)
    .map((n) => n.id)
    .join('/');
}

function decodeSegwit(text: string, hrp: string, network: NetworkParams, field: string): DecodedAddress {
  if (text !== text.toLowerCase() && text !== text.toUpperCase()) {
    throw addressError('ADDRESS_CHARSET', `${field} mixes upper and lower case, which bech32 forbids`, field);
  }
  const lower = text.toLowerCase();
  if (!/^[a-z0-9]+1[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{6,}$/.test(lower)) {
    throw addressError('ADDRESS_CHARSET', `${field} has characters outside the bech32 alphabet`, field);
  }
  const decoded = tryBech32(lower);
  if (decoded === undefined) {
    throw addressError('ADDRESS_CHECKSUM', `${field} has a bad bech32 checksum (a character is wrong)`, field);
  }
  const { words, variant } = decoded;
  if (network.bech32Hrp !== hrp) {
    throw addressError(
      'ADDRESS_WRONG_NETWORK',
      `${field} is a ${networkNameForHrp(hrp)} address (prefix "${hrp}"), not ${network.id}`,
      field,
    );
  }
  const version = words[0];
  if (version === undefined || version > 16) {
    throw addressError('ADDRESS_VERSION', `${field} has an invalid witness version`, field);
  }
  // BIP350: v0 uses bech32, v1..16 use bech32m.
  if ((version === 0) !== (variant === 'bech32')) {
    throw addressError('ADDRESS_CHECKSUM', `${field} uses the wrong checksum variant for witness version ${version}`, field);
  }
  let program: Uint8Array;
  try {
    program = bech32.fromWords(words.slice(1));
  } catch (cause) {
    throw new HsmError('ADDRESS_PROGRAM', `${field} has a malformed witness program`, { field, cause });
  }
  // BIP141: programs are 2..40 bytes; v0 programs are 20 (P2WPKH) or 32 (P2WSH) bytes.
  if (program.length < 2 || program.length > 40) {
    throw addressError('ADDRESS_PROGRAM', `${field} has a ${program.length}-byte witness program (2..40 allowed)`, field);
  }
  if (version === 0 && program.length === 20) return { type: 'p2wpkh', program, network };
  if (version === 0 && program.length === 32) return { type: 'p2wsh', program, network };
  if (version === 0) {
    throw addressError('ADDRESS_PROGRAM', `${field} has a ${program.length}-byte v0 program (20 or 32 expected)`, field);
  }
  if (version === 1 && program.length === 32) return { type: 'p2tr', program, network };
  // Valid on the chain but not yet given meaning (future soft forks): refused, as funds sent
  // there would be anyone-can-spend today.
  throw addressError(
    'ADDRESS_VERSION',
    `${field} is a witness v${version} address with a ${program.length}-byte program, which has no defined meaning yet`,
    field,
  );
}

function tryBech32(lower: string): { words: number[]; variant: 'bech32' | 'bech32m' } | undefined {
  const text = lower as `${string}1${string}`;
  try {
    return { words: bech32.decode(text, MAX_ADDRESS_LENGTH).words, variant: 'bech32' };
  } catch {
    try {
      return { words: bech32m.decode(text, MAX_ADDRESS_LENGTH).words, variant: 'bech32m' };
    } catch {
      return undefined;
    }
  }
}

function decodeBase58(text: string, network: NetworkParams, field: string): DecodedAddress {
  if (!BASE58_CHARS.test(text)) {
    throw addressError('ADDRESS_CHARSET', `${field} has characters outside the base58 alphabet`, field);
  }
  let payload: Uint8Array;
  try {
    payload = base58check.decode(text);
  } catch (cause) {
    throw new HsmError('ADDRESS_CHECKSUM', `${field} has a bad base58 checksum (a character is wrong)`, { field, cause });
  }
  if (payload.length !== 21) {
    throw addressError('ADDRESS_VERSION', `${field} decodes to ${payload.length} bytes, not a version byte and a 20-byte hash`, field);
  }
  const version = payload[0] ?? -1;
  const program = payload.slice(1);
  if (version === network.p2pkhVersion) return { type: 'p2pkh', program, network };
  if (version === network.p2shVersion) return { type: 'p2sh', program, network };
  const owners = Object.values(NETWORKS)
    .filter((n) => n.p2pkhVersion === version || n.p2shVersion === version)
    .map((n) => n.id);
  if (owners.length > 0) {
    throw addressError(
      'ADDRESS_WRONG_NETWORK',
      `${field} has version byte 0x${version.toString(16).padStart(2, '0')} of ${owners.join('/')}, not ${network.id}`,
      field,
    );
  }
  throw addressError('ADDRESS_VERSION', `${field} has unknown version byte 0x${version.toString(16).padStart(2, '0')}`, field);
}
