/**
 * The PSBT signer (@scure/btc-signer, BIP174): refuses any PSBT that does not do exactly what
 * the V-Device approved, and signs the ones that do. Pure except for private-key access, which
 * goes through a `KeySource`.
 *
 * Checks, in order; each refusal is an HsmError whose code names the rule and whose field
 * names the input, output or `outs` entry at fault:
 *   1. The PSBT parses (PSBT_MALFORMED) within the size limits (PSBT_LIMITS).
 *   2. Every input is the hot wallet's (INPUT_*): no outpoint twice; exactly one BIP32
 *      derivation with the hot master fingerprint and the path m/purpose'/coin'/account'/chain/i
 *      of a hot account; the public key derived here from the account xpub equals the one in
 *      the PSBT; the spent script is that key's P2PKH or P2WPKH script (per the account); P2PKH
 *      inputs carry the whole previous transaction (nonWitnessUtxo, whose txid must match),
 *      P2WPKH inputs a witnessUtxo (matching the previous transaction when it is also given);
 *      no signatures yet, and SIGHASH_ALL only.
 *   3. Payment outputs equal `outs`: each entry is paid exactly once to its script with its
 *      value (PAYMENT_ADDRESS_MISSING, PAYMENT_VALUE_MISMATCH).
 *   4. Every other output pays to the hot change chain (chain 1): its script is derived here
 *      from the account xpub at the index its BIP32 derivation names (OUTPUT_NOT_APPROVED when
 *      it has no hot derivation, CHANGE_NOT_OURS when the derivation or the script is wrong).
 *   5. Amounts add up (FEE_NEGATIVE) and the fee meets the coin's policy (fee.ts).
 *
 * Signing uses RFC 6979 deterministic ECDSA (low S), so signing the same PSBT again after a
 * crash yields the same transaction byte for byte.
 * @module
 */
import { Transaction, RawTx, SigHash } from '@scure/btc-signer';
import { HsmError } from '../shared/errors.ts';
import { outputScript } from '../shared/crypto/address.ts';
import { bytesToHex, equalBytes, hash160, sha256 } from '../shared/crypto/hash.ts';
import { CHAIN, derivePublicKey } from '../shared/crypto/hd.ts';
import type { AddressType } from '../shared/crypto/networks.ts';
import type { Payment } from '../shared/crypto/request-string.ts';
import type { Account, KeySource } from './accounts.ts';
import type { FeePolicy } from './config.ts';
import { checkFee, estimateVsize } from './fee.ts';

export const MAX_PSBT_BYTES = 512 * 1024;
export const MAX_INPUTS = 400;
export const MAX_OUTPUTS = 256;
const HARDENED = 0x80000000;

export interface SigningPolicy {
  /** The hot accounts of the request's coin. */
  accounts: readonly Account[];
  fee: FeePolicy;
}

export interface CheckedInput {
  index: number;
  account: Account;
  chain: number;
  addressIndex: number;
  amount: bigint;
}

export interface CheckedChange {
  output: number;
  addressIndex: number;
  amount: bigint;
}

export interface CheckedPsbt {
  /** The parsed PSBT; `signPsbt` signs a copy. */
  transaction: Transaction;
  /** SHA-256 of the unsigned transaction (no scriptSigs, no witnesses), hex. */
  unsignedHash: string;
  inputs: CheckedInput[];
  change: CheckedChange[];
  inputTotal: bigint;
  outputTotal: bigint;
  fee: bigint;
  vsizeEstimate: number;
  isDynamicFee: 0 | 1;
  feePolicy: FeePolicy;
}

export interface SignedTransaction {
  txid: string;
  raw: Uint8Array;
  fee: bigint;
  vsize: number;
}

function refuse(code: string, message: string, field: string): HsmError {
  return new HsmError(code, message, { field });
}

function parsePsbt(psbt: Uint8Array): Transaction {
  if (psbt.length > MAX_PSBT_BYTES) {
    throw refuse('PSBT_LIMITS', `the PSBT is ${psbt.length} bytes; at most ${MAX_PSBT_BYTES} are accepted`, 'psbt');
  }
  try {
    return Transaction.fromPSBT(psbt);
  } catch (cause) {
    throw new HsmError('PSBT_MALFORMED', 'the PSBT cannot be parsed (BIP174)', { field: 'psbt', cause });
  }
}

/** The P2PKH or P2WPKH script of a public key. */
function scriptFor(type: AddressType, publicKey: Uint8Array, account: Account): Uint8Array {
  return outputScript({ type, program: hash160(publicKey), network: account.network });
}

interface Derivation {
  account: Account;
  chain: number;
  index: number;
  publicKey: Uint8Array;
}

/**
 * Finds the hot account a BIP32 derivation entry points into and derives its key here.
 * Returns a reason string when the entry is not the hot wallet's.
 */
function resolveDerivation(
  entries: ReadonlyArray<readonly [Uint8Array, { fingerprint: number; path: number[] }]> | undefined,
  accounts: readonly Account[],
): Derivation | string {
  if (entries === undefined || entries.length === 0) return 'it has no BIP32 derivation';
  if (entries.length !== 1) return `it has ${entries.length} BIP32 derivations; a single-key script has one`;
  const [publicKey, { fingerprint, path }] = entries[0] as readonly [Uint8Array, { fingerprint: number; path: number[] }];
  const account = accounts.find(
    (a) => a.masterFingerprint === fingerprint && path.length === 5 && a.path.every((step, i) => path[i] === step),
  );
  if (account === undefined) return `its derivation (fingerprint ${fingerprint.toString(16).padStart(8, '0')}, path ${formatPath(path)}) is not a hot account`;
  const chain = path[3] as number;
  const index = path[4] as number;
  if ((chain !== CHAIN.external && chain !== CHAIN.change) || index >= HARDENED) return `its path ${formatPath(path)} is not chain 0 or 1 of the account`;
  const derived = derivePublicKey(account.node, chain, index);
  if (!equalBytes(derived, publicKey)) return `the key at ${formatPath(path)} is not the one the PSBT names`;
  return { account, chain, index, publicKey: derived };
}

export function formatPath(path: readonly number[]): string {
  return ['m', ...path.map((n) => (n >= HARDENED ? `${n - HARDENED}'` : String(n)))].join('/');
}

function checkInputs(tx: Transaction, accounts: readonly Account[]): CheckedInput[] {
  const seen = new Set<string>();
  const checked: CheckedInput[] = [];
  for (let i = 0; i < tx.inputsLength; i++) {
    const field = `inputs[${i}]`;
    const input = tx.getInput(i);
    if (input.txid === undefined || input.index === undefined) throw refuse('PSBT_MALFORMED', `${field} has no outpoint`, field);
    const outpoint = `${bytesToHex(input.txid)}:${input.index}`;
    if (seen.has(outpoint)) throw refuse('INPUT_DUPLICATE', `${field} spends ${outpoint} a second time`, field);
    seen.add(outpoint);
    if (input.partialSig !== undefined || input.finalScriptSig !== undefined || input.finalScriptWitness !== undefined) {
      throw refuse('INPUT_ALREADY_SIGNED', `${field} already carries a signature`, field);
    }
    if (input.sighashType !== undefined && input.sighashType !== SigHash.ALL) {
      throw refuse('INPUT_SIGHASH', `${field} asks for sighash type ${input.sighashType}; only SIGHASH_ALL is signed`, field);
    }
    const derivation = resolveDerivation(input.bip32Derivation, accounts);
    if (typeof derivation === 'string') throw refuse('INPUT_NOT_OURS', `${field} is not the hot wallet's: ${derivation}`, field);
    const expectedScript = scriptFor(derivation.account.type, derivation.publicKey, derivation.account);
    let prevout: { script: Uint8Array; amount: bigint };
    if (input.nonWitnessUtxo !== undefined) {
      let previous: Transaction;
      try {
        previous = Transaction.fromRaw(RawTx.encode(input.nonWitnessUtxo), {
          allowUnknownOutputs: true,
          allowUnknownInputs: true,
          allowUnknownVersion: true,
          disableScriptCheck: true,
        });
      } catch (cause) {
        throw new HsmError('INPUT_PREVOUT_MISMATCH', `${field} carries a previous transaction that does not parse`, { field, cause });
      }
      if (previous.id !== bytesToHex(input.txid)) {
        throw refuse('INPUT_PREVOUT_MISMATCH', `${field} carries previous transaction ${previous.id}, not ${bytesToHex(input.txid)}`, field);
      }
      const out = input.nonWitnessUtxo.outputs[input.index];
      if (out === undefined) throw refuse('INPUT_PREVOUT_MISMATCH', `${field} spends output ${input.index}, which its previous transaction lacks`, field);
      if (input.witnessUtxo !== undefined && (input.witnessUtxo.amount !== out.amount || !equalBytes(input.witnessUtxo.script, out.script))) {
        throw refuse('INPUT_PREVOUT_MISMATCH', `${field} has a witnessUtxo that differs from its previous transaction`, field);
      }
      prevout = out;
    } else if (input.witnessUtxo !== undefined && derivation.account.type === 'p2wpkh') {
      prevout = input.witnessUtxo;
    } else {
      const needed = derivation.account.type === 'p2pkh' ? 'the previous transaction (nonWitnessUtxo)' : 'witnessUtxo';
      throw refuse('INPUT_PREVOUT_MISSING', `${field} lacks ${needed}`, field);
    }
    if (!equalBytes(prevout.script, expectedScript)) {
      throw refuse('INPUT_NOT_OURS', `${field} spends a script that is not the ${derivation.account.type} script of its key`, field);
    }
    checked.push({ index: i, account: derivation.account, chain: derivation.chain, addressIndex: derivation.index, amount: prevout.amount });
  }
  return checked;
}

function matchPayments(tx: Transaction, payments: readonly Payment[]): Set<number> {
  const used = new Set<number>();
  for (const [p, payment] of payments.entries()) {
    const script = outputScript(payment.decoded);
    let sameScript = false;
    let matched = false;
    for (let o = 0; o < tx.outputsLength; o++) {
      if (used.has(o)) continue;
      const output = tx.getOutput(o);
      if (output.script === undefined || !equalBytes(output.script, script)) continue;
      sameScript = true;
      if (output.amount === payment.value) {
        used.add(o);
        matched = true;
        break;
      }
    }
    if (matched) continue;
    if (sameScript) {
      throw refuse(
        'PAYMENT_VALUE_MISMATCH',
        `outs[${p}] approves ${payment.value} to ${payment.address}, but the PSBT pays that address another amount`,
        `outs[${p}].value`,
      );
    }
    throw refuse('PAYMENT_ADDRESS_MISSING', `outs[${p}] approves a payment to ${payment.address}, which the PSBT does not make`, `outs[${p}].address`);
  }
  return used;
}

function checkChange(tx: Transaction, payments: Set<number>, accounts: readonly Account[]): CheckedChange[] {
  const change: CheckedChange[] = [];
  for (let o = 0; o < tx.outputsLength; o++) {
    if (payments.has(o)) continue;
    const field = `outputs[${o}]`;
    const output = tx.getOutput(o);
    if (output.script === undefined || output.amount === undefined) throw refuse('PSBT_MALFORMED', `${field} has no script or amount`, field);
    if (output.bip32Derivation === undefined || output.bip32Derivation.length === 0) {
      throw refuse('OUTPUT_NOT_APPROVED', `${field} pays ${output.amount} to a script that is neither in outs nor hot change`, field);
    }
    const derivation = resolveDerivation(output.bip32Derivation, accounts);
    if (typeof derivation === 'string') throw refuse('CHANGE_NOT_OURS', `${field} is not hot change: ${derivation}`, field);
    if (derivation.chain !== CHAIN.change) {
      throw refuse('CHANGE_NOT_OURS', `${field} pays to the receiving chain (0), not the change chain (1)`, field);
    }
    if (!equalBytes(output.script, scriptFor(derivation.account.type, derivation.publicKey, derivation.account))) {
      throw refuse('CHANGE_NOT_OURS', `${field} pays to a script that is not hot change address ${derivation.index}`, field);
    }
    change.push({ output: o, addressIndex: derivation.index, amount: output.amount });
  }
  return change;
}

/**
 * Runs every check on `psbt` for an approved set of `payments`; returns what signing needs.
 * Throws an HsmError naming the first rule broken.
 */
export function checkPsbt(psbt: Uint8Array, payments: readonly Payment[], isDynamicFee: 0 | 1, policy: SigningPolicy): CheckedPsbt {
  const tx = parsePsbt(psbt);
  if (tx.inputsLength === 0) throw refuse('PSBT_LIMITS', 'the PSBT has no inputs', 'psbt');
  if (tx.outputsLength === 0) throw refuse('PSBT_LIMITS', 'the PSBT has no outputs', 'psbt');
  if (tx.inputsLength > MAX_INPUTS) throw refuse('PSBT_LIMITS', `the PSBT has ${tx.inputsLength} inputs; at most ${MAX_INPUTS} are signed`, 'psbt');
  if (tx.outputsLength > MAX_OUTPUTS) throw refuse('PSBT_LIMITS', `the PSBT has ${tx.outputsLength} outputs; at most ${MAX_OUTPUTS} are signed`, 'psbt');
  if (policy.accounts.length === 0) throw refuse('ACCOUNT_UNKNOWN', 'this device has no account for the coin', 'coin_code');

  const inputs = checkInputs(tx, policy.accounts);
  const paid = matchPayments(tx, payments);
  const change = checkChange(tx, paid, policy.accounts);

  const inputTotal = inputs.reduce((sum, i) => sum + i.amount, 0n);
  let outputTotal = 0n;
  const scriptLengths: number[] = [];
  for (let o = 0; o < tx.outputsLength; o++) {
    const output = tx.getOutput(o);
    outputTotal += output.amount ?? 0n;
    scriptLengths.push(output.script?.length ?? 0);
  }
  if (outputTotal > inputTotal) {
    throw refuse('FEE_NEGATIVE', `the outputs (${outputTotal}) spend more than the inputs hold (${inputTotal})`, 'psbt');
  }
  const fee = inputTotal - outputTotal;
  const vsizeEstimate = estimateVsize(
    inputs.map((i) => i.account.type),
    scriptLengths,
  );
  checkFee(policy.fee, isDynamicFee, fee, vsizeEstimate);
  const unsignedHash = bytesToHex(sha256(tx.unsignedTx));
  return { transaction: tx, unsignedHash, inputs, change, inputTotal, outputTotal, fee, vsizeEstimate, isDynamicFee, feePolicy: policy.fee };
}

/**
 * Signs every input of a checked PSBT with the keys it was checked against, finalizes and
 * extracts the transaction, and checks the fee policy once more on its exact size.
 */
export function signPsbt(checked: CheckedPsbt, keys: KeySource): SignedTransaction {
  const tx = checked.transaction.clone();
  for (const input of checked.inputs) {
    const privateKey = keys.privateKey(input.account.spec, input.chain, input.addressIndex);
    try {
      if (!tx.signIdx(privateKey, input.index, [SigHash.ALL])) {
        throw new HsmError('SIGNING_FAILED', `input ${input.index} could not be signed`, { field: `inputs[${input.index}]` });
      }
    } catch (cause) {
      if (cause instanceof HsmError) throw cause;
      throw new HsmError('SIGNING_FAILED', `input ${input.index} could not be signed`, { field: `inputs[${input.index}]`, cause });
    } finally {
      privateKey.fill(0);
    }
  }
  let raw: Uint8Array;
  try {
    tx.finalize();
    raw = tx.extract();
  } catch (cause) {
    throw new HsmError('SIGNING_FAILED', 'the signed transaction could not be finalized', { field: 'psbt', cause });
  }
  checkFee(checked.feePolicy, checked.isDynamicFee, checked.fee, tx.vsize);
  return { txid: tx.id, raw, fee: checked.fee, vsize: tx.vsize };
}
