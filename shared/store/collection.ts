/**
 * Typed collections: a name (the LMDB database) and the zod schema every stored value must
 * satisfy, on write and on read.
 * @module
 */
import type { z } from 'zod';

export type StoreKey = string | number | Array<string | number>;

export interface CollectionDef<V> {
  readonly name: string;
  readonly schema: z.ZodType<V>;
}

/** Declares a collection; the name is its LMDB database name and must be unique per store. */
export function defineCollection<V>(name: string, schema: z.ZodType<V>): CollectionDef<V> {
  if (!/^[a-z][a-z0-9_.-]{0,47}$/.test(name)) throw new Error(`invariant failed: bad collection name "${name}"`);
  return Object.freeze({ name, schema });
}

export function formatKey(key: StoreKey): string {
  return Array.isArray(key) ? key.join('/') : String(key);
}
