/**
 * Bitcoin message signatures in the BIP-137 compact form, as the V-Device app makes them
 * (`vc_code`) and as HSM-Cold signs address batches.
 *
 *   digest    = SHA256(SHA256(prefix ‖ varint(len(msg)) ‖ msg)), prefix "\x18Bitcoin Signed Message:\n"
 *   signature = base64(header(1) ‖ r(32) ‖ s(32)), header = 27 + recId (+4 if the key is compressed)
 *
 * Only headers 27..34 (P2PKH, uncompressed or compressed) are accepted (spec §"Bitcoin message
 * signature"). Signing always uses the compressed key, RFC 6979 nonces and low S.
 * @module
 */
import { base64 } from '@scure/base';
import { HsmError } from '../errors.ts';
import { decodeAddress } from './address.ts';
import { equalBytes, hash160, hash256, concatBytes } from './hash.ts';
import { NETWORKS, type NetworkParams } from './networks.ts';
import { secp } from './secp.ts';

export const SIGNATURE_LENGTH = 65;
const HEADER_MIN = 27;
const HEADER_MAX = 34;
const COMPRESSED_FLAG = 4;

export interface ParsedSignature {
  header: number;
  recovery: number;
  compressed: boolean;
  /** r ‖ s, 64 bytes. */
  compact: Uint8Array;
}

const textEncoder = new TextEncoder();

function toBytes(message: string | Uint8Array): Uint8Array {
  return typeof message === 'string' ? textEncoder.encode(message) : message;
}

/** Bitcoin CompactSize length prefix. */
export function compactSize(n: number): Uint8Array {
  if (n < 0xfd) return Uint8Array.of(n);
  if (n <= 0xffff) return Uint8Array.of(0xfd, n & 0xff, n >>> 8);
  if (n <= 0xffffffff) return Uint8Array.of(0xfe, n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24);
  throw new HsmError('MESSAGE_TOO_LONG', 'message is longer than 4 GiB');
}

export function messageDigest(message: string | Uint8Array, network: NetworkParams = NETWORKS['btc-main']): Uint8Array {
  const body = toBytes(message);
  return hash256(concatBytes(textEncoder.encode(network.messagePrefix), compactSize(body.length), body));
}

/** Signs `message` with a 32-byte private key; returns the base64 BIP-137 signature. */
export function signMessage(
  message: string | Uint8Array,
  privateKey: Uint8Array,
  network: NetworkParams = NETWORKS['btc-main'],
): string {
  if (!secp.utils.isValidSecretKey(privateKey)) {
    throw new HsmError('BAD_PRIVATE_KEY', 'the signing key is not a valid secp256k1 private key');
  }
  // noble 'recovered' format is recId(1) ‖ r(32) ‖ s(32); BIP-137 moves recId into the header.
  const recovered = secp.sign(messageDigest(message, network), privateKey, { prehash: false, format: 'recovered', lowS: true });
  const out = new Uint8Array(SIGNATURE_LENGTH);
  out[0] = HEADER_MIN + COMPRESSED_FLAG + (recovered[0] ?? 0);
  out.set(recovered.subarray(1), 1);
  return base64.encode(out);
}

/** Decodes and checks the outer form of a signature: base64, 65 bytes, header 27..34. */
export function parseSignature(signature: string, field = 'signature'): ParsedSignature {
  let bytes: Uint8Array;
  try {
    bytes = base64.decode(signature);
  } catch (cause) {
    throw new HsmError('SIGNATURE_BASE64', `${field} is not valid base64`, { field, cause });
  }
  if (bytes.length !== SIGNATURE_LENGTH) {
    throw new HsmError('SIGNATURE_LENGTH', `${field} decodes to ${bytes.length} bytes; a message signature has ${SIGNATURE_LENGTH}`, {
      field,
    });
  }
  const header = bytes[0] ?? 0;
  if (header < HEADER_MIN || header > HEADER_MAX) {
    throw new HsmError('SIGNATURE_HEADER', `${field} has header byte ${header}; only 27..34 (P2PKH) are accepted`, { field });
  }
  const compressed = header >= HEADER_MIN + COMPRESSED_FLAG;
  return { header, compressed, recovery: (header - HEADER_MIN) & 3, compact: bytes.slice(1) };
}

/**
 * The public key that made `signature` over `message` (33 bytes if the header says compressed,
 * 65 otherwise). Throws SIGNATURE_INVALID when no key can be recovered.
 */
export function recoverMessagePublicKey(
  message: string | Uint8Array,
  signature: string,
  network: NetworkParams = NETWORKS['btc-main'],
  field = 'signature',
): Uint8Array {
  const parsed = parseSignature(signature, field);
  const recovered = concatBytes(Uint8Array.of(parsed.recovery), parsed.compact);
  let publicKey: Uint8Array;
  try {
    publicKey = secp.recoverPublicKey(recovered, messageDigest(message, network), { prehash: false });
  } catch (cause) {
    throw new HsmError('SIGNATURE_INVALID', `${field} does not recover to any public key (r or s out of range)`, { field, cause });
  }
  return parsed.compressed ? publicKey : secp.Point.fromBytes(publicKey).toBytes(false);
}

/** True when `signature` over `message` was made by `publicKey` (33 or 65 bytes). */
export function verifyMessageWithPublicKey(
  message: string | Uint8Array,
  signature: string,
  publicKey: Uint8Array,
  network: NetworkParams = NETWORKS['btc-main'],
): boolean {
  let recovered: Uint8Array;
  try {
    recovered = recoverMessagePublicKey(message, signature, network);
  } catch {
    return false;
  }
  if (recovered.length === publicKey.length) return equalBytes(recovered, publicKey);
  // Same point, other encoding: compare compressed forms.
  try {
    const a = secp.Point.fromBytes(recovered).toBytes(true);
    const b = secp.Point.fromBytes(publicKey).toBytes(true);
    return equalBytes(a, b);
  } catch {
    return false;
  }
}

/**
 * True when `signature` over `message` was made by the key of `address`: a P2PKH address
 * (the header's compression flag must match) or, for compressed keys, a P2WPKH address.
 * An address of another network or an unparsable one throws, so callers see why.
 */
export function verifyMessageWithAddress(
  message: string | Uint8Array,
  signature: string,
  address: string,
  network: NetworkParams = NETWORKS['btc-main'],
): boolean {
  const decoded = decodeAddress(address, network);
  if (decoded.type !== 'p2pkh' && decoded.type !== 'p2wpkh') {
    throw new HsmError('SIGNATURE_ADDRESS_TYPE', `message signatures are checked against P2PKH or P2WPKH addresses, not ${decoded.type}`, {
      field: 'address',
    });
  }
  let recovered: Uint8Array;
  try {
    recovered = recoverMessagePublicKey(message, signature, network);
  } catch (error) {
    if (error instanceof HsmError && error.code === 'SIGNATURE_INVALID') return false;
    throw error;
  }
  if (decoded.type === 'p2wpkh' && recovered.length !== 33) return false;
  return equalBytes(hash160(recovered), decoded.program);
}
