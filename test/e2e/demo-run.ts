/**
 * `hsm demo` (= `npm run demo`) run as a user runs it, and what a whole story must show.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { DemoSummary } from '../../scripts/demo/story.ts';
import { tempDir } from '../helpers/temp.ts';

const HSM = new URL('../../bin/hsm.mjs', import.meta.url).pathname;
const ROOT = new URL('../..', import.meta.url).pathname;

const STORY = [
  'rig up',
  'channel established over SMS',
  'cold batch 0 and hot batch 0 verified by the V-Device',
  'a withdrawal is approved, signed, broadcast and confirmed',
  "the administrator's PING is answered",
  'nightly rotation; a withdrawal on the new channel',
  'a forged vc_code closes the channel; only the operator reopens the window',
  'carrier A outage: withdrawals go on, the app reaches HSM-Cold only when A is back',
  'clean shutdown',
];

export async function demo(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; summary: DemoSummary }> {
  const json = join(tempDir('hsm-demo-json-'), 'demo.json');
  const child = spawn(process.execPath, [HSM, 'demo', '--json', json, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  return { code, stdout, stderr, summary: JSON.parse(readFileSync(json, 'utf8')) as DemoSummary };
}

export function expectWholeStory(run: Awaited<ReturnType<typeof demo>>, processes: boolean): void {
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
  expect(ping?.answer).toBe('ping is ok');
  expect(rotation?.cId).toBeGreaterThan(channel?.cId as number);
  expect(rotation?.retired).toBe(channel?.cId);
  expect(rotation?.txHash).toMatch(/^[0-9a-f]{64}$/);
  expect(forged?.forged.reason).toBe('VC_CODE_INVALID');
  expect(forged?.closed).toBe(rotation?.cId);
  expect(forged?.alert).toMatch(/^HSM-COLD ALERT: channel \d+ closed: forged vc_code\. New channels only after console: channel open-window/);
  expect(forged?.refused.reason).toBe('CHANNEL_CLOSED');
  expect(forged?.requestRefused).toContain('channel open-window');
  expect(forged?.reopened.cId).toBeGreaterThan(forged?.closed as number);
  expect(forged?.reopened.txHash).toMatch(/^[0-9a-f]{64}$/);
  // The app sends to SIM1 only: its request waited out the outage and reached SIM1 afterwards.
  expect(outage?.txHash).toMatch(/^[0-9a-f]{64}$/);
  expect(outage?.verifyDeliveredTo).toBe('+8617000000001');
  expect(outage?.networkRetries).toBeGreaterThan(0);
  // World time moves forward through the story, past the app's 03:00 UTC+8 alarm.
  const times = summary.steps.map((s) => Date.parse(s.worldTime));
  expect(times).toEqual([...times].sort((a, b) => a - b));
  expect(new Date(times[5] as number).getUTCHours()).toBe(19);
}
