/**
 * The independent oracle: bitcoinjs-lib + bip32 + tiny-secp256k1 (libsecp256k1 compiled to
 * WebAssembly) + bitcoinjs-message, with @noble/hashes for HMAC-SHA512. Dev-only; used by the
 * differential tests and as the peer in `npm run bench`. Shares no code with shared/crypto.
 * @module
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { BIP32Factory, type BIP32Interface } from 'bip32';
import * as bitcoin from 'bitcoinjs-lib';
import bitcoinMessage from 'bitcoinjs-message';
import * as ecc from 'tiny-secp256k1';
import type { NetworkParams } from '../../shared/crypto/networks.ts';

export const bip32 = BIP32Factory(ecc);
export { bitcoin, bitcoinMessage, ecc };

/** The bitcoinjs network object for one of our networks and account purposes. */
export function bitcoinjsNetwork(network: NetworkParams, purpose: 44 | 84): bitcoin.Network {
  const versions = network.extendedKeyVersions[purpose];
  if (versions === undefined) throw new Error(`${network.id} has no BIP${purpose}`);
  return {
    messagePrefix: network.messagePrefix,
    bech32: network.bech32Hrp ?? '',
    bip32: { public: versions.public, private: versions.private },
    pubKeyHash: network.p2pkhVersion,
    scriptHash: network.p2shVersion,
    wif: network.wifVersion,
  };
}

export function oracleAccount(xpub: string, network: NetworkParams, purpose: 44 | 84): BIP32Interface {
  return bip32.fromBase58(xpub, bitcoinjsNetwork(network, purpose));
}

/** Addresses `from..from+count-1` of `chain`, child by child, the bitcoinjs way. */
export function oracleAddresses(account: BIP32Interface, network: NetworkParams, purpose: 44 | 84, chain: number, from: number, count: number): string[] {
  const net = bitcoinjsNetwork(network, purpose);
  const chainNode = account.derive(chain);
  const out: string[] = [];
  for (let i = from; i < from + count; i++) {
    const pubkey = chainNode.derive(i).publicKey;
    const payment = purpose === 44 ? bitcoin.payments.p2pkh({ pubkey, network: net }) : bitcoin.payments.p2wpkh({ pubkey, network: net });
    if (payment.address === undefined) throw new Error('bitcoinjs produced no address');
    out.push(payment.address);
  }
  return out;
}

/**
 * Addresses of the children from..from+count-1 of a chain node given by its public key and chain
 * code, by BIP32 CKDpub step by step: I = HMAC-SHA512(c, serP(K) ‖ ser32(i)) (@noble/hashes),
 * K_i = K + I_L·G (libsecp256k1 `pointAddScalar`), then hash160 and base58check / bech32
 * (bitcoinjs-lib). K goes to libsecp256k1 uncompressed, so it is not decompressed again for
 * every index. An index BIP32 declares invalid (I_L ≥ n, K_i at infinity) yields undefined.
 */
export function oracleChildAddresses(
  chainKey: Uint8Array,
  chainCode: Uint8Array,
  network: NetworkParams,
  purpose: 44 | 84,
  from: number,
  count: number,
): Array<string | undefined> {
  const parent = ecc.pointCompress(chainKey, false);
  const keyed = hmac.create(sha512, chainCode); // the key's inner and outer pads, once
  const data = new Uint8Array(37);
  data.set(chainKey, 0);
  const view = new DataView(data.buffer);
  const out: Array<string | undefined> = [];
  for (let i = from; i < from + count; i++) {
    view.setUint32(33, i);
    const tweak = keyed.clone().update(data).digest().subarray(0, 32);
    const zero = tweak.every((b) => b === 0);
    const key = zero ? ecc.pointCompress(parent, true) : ecc.isPrivate(tweak) ? ecc.pointAddScalar(parent, tweak, true) : null;
    if (key === null) {
      out.push(undefined);
      continue;
    }
    const hash = bitcoin.crypto.hash160(key);
    out.push(purpose === 44 ? bitcoin.address.toBase58Check(hash, network.p2pkhVersion) : bitcoin.address.toBech32(hash, 0, network.bech32Hrp ?? ''));
  }
  return out;
}
