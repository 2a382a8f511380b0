/**
 * The independent oracle: bitcoinjs-lib + bip32 + tiny-secp256k1 (libsecp256k1 compiled to
 * WebAssembly) + bitcoinjs-message. Dev-only; used by the differential tests and as the peer
 * in `npm run bench`. Shares no code with shared/crypto.
 * @module
 */
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
