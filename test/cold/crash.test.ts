import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../shared/random.ts';
import { auditTail, verifyAudit } from '../../shared/store/audit.ts';
import { DeviceStore } from '../../shared/store/store.ts';
import { SYSTEM_COLLECTIONS } from '../../shared/store/system-collections.ts';
import { COLD_APP, COLD_COLLECTIONS } from '../../hsm-cold/main.ts';
import { COLD_RECORDS, channelKeySecret } from '../../hsm-cold/records.ts';
import { tempDir } from '../helpers/temp.ts';
import { at } from './fixture.ts';

const WORKER = new URL('./fixtures/cold-crash-worker.ts', import.meta.url).pathname;
const TRIALS = 100;
/** Two independent devices are crashed side by side to use both cores. */
const LANES = 2;

async function runUntilKilled(dir: string, seed: string, start: number, killAfterOps: number): Promise<number> {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, dir, seed, String(start)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let buffer = '';
  let ops = 0;
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      buffer += d.toString();
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const event = JSON.parse(buffer.slice(0, nl)) as { event: string; ops?: number };
        buffer = buffer.slice(nl + 1);
        if (event.event === 'ops') ops = event.ops ?? ops;
        if (event.event === 'ready' && killAfterOps === 0) resolve();
        if (event.event === 'ops' && ops >= killAfterOps) resolve();
      }
    });
    child.on('exit', (code) => reject(new Error(`worker exited (${code}) before the kill: ${stderr.slice(-3000)}`)));
  });
  child.kill('SIGKILL');
  await exited;
  return ops;
}

interface Check {
  approvals: number;
  lastAt: number;
}

/** The invariants that must hold whenever HSM-Cold stops, however abruptly. */
async function checkStore(dir: string): Promise<Check> {
  const store = DeviceStore.open(join(dir, 'cold'), { app: COLD_APP, schemaVersion: 1, collections: COLD_COLLECTIONS });
  try {
    const report = verifyAudit(store, COLD_APP);
    expect(report.problems).toEqual([]);
    const audit = [...store.range(SYSTEM_COLLECTIONS.audit)].map((e) => e.value);
    const granted = audit.filter((e) => e.kind === 'approval.granted');
    const approvals = [...store.range(COLD_RECORDS.approvals)].map((e) => e.value);
    const spends = [...store.range(COLD_RECORDS.spends)].map((e) => e.value);
    // Each approval is whole: its record, its spend and its audit entry, or none of them.
    expect(granted.map((e) => e.details.userTxNo).sort()).toEqual(approvals.map((a) => a.userTxNo).sort());
    expect(spends.map((s) => s.userTxNo).sort()).toEqual(approvals.filter((a) => a.kind === 'spend').map((a) => a.userTxNo).sort());
    for (const a of approvals) {
      const entries = granted.filter((e) => e.details.userTxNo === a.userTxNo);
      expect(entries).toHaveLength(1); // never approved twice
      expect(entries[0]!.details.requestHash).toBe(a.requestHash);
    }
    // Channel keys exist exactly for pending and open channels; at most one is open.
    const channels = [...store.range(COLD_RECORDS.channels)].map((e) => e.value);
    expect(channels.filter((c) => c.status === 'open').length).toBeLessThanOrEqual(1);
    for (const c of channels) {
      expect(store.has(SYSTEM_COLLECTIONS.secrets, channelKeySecret(c.cId)), `key of channel ${c.cId} (${c.status})`).toBe(c.status === 'open' || c.status === 'pending');
    }
    return { approvals: approvals.length, lastAt: auditTail(store, 1)[0]?.at ?? 0 };
  } finally {
    await store.close();
  }
}

describe('HSM-Cold crash safety', () => {
  it(`SIGKILL at ${TRIALS} seeded random points of approvals and rotations leaves every approval whole or absent`, async () => {
    const lane = async (n: number): Promise<{ approvals: number; ops: number }> => {
      const dir = tempDir();
      const random = new SeededRandom(`cold-crash/${n}`);
      let start = at(23, 5);
      let approvals = 0;
      let ops = 0;
      for (let trial = 0; trial < TRIALS / LANES; trial++) {
        ops += await runUntilKilled(dir, `cold-crash/${n}`, start, random.int(12));
        const check = await checkStore(dir);
        expect(check.approvals).toBeGreaterThanOrEqual(approvals);
        approvals = check.approvals;
        start = Math.max(start, check.lastAt) + 60_000;
      }
      return { approvals, ops };
    };
    const lanes = await Promise.all(Array.from({ length: LANES }, (_, n) => lane(n)));
    for (const { approvals, ops } of lanes) {
      expect(approvals).toBeGreaterThan(10);
      expect(ops).toBeGreaterThan(TRIALS / LANES);
    }
  }, 900_000);
});
