/**
 * Counts a store's outermost transactions (each one durable commit; nested calls join the
 * outer one), for tests of how many commits a piece of work costs.
 */
import type { DeviceStore, WriteTx } from '../../shared/store/store.ts';

/** Wraps `store.transact`; the returned function reads the count so far. */
export function countCommits(store: DeviceStore): () => number {
  const transact = store.transact.bind(store);
  let commits = 0;
  let depth = 0;
  store.transact = <T>(fn: (tx: WriteTx) => T): T => {
    if (depth === 0) commits++;
    depth++;
    try {
      return transact(fn);
    } finally {
      depth--;
    }
  };
  return () => commits;
}
