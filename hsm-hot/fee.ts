/**
 * Transaction size and the fee policy (config.ts).
 *
 * Size before signing [BIP141 "Transaction size calculations"]:
 *   weight = 4 * base + witness,  vsize = ceil(weight / 4)
 *   base   = version(4) + n(inputs) + inputs + n(outputs) + outputs + locktime(4)
 *   input  = outpoint(36) + n(scriptSig) + scriptSig + sequence(4)
 *   output = value(8) + n(script) + script
 * with the largest signature an input can carry: DER low-S signature (<= 71) + sighash byte.
 *   P2PKH  scriptSig = push(72) + push(33) = 107 bytes, no witness
 *   P2WPKH scriptSig empty, witness = count(1) + push(72) + push(33) = 108 weight units
 * A transaction with any witness adds marker and flag (2 WU) and one empty-stack byte for each
 * input without a witness. The estimate is an upper bound of the signed size; the signed
 * transaction is checked again with its exact size.
 *
 * Rates are compared in integers: fee * 1000 <= rate_milli * vsize.
 * @module
 */
import { HsmError } from '../shared/errors.ts';
import { compactSize } from '../shared/crypto/message-signature.ts';
import type { AddressType } from '../shared/crypto/networks.ts';
import type { FeePolicy } from './config.ts';

const MAX_SIGNATURE_PUSH = 1 + 72;
const PUBKEY_PUSH = 1 + 33;

export function estimateVsize(inputs: readonly AddressType[], outputScriptLengths: readonly number[]): number {
  let base = 4 + compactSize(inputs.length).length + compactSize(outputScriptLengths.length).length + 4;
  let witness = 0;
  const segwit = inputs.includes('p2wpkh');
  for (const type of inputs) {
    if (type === 'p2pkh') {
      const scriptSig = MAX_SIGNATURE_PUSH + PUBKEY_PUSH;
      base += 36 + compactSize(scriptSig).length + scriptSig + 4;
      if (segwit) witness += 1;
    } else {
      base += 36 + 1 + 4;
      witness += 1 + MAX_SIGNATURE_PUSH + PUBKEY_PUSH;
    }
  }
  for (const length of outputScriptLengths) base += 8 + compactSize(length).length + length;
  if (segwit) witness += 2;
  return Math.ceil((4 * base + witness) / 4);
}

function milli(rate: number): bigint {
  return BigInt(Math.round(rate * 1000));
}

/** fee / vsize formatted for messages, in sat/vB with two decimals. */
export function formatRate(fee: bigint, vsize: number): string {
  return (Number((fee * 100n) / BigInt(vsize)) / 100).toFixed(2);
}

/**
 * Checks `fee` for a transaction of `vsize` against `policy`; throws an HsmError naming the
 * rule: FEE_OVER_MAX, FEE_RATE_TOO_LOW, FEE_RATE_OVER_CAP (dynamic), FEE_NOT_FIXED or
 * FEE_RATE_OUT_OF_BOUNDS (fixed).
 */
export function checkFee(policy: FeePolicy, isDynamicFee: 0 | 1, fee: bigint, vsize: number): void {
  const size = BigInt(vsize);
  const rateText = `${formatRate(fee, vsize)} sat/vB`;
  if (fee > policy.maxFee) {
    throw new HsmError('FEE_OVER_MAX', `the fee of ${fee} exceeds the largest allowed fee of ${policy.maxFee}`, { field: 'psbt' });
  }
  if (fee * 1000n < milli(policy.minRelayRate) * size) {
    throw new HsmError('FEE_RATE_TOO_LOW', `the fee rate ${rateText} is below the relay minimum of ${policy.minRelayRate} sat/vB`, {
      field: 'psbt',
    });
  }
  if (isDynamicFee === 1) {
    if (fee * 1000n > milli(policy.dynamic.maxRate) * size) {
      throw new HsmError('FEE_RATE_OVER_CAP', `the fee rate ${rateText} exceeds the dynamic-fee cap of ${policy.dynamic.maxRate} sat/vB`, {
        field: 'psbt',
      });
    }
    return;
  }
  const fixed = policy.fixed;
  if ('fee' in fixed) {
    if (fee !== fixed.fee) {
      throw new HsmError('FEE_NOT_FIXED', `is_dynamic_fee is 0 and the fixed fee is ${fixed.fee}, but the transaction pays ${fee}`, {
        field: 'psbt',
      });
    }
    return;
  }
  if (fee * 1000n < milli(fixed.minRate) * size || fee * 1000n > milli(fixed.maxRate) * size) {
    throw new HsmError(
      'FEE_RATE_OUT_OF_BOUNDS',
      `is_dynamic_fee is 0 and the fee rate ${rateText} is outside the fixed bounds ${fixed.minRate}..${fixed.maxRate} sat/vB`,
      { field: 'psbt' },
    );
  }
}
