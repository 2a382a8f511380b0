/**
 * HSM-Cold's spending policy, per coin: a maximum per request, a maximum total and a maximum
 * count in any rolling period, and an optional allow-list of destinations. Spends are recorded
 * in the store with the approval, so neither a reboot nor a power cut resets the period.
 * @module
 */
import type { Coin } from '../shared/crypto/networks.ts';
import type { Payment } from '../shared/crypto/request-string.ts';
import type { ReadView, WriteTx } from '../shared/store/store.ts';
import type { CoinPolicy } from './config.ts';
import { COLD_RECORDS } from './records.ts';

export type PolicyRule = 'POLICY_MAX_PER_TX' | 'POLICY_ALLOW_LIST' | 'POLICY_MAX_PER_PERIOD' | 'POLICY_MAX_COUNT';
export type PolicyVerdict = { ok: true } | { ok: false; code: PolicyRule; message: string };

/** Spends are kept for the longest period any policy may have. */
const SPEND_RETENTION_MS = 31 * 24 * 3_600_000;

export function spendsInPeriod(view: ReadView, coin: Coin, periodMs: number, now: number): { total: bigint; count: number } {
  let total = 0n;
  let count = 0;
  for (const { value } of view.range(COLD_RECORDS.spends, { start: [coin, now - periodMs], end: [coin, Number.MAX_SAFE_INTEGER] })) {
    total += BigInt(value.amount);
    count++;
  }
  return { total, count };
}

export function evaluatePolicy(view: ReadView, coin: Coin, policy: CoinPolicy, payments: readonly Payment[], total: bigint, now: number): PolicyVerdict {
  if (total > BigInt(policy.maxPerTx)) {
    return { ok: false, code: 'POLICY_MAX_PER_TX', message: `${total} exceeds the ${coin} limit of ${policy.maxPerTx} per request` };
  }
  if (policy.allowList.length > 0) {
    const allowed = new Set(policy.allowList);
    const outside = payments.find((p) => !allowed.has(p.address));
    if (outside !== undefined) return { ok: false, code: 'POLICY_ALLOW_LIST', message: `${outside.address} is not on the ${coin} allow-list` };
  }
  const period = spendsInPeriod(view, coin, policy.periodHours * 3_600_000, now);
  if (period.total + total > BigInt(policy.maxPerPeriod)) {
    return {
      ok: false,
      code: 'POLICY_MAX_PER_PERIOD',
      message: `${period.total} already approved in ${policy.periodHours} h; ${total} more would exceed ${policy.maxPerPeriod}`,
    };
  }
  if (period.count + 1 > policy.maxCountPerPeriod) {
    return { ok: false, code: 'POLICY_MAX_COUNT', message: `${period.count} requests already approved in ${policy.periodHours} h (limit ${policy.maxCountPerPeriod})` };
  }
  return { ok: true };
}

export function recordSpend(tx: WriteTx, coin: Coin, amount: bigint, userTxNo: string, now: number): void {
  tx.put(COLD_RECORDS.spends, [coin, now, userTxNo], { coin, amount: amount.toString(), userTxNo, at: now });
  for (const { key } of [...tx.range(COLD_RECORDS.spends, { start: [coin, 0], end: [coin, now - SPEND_RETENTION_MS] })]) {
    tx.del(COLD_RECORDS.spends, key);
  }
}
