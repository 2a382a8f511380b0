/**
 * Collections every device store has, whatever the firmware: the store header, the audit
 * chain and its signed checkpoints, and the encrypted secrets with their key-wrapping header.
 * @module
 */
import { z } from 'zod';
import { defineCollection } from './collection.ts';

const hex32 = z.string().regex(/^[0-9a-f]{64}$/);
const bytes = z.custom<Uint8Array>((value) => value instanceof Uint8Array, "expected bytes");

export const storeMetaSchema = z.strictObject({
  format: z.number().int().positive(),
  app: z.string().min(1).max(32),
  schemaVersion: z.number().int().nonnegative(),
  createdAt: z.number(),
});
export type StoreMeta = z.infer<typeof storeMetaSchema>;

/** Audit details: flat, small, JSON-safe values only (and never secrets, see audit-chain.ts). */
export const auditDetailsSchema = z
  .record(z.string().min(1).max(64), z.union([z.string().max(1024), z.number(), z.boolean(), z.null()]))
  .refine((d) => Object.keys(d).length <= 32, 'at most 32 detail fields');

export const auditEntrySchema = z.strictObject({
  seq: z.number().int().positive(),
  at: z.number(),
  kind: z.string().regex(/^[a-z][a-z0-9_.-]{0,63}$/),
  details: auditDetailsSchema,
  prev: hex32,
  hash: hex32,
});

export const auditHeadSchema = z.strictObject({ seq: z.number().int().nonnegative(), hash: hex32 });

export const auditCheckpointSchema = z.strictObject({
  seq: z.number().int().positive(),
  hash: hex32,
  at: z.number(),
  /** BIP-137 signature by the device identity key over the checkpoint statement. */
  signature: z.string().max(128),
  identity: z.string().regex(/^(02|03)[0-9a-f]{64}$/),
});

/** A peer's signed audit head, as recorded in the `audit.peer-head` entry (audit.ts). */
export const witnessedHeadSchema = z.strictObject({
  app: z.string().min(1).max(32),
  /** The peer identity the signature was checked with. */
  identity: z.string().regex(/^(02|03)[0-9a-f]{64}$/),
  seq: z.number().int().positive(),
  hash: hex32,
  at: z.number(),
  signature: z.string().max(128),
});

/** AES-256-GCM box: iv(12) ‖ ciphertext ‖ tag(16) kept as separate fields. */
export const sealedSchema = z.strictObject({ iv: bytes, ciphertext: bytes, tag: bytes });

export const vaultHeaderSchema = z.strictObject({
  kdf: z.strictObject({
    name: z.literal('scrypt'),
    N: z.number().int().positive(),
    r: z.number().int().positive(),
    p: z.number().int().positive(),
    salt: bytes,
  }),
  /** The data key, sealed under the PIN-derived key. Absent once erased. */
  wrappedDataKey: sealedSchema.optional(),
  failedAttempts: z.number().int().nonnegative(),
  maxAttempts: z.number().int().positive(),
  erasedAt: z.number().optional(),
});

export const identitySchema = z.strictObject({
  /** Compressed secp256k1 public key, hex. */
  publicKey: z.string().regex(/^(02|03)[0-9a-f]{64}$/),
  createdAt: z.number(),
});

export const SYSTEM_COLLECTIONS = {
  meta: defineCollection('sys.meta', storeMetaSchema),
  audit: defineCollection('sys.audit', auditEntrySchema),
  auditHead: defineCollection('sys.audit-head', auditHeadSchema),
  auditCheckpoints: defineCollection('sys.audit-checkpoints', auditCheckpointSchema),
  vault: defineCollection('sys.vault', vaultHeaderSchema),
  secrets: defineCollection('sys.secrets', sealedSchema),
  identity: defineCollection('sys.identity', identitySchema),
} as const;

export const META_KEYS = { store: 'store', auditHead: 'head', vault: 'header', identity: 'device' } as const;
