/**
 * Address batch checks for the V-Device (spec §"Batch content string"):
 *   CC:VERIFY_HOT_ADDRESSES:<b>:<coin>:  /  CC:VERIFY_COLD_ADDRESSES:<b>:<coin>:
 * derive batch b (hot addresses from HSM-Hot's pinned account xpub, cold ones from HSM-Cold's
 * own account), sign the batch content string with the open channel's key, and answer
 *   CC:HOT_ADDRESSES:<b>:<sig>:<cId>:<coin>  /  CC:COLD_ADDRESSES:<b>:<sig>:<cId>:<coin>
 * @module
 */
import { formatColdMessage } from '../shared/chaincloud/sms.ts';
import { batchContentString, batchRange } from '../shared/crypto/batch-content.ts';
import { addressBatchChunks } from '../shared/crypto/batch-derivation.ts';
import { CHAIN, accountSpec, importAccountXpub } from '../shared/crypto/hd.ts';
import { getNetwork, type Coin } from '../shared/crypto/networks.ts';
import type { AccountXpub } from '../shared/link/messages.ts';
import type { ReadView } from '../shared/store/store.ts';
import { currentChannel, signWithChannel } from './channel.ts';
import { COLD_RECORDS, SINGLETON } from './records.ts';
import type { ColdServices } from './services.ts';

export type BatchOutcome = { ok: true; text: string; cId: number } | { ok: false; reason: string };

export function batchAccount(view: ReadView, addressType: 'hot' | 'cold', coin: Coin): AccountXpub | undefined {
  const device = view.get(COLD_RECORDS.device, SINGLETON);
  const accounts = addressType === 'cold' ? device?.coldAccounts : device?.hotAccounts;
  return accounts?.find((a) => a.coin === coin);
}

/**
 * The 1,000 external-chain addresses of batch `batchNo` of `account`, derived in chunks that
 * yield to the event loop (the link and the modems stay served) and report progress.
 */
export async function batchAddresses(account: AccountXpub, batchNo: number, onProgress?: (done: number, total: number) => void): Promise<string[]> {
  const range = batchRange(batchNo);
  const spec = accountSpec(getNetwork(account.network), account.type, account.account);
  const addresses: string[] = [];
  for await (const chunk of addressBatchChunks(importAccountXpub(account.xpub, spec), spec, CHAIN.external, range.from, range.count)) {
    addresses.push(...chunk.addresses);
    onProgress?.(chunk.done, chunk.total);
  }
  return addresses;
}

export async function answerBatchCheck(svc: ColdServices, view: ReadView, addressType: 'hot' | 'cold', coin: Coin, batchNo: number): Promise<BatchOutcome> {
  const channel = currentChannel(view);
  if (channel === undefined) return { ok: false, reason: 'no open channel' };
  if (svc.config.coins[coin] === undefined) return { ok: false, reason: `${coin} is not served by this device` };
  const account = batchAccount(view, addressType, coin);
  if (account === undefined) return { ok: false, reason: `no ${addressType} ${coin} account is known${addressType === 'hot' ? ' (not paired yet)' : ''}` };
  const job = `${addressType} ${coin} batch ${batchNo}`;
  const addresses = await batchAddresses(account, batchNo, (done, total) => svc.progress?.(job, done, total));
  const signature = signWithChannel(svc, channel.cId, batchContentString(addresses));
  return { ok: true, cId: channel.cId, text: formatColdMessage({ kind: 'addresses', addressType, batchNo, signature, cId: channel.cId, coin }) };
}
