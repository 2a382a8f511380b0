/**
 * armv7 (32-bit Raspberry Pi OS: Pi 2, 3, 4, Zero 2 W), emulated: the install Node's armv7
 * build makes, its native packages, and the two devices as separate processes (each an armv7
 * node, over socat ptys with the armv7 serialport bindings) through a withdrawal.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HsmProcess, childPids, parseReady, queueWithdrawal, waitForWithdrawals } from '../../scripts/bench/processes.ts';
import { osTool } from '../helpers/os-tools.ts';
import { tempDir } from '../helpers/temp.ts';
import { bindingsSuite, qemuFor, useEmulated } from './emulated.ts';

const qemu = qemuFor('armv7');
const socat = osTool('socat', 'socat');

describe.skipIf(!qemu.available)('armv7 under qemu-user', () => {
  const runner = useEmulated('armv7');

  bindingsSuite('armv7', runner);

  it.skipIf(!socat.available)('hsm sim --processes: both device processes start, emulated, and a withdrawal completes', async () => {
    const sim = new HsmProcess(runner(), ['sim', '--processes', '--state-dir', join(tempDir('hsm-armv7-sim-'), 'world')]);
    try {
      const ready = parseReady(await sim.line((line) => line.startsWith('READY '), 'READY', 25 * 60_000));
      expect(ready.processes).toBe(true);
      // Each device is an emulated armv7 node, a child of the rig.
      const devices = childPids(sim.pid, 'device-process.js');
      expect(devices).toHaveLength(2);
      for (const pid of devices) expect(readCmdline(pid)).toContain('qemu-arm-static');
      await queueWithdrawal(ready.control);
      await waitForWithdrawals(ready.control, 1, 25 * 60_000, 2_000);
    } finally {
      expect(await sim.stop('SIGTERM', 120_000), sim.output()).toBe(0);
    }
  });
});

function readCmdline(pid: number): string {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
}
