/**
 * Wallet Import Format for single private keys (used by the CLI's `msg sign`):
 *   base58check( version(1) ‖ key(32) [‖ 0x01 when the public key is compressed] )
 * @module
 */
import { HsmError } from '../errors.ts';
import { base58check } from './address.ts';
import { NETWORKS, type NetworkParams } from './networks.ts';
import { secp } from './secp.ts';

export interface DecodedWif {
  privateKey: Uint8Array;
  compressed: boolean;
  /** Networks sharing the version byte (BTC testnet and regtest do). */
  networks: NetworkParams[];
}

export function encodeWif(privateKey: Uint8Array, network: NetworkParams, compressed = true): string {
  const payload = new Uint8Array(compressed ? 34 : 33);
  payload[0] = network.wifVersion;
  payload.set(privateKey, 1);
  if (compressed) payload[33] = 0x01;
  return base58check.encode(payload);
}

export function decodeWif(text: string, field = 'wif'): DecodedWif {
  let payload: Uint8Array;
  try {
    payload = base58check.decode(text.trim());
  } catch (cause) {
    throw new HsmError('WIF_CHECKSUM', `${field} is not valid base58check`, { field, cause });
  }
  const compressed = payload.length === 34 && payload[33] === 0x01;
  if (payload.length !== 33 && !compressed) {
    throw new HsmError('WIF_LENGTH', `${field} has the wrong length for a private key`, { field });
  }
  const networks = Object.values(NETWORKS).filter((n) => n.wifVersion === payload[0]);
  if (networks.length === 0) throw new HsmError('WIF_VERSION', `${field} has an unknown version byte`, { field });
  const privateKey = payload.slice(1, 33);
  payload.fill(0);
  if (!secp.utils.isValidSecretKey(privateKey)) throw new HsmError('WIF_KEY', `${field} is not a valid secp256k1 key`, { field });
  return { privateKey, compressed, networks };
}
