/**
 * Raw edits of a closed device store's audit records, below every check the store makes: what
 * someone holding a copy of the store file (but not the PIN) can do.
 */
import { join } from 'node:path';
import { open } from 'lmdb';
import { Packr } from 'msgpackr';
import { auditEntryHash, type AuditCheckpoint, type AuditEntry } from '../../shared/store/audit.ts';
import { STORE_FILE } from '../../shared/store/store.ts';

const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'bigint', moreTypes: false });

export interface RawAudit {
  get(seq: number): AuditEntry | undefined;
  put(seq: number, value: unknown): void;
  del(seq: number): void;
  /** The highest entry key present (0 when none). */
  last(): number;
  headPut(value: unknown): void;
  checkpoints(): AuditCheckpoint[];
  putCheckpoint(checkpoint: AuditCheckpoint): void;
  delCheckpoint(seq: number): void;
  /** Writes `bytes` as the value of `key` in the named database. */
  raw(db: string, key: string | number, bytes: Uint8Array): void;
  /** Reads and writes a record of the named database as the store encodes it. */
  record(db: string, key: string | number): unknown;
  putRecord(db: string, key: string | number, value: unknown): void;
  /** Re-hashes entries `from`.. so each chains to the one before (and fixes the head). */
  rechain(from: number): void;
}

/** Opens the store file in `dir` raw and runs `edit` in one transaction. */
export async function editAudit(dir: string, edit: (raw: RawAudit) => void): Promise<void> {
  const root = open({ path: join(dir, STORE_FILE), maxDbs: 64 });
  const db = (name: string) => root.openDB({ name, encoding: 'binary' });
  const audit = db('sys.audit');
  const head = db('sys.audit-head');
  const checkpoints = db('sys.audit-checkpoints');
  const raw: RawAudit = {
    get: (seq) => {
      const bytes = audit.getBinary(seq);
      return bytes === undefined ? undefined : (packr.unpack(bytes) as AuditEntry);
    },
    put: (seq, value) => audit.putSync(seq, packr.pack(value)),
    del: (seq) => audit.removeSync(seq),
    last: () => {
      for (const key of audit.getKeys({ reverse: true, limit: 1 })) return key as number;
      return 0;
    },
    headPut: (value) => head.putSync('head', packr.pack(value)),
    checkpoints: () => [...checkpoints.getRange()].map(({ value }) => packr.unpack(value as Buffer) as AuditCheckpoint),
    putCheckpoint: (checkpoint) => checkpoints.putSync(checkpoint.seq, packr.pack(checkpoint)),
    delCheckpoint: (seq) => checkpoints.removeSync(seq),
    raw: (name, key, bytes) => db(name).putSync(key, Buffer.from(bytes)),
    record: (name, key) => {
      const bytes = db(name).getBinary(key);
      return bytes === undefined ? undefined : packr.unpack(bytes);
    },
    putRecord: (name, key, value) => db(name).putSync(key, packr.pack(value)),
    rechain: (from) => {
      let prev = raw.get(from - 1)?.hash ?? '0'.repeat(64);
      const last = raw.last();
      for (let seq = from; seq <= last; seq++) {
        const entry = raw.get(seq);
        if (entry === undefined) continue;
        const unhashed = { seq: entry.seq, at: entry.at, kind: entry.kind, details: entry.details, prev };
        const hash = auditEntryHash(unhashed);
        raw.put(seq, { ...unhashed, hash });
        prev = hash;
      }
      raw.headPut({ seq: last, hash: prev });
    },
  };
  root.transactionSync(() => edit(raw));
  await root.close();
}
