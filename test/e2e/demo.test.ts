/**
 * `hsm demo` (= `npm run demo`) end to end, as a user runs it: the whole story with the
 * devices in the CLI's process, then with HSM-Hot and HSM-Cold as separate processes on socat
 * ptys; and a broken first step, which must stop the story with a non-zero exit.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rig } from '../../hw-profiles/sim/rig.ts';
import type { DemoSummary } from '../../scripts/demo/story.ts';
import { osTool } from '../helpers/os-tools.ts';
import { tempDir } from '../helpers/temp.ts';
import { FAST_KDF } from '../sim/rig-helpers.ts';

const HSM = new URL('../../bin/hsm.mjs', import.meta.url).pathname;
const ROOT = new URL('../..', import.meta.url).pathname;
/** --processes puts the devices on socat ptys. */
const socat = osTool('socat', 'socat');

const STORY = [
  'rig up',
  'channel established over SMS',
  'cold batch 0 and hot batch 0 verified by the V-Device',
  'a withdrawal is approved, signed, broadcast and confirmed',
  "the administrator's PING is answered",
  'nightly rotation; a withdrawal on the new channel',
  'a forged vc_code closes the channel and alerts the administrator',
  'carrier A outage: SMS continue over SIM2',
  'clean shutdown',
];

async function demo(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; summary: DemoSummary }> {
  const json = join(tempDir('hsm-demo-json-'), 'demo.json');
  const child = spawn(process.execPath, [HSM, 'demo', '--json', json, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  return { code, stdout, stderr, summary: JSON.parse(readFileSync(json, 'utf8')) as DemoSummary };
}

function expectWholeStory(run: Awaited<ReturnType<typeof demo>>, processes: boolean): void {
  expect(run.code, run.stdout + run.stderr).toBe(0);
  const { summary } = run;
  expect(summary.ok).toBe(true);
  expect(summary.processes).toBe(processes);
  expect(summary.steps.map((s) => s.name)).toEqual(STORY);
  expect(summary.steps.every((s) => s.ok)).toBe(true);
  // Progress lines, one per step, in order.
  const lines = run.stdout.split('\n').filter((l) => /^\[\d\/9\]/.test(l));
  expect(lines.map((l) => l.replace(/^\[(\d)\/9\] ok\s+(.*) \(\d+ ms\)$/, '$1 $2'))).toEqual(STORY.map((name, i) => `${i + 1} ${name}`));
  expect(run.stdout).toMatch(/demo passed: 9 steps in [\d.]+ s/);

  const [, channel, batches, withdrawal, ping, rotation, forged, outage] = summary.steps.map((s) => s.details as Record<string, any>);
  expect(channel?.sms).toEqual(['CC:QH', 'CC:QC', 'CC:CHANNEL_OK']);
  expect(batches?.batches).toHaveLength(2);
  expect(withdrawal?.txHash).toMatch(/^[0-9a-f]{64}$/);
  expect(withdrawal?.confirmations).toBeGreaterThanOrEqual(1);
  expect(ping?.answer).toMatch(/^CC:V:PING:/);
  expect(rotation?.cId).toBeGreaterThan(channel?.cId as number);
  expect(rotation?.retired).toBe(channel?.cId);
  expect(rotation?.txHash).toMatch(/^[0-9a-f]{64}$/);
  expect(forged?.forged.reason).toBe('VC_CODE_INVALID');
  expect(forged?.closed).toBe(rotation?.cId);
  expect(forged?.alert).toMatch(/^HSM-COLD ALERT/);
  expect(forged?.refused.reason).toBe('CHANNEL_CLOSED');
  expect(forged?.nextWindow.cId).toBeGreaterThan(forged?.closed as number);
  expect(outage?.replyFrom).toBe('+8617000000002');
  // World time moves forward through the story: two nights at least.
  const times = summary.steps.map((s) => Date.parse(s.worldTime));
  expect(times).toEqual([...times].sort((a, b) => a - b));
  expect((times.at(-1) as number) - (times[0] as number)).toBeGreaterThan(24 * 3_600_000);
}

describe('hsm demo', () => {
  it('tells the whole story with both devices in one process', async () => {
    expectWholeStory(await demo([]), false);
  }, 600_000);

  it.skipIf(!socat.available)('tells the same story with HSM-Hot and HSM-Cold as separate processes over ptys', async () => {
    expectWholeStory(await demo(['--processes']), true);
  }, 900_000);

  it('stops at the first broken step with a non-zero exit, and says which', async () => {
    // A state directory holding another seed's world: the rig refuses it, so step 1 breaks.
    const stateDir = tempDir('hsm-demo-other-');
    const other = await Rig.start({ stateDir, seed: 'another world', timeScale: 'manual', kdf: FAST_KDF });
    await other.stop();
    const run = await demo(['--state-dir', stateDir]);
    expect(run.code).not.toBe(0);
    expect(run.summary.ok).toBe(false);
    expect(run.summary.steps).toHaveLength(1);
    expect(run.summary.steps[0]).toMatchObject({ step: 1, name: 'rig up', ok: false });
    expect(run.summary.steps[0]?.error).toMatch(/another seed/);
    expect(run.stdout).toMatch(/\[1\/9\] FAIL rig up/);
    expect(run.stdout).toMatch(/demo FAILED/);
  }, 300_000);
});
