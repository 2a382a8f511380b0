/**
 * arm64 (64-bit Raspberry Pi OS: Pi 3, 4, 5, Zero 2 W), emulated: the install Node's arm64
 * build makes, its native packages, the simulated world in one process to READY and through a
 * withdrawal, and the demo story end to end.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HsmProcess, parseReady, queueWithdrawal, runToExit, waitForWithdrawals } from '../../scripts/bench/processes.ts';
import { tempDir } from '../helpers/temp.ts';
import { bindingsSuite, qemuFor, useEmulated } from './emulated.ts';

const qemu = qemuFor('arm64');

describe.skipIf(!qemu.available)('arm64 under qemu-user', () => {
  const runner = useEmulated('arm64');

  bindingsSuite('arm64', runner);

  it('hsm sim reaches READY and a withdrawal completes', async () => {
    const sim = new HsmProcess(runner(), ['sim', '--state-dir', join(tempDir('hsm-arm64-sim-'), 'world')]);
    try {
      const ready = parseReady(await sim.line((line) => line.startsWith('READY '), 'READY', 20 * 60_000));
      await queueWithdrawal(ready.control);
      await waitForWithdrawals(ready.control, 1, 20 * 60_000, 2_000);
    } finally {
      expect(await sim.stop('SIGTERM', 120_000), sim.output()).toBe(0);
    }
  });

  it('hsm demo passes every step', async () => {
    const demo = await runToExit(runner(), ['demo'], 30 * 60_000);
    expect(demo.code, demo.output).toBe(0);
    expect(demo.output).toMatch(/^demo passed: \d+ steps/m);
  });
});
