/**
 * Address lists for the host API: ranges of a chain and 1,000-address batches (spec §"Batch
 * content string": batch b holds external-chain indexes b*1000 .. b*1000+999). Derivation runs
 * in slices that yield to the event loop, so a batch never stalls the link or other clients;
 * the last few lists are kept in memory.
 * @module
 */
import { deriveAddresses, type Chain } from '../shared/crypto/hd.ts';
import type { Account } from './accounts.ts';

const SLICE = 50;
const CACHE_SIZE = 8;

/** Lets I/O and timers run between derivation slices (no time passes on the device clock). */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class AddressLists {
  private readonly cache = new Map<string, string[]>();

  /** Addresses `from .. from+count-1` of `chain` of `account`, in index order. */
  async range(account: Account, chain: Chain, from: number, count: number): Promise<string[]> {
    const cacheKey = `${account.record.xpub}/${chain}/${from}/${count}`;
    const cached = this.cache.get(cacheKey);
    if (cached !== undefined) return cached;
    const out: string[] = [];
    for (let start = from; start < from + count; start += SLICE) {
      out.push(...deriveAddresses(account.node, account.spec, chain, start, Math.min(SLICE, from + count - start)));
      if (start + SLICE < from + count) await yieldToEventLoop();
    }
    this.cache.set(cacheKey, out);
    if (this.cache.size > CACHE_SIZE) this.cache.delete(this.cache.keys().next().value as string);
    return out;
  }
}
