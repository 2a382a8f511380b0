/**
 * The emulated V-Device's work loop in the simulated world, as the released app runs it: a
 * POST the platform cannot take now (HSM-Hot out of reach, 503) is not a failure; the app pulls
 * the same withdrawal again, signs and posts it again, takes the platform's code 3 as "posted",
 * polls, and reports the payment once. A PING answers the administrator.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rig } from '../../hw-profiles/sim/rig.ts';
import { channelOpen, testRig } from './rig-helpers.ts';

const PAYEE = '1MCs9SZwLg9JvLo6pzvVBWtmSV1dakwyM1';
let rig: Rig;

beforeAll(async () => {
  rig = await testRig({ seed: 'v-device-loop' });
  await channelOpen(rig);
}, 180_000);

afterAll(async () => {
  await rig?.stop();
});

const posted = (vtestId: number): string[] =>
  rig.events
    .since(0)
    .filter((e) => e.type === 'v-device.withdrawal.posted' && e.vtestId === String(vtestId))
    .map((e) => e.outcome as string);

describe("the V-Device's work loop", () => {
  it('re-pulls, re-signs and re-posts after a 503, takes code 3 as posted, and reports the payment once', async () => {
    await rig.hotClient.stop(); // the platform cannot reach HSM-Hot
    const vtestId = rig.vweb.queueWithdrawal({ outs: `${PAYEE},40000`, dynamic: 1 });
    await rig.waitFor(() => posted(vtestId).includes('duplicate'), 'the app to post the withdrawal again', 600_000);
    expect(posted(vtestId).slice(0, 2)).toEqual(['failed', 'duplicate']);
    expect(rig.vweb.withdrawal(vtestId)?.state).toBe('handed-out'); // not reported as failed
    await rig.settle(rig.hotClient.start(), 'the platform to reach HSM-Hot again');
    await rig.waitFor(() => rig.vweb.withdrawal(vtestId)?.state === 'done', 'the withdrawal to be reported', 1_800_000);
    const txHash = rig.vweb.withdrawal(vtestId)?.txHash as string;
    expect(rig.chain.transaction(txHash)?.outputs.some((o) => o.address === PAYEE && o.value === 40_000n)).toBe(true);
    const paid = rig.chain.history(() => true).filter((t) => t.outputs.some((o) => o.address === PAYEE && o.value === 40_000n));
    expect(paid).toHaveLength(1);
    expect(rig.events.since(0).filter((e) => e.type === 'vweb.withdrawal-reported' && e.vtestId === vtestId)).toHaveLength(1);
  });

  it("answers the administrator's CC:PING with ping is ok after an end-to-end round trip", async () => {
    const admin = rig.ready.numbers.admin;
    const before = rig.network.deliveries({ to: admin }).length;
    rig.network.sendFromOutside({ from: admin, to: rig.ready.numbers.vDevice, text: 'CC:PING' });
    await rig.waitFor(() => rig.network.deliveries({ to: admin }).length > before, 'the PING answer', 600_000);
    expect(rig.network.deliveries({ to: admin }).slice(before).map((d) => d.text)).toEqual(['ping is ok']);
    expect(rig.events.since(0).some((e) => e.type === 'gateway.request' && e.outs === 'PING')).toBe(true);
  });
});
