/**
 * The rig supervises its device processes (`--processes`) as systemd does on a Pi: a device
 * killed from outside with kill -9 is started again after RestartSec and unlocked, the events
 * and `/status` say so, and the `kill` fault keeps its meaning (a power cycle, not a restart).
 */
import { describe, expect, it } from 'vitest';
import { ProcessDevices } from '../../hw-profiles/sim/devices-processes.ts';
import { RESTART_POLICY } from '../../hw-profiles/sim/restart-policy.ts';
import type { Rig } from '../../hw-profiles/sim/rig.ts';
import { osTool } from '../helpers/os-tools.ts';
import { running } from '../helpers/processes.ts';
import { control, testRig } from './rig-helpers.ts';

/** The device processes' ports are socat ptys. */
const socat = osTool('socat', 'socat');

function eventAt(rig: Rig, type: string, device: string): { at: string; [key: string]: unknown } {
  const event = rig.events.find((e) => e.type === type && e.device === device);
  expect(event, `${type} of ${device}`).toBeDefined();
  return event as { at: string; [key: string]: unknown };
}

describe.skipIf(!socat.available)('the rig supervises its device processes', () => {
  it('a device killed with kill -9 from outside comes back after RestartSec, unlocked; events and /status show it; the kill fault still power-cycles', async () => {
    const rig = await testRig({ seed: 'supervision', processes: true });
    try {
      const devices = rig.devices as ProcessDevices;
      for (const device of ['hot', 'cold'] as const) {
        const before = devices.pids()[device] as number;
        process.kill(before, 'SIGKILL');
        await rig.waitFor(() => devices.supervision()[device].restarts === 1 && devices.supervision()[device].state === 'running', `HSM-${device} to be restarted`, 600_000);
        const after = devices.pids()[device] as number;
        expect(after).not.toBe(before);
        expect(running(before)).toBe(false);
        expect(running(after)).toBe(true);

        const exited = eventAt(rig, 'device.exited', device);
        expect(exited).toMatchObject({ code: null, signal: 'SIGKILL' });
        expect(eventAt(rig, 'device.restarting', device)).toMatchObject({ exit: 'SIGKILL', inMs: RESTART_POLICY.delayMs });
        const restarted = eventAt(rig, 'device.restarted', device);
        expect(restarted).toMatchObject({ pid: after, restarts: 1 });
        // Restarted in world time no sooner than RestartSec after it died.
        expect(Date.parse(restarted.at) - Date.parse(exited.at)).toBeGreaterThanOrEqual(RESTART_POLICY.delayMs);
        await rig.waitFor(() => rig.hotClient.connected && devices.states()[device] !== '"restarting"', 'the platform to reach HSM-Hot again', 600_000);
      }

      const status = await control(rig, '/status');
      expect(status.status).toBe(200);
      expect(status.body.supervision).toMatchObject({
        hot: { state: 'running', restarts: 1, lastExit: { code: null, signal: 'SIGKILL' } },
        cold: { state: 'running', restarts: 1, lastExit: { code: null, signal: 'SIGKILL' } },
      });
      expect(status.body.devices.hot).toBe('running');

      // The kill fault is a power cycle the rig does itself: the device is back when it answers,
      // and it is no restart of the supervisor's.
      const hotBefore = devices.pids().hot as number;
      expect(await control(rig, '/control/fault', { fault: 'kill', device: 'hot' })).toEqual({ status: 200, body: { result: true } });
      expect(devices.pids().hot).not.toBe(hotBefore);
      expect(devices.supervision().hot).toMatchObject({ state: 'running', restarts: 1 });
      expect(rig.events.since().filter((e) => e.type === 'device.restarted')).toHaveLength(2);
    } finally {
      await rig.stop();
    }
  }, 900_000);
});
