/**
 * A simulated blockchain for the platform: a UTXO set that funds the hot wallet at start, coin
 * selection and PSBT building for each withdrawal, broadcast that checks every input is
 * unspent and every signature valid with an independent library (bitcoinjs-lib with
 * libsecp256k1), blocks on the shared clock (confirmations grow with simulated time), and the
 * transaction history the Open API reports, with `is_mine` flags.
 * @module
 */
import { hex } from '@scure/base';
import { RawTx, Transaction } from '@scure/btc-signer';
import { decodeAddress, outputScript } from '../../../shared/crypto/address.ts';
import { hash256 } from '../../../shared/crypto/hash.ts';
import type { NetworkParams } from '../../../shared/crypto/networks.ts';
import type { Clock, TimerHandle } from '../../../shared/clock.ts';
import { HsmError } from '../../../shared/errors.ts';
import type { RandomSource } from '../../../shared/random.ts';

export interface ChainOutput {
  sn: number;
  address: string;
  value: bigint;
  script: Uint8Array;
  spentBy?: string;
}

export interface ChainTx {
  txid: string;
  raw: Uint8Array;
  inputs: Array<{ sn: number; prevTxid: string; prevSn: number; address: string; value: bigint }>;
  outputs: ChainOutput[];
  seenAt: number;
  height: number | null;
  confirmedAt: number | null;
}

export interface Utxo {
  txid: string;
  vout: number;
  value: bigint;
  address: string;
  script: Uint8Array;
  /** The whole previous transaction (PSBT nonWitnessUtxo for P2PKH inputs). */
  rawTx: Uint8Array;
}

/** What the PSBT builder needs to know about a wallet key. */
export interface WalletKey {
  address: string;
  publicKey: Uint8Array;
  /** BIP32 path, hardened steps with the 0x80000000 bit. */
  path: number[];
}

export interface PsbtRequest {
  payments: ReadonlyArray<{ address: string; value: bigint }>;
  /** The wallet's spendable keys, by address. */
  wallet: (address: string) => WalletKey | undefined;
  walletAddresses: readonly string[];
  change: WalletKey;
  /** Master key fingerprint for bip32Derivation. */
  fingerprint: number;
  feeRate: number;
  minFee?: bigint;
  /** Outpoints (`txid:vout`) other requests have reserved; never chosen. */
  exclude?: ReadonlySet<string>;
  /** Only outputs of confirmed transactions (the app's `only_confirmed`). */
  onlyConfirmed?: boolean;
}

export interface BuiltPsbt {
  psbt: Uint8Array;
  fee: bigint;
  inputs: Utxo[];
  changeValue: bigint;
  vsize: number;
}

/** Where the chain keeps its transactions and height (a world store); optional. */
export interface ChainPersistence {
  saveTx(tx: ChainTx, order: number): void;
  saveHeight(height: number): void;
}

export interface SavedChain {
  height: number;
  /** In the order they were recorded. */
  txs: ChainTx[];
}

export type ChainEvent = { type: 'chain.tx'; tx: ChainTx; deposit: boolean } | { type: 'chain.block'; height: number; confirmed: string[] };

export interface ChainOptions {
  clock: Clock;
  network: NetworkParams;
  random: RandomSource;
  blockIntervalMs?: number;
  persistence?: ChainPersistence;
  saved?: SavedChain;
}

const DUST = 546n;

export class SimulatedChain {
  readonly network: NetworkParams;
  private readonly clock: Clock;
  private readonly random: RandomSource;
  private readonly blockIntervalMs: number;
  private readonly txs = new Map<string, ChainTx>();
  private readonly order: string[] = [];
  private height = 0;
  private timer: TimerHandle | undefined;
  private readonly persistence: ChainPersistence | undefined;
  private readonly listeners = new Set<(event: ChainEvent) => void>();

  constructor(options: ChainOptions) {
    this.clock = options.clock;
    this.network = options.network;
    this.random = options.random;
    this.blockIntervalMs = options.blockIntervalMs ?? 600_000;
    this.persistence = options.persistence;
    if (options.saved !== undefined) {
      this.height = options.saved.height;
      for (const tx of options.saved.txs) {
        this.txs.set(tx.txid, tx);
        this.order.push(tx.txid);
      }
    }
  }

  onEvent(listener: (event: ChainEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    this.timer = this.clock.setInterval(() => this.mine(), this.blockIntervalMs);
  }

  /** Loads the signature-checking library now rather than at the first broadcast. */
  async prepare(): Promise<void> {
    await loadOracle();
  }

  stop(): void {
    this.clock.clearInterval(this.timer);
  }

  get tipHeight(): number {
    return this.height;
  }

  /** Mines a block now: every unconfirmed transaction gets confirmed. */
  mine(): number {
    this.height++;
    const now = this.clock.now();
    const confirmed: string[] = [];
    for (const tx of this.txs.values()) {
      if (tx.height === null) {
        tx.height = this.height;
        tx.confirmedAt = now;
        confirmed.push(tx.txid);
        this.persistence?.saveTx(tx, this.order.indexOf(tx.txid));
      }
    }
    this.persistence?.saveHeight(this.height);
    this.emit({ type: 'chain.block', height: this.height, confirmed });
    return this.height;
  }

  /** Pays `value` to `address` from outside (a deposit), confirmed in the next block. */
  fund(address: string, value: bigint): ChainTx {
    const script = outputScript(decodeAddress(address, this.network));
    const raw = RawTx.encode({
      version: 2,
      segwitFlag: false,
      inputs: [{ txid: this.random.bytes(32), index: 0, finalScriptSig: this.random.bytes(8), sequence: 0xffffffff }],
      outputs: [{ amount: value, script }],
      witnesses: undefined,
      lockTime: 0,
    });
    return this.record(raw, [], [{ sn: 0, address, value, script }], true);
  }

  utxos(addresses: readonly string[]): Utxo[] {
    const wanted = new Set(addresses);
    const out: Utxo[] = [];
    for (const txid of this.order) {
      const tx = this.txs.get(txid) as ChainTx;
      for (const o of tx.outputs) {
        if (o.spentBy === undefined && wanted.has(o.address)) out.push({ txid, vout: o.sn, value: o.value, address: o.address, script: o.script, rawTx: tx.raw });
      }
    }
    return out;
  }

  balance(addresses: readonly string[]): bigint {
    return this.utxos(addresses).reduce((sum, u) => sum + u.value, 0n);
  }

  /**
   * Chooses inputs (largest first) to pay `payments` plus the fee at `feeRate` sat/vB, and builds
   * an unsigned PSBT with the inputs' previous outputs and BIP32 derivations, the payments in
   * order, and change back to the wallet (dropped when below dust).
   */
  buildPsbt(request: PsbtRequest): BuiltPsbt {
    const available = this.utxos(request.walletAddresses)
      .filter((u) => request.exclude?.has(`${u.txid}:${u.vout}`) !== true)
      .filter((u) => request.onlyConfirmed !== true || this.txs.get(u.txid)?.height !== null)
      .sort((a, b) => (b.value > a.value ? 1 : b.value < a.value ? -1 : 0));
    const target = request.payments.reduce((sum, p) => sum + p.value, 0n);
    const chosen: Utxo[] = [];
    let total = 0n;
    let fee = 0n;
    for (const utxo of available) {
      chosen.push(utxo);
      total += utxo.value;
      fee = this.estimateFee(chosen, request, true);
      if (total >= target + fee) break;
    }
    if (total < target + fee) {
      throw new HsmError('CHAIN_INSUFFICIENT_FUNDS', `the hot wallet holds ${total} but ${target + fee} is needed`, { field: 'outs' });
    }
    let changeValue = total - target - fee;
    if (changeValue < DUST) {
      fee += changeValue;
      changeValue = 0n;
    }
    const tx = new Transaction({ allowLegacyWitnessUtxo: false });
    for (const utxo of chosen) {
      const key = request.wallet(utxo.address);
      if (key === undefined) throw new Error(`invariant failed: no key for ${utxo.address}`);
      const segwit = utxo.script[0] === 0x00;
      tx.addInput({
        txid: hex.decode(utxo.txid),
        index: utxo.vout,
        ...(segwit ? { witnessUtxo: { script: utxo.script, amount: utxo.value } } : { nonWitnessUtxo: utxo.rawTx }),
        bip32Derivation: [[key.publicKey, { fingerprint: request.fingerprint, path: key.path }]],
      });
    }
    for (const p of request.payments) tx.addOutput({ script: outputScript(decodeAddress(p.address, this.network)), amount: p.value });
    if (changeValue > 0n) {
      tx.addOutput({
        script: outputScript(decodeAddress(request.change.address, this.network)),
        amount: changeValue,
        bip32Derivation: [[request.change.publicKey, { fingerprint: request.fingerprint, path: request.change.path }]],
      });
    }
    return { psbt: tx.toPSBT(), fee, inputs: chosen, changeValue, vsize: this.vsize(chosen, request, changeValue > 0n) };
  }

  /**
   * Accepts a signed transaction: every input must spend a known, unspent output and carry a
   * valid signature for it (checked with bitcoinjs-lib and libsecp256k1, not our code), and the
   * outputs may not exceed the inputs.
   */
  async broadcast(raw: Uint8Array): Promise<ChainTx> {
    const { bitcoin, ecc } = await loadOracle();
    let tx: InstanceType<typeof bitcoin.Transaction>;
    try {
      tx = bitcoin.Transaction.fromBuffer(Buffer.from(raw));
    } catch (cause) {
      throw new HsmError('CHAIN_MALFORMED', 'the transaction does not parse', { cause });
    }
    const txid = tx.getId();
    if (this.txs.has(txid)) return this.txs.get(txid) as ChainTx;
    const inputs: ChainTx['inputs'] = [];
    let inValue = 0n;
    for (const [i, input] of tx.ins.entries()) {
      const prevTxid = Buffer.from(input.hash).reverse().toString('hex');
      const prev = this.txs.get(prevTxid)?.outputs[input.index];
      if (prev === undefined) throw new HsmError('CHAIN_UNKNOWN_INPUT', `input ${i} spends ${prevTxid}:${input.index}, which does not exist`, { field: `inputs[${i}]` });
      if (prev.spentBy !== undefined) throw new HsmError('CHAIN_DOUBLE_SPEND', `input ${i} spends ${prevTxid}:${input.index}, already spent by ${prev.spentBy}`, { field: `inputs[${i}]` });
      if (!verifyInput(bitcoin, ecc, tx, i, prev)) throw new HsmError('CHAIN_BAD_SIGNATURE', `input ${i} has no valid signature for its previous output`, { field: `inputs[${i}]` });
      inValue += prev.value;
      inputs.push({ sn: i, prevTxid, prevSn: input.index, address: prev.address, value: prev.value });
    }
    const outputs: ChainOutput[] = tx.outs.map((o, sn) => {
      const script = new Uint8Array(o.script);
      return { sn, script, value: BigInt(o.value), address: addressOfScript(bitcoin, script, this.network) };
    });
    const outValue = outputs.reduce((sum, o) => sum + o.value, 0n);
    if (outValue > inValue) throw new HsmError('CHAIN_VALUE', `outputs (${outValue}) exceed inputs (${inValue})`);
    for (const input of inputs) {
      const prev = this.txs.get(input.prevTxid) as ChainTx;
      prev.outputs[input.prevSn]!.spentBy = txid;
      this.persistence?.saveTx(prev, this.order.indexOf(prev.txid));
    }
    return this.record(raw, inputs, outputs, false);
  }

  transaction(txid: string): ChainTx | undefined {
    return this.txs.get(txid);
  }

  confirmations(tx: ChainTx): number {
    return tx.height === null ? 0 : this.height - tx.height + 1;
  }

  /** Transactions touching `isMine` addresses, oldest first. */
  history(isMine: (address: string) => boolean): ChainTx[] {
    return this.order.map((id) => this.txs.get(id) as ChainTx).filter((tx) => tx.outputs.some((o) => isMine(o.address)) || tx.inputs.some((i) => isMine(i.address)));
  }

  private record(raw: Uint8Array, inputs: ChainTx['inputs'], outputs: ChainOutput[], deposit: boolean): ChainTx {
    const txid = Buffer.from(hash256(stripWitness(raw))).reverse().toString('hex');
    const tx: ChainTx = { txid, raw, inputs, outputs, seenAt: this.clock.now(), height: null, confirmedAt: null };
    this.txs.set(txid, tx);
    this.order.push(txid);
    this.persistence?.saveTx(tx, this.order.length - 1);
    this.emit({ type: 'chain.tx', tx, deposit });
    return tx;
  }

  private emit(event: ChainEvent): void {
    for (const l of this.listeners) l(event);
  }

  private vsize(inputs: readonly Utxo[], request: PsbtRequest, withChange: boolean): number {
    // 10 vB overhead; P2PKH input 148 vB, P2WPKH input 68 vB; outputs 34 (P2PKH) / 31 (P2WPKH) vB.
    let size = 10;
    for (const input of inputs) size += input.script[0] === 0x00 ? 68 : 148;
    const outputSize = (address: string): number => (outputScript(decodeAddress(address, this.network))[0] === 0x00 ? 31 : 34);
    for (const p of request.payments) size += outputSize(p.address);
    if (withChange) size += outputSize(request.change.address);
    return size;
  }

  private estimateFee(inputs: readonly Utxo[], request: PsbtRequest, withChange: boolean): bigint {
    const fee = BigInt(Math.ceil(this.vsize(inputs, request, withChange) * request.feeRate));
    return request.minFee !== undefined && fee < request.minFee ? request.minFee : fee;
  }
}

/** The legacy serialisation (no marker, flag or witnesses): what the txid hashes. */
function stripWitness(raw: Uint8Array): Uint8Array {
  const decoded = RawTx.decode(raw);
  return RawTx.encode({ ...decoded, segwitFlag: false, witnesses: undefined });
}

type Oracle = { bitcoin: typeof import('bitcoinjs-lib'); ecc: typeof import('tiny-secp256k1') };
let oracle: Oracle | undefined;

async function loadOracle(): Promise<Oracle> {
  if (oracle !== undefined) return oracle;
  try {
    oracle = { bitcoin: await import('bitcoinjs-lib'), ecc: await import('tiny-secp256k1') };
  } catch (cause) {
    throw new HsmError('CHAIN_ORACLE', 'the simulated chain checks signatures with bitcoinjs-lib; install the dev dependencies (npm ci)', { cause });
  }
  return oracle;
}

function verifyInput(bitcoin: Oracle['bitcoin'], ecc: Oracle['ecc'], tx: InstanceType<Oracle['bitcoin']['Transaction']>, index: number, prev: ChainOutput): boolean {
  const input = tx.ins[index]!;
  let sigWithType: Uint8Array | undefined;
  let pubkey: Uint8Array | undefined;
  let hash: Uint8Array;
  const segwit = prev.script[0] === 0x00 && prev.script[1] === 0x14;
  try {
    if (segwit) {
      if (input.witness.length !== 2) return false;
      [sigWithType, pubkey] = input.witness as [Uint8Array, Uint8Array];
      const scriptCode = bitcoin.payments.p2pkh({ hash: prev.script.subarray(2) }).output as Uint8Array;
      const { hashType } = bitcoin.script.signature.decode(sigWithType);
      hash = tx.hashForWitnessV0(index, scriptCode, prev.value, hashType);
    } else {
      const chunks = bitcoin.script.decompile(input.script);
      if (chunks === null || chunks.length !== 2) return false;
      [sigWithType, pubkey] = chunks as [Uint8Array, Uint8Array];
      const { hashType } = bitcoin.script.signature.decode(sigWithType);
      hash = tx.hashForSignature(index, prev.script, hashType);
    }
    const program = segwit ? prev.script.subarray(2) : prev.script.subarray(3, 23);
    if (Buffer.compare(Buffer.from(bitcoin.crypto.hash160(pubkey)), Buffer.from(program)) !== 0) return false;
    const { signature } = bitcoin.script.signature.decode(sigWithType);
    return ecc.verify(hash, pubkey, signature, true);
  } catch {
    return false;
  }
}

function addressOfScript(bitcoin: Oracle['bitcoin'], script: Uint8Array, network: NetworkParams): string {
  try {
    return bitcoin.address.fromOutputScript(script, {
      messagePrefix: network.messagePrefix,
      bech32: network.bech32Hrp ?? 'none',
      bip32: { public: 0, private: 0 },
      pubKeyHash: network.p2pkhVersion,
      scriptHash: network.p2shVersion,
      wif: network.wifVersion,
    });
  } catch {
    return '';
  }
}
