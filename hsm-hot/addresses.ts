/**
 * Address lists for the host API: ranges of a chain and 1,000-address batches (spec §"Batch
 * content string": batch b holds external-chain indexes b*1000 .. b*1000+999). Derivation runs
 * on the bulk path (shared/crypto/batch-derivation.ts) in chunks that yield to the event loop,
 * so a batch never stalls the link or other clients; the last few lists are kept in memory.
 * @module
 */
import { addressBatchChunks } from '../shared/crypto/batch-derivation.ts';
import { LruCache } from '../shared/lru-cache.ts';
import type { Chain } from '../shared/crypto/hd.ts';
import type { Account } from './accounts.ts';

const CACHE_SIZE = 8;

export class AddressLists {
  private readonly cache = new LruCache<string, string[]>(CACHE_SIZE);

  /** Addresses `from .. from+count-1` of `chain` of `account`, in index order. */
  async range(account: Account, chain: Chain, from: number, count: number): Promise<string[]> {
    const cacheKey = `${account.record.xpub}/${chain}/${from}/${count}`;
    const cached = this.cache.get(cacheKey);
    if (cached !== undefined) return cached;
    const out: string[] = [];
    for await (const chunk of addressBatchChunks(account.node, account.spec, chain, from, count)) out.push(...chunk.addresses);
    this.cache.set(cacheKey, out);
    return out;
  }
}
