/**
 * Witnessed heads: the signed heads of a device's audit log that its peer recorded in its own
 * log (`audit.peer-head` entries, written by shared/link/audit-witness.ts), read back for
 * `verifyAudit`, and the file `hsm audit witnesses` exports them in, so one log can be checked
 * against its peer's record without the peer's state directory:
 *
 *   {"format": "hsm-audit-witnesses/1",
 *    "recordedBy": {"app": "hsm-cold", "identity": "02…"},
 *    "heads": [{"app": "hsm-hot", "identity": "03…", "seq": 41, "hash": "…", "at": 1773126000000,
 *               "signature": "<BIP-137 base64>", "recordedBy": {"app": "hsm-cold", "seq": 97}}, …]}
 *
 * Nothing in it is secret: indexes, hashes, times and signatures.
 * @module
 */
import { z } from 'zod';
import { HsmError } from '../errors.ts';
import type { AuditDetails, AuditEntry, SignedHead, WitnessedHead } from './audit.ts';
import type { ReadView } from './store.ts';
import { META_KEYS, SYSTEM_COLLECTIONS, witnessedHeadSchema } from './system-collections.ts';

/** The audit entry kind a device writes when it records its peer's signed head. */
export const PEER_HEAD_KIND = 'audit.peer-head';
export const WITNESS_FILE_FORMAT = 'hsm-audit-witnesses/1';

const publicKey = z.string().regex(/^(02|03)[0-9a-f]{64}$/);

export const witnessFileSchema = z.strictObject({
  format: z.literal(WITNESS_FILE_FORMAT),
  recordedBy: z.strictObject({ app: z.string().min(1).max(32), identity: publicKey.nullable() }),
  heads: z
    .array(witnessedHeadSchema.extend({ recordedBy: z.strictObject({ app: z.string().min(1).max(32), seq: z.number().int().positive() }).nullable() }))
    .max(10_000_000),
});
export type WitnessFile = z.infer<typeof witnessFileSchema>;

/** Details of the `audit.peer-head` entry recording `head`, checked with `identity`. */
export function peerHeadDetails(head: SignedHead, identity: string): AuditDetails {
  return { app: head.app, identity, seq: head.seq, hash: head.hash, at: head.at, signature: head.signature };
}

/** The heads of `app`'s log recorded in `view`'s log (by its peer), oldest first. */
export function witnessedHeads(view: ReadView, app?: string): WitnessedHead[] {
  const recorder = view.get(SYSTEM_COLLECTIONS.meta, META_KEYS.store)?.app ?? 'unknown';
  const out: WitnessedHead[] = [];
  for (const key of view.keys(SYSTEM_COLLECTIONS.audit)) {
    let entry: AuditEntry | undefined;
    try {
      entry = view.get(SYSTEM_COLLECTIONS.audit, key);
    } catch {
      continue; // the recorder's own check reports it
    }
    if (entry?.kind !== PEER_HEAD_KIND) continue;
    const head = witnessedHeadSchema.safeParse(entry.details);
    if (!head.success || (app !== undefined && head.data.app !== app)) continue;
    out.push({ ...head.data, recordedBy: { app: recorder, seq: entry.seq } });
  }
  return out;
}

/** The witness file of everything `view`'s device recorded of its peer's heads. */
export function witnessFile(view: ReadView): WitnessFile {
  let identity: string | null = null;
  try {
    identity = view.get(SYSTEM_COLLECTIONS.identity, META_KEYS.identity)?.publicKey ?? null;
  } catch {
    identity = null;
  }
  return {
    format: WITNESS_FILE_FORMAT,
    recordedBy: { app: view.get(SYSTEM_COLLECTIONS.meta, META_KEYS.store)?.app ?? 'unknown', identity },
    heads: witnessedHeads(view),
  };
}

/** Reads a witness file (parsed JSON); errors name the field. */
export function parseWitnessFile(json: unknown): WitnessFile {
  const parsed = witnessFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') ?? '';
    throw new HsmError('WITNESS_FILE', `witness file ${field === '' ? '' : `${field}: `}${issue?.message ?? 'invalid'}`, { field: field || 'witnesses' });
  }
  return parsed.data;
}
