/**
 * A platform-side view of the hot wallet for tests: fixed mnemonics and keys, fake funding
 * transactions, and PSBTs built the way the platform would build them from its UTXOs (with
 * @scure/btc-signer), including the wrong ones the refusal tests need.
 */
import { HDKey } from '@scure/bip32';
import { Transaction } from '@scure/btc-signer';
import { decodeAddress, outputScript, p2pkhAddress, p2wpkhAddress } from '../../shared/crypto/address.ts';
import { bytesToHex, sha256 } from '../../shared/crypto/hash.ts';
import { mnemonicToSeed } from '../../shared/crypto/hd.ts';
import type { AddressType, NetworkParams } from '../../shared/crypto/networks.ts';
import { NETWORKS } from '../../shared/crypto/networks.ts';
import { signMessage } from '../../shared/crypto/message-signature.ts';
import { requestString, type HotSendRequest } from '../../shared/crypto/request-string.ts';
import { secp } from '../../shared/crypto/secp.ts';
import type { HotConfigInput } from '../../hsm-hot/config.ts';

export const HOT_MNEMONIC = 'legal winner thank year wave sausage worth useful legal winner thank yellow';
export const COLD_MNEMONIC = 'letter advice cage absurd amount doctor acoustic avoid letter advice cage above';
export const FOREIGN_MNEMONIC = 'zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong';
export const PIN = '482916';
export const NETWORK = NETWORKS['btc-test'];
/** A cheap PIN KDF for tests (the default costs ~100 ms per unlock). */
export const TEST_KDF = { N: 2 ** 10, r: 8, p: 1 };

export const TEST_FEE = { minRelayRate: 1, maxFee: 100_000, dynamic: { maxRate: 50 }, fixed: { minRate: 2, maxRate: 20 } };

export const TEST_CONFIG: HotConfigInput = {
  coins: [{ coin: 'BTC', network: 'btc-test', types: ['p2pkh', 'p2wpkh'], fee: TEST_FEE }],
};

/** Addresses outside the wallet, to pay to. */
export const PAYEES = {
  a: 'mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn',
  b: 'tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx',
  c: 'n3GNqMveyvaPvUbH469vDRadqpJMPc84JA',
};

/** A secp256k1 key pair from a label (tests only). */
export function testKey(label: string): { privateKey: Uint8Array; publicKey: string } {
  const privateKey = sha256(new TextEncoder().encode(`test key: ${label}`));
  if (!secp.utils.isValidSecretKey(privateKey)) throw new Error('unlucky test key');
  return { privateKey, publicKey: bytesToHex(secp.getPublicKey(privateKey, true)) };
}

export const PLATFORM = testKey('platform');
export const READER = testKey('reader');
export const STRANGER = testKey('stranger');
/** The V-Device's key of channel 7. */
export const VDEVICE = testKey('v-device channel 7');
export const CHANNEL_ID = 7;

export function vcCode(request: HotSendRequest, key = VDEVICE.privateKey): string {
  return signMessage(requestString(request), key);
}

export interface Utxo {
  type: AddressType;
  chain: 0 | 1;
  index: number;
  amount: bigint;
}

export interface Coin {
  utxo: Utxo;
  txid: string;
  vout: number;
  previous: Uint8Array;
  script: Uint8Array;
}

export class WalletFixture {
  readonly master: HDKey;
  readonly network: NetworkParams;

  constructor(mnemonic = HOT_MNEMONIC, network: NetworkParams = NETWORK) {
    this.master = HDKey.fromMasterSeed(mnemonicToSeed(mnemonic));
    this.network = network;
  }

  get fingerprint(): number {
    return this.master.fingerprint;
  }

  path(type: AddressType, chain: number, index: number): string {
    return `m/${type === 'p2pkh' ? 44 : 84}'/${this.network.coinType}'/0'/${chain}/${index}`;
  }

  pathNumbers(type: AddressType, chain: number, index: number): number[] {
    return [type === 'p2pkh' ? 44 : 84, this.network.coinType, 0].map((n) => (n | 0x80000000) >>> 0).concat([chain, index]);
  }

  publicKey(type: AddressType, chain: number, index: number): Uint8Array {
    return this.master.derive(this.path(type, chain, index)).publicKey as Uint8Array;
  }

  address(type: AddressType, chain: number, index: number): string {
    const key = this.publicKey(type, chain, index);
    return type === 'p2pkh' ? p2pkhAddress(key, this.network) : p2wpkhAddress(key, this.network);
  }

  script(type: AddressType, chain: number, index: number): Uint8Array {
    return outputScript(decodeAddress(this.address(type, chain, index), this.network));
  }

  /** A fake confirmed transaction paying each UTXO, so inputs can name a real previous tx. */
  fund(utxos: readonly Utxo[], salt = 0): Coin[] {
    const previous = new Transaction({ allowUnknownOutputs: true });
    previous.addInput({ txid: new Uint8Array(32).fill(salt + 1), index: salt });
    for (const utxo of utxos) previous.addOutput({ script: this.script(utxo.type, utxo.chain, utxo.index), amount: utxo.amount });
    const raw = previous.toBytes(true, false);
    return utxos.map((utxo, vout) => ({ utxo, txid: previous.id, vout, previous: raw, script: this.script(utxo.type, utxo.chain, utxo.index) }));
  }

  derivation(type: AddressType, chain: number, index: number): [Uint8Array, { fingerprint: number; path: number[] }] {
    return [this.publicKey(type, chain, index), { fingerprint: this.fingerprint, path: this.pathNumbers(type, chain, index) }];
  }
}

export interface PsbtPlan {
  coins: readonly Coin[];
  payments: ReadonlyArray<{ address: string; amount: bigint }>;
  change?: ReadonlyArray<{ type: AddressType; index: number; amount: bigint; chain?: 0 | 1 }>;
  /** Also give P2WPKH inputs their whole previous transaction. */
  withPrevTxForSegwit?: boolean;
  /** Edits applied before serialising (refusal tests). */
  edit?: (tx: Transaction) => void;
}

/** The PSBT the platform would build for `plan`, paying from `wallet`'s coins. */
export function buildPsbt(wallet: WalletFixture, plan: PsbtPlan): Uint8Array {
  const tx = new Transaction({ allowUnknownOutputs: true });
  for (const coin of plan.coins) {
    const { utxo } = coin;
    const base = { txid: coin.txid, index: coin.vout, bip32Derivation: [wallet.derivation(utxo.type, utxo.chain, utxo.index)] };
    if (utxo.type === 'p2pkh') tx.addInput({ ...base, nonWitnessUtxo: coin.previous });
    else tx.addInput({ ...base, witnessUtxo: { script: coin.script, amount: utxo.amount }, ...(plan.withPrevTxForSegwit ? { nonWitnessUtxo: coin.previous } : {}) });
  }
  for (const payment of plan.payments) tx.addOutput({ script: outputScript(decodeAddress(payment.address, wallet.network)), amount: payment.amount });
  for (const change of plan.change ?? []) {
    const chain = change.chain ?? 1;
    tx.addOutput({ script: wallet.script(change.type, chain, change.index), amount: change.amount, bip32Derivation: [wallet.derivation(change.type, chain, change.index)] });
  }
  plan.edit?.(tx);
  return tx.toPSBT();
}

export function outsOf(payments: ReadonlyArray<{ address: string; amount: bigint }>): string {
  return payments.map((p) => `${p.address},${p.amount}`).join(';');
}

export function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}
