/**
 * The tamper-evident audit log: append-only entries in the device store, each chained to the
 * previous one, written in the same transaction as the change it records; and checkpoints, the
 * chain head signed with the device identity key (with every audited transaction while the key
 * is at hand: audit-seal.ts). The peer device records heads it is sent (audit-witnesses.ts,
 * shared/link/audit-witness.ts); docs/audit-log.md gives the formats and the rule.
 *
 *   entry.hash = SHA-256( "hsm-audit/v1\n" ‖ canonical-JSON{seq, at, kind, details} ‖ prev )
 *   prev       = hash of entry seq-1 (32 zero bytes for entry 1)
 *   checkpoint = BIP-137 signature over "hsm-audit-checkpoint/v1:<app>:<seq>:<hash>:<at>"
 *
 * (YubiHSM2 chains its log the same way with SHA-256(entry ‖ prev); the signed heads add what a
 * chain alone cannot: an edit that rewrites every later hash is still caught, and a log cut
 * back or rewritten past a head the peer witnessed contradicts that head.)
 *
 * Verification names the first entry that can no longer be trusted: a missing or reordered one
 * (sequence numbers must run 1, 2, 3 ... with matching keys), a changed one (its hash, or the
 * next entry's `prev`, no longer matches), a rewritten stretch (a signed head has a different
 * hash: the entry after the newest signed head below it that still matches), or a truncated
 * tail (the head record or a signed head names an entry that is gone: the first one missing).
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

export type AuditProblemCode =
  | 'AUDIT_GAP'
  | 'AUDIT_SEQ'
  | 'AUDIT_PREV'
  | 'AUDIT_HASH'
  | 'AUDIT_CORRUPT'
  | 'AUDIT_HEAD'
  | 'AUDIT_HEAD_CORRUPT'
  | 'AUDIT_TRUNCATED'
  | 'AUDIT_CHECKPOINT_HASH'
  | 'AUDIT_CHECKPOINT_SIGNATURE'
  | 'AUDIT_CHECKPOINT_IDENTITY'
  | 'AUDIT_CHECKPOINT_CORRUPT'
  | 'AUDIT_WITNESS_HASH'
  | 'AUDIT_WITNESS_INVALID'
  | 'AUDIT_WITNESS_IDENTITY'
  | 'AUDIT_IDENTITY'
  | 'AUDIT_IDENTITY_RECORD'
  | 'AUDIT_NO_IDENTITY';

export interface AuditProblem {
  /** The first entry that can no longer be trusted (null when no entry is at fault). */
  seq: number | null;
  code: AuditProblemCode;
  message: string;
}

export interface AuditReport {
  ok: boolean;
  app: string;
  entries: number;
  lastSeq: number;
  checkpoints: number;
  lastCheckpointSeq: number | null;
  /** Heads of this log its peer witnessed (given to the check), and the newest that still matches. */
  witnesses: number;
  lastWitnessedSeq: number | null;
  /** Entries after the last valid signature (checkpoint or witnessed head): chained, not yet signed. */
  uncoveredEntries: number;
  identity: string | null;
  firstBadSeq: number | null;
  problems: AuditProblem[];
}

/** A head of a device's log signed by its identity key (a checkpoint, or one sent to the peer). */
export interface SignedHead {
  app: string;
  seq: number;
  hash: string;
  at: number;
  signature: string;
}

/**
 * A head of another device's log as that device's peer recorded it (`audit.peer-head`): the
 * signed head and the key the peer checked it with (its pinned peer identity).
 */
export interface WitnessedHead extends SignedHead {
  identity: string;
  /** Where the peer recorded it: its app and the entry. */
  recordedBy: { app: string; seq: number } | null;
}

const MAX_PROBLEMS = 50;

interface Chain {
  hashes: Map<number, string>;
  entries: number;
  lastSeq: number;
  /** `identity.created` entries: from which entry each identity key signs. */
  identities: Array<{ seq: number; publicKey: string }>;
}

interface SignedPoint extends SignedHead {
  source: 'checkpoint' | 'witness';
  identity: string;
  label: string;
}

class Problems {
  readonly list: AuditProblem[] = [];
  add(problem: AuditProblem): void {
    if (this.list.length < MAX_PROBLEMS) this.list.push(problem);
  }
  get full(): boolean {
    return this.list.length >= MAX_PROBLEMS;
  }
}

function readChain(view: ReadView, problems: Problems): Chain {
  const chain: Chain = { hashes: new Map(), entries: 0, lastSeq: 0, identities: [] };
  let expected = 1;
  let prev: string | undefined = GENESIS_HASH;
  for (const key of view.keys(SYSTEM_COLLECTIONS.audit)) {
    chain.entries++;
    if (typeof key !== 'number' || !Number.isSafeInteger(key) || key < expected) {
      problems.add({ seq: expected, code: 'AUDIT_CORRUPT', message: `unexpected key ${JSON.stringify(key)} where entry ${expected} belongs` });
      continue;
    }
    if (key > expected) {
      problems.add({ seq: expected, code: 'AUDIT_GAP', message: `entries ${expected}..${key - 1} are missing (the log was truncated or edited)` });
      expected = key;
      prev = undefined; // resynchronise so later problems are reported on their own
    }
    let entry: AuditEntry | undefined;
    try {
      entry = view.get(SYSTEM_COLLECTIONS.audit, key);
    } catch (error) {
      problems.add({ seq: key, code: 'AUDIT_CORRUPT', message: `entry ${key} cannot be read: ${(error as Error).message}` });
    }
    if (entry === undefined) {
      prev = undefined;
      expected++;
      continue;
    }
    if (entry.seq !== key) {
      problems.add({ seq: key, code: 'AUDIT_SEQ', message: `entry ${key} carries sequence number ${entry.seq} (entries were reordered)` });
    }
    if (prev !== undefined && entry.prev !== prev) {
      problems.add({ seq: key, code: 'AUDIT_PREV', message: `entry ${key} does not chain to entry ${key - 1} (an entry was changed, removed or reordered)` });
    }
    if (auditEntryHash(entry) !== entry.hash) {
      problems.add({ seq: key, code: 'AUDIT_HASH', message: `entry ${key} was changed after it was written (hash mismatch)` });
    }
    if (entry.kind === 'identity.created' && typeof entry.details.publicKey === 'string') {
      chain.identities.push({ seq: key, publicKey: entry.details.publicKey });
    }
    chain.hashes.set(key, entry.hash);
    prev = entry.hash;
    expected++;
  }
  chain.lastSeq = expected - 1;
  return chain;
}

function checkHeadRecord(view: ReadView, chain: Chain, problems: Problems): void {
  let head: { seq: number; hash: string } | undefined;
  try {
    head = view.get(SYSTEM_COLLECTIONS.auditHead, META_KEYS.auditHead);
  } catch (error) {
    problems.add({ seq: null, code: 'AUDIT_HEAD_CORRUPT', message: `the head record cannot be read: ${(error as Error).message}` });
    return;
  }
  const { lastSeq } = chain;
  if (head === undefined) {
    if (lastSeq > 0) problems.add({ seq: null, code: 'AUDIT_HEAD_CORRUPT', message: `the head record is missing, though the log has ${lastSeq} entries` });
    return;
  }
  if (head.seq > lastSeq) {
    problems.add({
      seq: lastSeq + 1,
      code: 'AUDIT_TRUNCATED',
      message: `the log ends at entry ${lastSeq} but its head record says ${head.seq}: entries ${lastSeq + 1}..${head.seq} were removed`,
    });
  } else if (head.seq < lastSeq) {
    problems.add({ seq: head.seq + 1, code: 'AUDIT_HEAD', message: `the head record says ${head.seq} but entries run to ${lastSeq} (entries ${head.seq + 1}.. were added by hand)` });
  } else if (head.seq > 0 && head.hash !== chain.hashes.get(head.seq)) {
    problems.add({ seq: head.seq, code: 'AUDIT_HEAD', message: `entry ${head.seq} differs from the head record` });
  }
}

/**
 * The identity keys of the log: the pinned one, the `identity.created` entries, and the
 * identity record; `at(seq)` is the key that signed heads at `seq`.
 */
function resolveIdentity(view: ReadView, chain: Chain, pinned: string | undefined, problems: Problems): { current: string | null; known: Set<string>; at(seq: number): string | null } {
  let recorded: string | undefined;
  try {
    recorded = view.get(SYSTEM_COLLECTIONS.identity, META_KEYS.identity)?.publicKey;
  } catch (error) {
    problems.add({ seq: null, code: 'AUDIT_IDENTITY_RECORD', message: `the identity record cannot be read: ${(error as Error).message}` });
  }
  const last = chain.identities.at(-1);
  if (recorded !== undefined && last !== undefined && recorded !== last.publicKey) {
    problems.add({ seq: null, code: 'AUDIT_IDENTITY_RECORD', message: `the identity record (${recorded}) is not the identity the log created last (${last.publicKey}, entry ${last.seq})` });
  }
  if (pinned !== undefined && last !== undefined && pinned !== last.publicKey) {
    const earlier = chain.identities.find((i) => i.publicKey === pinned);
    problems.add({
      seq: last.seq,
      code: 'AUDIT_IDENTITY',
      message:
        earlier === undefined
          ? `the log's identity is ${last.publicKey} (entry ${last.seq}), not the pinned ${pinned}`
          : `the pinned identity was replaced at entry ${last.seq} by ${last.publicKey} (a zeroize and a new provisioning, or a rewrite); pin the current identity`,
    });
  }
  const current = pinned ?? last?.publicKey ?? recorded ?? null;
  const known = new Set<string>(chain.identities.map((i) => i.publicKey));
  if (current !== null) known.add(current);
  return {
    current,
    known,
    at: (seq) => {
      if (seq > chain.lastSeq) return current;
      let key: string | null = null;
      for (const i of chain.identities) if (i.seq <= seq) key = i.publicKey;
      return key ?? current;
    },
  };
}

/** Whether `head` is signed by `identity` (hex public key). */
function headSignatureValid(head: SignedHead, identity: string): boolean {
  const publicKey = hexToBytesOrUndefined(identity);
  return publicKey !== undefined && verifyMessageWithPublicKey(checkpointStatement(head.app, head.seq, head.hash, head.at), head.signature, publicKey);
}

/**
 * The peer checked each head it witnessed against the identity it pinned at pairing. A head
 * whose identity this log never created shows the log's identities rewritten (a whole log
 * re-signed under a key of the thief's own): the first untrusted entry is the `identity.created`
 * entry in force at that head, or the first entry when there is none.
 */
function checkWitnessedIdentities(witnesses: readonly WitnessedHead[], chain: Chain, identity: { known: Set<string>; at(seq: number): string | null }, problems: Problems): void {
  const foreign = witnesses.find((w) => !identity.known.has(w.identity) && headSignatureValid(w, w.identity));
  if (foreign === undefined) return;
  const inForce = identity.at(Math.min(foreign.seq, chain.lastSeq));
  const created = chain.identities.filter((i) => i.seq <= foreign.seq && i.publicKey === inForce).at(-1)?.seq ?? 1;
  problems.add({
    seq: created,
    code: 'AUDIT_WITNESS_IDENTITY',
    message: `the peer witnessed entry ${foreign.seq} signed by ${foreign.identity}, an identity this log never had; its identity ${inForce ?? 'unknown'} (entry ${created}) replaced it`,
  });
}

function readCheckpoints(view: ReadView, app: string, problems: Problems): SignedPoint[] {
  const points: SignedPoint[] = [];
  for (const key of view.keys(SYSTEM_COLLECTIONS.auditCheckpoints)) {
    let cp: AuditCheckpoint | undefined;
    try {
      cp = view.get(SYSTEM_COLLECTIONS.auditCheckpoints, key);
    } catch (error) {
      problems.add({ seq: typeof key === 'number' ? key : null, code: 'AUDIT_CHECKPOINT_CORRUPT', message: `checkpoint ${String(key)} cannot be read: ${(error as Error).message}` });
      continue;
    }
    if (cp === undefined) continue;
    if (cp.seq !== key) {
      problems.add({ seq: Math.min(cp.seq, typeof key === 'number' ? key : cp.seq), code: 'AUDIT_CHECKPOINT_CORRUPT', message: `checkpoint ${String(key)} names entry ${cp.seq}` });
      continue;
    }
    points.push({ source: 'checkpoint', app, seq: cp.seq, hash: cp.hash, at: cp.at, signature: cp.signature, identity: cp.identity, label: `checkpoint ${cp.seq}` });
  }
  return points;
}

/**
 * Checks the whole log: the hash chain, the head record, the identity, the signed checkpoints
 * and, when given, the heads its peer witnessed (`witnessedHeads` of the peer's log).
 *
 * `identityPublicKey` pins the device's current identity key. Without it the log's own
 * `identity.created` entries and identity record are trusted (weaker: an attacker who
 * rewrites the store can rewrite those too; pin the key taken from the peer or from
 * provisioning). Each head must be signed by the identity in force at its entry.
 *
 * A signed head that names an entry past the end proves a truncation; one whose hash differs
 * from the entry's proves a rewrite, and the first entry that can no longer be trusted is the
 * one after the newest signed head below it that still matches. Only the signatures that
 * decide something are checked: those of contradicting heads, and the newest matching one
 * (it covers every entry before it through the chain).
 */
export function verifyAudit(view: ReadView, app: string, identityPublicKey?: string, witnesses: readonly WitnessedHead[] = []): AuditReport {
  const problems = new Problems();
  const chain = readChain(view, problems);
  checkHeadRecord(view, chain, problems);
  const pinned = identityPublicKey?.toLowerCase();
  const identity = resolveIdentity(view, chain, pinned, problems);
  const { lastSeq, hashes } = chain;

  const checkpoints = readCheckpoints(view, app, problems);
  const ownWitnesses = witnesses.filter((w) => w.app === app);
  checkWitnessedIdentities(ownWitnesses, chain, identity, problems);
  const witnessPoints: SignedPoint[] = ownWitnesses
    .filter((w) => identity.known.has(w.identity))
    .map((w) => ({
      source: 'witness' as const,
      app: w.app,
      seq: w.seq,
      hash: w.hash,
      at: w.at,
      signature: w.signature,
      identity: w.identity,
      label: `the head ${w.recordedBy === null ? 'the peer' : `${w.recordedBy.app} (its entry ${w.recordedBy.seq})`} witnessed at entry ${w.seq}`,
    }));
  if (checkpoints.length > 0 && identity.current === null) {
    problems.add({ seq: null, code: 'AUDIT_NO_IDENTITY', message: 'checkpoints exist but no identity key is known to check them' });
  }

  const validity = new Map<SignedPoint, boolean>();
  const signatureValid = (p: SignedPoint): boolean => {
    let valid = validity.get(p);
    if (valid === undefined) {
      valid = headSignatureValid(p, p.identity);
      validity.set(p, valid);
    }
    return valid;
  };
  const reported = new Set<SignedPoint>();
  const forged = (p: SignedPoint, seq: number): void => {
    if (reported.has(p)) return;
    reported.add(p);
    if (p.source === 'checkpoint') problems.add({ seq, code: 'AUDIT_CHECKPOINT_SIGNATURE', message: `checkpoint ${p.seq} has an invalid signature` });
    else problems.add({ seq: null, code: 'AUDIT_WITNESS_INVALID', message: `${p.label} has an invalid signature; it proves nothing` });
  };

  // A checkpoint must name the identity in force at its entry (a witness names the key its
  // peer checked, which decides which log it belongs to).
  const usable: SignedPoint[] = [];
  for (const p of [...checkpoints, ...witnessPoints].sort((a, b) => a.seq - b.seq)) {
    const expected = identity.at(p.seq);
    if (p.source === 'checkpoint' && expected !== null && p.identity !== expected) {
      problems.add({ seq: Math.min(p.seq, lastSeq + 1), code: 'AUDIT_CHECKPOINT_IDENTITY', message: `checkpoint ${p.seq} is signed by ${p.identity}, not the device identity ${expected}` });
      continue;
    }
    usable.push(p);
  }
  const beyond = usable.filter((p) => p.seq > lastSeq);
  const matching = usable.filter((p) => p.seq <= lastSeq && hashes.get(p.seq) === p.hash);
  const contradicting = usable.filter((p) => p.seq <= lastSeq && hashes.has(p.seq) && hashes.get(p.seq) !== p.hash);

  /** The newest matching head with a valid signature below `seq` (0 when none). */
  const trustedBelow = (seq: number, source?: SignedPoint['source']): number => {
    for (let i = matching.length - 1; i >= 0 && !problems.full; i--) {
      const p = matching[i] as SignedPoint;
      if (p.seq >= seq || (source !== undefined && p.source !== source)) continue;
      if (signatureValid(p)) return p.seq;
      forged(p, p.seq);
    }
    return 0;
  };

  // A signed head past the end: the tail was cut off.
  for (const p of beyond) {
    if (problems.full) break;
    if (!signatureValid(p)) {
      forged(p, lastSeq + 1);
      continue;
    }
    problems.add({ seq: lastSeq + 1, code: 'AUDIT_TRUNCATED', message: `${p.label} names entry ${p.seq}, but the log ends at entry ${lastSeq}: entries ${lastSeq + 1}..${p.seq} at least were removed` });
    break;
  }
  // A signed head that differs from its entry: the log was rewritten at or before it.
  for (const p of contradicting) {
    if (problems.full) break;
    if (!signatureValid(p)) {
      forged(p, p.seq);
      continue;
    }
    const from = trustedBelow(p.seq) + 1;
    problems.add({
      seq: from,
      code: p.source === 'checkpoint' ? 'AUDIT_CHECKPOINT_HASH' : 'AUDIT_WITNESS_HASH',
      message: `${p.label} signed a different chain: entries ${from}..${p.seq} were rewritten (entry ${from} is the first not covered by a matching signature)`,
    });
    break;
  }

  const lastCheckpointSeq = trustedBelow(lastSeq + 1, 'checkpoint') || null;
  const lastWitnessedSeq = trustedBelow(lastSeq + 1, 'witness') || null;
  const firstBadSeq = problems.list.reduce<number | null>((min, p) => (p.seq !== null && (min === null || p.seq < min) ? p.seq : min), null);
  return {
    ok: problems.list.length === 0,
    app,
    entries: chain.entries,
    lastSeq,
    checkpoints: checkpoints.length,
    lastCheckpointSeq,
    witnesses: witnessPoints.length,
    lastWitnessedSeq,
    uncoveredEntries: lastSeq - Math.max(lastCheckpointSeq ?? 0, lastWitnessedSeq ?? 0),
    identity: identity.current,
    firstBadSeq,
    problems: problems.list,
  };
}

/** Throws AUDIT_INVALID with the first problem unless the log verifies. */
export function assertAuditValid(report: AuditReport): void {
  const first = report.problems[0];
  if (first !== undefined) throw new HsmError('AUDIT_INVALID', first.message, { field: first.seq === null ? undefined : `audit[${first.seq}]` });
}
