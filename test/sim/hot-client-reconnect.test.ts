/**
 * The platform's host-API client (hw-profiles/sim/host/hot-client.ts) when HSM-Hot's host API
 * goes away under it: HSM-Hot is locked (its host API stops, every connection is dropped by
 * the device) and unlocked again. The client must come back by itself, with its nonces still
 * above the device's record and without the time-based jump it uses to recover from a stale
 * nonce record, follow the journal without a gap or a repeat, and requests must go through.
 */
import { describe, expect, it } from 'vitest';
import { lastNonce } from '../../hsm-hot/api-keys.ts';
import { journalCollection } from '../../hsm-hot/journal.ts';
import type { InProcessDevices } from '../../hw-profiles/sim/devices.ts';
import { GatewayLedger } from '../../hw-profiles/sim/host/gateway-ledger.ts';
import type { HotMessage } from '../../hw-profiles/sim/host/hot-client.ts';
import type { Rig } from '../../hw-profiles/sim/rig.ts';
import type { WorldStore } from '../../hw-profiles/sim/world-store.ts';
import { channelOpen, openApi, testRig } from './rig-helpers.ts';

const PAYEE = '1MCs9SZwLg9JvLo6pzvVBWtmSV1dakwyM1';

async function withdraw(rig: Rig, outs: string): Promise<number> {
  const id = rig.vweb.queueWithdrawal({ outs, dynamic: 0 });
  await rig.waitFor(() => ['done', 'failed'].includes(rig.vweb.withdrawal(id)?.state ?? ''), `withdrawal ${id}`, 1_800_000);
  expect(rig.vweb.withdrawal(id)?.state).toBe('done');
  return id;
}

describe('the host-API client across a drop of HSM-Hot host API', () => {
  it('reconnects after HSM-Hot is locked and unlocked; nonces and journal continue, requests go through', async () => {
    const rig = await testRig({ seed: 'hot-client-reconnect' });
    try {
      const devices = rig.devices as InProcessDevices;
      const hot = devices.hot;
      const clientState = GatewayLedger.clientState((rig as unknown as { world: WorldStore }).world.store);
      const handled: number[] = [];
      rig.hotClient.onJournal((m: HotMessage) => void handled.push(m.id as number));
      const transitions: boolean[] = [];
      rig.hotClient.onConnection((up) => void transitions.push(up));

      await channelOpen(rig);
      await withdraw(rig, `${PAYEE},20000`);
      const urlBefore = hot.hostUrl;
      const nonceBefore = clientState.lastNonce();
      expect(lastNonce(hot.store, rig.keys.platformPublicKey)).toBe(nonceBefore);

      await rig.settle(hot.lock(), 'HSM-Hot to lock');
      await rig.waitFor(() => transitions.length === 1, 'the client to see the drop', 60_000);
      expect(rig.hotClient.connected).toBe(false);
      // While the device is away, requests fail cleanly at the gateway.
      const away = await rig.settle(openApi(rig, '/address/batch/7'), 'the batch request while HSM-Hot is locked');
      expect(away.status).toBe(503);
      // HSM-Cold has news while HSM-Hot is away: three CHANNEL_OK naming no pending channel
      // make an alert, which waits in HSM-Cold's outbox for the link.
      const { coldSim1, vDevice } = rig.ready.numbers;
      for (const bogus of [1, 2, 3]) rig.network.sendFromOutside({ from: vDevice, to: coldSim1, text: `CC:CHANNEL_OK:${bogus}:` });
      // Meanwhile the client's back-off grows to its longest step.
      await rig.advance(90_000);
      await rig.settle(hot.unlock(rig.keys.hotPin), 'HSM-Hot to unlock');
      expect(hot.hostUrl).toBe(urlBefore);
      const isAlert = (e: { value: { msg: string; wire: string } }) => e.value.msg === 'event' && (JSON.parse(e.value.wire) as { data: { kind: string } }).data.kind === 'alert';
      await rig.waitFor(() => [...hot.store.range(journalCollection)].some(isAlert), 'the alert in the journal of HSM-Hot', 120_000);
      const alertId = [...hot.store.range(journalCollection)].find(isAlert)?.key as number;
      // It was published while the client was away: only the catch-up can bring it.
      expect(transitions).toEqual([false]);

      // A session counts once it is subscribed and has caught up with the journal.
      await rig.waitFor(() => transitions.length === 2, 'the client to reconnect', 120_000);
      expect(transitions).toEqual([false, true]);
      expect(rig.hotClient.connected).toBe(true);
      // The device accepted the client's next nonces; no jump to a time-based nonce was needed.
      const nonceAfter = clientState.lastNonce();
      expect(nonceAfter).toBeGreaterThan(nonceBefore);
      expect(nonceAfter).toBeLessThan(nonceBefore + 100);
      expect(lastNonce(hot.store, rig.keys.platformPublicKey)).toBe(nonceAfter);

      await rig.waitFor(() => hot.linkUp, 'the HSM link again', 120_000);
      await withdraw(rig, `${PAYEE},21000`);
      const batch = await rig.settle(openApi(rig, '/address/batch/7'), 'the batch request after the reconnection');
      expect(batch.status).toBe(200);
      expect(batch.body).toHaveLength(1000);

      // Every journal message once, in order, none missed while the client was away.
      const journal = [...hot.store.range(journalCollection)].map((e) => e.key as number);
      await rig.waitFor(() => handled.length >= journal.length, 'the client to follow the journal', 60_000);
      expect(handled).toEqual(journal);
      expect(handled).toEqual(handled.map((_, i) => i + 1));
      expect(handled).toContain(alertId);
      expect(rig.events.since(0).filter((e) => e.type === 'cold.alert' && e.journalId === alertId)).toHaveLength(1);
      expect(clientState.lastJournalId()).toBe(journal.at(-1));
      expect(rig.events.since(0).filter((e) => e.type === 'hot.tx-status' && e.status === 1)).toHaveLength(2);
    } finally {
      await rig.stop();
    }
  }, 300_000);
});
