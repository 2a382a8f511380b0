/**
 * A simulated blockchain for the platform: a UTXO set that funds the hot wallet at start, coin
 * selection and PSBT building for each withdrawal, broadcast that checks every input is
 * unspent and every signature valid (the sighash of @scure/btc-signer, legacy or BIP143, and
 * ECDSA verification by @noble/curves; the tests check the same transactions with the
 * independent bitcoinjs-lib and libsecp256k1), blocks on the shared clock (confirmations grow
 * with simulated time), and the transaction history the Open API reports, with `is_mine` flags.
 * @module
 */
import { hex } from '@scure/base';
import { RawTx, Script, Transaction } from '@scure/btc-signer';
import { decodeAddress, encodeBase58Address, encodeSegwitAddress, outputScript } from '../../../shared/crypto/address.ts';
import { equalBytes, hash160, hash256 } from '../../../shared/crypto/hash.ts';
import { secp } from '../../../shared/crypto/secp.ts';
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
   * valid signature for it, and the outputs may not exceed the inputs.
   */
  async broadcast(raw: Uint8Array): Promise<ChainTx> {
    let tx: Transaction;
    try {
      tx = Transaction.fromRaw(raw, { allowUnknownInputs: true, allowUnknownOutputs: true, disableScriptCheck: true });
    } catch (cause) {
      throw new HsmError('CHAIN_MALFORMED', 'the transaction does not parse', { cause });
    }
    const txid = tx.id;
    if (this.txs.has(txid)) return this.txs.get(txid) as ChainTx;
    const inputs: ChainTx['inputs'] = [];
    let inValue = 0n;
    for (let i = 0; i < tx.inputsLength; i++) {
      const input = tx.getInput(i);
      const prevTxid = hex.encode(input.txid as Uint8Array);
      const prevSn = input.index as number;
      const prev = this.txs.get(prevTxid)?.outputs[prevSn];
      if (prev === undefined) throw new HsmError('CHAIN_UNKNOWN_INPUT', `input ${i} spends ${prevTxid}:${prevSn}, which does not exist`, { field: `inputs[${i}]` });
      if (prev.spentBy !== undefined) throw new HsmError('CHAIN_DOUBLE_SPEND', `input ${i} spends ${prevTxid}:${prevSn}, already spent by ${prev.spentBy}`, { field: `inputs[${i}]` });
      if (!verifyInput(tx, i, prev)) throw new HsmError('CHAIN_BAD_SIGNATURE', `input ${i} has no valid signature for its previous output`, { field: `inputs[${i}]` });
      inValue += prev.value;
      inputs.push({ sn: i, prevTxid, prevSn, address: prev.address, value: prev.value });
    }
    const outputs: ChainOutput[] = [];
    for (let sn = 0; sn < tx.outputsLength; sn++) {
      const { script, amount } = tx.getOutput(sn) as { script: Uint8Array; amount: bigint };
      outputs.push({ sn, script, value: amount, address: addressOfScript(script, this.network) });
    }
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

/** The legacy sighash (the private half of btc-signer's; BIP143's `preimageWitnessV0` is public). */
type LegacySighash = { preimageLegacy(index: number, prevOutScript: Uint8Array, hashType: number): Uint8Array };

/**
 * Input `index` of `tx` spends `prev` (P2PKH or P2WPKH) with a valid signature: its public key
 * hashes to the output's program, and its DER signature (low S) verifies over the sighash its
 * last byte names: legacy for P2PKH, BIP143 with the P2PKH script code for P2WPKH.
 */
function verifyInput(tx: Transaction, index: number, prev: ChainOutput): boolean {
  const script = prev.script;
  const segwit = script.length === 22 && script[0] === 0x00 && script[1] === 0x14;
  const legacy = script.length === 25 && script[0] === 0x76 && script[1] === 0xa9 && script[2] === 0x14 && script[23] === 0x88 && script[24] === 0xac;
  if (!segwit && !legacy) return false;
  const program = segwit ? script.subarray(2) : script.subarray(3, 23);
  const input = tx.getInput(index);
  try {
    const pushes = segwit ? (input.finalScriptWitness ?? []) : Script.decode(input.finalScriptSig ?? new Uint8Array());
    if (pushes.length !== 2 || !pushes.every((p) => p instanceof Uint8Array)) return false;
    const [sigWithType, publicKey] = pushes as [Uint8Array, Uint8Array];
    if (sigWithType.length < 2 || !equalBytes(hash160(publicKey), program)) return false;
    const hashType = sigWithType[sigWithType.length - 1] as number;
    const scriptCode = Uint8Array.from([0x76, 0xa9, 0x14, ...program, 0x88, 0xac]);
    const sighash = segwit ? tx.preimageWitnessV0(index, scriptCode, hashType, prev.value) : (tx as unknown as LegacySighash).preimageLegacy(index, script, hashType);
    return secp.verify(sigWithType.subarray(0, -1), sighash, publicKey, { prehash: false, format: 'der' });
  } catch {
    return false;
  }
}

/** The address an output script pays to on `network` ('' for a script that is no address). */
function addressOfScript(script: Uint8Array, network: NetworkParams): string {
  const [op, push] = [script[0], script[1]];
  if (script.length === 25 && op === 0x76 && push === 0xa9 && script[2] === 0x14 && script[23] === 0x88 && script[24] === 0xac) return encodeBase58Address(network.p2pkhVersion, script.subarray(3, 23));
  if (script.length === 23 && op === 0xa9 && push === 0x14 && script[22] === 0x87) return encodeBase58Address(network.p2shVersion, script.subarray(2, 22));
  if (network.bech32Hrp === undefined) return '';
  if (op === 0x00 && (push === 0x14 || push === 0x20) && script.length === 2 + push) return encodeSegwitAddress(network.bech32Hrp, 0, script.subarray(2));
  if (op === 0x51 && push === 0x20 && script.length === 34) return encodeSegwitAddress(network.bech32Hrp, 1, script.subarray(2));
  return '';
}
