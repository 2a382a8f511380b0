import { SigHash, type Transaction } from '@scure/btc-signer';
import { describe, expect, it } from 'vitest';
import { mnemonicToSeed } from '../../shared/crypto/hd.ts';
import { parseOuts, type Payment } from '../../shared/crypto/request-string.ts';
import { deriveHotAccounts, loadAccount, seedKeySource, type Account } from '../../hsm-hot/accounts.ts';
import { parseHotConfig, type FeePolicy } from '../../hsm-hot/config.ts';
import { estimateVsize } from '../../hsm-hot/fee.ts';
import { checkPsbt, signPsbt, type CheckedPsbt } from '../../hsm-hot/signer.ts';
import { expectHsmError } from '../helpers/errors.ts';
import { verifySignedTransaction, type Prevout } from './verify-signed.ts';
import {
  FOREIGN_MNEMONIC,
  HOT_MNEMONIC,
  NETWORK,
  PAYEES,
  TEST_CONFIG,
  WalletFixture,
  buildPsbt,
  outsOf,
  type Coin,
  type PsbtPlan,
} from './wallet-fixture.ts';

const config = parseHotConfig(TEST_CONFIG);
const fee = config.coins[0]!.fee;
const seed = mnemonicToSeed(HOT_MNEMONIC);
const accounts: Account[] = deriveHotAccounts(seed, config.coins).map(loadAccount);
const wallet = new WalletFixture(HOT_MNEMONIC);
const foreign = new WalletFixture(FOREIGN_MNEMONIC);

function paymentsOf(plan: PsbtPlan): Payment[] {
  const parsed = parseOuts(outsOf(plan.payments), NETWORK);
  if (parsed.kind !== 'payments') throw new Error('expected payments');
  return parsed.payments;
}

function check(plan: PsbtPlan, options: { isDynamicFee?: 0 | 1; fee?: FeePolicy; payments?: Payment[] } = {}): CheckedPsbt {
  return checkPsbt(buildPsbt(wallet, plan), options.payments ?? paymentsOf(plan), options.isDynamicFee ?? 1, { accounts, fee: options.fee ?? fee });
}

function sign(checked: CheckedPsbt): ReturnType<typeof signPsbt> {
  const keys = seedKeySource(seed);
  try {
    return signPsbt(checked, keys);
  } finally {
    keys.wipe();
  }
}

function prevoutsOf(coins: readonly Coin[]): Prevout[] {
  return coins.map((c) => ({ script: c.script, amount: c.utxo.amount }));
}

/** A 2-payment plan: 300k in, 120k + 80k paid, 95k change, fee 5k. */
function basicPlan(types: Array<'p2pkh' | 'p2wpkh'>, changeType: 'p2pkh' | 'p2wpkh' = 'p2wpkh'): PsbtPlan {
  const per = 300_000n / BigInt(types.length);
  const coins = wallet.fund(types.map((type, i) => ({ type, chain: (i % 2) as 0 | 1, index: 3 + i, amount: per })));
  const total = per * BigInt(types.length);
  return {
    coins,
    payments: [
      { address: PAYEES.a, amount: 120_000n },
      { address: PAYEES.b, amount: 80_000n },
    ],
    change: [{ type: changeType, index: 9, amount: total - 200_000n - 5_000n }],
  };
}

describe('signer: signs what was approved, and bitcoinjs agrees', () => {
  for (const [name, types] of [
    ['P2PKH inputs', ['p2pkh', 'p2pkh']],
    ['P2WPKH inputs', ['p2wpkh', 'p2wpkh', 'p2wpkh']],
    ['mixed P2PKH and P2WPKH inputs', ['p2pkh', 'p2wpkh', 'p2pkh', 'p2wpkh']],
  ] as const) {
    it(`${name}: every input signature verifies against its prevout`, () => {
      const plan = basicPlan([...types]);
      const checked = check(plan);
      expect(checked.fee).toBe(5_000n);
      expect(checked.inputs.map((i) => i.account.type)).toEqual(types);
      expect(checked.change.map((c) => c.addressIndex)).toEqual([9]);
      const signed = sign(checked);
      const report = verifySignedTransaction(Buffer.from(signed.raw).toString('hex'), prevoutsOf(plan.coins));
      expect(report.txid).toBe(signed.txid);
      expect(report.inputs).toBe(types.length);
      expect(report.outputs.map((o) => o.value)).toEqual([120_000n, 80_000n, 95_000n]);
      expect(signed.vsize).toBeLessThanOrEqual(checked.vsizeEstimate);
    });
  }

  it('P2WPKH inputs that also carry their previous transaction are signed', () => {
    const plan = { ...basicPlan(['p2wpkh', 'p2wpkh'], 'p2pkh'), withPrevTxForSegwit: true };
    const signed = sign(check(plan));
    expect(verifySignedTransaction(Buffer.from(signed.raw).toString('hex'), prevoutsOf(plan.coins)).txid).toBe(signed.txid);
  });

  it('a payment without change, and several change outputs, are both fine', () => {
    const coins = wallet.fund([{ type: 'p2wpkh', chain: 0, index: 1, amount: 100_000n }]);
    const noChange = check({ coins, payments: [{ address: PAYEES.c, amount: 99_000n }] });
    expect(noChange.change).toEqual([]);
    const split = check({
      coins,
      payments: [{ address: PAYEES.c, amount: 50_000n }],
      change: [
        { type: 'p2wpkh', index: 1, amount: 20_000n },
        { type: 'p2pkh', index: 2, amount: 29_000n },
      ],
    });
    expect(split.change.map((c) => c.addressIndex)).toEqual([1, 2]);
    const signed = sign(split);
    expect(verifySignedTransaction(Buffer.from(signed.raw).toString('hex'), prevoutsOf(coins)).outputs).toHaveLength(3);
  });

  it('signing the same PSBT again gives the same transaction byte for byte (RFC 6979)', () => {
    const plan = basicPlan(['p2pkh', 'p2wpkh']);
    const first = sign(check(plan));
    const second = sign(check(plan));
    expect(Buffer.from(second.raw).equals(Buffer.from(first.raw))).toBe(true);
    expect(second.txid).toBe(first.txid);
  });

  it('the size estimate bounds the signed size from above, for every input mix', () => {
    for (const types of [['p2pkh'], ['p2wpkh'], ['p2pkh', 'p2wpkh'], ['p2wpkh', 'p2wpkh', 'p2pkh', 'p2pkh', 'p2wpkh']] as const) {
      const checked = check(basicPlan([...types]));
      const signed = sign(checked);
      expect(checked.vsizeEstimate).toBeGreaterThanOrEqual(signed.vsize);
      expect(checked.vsizeEstimate - signed.vsize).toBeLessThanOrEqual(types.length);
    }
    expect(estimateVsize(['p2pkh'], [25, 25])).toBe(226);
    expect(estimateVsize(['p2wpkh'], [22, 22])).toBe(141);
  });
});

describe('signer: every check refuses, naming the reason', () => {
  const coins = wallet.fund([
    { type: 'p2pkh', chain: 0, index: 0, amount: 200_000n },
    { type: 'p2wpkh', chain: 1, index: 4, amount: 100_000n },
  ]);
  const payments = [
    { address: PAYEES.a, amount: 120_000n },
    { address: PAYEES.b, amount: 80_000n },
  ];
  const approved = paymentsOf({ coins, payments });
  const good: PsbtPlan = { coins, payments, change: [{ type: 'p2wpkh', index: 2, amount: 95_000n }] };
  const refusal = (plan: Partial<PsbtPlan>, code: string, field: string, options: { isDynamicFee?: 0 | 1; fee?: FeePolicy } = {}): void => {
    expectHsmError(() => check({ ...good, ...plan }, { ...options, payments: approved }), code, field);
  };

  it('the unchanged plan passes, so each refusal below is caused by its one change', () => {
    expect(check(good, { payments: approved }).fee).toBe(5_000n);
  });

  it('one satoshi more to a payee', () => {
    refusal({ payments: [{ address: PAYEES.a, amount: 120_001n }, payments[1]!], change: [{ type: 'p2wpkh', index: 2, amount: 94_999n }] }, 'PAYMENT_VALUE_MISMATCH', 'outs[0].value');
  });

  it('one satoshi less to a payee', () => {
    refusal({ payments: [payments[0]!, { address: PAYEES.b, amount: 79_999n }] }, 'PAYMENT_VALUE_MISMATCH', 'outs[1].value');
  });

  it('a swapped address (the payment goes elsewhere)', () => {
    refusal({ payments: [{ address: PAYEES.c, amount: 120_000n }, payments[1]!] }, 'PAYMENT_ADDRESS_MISSING', 'outs[0].address');
  });

  it('two payees with their amounts swapped', () => {
    refusal({ payments: [{ address: PAYEES.a, amount: 80_000n }, { address: PAYEES.b, amount: 120_000n }] }, 'PAYMENT_VALUE_MISMATCH', 'outs[0].value');
  });

  it('an extra output to a stranger', () => {
    refusal(
      { payments: [...payments, { address: PAYEES.c, amount: 1_000n }], change: [{ type: 'p2wpkh', index: 2, amount: 94_000n }] },
      'OUTPUT_NOT_APPROVED',
      'outputs[2]',
    );
  });

  it('an approved payment made twice', () => {
    refusal({ payments: [...payments, payments[1]!], change: [{ type: 'p2wpkh', index: 2, amount: 15_000n }] }, 'OUTPUT_NOT_APPROVED', 'outputs[2]');
  });

  it('a foreign change address dressed up with the hot derivation of change index 2', () => {
    refusal(
      {
        change: [],
        edit: (tx: Transaction) => {
          tx.addOutput({ script: foreign.script('p2wpkh', 1, 2), amount: 95_000n, bip32Derivation: [wallet.derivation('p2wpkh', 1, 2)] });
        },
      },
      'CHANGE_NOT_OURS',
      'outputs[2]',
    );
  });

  it("change to another wallet's key (its own fingerprint and path)", () => {
    refusal(
      {
        change: [],
        edit: (tx: Transaction) => {
          tx.addOutput({ script: foreign.script('p2wpkh', 1, 2), amount: 95_000n, bip32Derivation: [foreign.derivation('p2wpkh', 1, 2)] });
        },
      },
      'CHANGE_NOT_OURS',
      'outputs[2]',
    );
  });

  it('"change" on the receiving chain', () => {
    refusal({ change: [{ type: 'p2wpkh', index: 2, amount: 95_000n, chain: 0 }] }, 'CHANGE_NOT_OURS', 'outputs[2]');
  });

  it('a foreign input', () => {
    const stranger = foreign.fund([{ type: 'p2wpkh', chain: 0, index: 0, amount: 50_000n }], 9);
    refusal(
      {
        edit: (tx: Transaction) => {
          const coin = stranger[0]!;
          tx.addInput({ txid: coin.txid, index: coin.vout, witnessUtxo: { script: coin.script, amount: 50_000n }, bip32Derivation: [foreign.derivation('p2wpkh', 0, 0)] });
        },
        change: [{ type: 'p2wpkh', index: 2, amount: 145_000n }],
      },
      'INPUT_NOT_OURS',
      'inputs[2]',
    );
  });

  it('a foreign input that claims a hot derivation', () => {
    const stranger = foreign.fund([{ type: 'p2wpkh', chain: 0, index: 0, amount: 50_000n }], 9);
    refusal(
      {
        edit: (tx: Transaction) => {
          const coin = stranger[0]!;
          tx.addInput({ txid: coin.txid, index: coin.vout, witnessUtxo: { script: coin.script, amount: 50_000n }, bip32Derivation: [wallet.derivation('p2wpkh', 0, 0)] });
        },
        change: [{ type: 'p2wpkh', index: 2, amount: 145_000n }],
      },
      'INPUT_NOT_OURS',
      'inputs[2]',
    );
  });

  it('an input without any derivation', () => {
    const stranger = wallet.fund([{ type: 'p2wpkh', chain: 0, index: 7, amount: 50_000n }], 9);
    refusal(
      {
        edit: (tx: Transaction) => {
          const coin = stranger[0]!;
          tx.addInput({ txid: coin.txid, index: coin.vout, witnessUtxo: { script: coin.script, amount: 50_000n } });
        },
        change: [{ type: 'p2wpkh', index: 2, amount: 145_000n }],
      },
      'INPUT_NOT_OURS',
      'inputs[2]',
    );
  });

  it('a P2PKH input without its previous transaction', () => {
    const coin = coins[0]!;
    refusal(
      {
        coins: [coins[1]!],
        change: [],
        payments,
        edit: (tx: Transaction) => {
          tx.addInput({ txid: coin.txid, index: coin.vout, witnessUtxo: { script: coin.script, amount: 200_000n }, bip32Derivation: [wallet.derivation('p2pkh', 0, 0)] });
          tx.addOutput({ script: wallet.script('p2wpkh', 1, 2), amount: 95_000n, bip32Derivation: [wallet.derivation('p2wpkh', 1, 2)] });
        },
      },
      'INPUT_PREVOUT_MISSING',
      'inputs[1]',
    );
  });

  it('a previous transaction that is not the one the input spends (refused where the PSBT is parsed)', () => {
    const other = wallet.fund([{ type: 'p2pkh', chain: 0, index: 0, amount: 200_000n }], 5)[0]!;
    const psbt = Buffer.from(buildPsbt(wallet, good));
    const at = psbt.indexOf(Buffer.from(coins[0]!.previous));
    expect(at).toBeGreaterThan(0);
    Buffer.from(other.previous).copy(psbt, at);
    expectHsmError(() => checkPsbt(psbt, approved, 1, { accounts, fee }), 'PSBT_MALFORMED', 'psbt');
  });

  it('the same coin spent twice', () => {
    refusal({ coins: [coins[0]!, coins[0]!], change: [{ type: 'p2wpkh', index: 2, amount: 195_000n }] }, 'INPUT_DUPLICATE', 'inputs[1]');
  });

  it('an input asking for SIGHASH_NONE', () => {
    refusal({ edit: (tx: Transaction) => tx.updateInput(0, { sighashType: SigHash.NONE }) }, 'INPUT_SIGHASH', 'inputs[0]');
  });

  it('a fee over the dynamic cap (50 sat/vB)', () => {
    refusal({ change: [{ type: 'p2wpkh', index: 2, amount: 80_000n }] }, 'FEE_RATE_OVER_CAP', 'psbt');
  });

  it('a fee above the absolute maximum', () => {
    refusal({ change: [{ type: 'p2wpkh', index: 2, amount: 95_000n }] }, 'FEE_OVER_MAX', 'psbt', { fee: { ...fee, maxFee: 4_999n } });
  });

  it('a fee below the relay minimum', () => {
    refusal({ change: [{ type: 'p2wpkh', index: 2, amount: 99_900n }] }, 'FEE_RATE_TOO_LOW', 'psbt');
  });

  it('is_dynamic_fee = 0: a rate outside the fixed bounds, or not the fixed fee', () => {
    expect(check({ ...good, change: [{ type: 'p2wpkh', index: 2, amount: 98_000n }] }, { isDynamicFee: 0, payments: approved }).fee).toBe(2_000n);
    refusal({ change: [{ type: 'p2wpkh', index: 2, amount: 91_000n }] }, 'FEE_RATE_OUT_OF_BOUNDS', 'psbt', { isDynamicFee: 0 });
    expect(check({ ...good, change: [{ type: 'p2wpkh', index: 2, amount: 91_000n }] }, { payments: approved }).fee).toBe(9_000n);
    refusal({}, 'FEE_NOT_FIXED', 'psbt', { isDynamicFee: 0, fee: { ...fee, fixed: { fee: 4_000n } } });
    expect(check(good, { isDynamicFee: 0, fee: { ...fee, fixed: { fee: 5_000n } }, payments: approved }).fee).toBe(5_000n);
  });

  it('outputs worth more than the inputs', () => {
    refusal({ change: [{ type: 'p2wpkh', index: 2, amount: 100_001n }] }, 'FEE_NEGATIVE', 'psbt');
  });

  it('bytes that are not a PSBT', () => {
    expectHsmError(() => checkPsbt(Uint8Array.of(0x70, 0x73, 0x62, 0x74, 0xff, 0x00), approved, 1, { accounts, fee }), 'PSBT_MALFORMED', 'psbt');
    expectHsmError(() => checkPsbt(new Uint8Array(600 * 1024), approved, 1, { accounts, fee }), 'PSBT_LIMITS', 'psbt');
  });
});
