/**
 * The rig with HSM-Hot and HSM-Cold as separate processes (`hsm sim --processes`): each
 * device holds its own ptys through the real serialport bindings; withdrawals go through; a
 * power cut (SIGKILL) of either device, and a noisy link, lose nothing.
 */
import { readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ProcessDevices } from '../../hw-profiles/sim/devices-processes.ts';
import type { Rig } from '../../hw-profiles/sim/rig.ts';
import { eventually } from '../helpers/eventually.ts';
import { osTool } from '../helpers/os-tools.ts';
import { channelOpen, control, openApi, testRig } from './rig-helpers.ts';

/** The device processes' ports are socat ptys. */
const socat = osTool('socat', 'socat');

const PAYEE = '1MCs9SZwLg9JvLo6pzvVBWtmSV1dakwyM1';

/** The ptys process `pid` has open, as /dev/pts paths. */
function openTerminals(pid: number): string[] {
  return readdirSync(`/proc/${pid}/fd`)
    .map((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        return '';
      }
    })
    .filter((target) => target.startsWith('/dev/pts/'));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function withdraw(rig: Rig, sats: number): Promise<string> {
  const id = rig.vweb.queueWithdrawal({ outs: `${PAYEE},${sats}`, dynamic: 1 });
  await rig.waitFor(() => ['done', 'failed'].includes(rig.vweb.withdrawal(id)?.state ?? ''), `withdrawal ${id}`, 1_800_000);
  expect(rig.vweb.withdrawal(id)?.state).toBe('done');
  return rig.vweb.withdrawal(id)?.txHash as string;
}

describe.skipIf(!socat.available)('the rig with separate device processes', () => {
  it('runs each device in its own process on real ptys; kills and link noise lose nothing', async () => {
    const rig = await testRig({ seed: 'processes', processes: true });
    try {
      expect(rig.ready.processes).toBe(true);
      const devices = rig.devices as ProcessDevices;
      expect(devices).toBeInstanceOf(ProcessDevices);
      const first = devices.pids();
      expect(first.hot).toBeTypeOf('number');
      expect(first.cold).toBeTypeOf('number');
      expect(new Set([first.hot, first.cold, process.pid]).size).toBe(3);
      // Each device holds its own end of the link; HSM-Cold holds both modems.
      const ports = devices.ports();
      const hotTerminals = openTerminals(first.hot as number);
      expect(hotTerminals).toContain(realpathSync(ports.linkHot));
      expect(hotTerminals).not.toContain(realpathSync(ports.linkCold));
      // A modem still coming up may have its port closed for a moment between two attempts.
      const coldPorts = [realpathSync(ports.linkCold), ...ports.modems.map((m) => realpathSync(m))];
      await eventually(() => coldPorts.every((p) => openTerminals(first.cold as number).includes(p)), 'HSM-Cold holding its link and both modem ptys');

      const cId = await channelOpen(rig);
      const tx1 = await withdraw(rig, 20_000);

      // A power cut of HSM-Hot: a new process, the same device (identity, host API, nonces).
      expect(await control(rig, '/control/fault', { fault: 'kill', device: 'hot' })).toEqual({ status: 200, body: { result: true } });
      const second = devices.pids();
      expect(second.hot).not.toBe(first.hot);
      expect(alive(first.hot as number)).toBe(false);
      expect(second.cold).toBe(first.cold);
      expect(rig.ready.hostApi.identity).toBe(devices.hotIdentity);
      await rig.waitFor(() => rig.hotClient.connected, 'the platform to reconnect', 600_000);
      const tx2 = await withdraw(rig, 21_000);

      // A power cut of HSM-Cold: the channel survives, approvals go on.
      await control(rig, '/control/fault', { fault: 'kill', device: 'cold' });
      const third = devices.pids();
      expect(third.cold).not.toBe(first.cold);
      expect(alive(first.cold as number)).toBe(false);
      const tx3 = await withdraw(rig, 22_000);
      expect(rig.vDevice?.currentChannel()?.cId).toBe(cId);

      // A noisy link between the two processes: frames are resent, nothing is applied twice.
      await control(rig, '/control/fault', { fault: 'link-noise', bitFlipRate: 0.0005 });
      const tx4 = await withdraw(rig, 23_000);
      await control(rig, '/control/fault', { fault: 'link-noise', bitFlipRate: 0 });
      expect(new Set([tx1, tx2, tx3, tx4]).size).toBe(4);
      for (const tx of [tx1, tx2, tx3, tx4]) expect(rig.chain.transaction(tx)).toBeDefined();
      for (const tx of [tx1, tx4]) expect((await rig.settle(openApi(rig, `/tx/detail/${tx}`), 'the tx detail')).status).toBe(200);
      expect(rig.events.find((e) => e.type === 'fault.injected' && e.fault === 'kill' && e.device === 'cold')).toBeDefined();
    } finally {
      const pids = (rig.devices as ProcessDevices).pids();
      await rig.stop();
      for (const pid of [pids.hot, pids.cold]) if (pid !== undefined) expect(alive(pid)).toBe(false);
    }
  }, 600_000);
});
