import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../shared/random.ts';
import { verifyAudit } from '../../shared/store/audit.ts';
import { DeviceStore } from '../../shared/store/store.ts';
import { SYSTEM_COLLECTIONS } from '../../shared/store/system-collections.ts';
import { tempDir } from '../helpers/temp.ts';
import { PARTS, counter, digest, ledger, payloadFor } from './fixtures/crash-writer.ts';

const WRITER = new URL('./fixtures/crash-writer.ts', import.meta.url).pathname;
const TRIALS = 12;

/** Starts the writer, waits until it is writing, lets it run `runMs`, then SIGKILLs it. */
async function runAndKill(dir: string, seed: string, runMs: number): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, dir, seed], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('started')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`writer exited early (${code}): ${stderr}`)));
  });
  await new Promise((r) => setTimeout(r, runMs));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

describe('crash safety of the device store', () => {
  it(`SIGKILL in the middle of transaction bursts leaves every transaction whole or absent (${TRIALS} seeded trials)`, async () => {
    const dir = tempDir();
    const seed = 'crash-1';
    const random = new SeededRandom(seed);
    let previous = 0;
    for (let trial = 0; trial < TRIALS; trial++) {
      await runAndKill(dir, seed, random.between(30, 400));
      const store = DeviceStore.open(dir, { app: 'crash-test', schemaVersion: 1, collections: [ledger, counter] });
      try {
        const n = store.get(counter, 'n')?.n ?? 0;
        expect(n).toBeGreaterThanOrEqual(previous);
        // Every committed transaction is whole...
        for (let txn = 1; txn <= n; txn++) {
          for (let part = 0; part < PARTS; part++) {
            const record = store.get(ledger, [txn, part]);
            expect(record, `txn ${txn} part ${part}`).toBeDefined();
            expect(record!.digest).toBe(digest(payloadFor(seed, txn, part)));
            expect(digest(record!.payload)).toBe(record!.digest);
          }
        }
        // ...and nothing of an uncommitted one is visible.
        expect([...store.range(ledger, { start: [n + 1, 0] })]).toEqual([]);
        const report = verifyAudit(store, 'crash-test');
        expect(report.problems).toEqual([]);
        // One audit entry per committed transaction, written in the same transaction.
        const ledgerEntries = [...store.range(SYSTEM_COLLECTIONS.audit)].filter((e) => e.value.kind === 'ledger.txn');
        expect(ledgerEntries.map((e) => e.value.details.txn)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
        expect(report.checkpoints).toBeGreaterThan(0);
        previous = n;
      } finally {
        await store.close();
      }
    }
    expect(previous).toBeGreaterThan(0);
  }, 120_000);
});
