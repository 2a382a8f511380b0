/**
 * The tamper-evident audit log: append-only entries in the device store, each chained to the
 * previous one, written in the same transaction as the change it records; and checkpoints, the
 * chain head signed now and then with the device identity key.
 *
 *   entry.hash = SHA-256( "hsm-audit/v1\n" ‖ canonical-JSON{seq, at, kind, details} ‖ prev )
 *   prev       = hash of entry seq-1 (32 zero bytes for entry 1)
 *   checkpoint = BIP-137 signature over "hsm-audit-checkpoint/v1:<app>:<seq>:<hash>:<at>"
 *
 * (YubiHSM2 chains its log the same way with SHA-256(entry ‖ prev); the signed checkpoint adds
 * what a chain alone cannot: an edit that rewrites every later hash is still caught.)
 *
 * Verification names the first bad entry: a missing or reordered one (sequence numbers must run
 * 1, 2, 3 ... with matching keys), a changed one (its hash, or the next entry's `prev`, no longer
 * matches), a rewritten stretch (a checkpoint signs a different hash), or a truncated tail (the
 * head record or a checkpoint names an entry that is gone).
 * @module
 */
import { createHash } from 'node:crypto';
import { HsmError } from '../errors.ts';
import { SECRET_KEYS } from '../log.ts';
import { verifyMessageWithPublicKey } from '../crypto/message-signature.ts';
import { hexToBytesOrUndefined } from '../crypto/hash.ts';
import type { ReadView, WriteTx } from './store.ts';
import { META_KEYS, SYSTEM_COLLECTIONS } from './system-collections.ts';

export type AuditDetails = Record<string, string | number | boolean | null>;

export interface AuditEntry {
  seq: number;
  at: number;
  kind: string;
  details: AuditDetails;
  prev: string;
  hash: string;
}

export interface AuditCheckpoint {
  seq: number;
  hash: string;
  at: number;
  signature: string;
  identity: string;
}

/** Signs checkpoint statements with the device identity key (see identity.ts). */
export interface AuditSigner {
  /** Compressed public key, hex. */
  readonly publicKeyHex: string;
  signMessage(message: string): string;
}

export const GENESIS_HASH = '0'.repeat(64);
const forbiddenDetailKeys = new Set(SECRET_KEYS.map((k) => k.toLowerCase()));

function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  const object = value as Record<string, unknown>;
  return `{${Object.keys(object)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(object[k])}`)
    .join(',')}}`;
}

export function auditEntryHash(entry: Omit<AuditEntry, 'hash'>): string {
  const body = canonicalJson({ seq: entry.seq, at: entry.at, kind: entry.kind, details: entry.details });
  const prev = hexToBytesOrUndefined(entry.prev);
  if (prev === undefined || prev.length !== 32) throw new Error('invariant failed: prev is not a 32-byte hex hash');
  return createHash('sha256').update('hsm-audit/v1\n').update(body).update(prev).digest('hex');
}

export function checkpointStatement(app: string, seq: number, hash: string, at: number): string {
  return `hsm-audit-checkpoint/v1:${app}:${seq}:${hash}:${at}`;
}

/** Appends an entry inside `tx`; used through `WriteTx.audit()`. */
export function appendAuditEntry(tx: WriteTx, at: number, kind: string, details: AuditDetails): AuditEntry {
  for (const key of Object.keys(details)) {
    if (forbiddenDetailKeys.has(key.toLowerCase())) {
      throw new Error(`invariant failed: audit detail "${key}" names a secret; secrets never enter the audit log`);
    }
  }
  const head = tx.get(SYSTEM_COLLECTIONS.auditHead, META_KEYS.auditHead) ?? { seq: 0, hash: GENESIS_HASH };
  const unhashed = { seq: head.seq + 1, at, kind, details, prev: head.hash };
  const entry: AuditEntry = { ...unhashed, hash: auditEntryHash(unhashed) };
  tx.put(SYSTEM_COLLECTIONS.audit, entry.seq, entry);
  tx.put(SYSTEM_COLLECTIONS.auditHead, META_KEYS.auditHead, { seq: entry.seq, hash: entry.hash });
  return entry;
}

export function auditHead(view: ReadView): { seq: number; hash: string } {
  return view.get(SYSTEM_COLLECTIONS.auditHead, META_KEYS.auditHead) ?? { seq: 0, hash: GENESIS_HASH };
}

/** The last `count` entries, oldest first. */
export function auditTail(view: ReadView, count: number): AuditEntry[] {
  const out: AuditEntry[] = [];
  for (const { value } of view.range(SYSTEM_COLLECTIONS.audit, { reverse: true, limit: count })) out.push(value);
  return out.reverse();
}

export function lastCheckpoint(view: ReadView): AuditCheckpoint | undefined {
  for (const { value } of view.range(SYSTEM_COLLECTIONS.auditCheckpoints, { reverse: true, limit: 1 })) return value;
  return undefined;
}

/** Signs the current head as a checkpoint (no-op when the head is already checkpointed). */
export function writeCheckpoint(tx: WriteTx, app: string, signer: AuditSigner, at: number): AuditCheckpoint | undefined {
  const head = auditHead(tx);
  if (head.seq === 0) return undefined;
  const last = lastCheckpoint(tx);
  if (last !== undefined && last.seq === head.seq) return undefined;
  const checkpoint: AuditCheckpoint = {
    seq: head.seq,
    hash: head.hash,
    at,
    signature: signer.signMessage(checkpointStatement(app, head.seq, head.hash, at)),
    identity: signer.publicKeyHex,
  };
  tx.put(SYSTEM_COLLECTIONS.auditCheckpoints, checkpoint.seq, checkpoint);
  return checkpoint;
}

/** True when `checkpointEvery` entries or more were appended since the last checkpoint. */
export function checkpointDue(view: ReadView, checkpointEvery: number): boolean {
  const head = auditHead(view);
  return head.seq - (lastCheckpoint(view)?.seq ?? 0) >= checkpointEvery;
}

export interface AuditProblem {
  /** The first entry the problem concerns (null when it concerns the log as a whole). */
  seq: number | null;
  code:
    | 'AUDIT_GAP'
    | 'AUDIT_SEQ'
    | 'AUDIT_PREV'
    | 'AUDIT_HASH'
    | 'AUDIT_CORRUPT'
    | 'AUDIT_HEAD'
    | 'AUDIT_TRUNCATED'
    | 'AUDIT_CHECKPOINT_HASH'
    | 'AUDIT_CHECKPOINT_SIGNATURE'
    | 'AUDIT_CHECKPOINT_IDENTITY'
    | 'AUDIT_NO_IDENTITY';
  message: string;
}

export interface AuditReport {
  ok: boolean;
  app: string;
  entries: number;
  lastSeq: number;
  checkpoints: number;
  lastCheckpointSeq: number | null;
  /** Entries after the last valid checkpoint: chained, but not yet covered by a signature. */
  uncoveredEntries: number;
  identity: string | null;
  firstBadSeq: number | null;
  problems: AuditProblem[];
}

const MAX_PROBLEMS = 50;

/**
 * Checks the whole log. `identityPublicKey` pins the key checkpoints must be signed with;
 * without it, the key recorded in the store is used (weaker: an attacker who rewrites the
 * store can rewrite that record too; pin the key taken from the peer or from provisioning).
 */
export function verifyAudit(view: ReadView, app: string, identityPublicKey?: string): AuditReport {
  const problems: AuditProblem[] = [];
  const report = (p: AuditProblem): void => {
    if (problems.length < MAX_PROBLEMS) problems.push(p);
  };
  const hashes = new Map<number, string>();
  let expected = 1;
  let prev = GENESIS_HASH;
  let entries = 0;
  const iterator = view.range(SYSTEM_COLLECTIONS.audit);
  for (;;) {
    let next: IteratorResult<{ key: unknown; value: AuditEntry }>;
    try {
      next = iterator.next() as IteratorResult<{ key: unknown; value: AuditEntry }>;
    } catch (error) {
      report({ seq: expected, code: 'AUDIT_CORRUPT', message: `entry ${expected} cannot be read: ${(error as Error).message}` });
      break;
    }
    if (next.done) break;
    const { key, value: entry } = next.value;
    entries++;
    if (key !== expected) {
      const message =
        typeof key === 'number' && key > expected
          ? `entries ${expected}..${key - 1} are missing (the log was truncated or edited)`
          : `unexpected key ${String(key)} where entry ${expected} belongs`;
      report({ seq: expected, code: 'AUDIT_GAP', message });
      expected = typeof key === 'number' ? key : expected;
      prev = entry.prev; // resynchronise so later problems are reported on their own
    }
    if (entry.seq !== expected) {
      report({ seq: expected, code: 'AUDIT_SEQ', message: `entry ${expected} carries sequence number ${entry.seq} (entries were reordered)` });
    }
    if (entry.prev !== prev) {
      report({ seq: expected, code: 'AUDIT_PREV', message: `entry ${expected} does not chain to entry ${expected - 1} (an entry was changed, removed or reordered)` });
    }
    const recomputed = auditEntryHash(entry);
    if (recomputed !== entry.hash) {
      report({ seq: expected, code: 'AUDIT_HASH', message: `entry ${expected} was changed after it was written (hash mismatch)` });
    }
    hashes.set(expected, entry.hash);
    prev = entry.hash;
    expected++;
  }
  const lastSeq = expected - 1;

  const head = view.get(SYSTEM_COLLECTIONS.auditHead, META_KEYS.auditHead);
  if (head !== undefined && head.seq !== lastSeq) {
    report({
      seq: Math.min(head.seq, lastSeq) + 1,
      code: head.seq > lastSeq ? 'AUDIT_TRUNCATED' : 'AUDIT_HEAD',
      message:
        head.seq > lastSeq
          ? `the log ends at entry ${lastSeq} but its head record says ${head.seq}: entries ${lastSeq + 1}..${head.seq} were removed`
          : `the head record says ${head.seq} but entries run to ${lastSeq}`,
    });
  } else if (head !== undefined && head.hash !== hashes.get(head.seq) && head.seq > 0) {
    report({ seq: head.seq, code: 'AUDIT_HEAD', message: `entry ${head.seq} differs from the head record` });
  }

  const recorded = view.get(SYSTEM_COLLECTIONS.identity, META_KEYS.identity)?.publicKey;
  const identity = identityPublicKey?.toLowerCase() ?? recorded ?? null;
  let checkpoints = 0;
  let lastValidCheckpoint: number | null = null;
  let previousCheckpoint = 0;
  for (const { value: cp } of view.range(SYSTEM_COLLECTIONS.auditCheckpoints)) {
    checkpoints++;
    const entryHash = hashes.get(cp.seq);
    if (entryHash === undefined) {
      report({ seq: cp.seq, code: 'AUDIT_TRUNCATED', message: `checkpoint ${cp.seq} signs entry ${cp.seq}, which is missing (the log was truncated)` });
    } else if (entryHash !== cp.hash) {
      report({
        seq: previousCheckpoint + 1,
        code: 'AUDIT_CHECKPOINT_HASH',
        message: `checkpoint ${cp.seq} signed a different chain: entries ${previousCheckpoint + 1}..${cp.seq} were rewritten`,
      });
    }
    if (identity === null) {
      report({ seq: cp.seq, code: 'AUDIT_NO_IDENTITY', message: 'checkpoints exist but no identity key is known to check them' });
    } else if (cp.identity !== identity) {
      report({ seq: cp.seq, code: 'AUDIT_CHECKPOINT_IDENTITY', message: `checkpoint ${cp.seq} is signed by ${cp.identity}, not the device identity ${identity}` });
    } else {
      const publicKey = hexToBytesOrUndefined(identity);
      const valid = publicKey !== undefined && verifyMessageWithPublicKey(checkpointStatement(app, cp.seq, cp.hash, cp.at), cp.signature, publicKey);
      if (!valid) {
        report({ seq: cp.seq, code: 'AUDIT_CHECKPOINT_SIGNATURE', message: `checkpoint ${cp.seq} has an invalid signature` });
      } else if (entryHash === cp.hash) {
        lastValidCheckpoint = cp.seq;
      }
    }
    previousCheckpoint = cp.seq;
  }

  const firstBadSeq = problems.reduce<number | null>((min, p) => (p.seq !== null && (min === null || p.seq < min) ? p.seq : min), null);
  return {
    ok: problems.length === 0,
    app,
    entries,
    lastSeq,
    checkpoints,
    lastCheckpointSeq: lastValidCheckpoint,
    uncoveredEntries: lastSeq - (lastValidCheckpoint ?? 0),
    identity,
    firstBadSeq,
    problems,
  };
}

/** Throws AUDIT_INVALID with the first problem unless the log verifies. */
export function assertAuditValid(report: AuditReport): void {
  const first = report.problems[0];
  if (first !== undefined) throw new HsmError('AUDIT_INVALID', first.message, { field: first.seq === null ? undefined : `audit[${first.seq}]` });
}
