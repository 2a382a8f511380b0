/** Every record of some collections as comparable text, to show that something changed nothing. */
import { bytesToHex } from '../../shared/crypto/hash.ts';
import { WITNESS_COLLECTIONS } from '../../shared/link/audit-witness.ts';
import type { CollectionDef } from '../../shared/store/collection.ts';
import type { ReadView } from '../../shared/store/store.ts';

export function storeSnapshot(view: ReadView, collections: ReadonlyArray<CollectionDef<unknown>>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const c of collections) {
    out[c.name] = [...view.range(c)].map(({ key, value }) =>
      JSON.stringify([key, value], (_k, v: unknown) => (v instanceof Uint8Array ? `hex:${bytesToHex(v)}` : typeof v === 'bigint' ? `${v}n` : v)),
    );
  }
  return out;
}

/** The audit log's own bookkeeping (the heads sent to the peer to witness): it moves with every audited refusal. */
export function isAuditBookkeeping(collection: CollectionDef<unknown>): boolean {
  return Object.values(WITNESS_COLLECTIONS).some((c) => c.name === collection.name);
}
