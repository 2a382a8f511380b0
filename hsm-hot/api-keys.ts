/**
 * The platform's keys: compressed secp256k1 public keys registered at provisioning, each with
 * its scopes, and the last nonce accepted from each (so replays stay refused across restarts).
 * @module
 */
import { z } from 'zod';
import { HsmError } from '../shared/errors.ts';
import { secp } from '../shared/crypto/secp.ts';
import { defineCollection } from '../shared/store/collection.ts';
import type { ReadView, WriteTx } from '../shared/store/store.ts';
import { API_ERROR, KEY_PATTERN, SCOPES, type Scope } from './api-wire.ts';

export const apiKeysCollection = defineCollection(
  'hot.api-keys',
  z.strictObject({
    scopes: z.array(z.enum(SCOPES)).max(SCOPES.length),
    label: z.string().max(64).optional(),
    registeredAt: z.number(),
  }),
);
export const nonceCollection = defineCollection('hot.nonces', z.strictObject({ last: z.number().int().nonnegative() }));

export interface PlatformKey {
  /** Compressed public key, 66 lower-case hex characters. */
  key: string;
  scopes: Scope[];
  label?: string;
}

export const platformKeySchema = z.strictObject({
  key: z.string(),
  scopes: z.array(z.enum(SCOPES)).min(1).max(SCOPES.length),
  label: z.string().max(64).optional(),
});

/** Checks a key's text form and that it is a point on the curve. */
export function checkKeyFormat(key: string, field = 'key'): void {
  if (!KEY_PATTERN.test(key) || !secp.utils.isValidPublicKey(Buffer.from(key, 'hex'), true)) {
    throw new HsmError(API_ERROR.KEY_FORMAT, `${field} must be a compressed secp256k1 public key in lower-case hex (66 characters)`, { field });
  }
}

export function registerKeys(tx: WriteTx, keys: readonly PlatformKey[], now: number): void {
  const seen = new Set<string>();
  for (const [i, entry] of keys.entries()) {
    const parsed = platformKeySchema.safeParse(entry);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new HsmError('PLATFORM_KEY_INVALID', `platform key ${i}: ${issue?.path.join('.') ?? ''} ${issue?.message ?? 'invalid'}`, {
        field: `platformKeys[${i}]`,
      });
    }
    checkKeyFormat(entry.key, `platformKeys[${i}].key`);
    if (seen.has(entry.key)) throw new HsmError('PLATFORM_KEY_INVALID', `platform key ${i} is listed twice`, { field: `platformKeys[${i}].key` });
    seen.add(entry.key);
    const record = { scopes: [...new Set(parsed.data.scopes)], registeredAt: now, ...(entry.label === undefined ? {} : { label: entry.label }) };
    tx.put(apiKeysCollection, entry.key, record);
    tx.audit('api.key-registered', { key: entry.key, scopes: record.scopes.join(',') });
  }
}

export function keyScopes(view: ReadView, key: string): Scope[] | undefined {
  return view.get(apiKeysCollection, key)?.scopes;
}

export function lastNonce(view: ReadView, key: string): number {
  return view.get(nonceCollection, key)?.last ?? 0;
}

/** Records `nonce` as the last one from `key` (the caller has checked it is higher). */
export function spendNonce(tx: WriteTx, key: string, nonce: number): void {
  tx.put(nonceCollection, key, { last: nonce });
}
