/**
 * HSM-Cold killed with SIGKILL at a seeded store commit, trial after trial on the same state:
 * inside the commit (everything written, nothing durable) or right after it (durable, nothing
 * after it done). After every kill the store must hold whole approvals only, a verifying audit
 * chain, spends that add up, and no forged request approved.
 *
 * The worker (fixtures/cold-crash-worker.ts) is bundled once per run with esbuild, so each of
 * the many process starts skips the TypeScript loader; it seeds itself from its trial, so a
 * failing trial replays: the message names the trial, its kill point, and what the commit wrote.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COLD_APP, COLD_COLLECTIONS } from '../../hsm-cold/main.ts';
import { spendsInPeriod } from '../../hsm-cold/policy.ts';
import { COLD_RECORDS, channelKeySecret } from '../../hsm-cold/records.ts';
import { SeededRandom } from '../../shared/random.ts';
import { auditTail, verifyAudit } from '../../shared/store/audit.ts';
import { DeviceStore } from '../../shared/store/store.ts';
import { SYSTEM_COLLECTIONS } from '../../shared/store/system-collections.ts';
import { soakCount } from '../helpers/soak.ts';
import { tempDir } from '../helpers/temp.ts';
import { at } from './fixture.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const WORKER_SOURCE = new URL('./fixtures/cold-crash-worker.ts', import.meta.url).pathname;
/** Inside the project, so the bundle's package imports resolve from its node_modules. */
const WORKER = join(ROOT, 'node_modules/.cache/hsm-test', `cold-crash-worker.${process.pid}.mjs`);
const TRIALS = soakCount(20, 100);
/** Two independent devices are crashed side by side to use both cores. */
const LANES = 2;
/**
 * A fifth of the kills land in boot and recovery (the first commits of the process, a channel
 * rotation included when the V-Device has none open), the rest in the first commits once the
 * world is up: approvals, refusals, rotations after a forgery, SMS.
 */
const BOOT_KILLS = 0.2;
const MAX_BOOT_COMMIT = 24;
const MAX_RUN_COMMIT = 30;
/** The worker's spending policy period (cold-crash-worker.ts). */
const PERIOD_MS = 24 * 3_600_000;

interface Kill {
  /** The commit killed, counted from the start of the process. */
  commit: number;
  point: 'before-commit' | 'after-commit';
  ops: number;
  wrote: string[];
}

/** Runs one trial; resolves with what the worker reported at its kill. */
async function runTrial(dir: string, trial: string, start: number, killAt: string, point: Kill['point']): Promise<Kill> {
  const child = spawn(process.execPath, [WORKER, dir, trial, String(start), killAt, point], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, s) => resolve(s)));
  const events = stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { event: string } & Kill);
  const kill = events.find((e) => e.event === 'kill');
  if (signal !== 'SIGKILL' || kill === undefined) {
    throw new Error(`trial ${trial} (kill at commit ${killAt} ${point}) ended without its kill: ${signal ?? 'exit'}; ${stdout.slice(-500)} ${stderr.slice(-2000)}`);
  }
  return kill;
}

interface Check {
  approvals: Set<string>;
  lastAt: number;
  /** Forged requests refused so far (their channel closed). */
  forgeriesRefused: number;
}

/** The invariants that must hold whenever HSM-Cold stops, however abruptly. */
async function checkStore(dir: string, context: string, previous: Set<string>): Promise<Check> {
  const store = DeviceStore.open(join(dir, 'cold'), { app: COLD_APP, schemaVersion: 1, collections: COLD_COLLECTIONS });
  try {
    expect(verifyAudit(store, COLD_APP).problems, context).toEqual([]);
    const audit = [...store.range(SYSTEM_COLLECTIONS.audit)].map((e) => e.value);
    const granted = audit.filter((e) => e.kind === 'approval.granted');
    const approvals = [...store.range(COLD_RECORDS.approvals)].map((e) => e.value);
    const spends = [...store.range(COLD_RECORDS.spends)].map((e) => e.value);
    const ids = (list: Array<{ userTxNo: unknown }>): string[] => list.map((e) => String(e.userTxNo)).sort();

    // Each approval is whole: its record, its audit entry and (for a spend) its spend record, or none of them.
    expect(ids(granted.map((e) => e.details as { userTxNo: unknown })), `${context}: audit entries of approvals`).toEqual(ids(approvals));
    expect(ids(spends), `${context}: spend records`).toEqual(ids(approvals.filter((a) => a.kind === 'spend')));
    for (const a of approvals) {
      const entry = granted.find((e) => e.details.userTxNo === a.userTxNo);
      expect(entry?.details, `${context}: audit entry of ${a.userTxNo}`).toMatchObject({ requestHash: a.requestHash, kind: a.kind, amount: a.amount, cId: a.cId });
      if (a.kind === 'spend') {
        expect(spends.find((s) => s.userTxNo === a.userTxNo), `${context}: spend of ${a.userTxNo}`).toMatchObject({ amount: a.amount, at: a.approvedAt, coin: a.coin });
      }
    }
    // The policy's period total is the sum of the approved spends in the period.
    const lastAt = auditTail(store, 1)[0]?.at ?? 0;
    const inPeriod = approvals.filter((a) => a.kind === 'spend' && a.approvedAt >= lastAt - PERIOD_MS);
    const period = spendsInPeriod(store, 'BTC', PERIOD_MS, lastAt);
    expect({ total: period.total.toString(), count: period.count }, `${context}: period totals`).toEqual({
      total: inPeriod.reduce((sum, a) => sum + BigInt(a.amount), 0n).toString(),
      count: inPeriod.length,
    });
    // A forged request is never approved; an approval, once made, stays.
    expect(approvals.filter((a) => a.userTxNo.startsWith('f')).map((a) => a.userTxNo), `${context}: forged requests approved`).toEqual([]);
    const now = new Set(approvals.map((a) => a.userTxNo));
    expect([...previous].filter((id) => !now.has(id)), `${context}: approvals lost`).toEqual([]);
    // Channel keys exist exactly for pending and open channels; at most one is open.
    const channels = [...store.range(COLD_RECORDS.channels)].map((e) => e.value);
    expect(channels.filter((c) => c.status === 'open').length, context).toBeLessThanOrEqual(1);
    for (const c of channels) {
      expect(store.has(SYSTEM_COLLECTIONS.secrets, channelKeySecret(c.cId)), `${context}: key of channel ${c.cId} (${c.status})`).toBe(c.status === 'open' || c.status === 'pending');
    }
    const forgeriesRefused = [...store.range(COLD_RECORDS.refusals)].filter((r) => r.value.userTxNo.startsWith('f') && r.value.code === 'VC_CODE_INVALID').length;
    return { approvals: now, lastAt, forgeriesRefused };
  } finally {
    await store.close();
  }
}

beforeAll(async () => {
  mkdirSync(join(ROOT, 'node_modules/.cache/hsm-test'), { recursive: true });
  await build({ entryPoints: [WORKER_SOURCE], outfile: WORKER, bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', logLevel: 'error' });
});

afterAll(() => rmSync(WORKER, { force: true }));

describe('HSM-Cold crash safety', () => {
  it(`SIGKILL at ${TRIALS} seeded store commits (inside one or right after it): approvals whole, audit chain intact, spends add up, no forgery approved`, async () => {
    const lane = async (n: number): Promise<{ kills: Kill[]; forgeriesRefused: number }> => {
      const dir = tempDir();
      const random = new SeededRandom(`cold-crash/${n}`);
      let start = at(23, 5);
      let approvals = new Set<string>();
      let forgeriesRefused = 0;
      const kills: Kill[] = [];
      for (let t = 0; t < TRIALS / LANES; t++) {
        const trial = `${n}-${t}`;
        const killAt = random.chance(BOOT_KILLS) ? `boot:${random.between(1, MAX_BOOT_COMMIT)}` : `run:${random.between(1, MAX_RUN_COMMIT)}`;
        const point = random.pick(['before-commit', 'after-commit'] as const);
        const kill = await runTrial(dir, trial, start, killAt, point);
        kills.push(kill);
        const check = await checkStore(dir, `trial ${trial}, killed at commit ${killAt} (${kill.commit} of the process) ${point} after ${kill.ops} requests; it wrote [${kill.wrote.join(' ')}]`, approvals);
        approvals = check.approvals;
        forgeriesRefused = check.forgeriesRefused;
        start = Math.max(start, check.lastAt) + 60_000;
      }
      console.info(JSON.stringify({ lane: n, approvals: approvals.size, forgeriesRefused, kills: kills.map((k) => `${k.commit}/${k.point === 'before-commit' ? 'in' : 'after'}:${k.wrote.filter((w) => w.startsWith('cold.') || w.startsWith('audit:')).join('+')}`) }));
      // Fresh user_tx_nos keep approvals coming, trial after trial (an operator reopens the
      // window after each forgery, as the alert asks).
      expect(approvals.size).toBeGreaterThan(TRIALS / LANES);
      return { kills, forgeriesRefused };
    };
    const lanes = await Promise.all(Array.from({ length: LANES }, (_, n) => lane(n)));
    const kills = lanes.flatMap((l) => l.kills);
    // Forged requests were really sent, and refused.
    expect(lanes.reduce((sum, l) => sum + l.forgeriesRefused, 0)).toBeGreaterThan(0);
    // The kills landed where a torn approval would show: in approval commits, at both points.
    const inApproval = kills.filter((k) => k.wrote.includes('cold.approvals'));
    expect(inApproval.filter((k) => k.point === 'before-commit').length).toBeGreaterThan(0);
    expect(inApproval.filter((k) => k.point === 'after-commit').length).toBeGreaterThan(0);
  }, 900_000);
});
