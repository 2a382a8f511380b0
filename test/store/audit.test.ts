import { describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../shared/clock.ts';
import { SeededRandom } from '../../shared/random.ts';
import { auditEntryHash, auditTail, checkpointDue, verifyAudit, writeCheckpoint, type AuditEntry } from '../../shared/store/audit.ts';
import { sealAuditWithIdentity } from '../../shared/store/audit-seal.ts';
import { createIdentity, identitySigner } from '../../shared/store/identity.ts';
import { SYSTEM_COLLECTIONS } from '../../shared/store/system-collections.ts';
import { DeviceStore } from '../../shared/store/store.ts';
import { Vault } from '../../shared/store/vault.ts';
import { editAudit } from '../helpers/audit-raw.ts';
import { tempDir } from '../helpers/temp.ts';

const FAST_KDF = { N: 1024, r: 8, p: 1 };

/** A provisioned store with `entries` audit entries and a checkpoint every `every` entries. */
async function buildLog(entries: number, every = 10): Promise<{ dir: string; identity: string }> {
  const dir = tempDir();
  const clock = new SimulatedClock();
  const random = new SeededRandom('audit');
  const store = DeviceStore.open(dir, { app: 'test', schemaVersion: 1, clock });
  const vault = new Vault(store, random);
  vault.initialise('2468', { kdf: FAST_KDF });
  const identity = store.transact((tx) => createIdentity(tx, vault, random, clock.now()));
  const signer = identitySigner(store, vault);
  for (let i = 0; i < entries; i++) {
    clock.advanceSync(1000);
    store.transact((tx) => {
      tx.audit('approval.granted', { userTxNo: `tx-${i}`, amount: i * 1000, coin: 'BTC' });
      if (checkpointDue(tx, every)) writeCheckpoint(tx, 'test', signer, clock.now());
    });
  }
  await store.close();
  return { dir, identity };
}

function verify(dir: string, identity?: string): ReturnType<typeof verifyAudit> {
  const store = DeviceStore.openForInspection(dir);
  try {
    return verifyAudit(store, 'test', identity);
  } finally {
    void store.close();
  }
}

describe('audit log', () => {
  it('chains every entry to the previous one and verifies with its checkpoints', async () => {
    const { dir, identity } = await buildLog(35);
    const report = verify(dir, identity);
    expect(report.ok).toBe(true);
    expect(report.problems).toEqual([]);
    // store.created, vault.initialised, identity.created, then 35 approvals
    expect(report.entries).toBe(38);
    expect(report.checkpoints).toBe(3);
    expect(report.lastCheckpointSeq).toBe(30); // checkpoints at 10, 20, 30
    expect(report.uncoveredEntries).toBe(8);
    const store = DeviceStore.openForInspection(dir);
    const tail = auditTail(store, 2);
    expect(tail[1]!.prev).toBe(tail[0]!.hash);
    expect(tail[1]!.hash).toBe(auditEntryHash(tail[1]!));
    await store.close();
  });

  it('names an edited entry', async () => {
    const { dir, identity } = await buildLog(20);
    await editAudit(dir, (db) => {
      const e = db.get(12)!;
      db.put(12, { ...e, details: { ...e.details, amount: 999_999 } });
    });
    const report = verify(dir, identity);
    expect(report.ok).toBe(false);
    expect(report.firstBadSeq).toBe(12);
    expect(report.problems.map((p) => p.code)).toContain('AUDIT_HASH');
  });

  it('names a rewritten stretch even when every later hash was recomputed', async () => {
    const { dir, identity } = await buildLog(30);
    await editAudit(dir, (db) => {
      // Forge entry 15 and re-chain everything after it, as an attacker with the file would.
      let prev = db.get(14)!.hash;
      for (let seq = 15; db.get(seq) !== undefined; seq++) {
        const e = db.get(seq)!;
        const details = seq === 15 ? { ...e.details, amount: 1 } : e.details;
        const forged = { ...e, details, prev };
        const hash = auditEntryHash(forged);
        db.put(seq, { ...forged, hash });
        prev = hash;
      }
      const last = [...Array(100).keys()].reverse().find((k) => db.get(k) !== undefined)!;
      db.headPut({ seq: last, hash: db.get(last)!.hash });
    });
    const report = verify(dir, identity);
    expect(report.ok).toBe(false);
    expect(report.problems[0]!.code).toBe('AUDIT_CHECKPOINT_HASH');
    // The checkpoint at 10 still matches; the one at 20 does not: the edit lies in 11..20.
    expect(report.firstBadSeq).toBe(11);
    expect(report.problems[0]!.message).toContain('11..20');
  });

  it('names a removed entry', async () => {
    const { dir, identity } = await buildLog(20);
    await editAudit(dir, (db) => db.del(9));
    const report = verify(dir, identity);
    expect(report.firstBadSeq).toBe(9);
    expect(report.problems[0]!.code).toBe('AUDIT_GAP');
  });

  it('names reordered entries', async () => {
    const { dir, identity } = await buildLog(20);
    await editAudit(dir, (db) => {
      const a = db.get(7)!;
      const b = db.get(8)!;
      db.put(7, b);
      db.put(8, a);
    });
    const report = verify(dir, identity);
    expect(report.firstBadSeq).toBe(7);
    expect(report.problems.map((p) => p.code)).toContain('AUDIT_SEQ');
  });

  it('detects a truncated tail through the head record and through checkpoints', async () => {
    const { dir, identity } = await buildLog(20);
    await editAudit(dir, (db) => {
      for (let seq = 18; seq <= 23; seq++) db.del(seq);
    });
    const report = verify(dir, identity);
    expect(report.ok).toBe(false);
    expect(report.firstBadSeq).toBe(18);
    expect(report.problems.map((p) => p.code)).toContain('AUDIT_TRUNCATED');

    const again = await buildLog(20);
    await editAudit(again.dir, (db) => {
      for (let seq = 18; seq <= 23; seq++) db.del(seq);
      db.headPut({ seq: 17, hash: db.get(17)!.hash }); // the attacker fixes the head too
    });
    const second = verify(again.dir, again.identity);
    expect(second.ok).toBe(false);
    // The checkpoint at 20 signs an entry that is gone; the first entry missing is 18.
    expect(second.problems.some((p) => p.code === 'AUDIT_TRUNCATED' && p.seq === 18)).toBe(true);
    expect(second.firstBadSeq).toBe(18);
  });

  it('refuses checkpoints signed by another key, or with a broken signature', async () => {
    const { dir } = await buildLog(12);
    const other = '02' + '11'.repeat(32);
    const report = verify(dir, other);
    expect(report.ok).toBe(false);
    expect(report.problems[0]!.code).toBe('AUDIT_IDENTITY');
  });

  it('reports damaged checkpoint, head and identity records as findings, not as a failure to check', async () => {
    const garbage = Uint8Array.of(0xc1, 0xff, 0x00);
    for (const [db, key, code] of [
      ['sys.audit-checkpoints', 20, 'AUDIT_CHECKPOINT_CORRUPT'],
      ['sys.audit-head', 'head', 'AUDIT_HEAD_CORRUPT'],
      ['sys.identity', 'device', 'AUDIT_IDENTITY_RECORD'],
      ['sys.audit', 12, 'AUDIT_CORRUPT'],
    ] as const) {
      const { dir, identity } = await buildLog(20);
      await editAudit(dir, (raw) => raw.raw(db, key, garbage));
      const report = verify(dir, identity);
      expect(report.ok, db).toBe(false);
      expect(report.problems.map((p) => p.code), db).toContain(code);
      if (db === 'sys.audit') expect(report.firstBadSeq).toBe(12);
    }
  });

  it('sealed with the identity key, every audited transaction commits with its head signed, up to the erase', async () => {
    const dir = tempDir();
    const clock = new SimulatedClock();
    const random = new SeededRandom('sealed');
    const store = DeviceStore.open(dir, { app: 'test', schemaVersion: 1, clock });
    const vault = new Vault(store, random);
    sealAuditWithIdentity(store, vault, 'test');
    vault.initialise('2468', { kdf: FAST_KDF });
    const identity = store.transact((tx) => createIdentity(tx, vault, random, clock.now()));
    const signedHeads = (): number[] => [...store.range(SYSTEM_COLLECTIONS.auditCheckpoints)].map((e) => e.value.seq);
    expect(signedHeads()).toEqual([3]); // store.created, vault.initialised (unsigned: no key yet), identity.created
    for (let i = 0; i < 3; i++) store.transact((tx) => tx.audit('approval.granted', { n: i }));
    store.transact((tx) => tx.put(SYSTEM_COLLECTIONS.meta, 'other', { format: 1, app: 'x', schemaVersion: 1, createdAt: 0 })); // no entry, no signature
    expect(signedHeads()).toEqual([3, 4, 5, 6]);
    vault.lock();
    expect(() => vault.unlock('0000')).toThrow(/wrong PIN/);
    expect(signedHeads()).toEqual([3, 4, 5, 6]); // locked: the wrong PIN waits for the next signature
    vault.unlock('2468');
    expect(signedHeads()).toEqual([3, 4, 5, 6, 8]);
    vault.erase('test');
    expect(signedHeads()).toEqual([3, 4, 5, 6, 8, 9]); // the erasure itself, signed before the key went
    expect(auditTail(store, 1)[0]?.kind).toBe('vault.erased');
    const off = store.onAuditAppended((tx) => void tx.audit('loop'));
    expect(() => store.transact((tx) => tx.audit('approval.granted', {}))).toThrow(/audit hook appended/);
    off();
    await store.close();
    const report = verify(dir, identity);
    expect(report).toMatchObject({ ok: true, lastSeq: 9, lastCheckpointSeq: 9, uncoveredEntries: 0 });
  });

  it('keeps secrets out: an audit detail named like a secret is a programmer error', async () => {
    const store = DeviceStore.open(tempDir(), { app: 'test', schemaVersion: 1, clock: new SimulatedClock() });
    expect(() => store.transact((tx) => tx.audit('oops', { mnemonic: 'abandon' }))).toThrow(/secret/);
    expect(() => store.transact((tx) => tx.audit('oops', { PIN: '1234' }))).toThrow(/secret/);
    await store.close();
  });
});
