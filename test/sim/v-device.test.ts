import { describe, expect, it } from 'vitest';
import { CHAIN, accountSpec, deriveAddresses, exportAccountXpub, importAccountXpub, mnemonicToSeed } from '../../shared/crypto/hd.ts';
import { NETWORKS } from '../../shared/crypto/networks.ts';
import { Modem } from '../../shared/gsm/modem.ts';
import { EmulatedModemDevice } from '../../hw-profiles/sim/gsm/modem-device.ts';
import { VDevice, type VDeviceEvent } from '../../hw-profiles/sim/phone/v-device.ts';
import { Vweb } from '../../hw-profiles/sim/host/vweb.ts';
import { ADMIN, MNEMONIC, V_DEVICE } from '../cold/fixture.ts';
import { COLD_SIM1, COLD_SIM2, coldWorld, settle, until } from '../cold/world.ts';

describe('V-Device emulator against HSM-Cold over the simulated network', () => {
  it('opens a channel with the exact strings, checks batches for vweb, and answers the administrator', async () => {
    const w = await coldWorld();
    const sim = w.network.issueSim({ carrierId: 'B', msisdn: V_DEVICE });
    const phone = new EmulatedModemDevice({ clock: w.clock, network: w.network, sim, profile: 'default', random: w.random.fork('phone') });
    const modem = new Modem({ clock: w.clock, name: 'phone', openPort: () => phone.openHostPort(), random: w.random.fork('phone-driver') });
    await settle(w.clock, modem.start());
    const vweb = new Vweb({ clock: w.clock, random: w.random.fork('vweb'), password: '20160721' });
    const vwebUrl = await vweb.listen();
    const vDevice = new VDevice({
      clock: w.clock,
      random: w.random.fork('v-device'),
      modem,
      coldNumbers: [COLD_SIM1, COLD_SIM2],
      adminNumbers: [ADMIN],
      coin: 'BTC',
      network: 'mainnet',
      platform: { baseUrl: 'http://127.0.0.1:9', token: 'unused' },
      vweb: { baseUrl: vwebUrl, password: '20160721' },
      channel: { at: '03:00', timeZone: 'Asia/Shanghai', replyFrom: '23:00', replyTo: '02:00' },
      loop: { pollMs: 30_000, txPollMs: 5_000, txTimeoutMs: 600_000, balanceThreshold: 0n, autoStart: false },
    });
    const events: VDeviceEvent[] = [];
    vDevice.onEvent((e) => events.push(e));
    vDevice.start();
    await settle(w.clock, vDevice.requestChannel());
    await until(w.clock, () => vDevice.currentChannel() !== undefined && w.cold.status().channel !== undefined);
    expect(vDevice.currentChannel()?.cId).toBe(w.cold.status().channel?.cId);
    expect(events.filter((e) => e.type === 'sms.out').map((e) => (e as { text: string }).text)).toEqual([
      expect.stringMatching(/^CC:QH:0[23][0-9A-F]{64}:H_ID:1:$/),
      expect.stringMatching(/^CC:CHANNEL_OK:\d+:$/),
    ]);

    const spec = accountSpec(NETWORKS['btc-main'], 'p2pkh', 0);
    const cold = deriveAddresses(importAccountXpub(exportAccountXpub(mnemonicToSeed(MNEMONIC), spec), spec), spec, CHAIN.external, 0, 1000);
    vweb.queueBatchCheck(0, cold, 'cold');
    const tampered = [...cold];
    tampered[500] = cold[501]!;
    vweb.queueBatchCheck(0, tampered, 'cold');
    await settle(w.clock, vDevice.workOnce(), 900_000);
    await settle(w.clock, vDevice.workOnce(), 900_000);
    expect(vweb.batches.map((b) => b.state)).toEqual(['passed', 'failed']);

    w.network.sendFromOutside({ from: ADMIN, to: V_DEVICE, text: 'TIME' });
    await until(w.clock, () => w.received(ADMIN).some((t) => t.startsWith('CC:V:')));
    expect(w.received(ADMIN).find((t) => t.startsWith('CC:V:'))).toMatch(/^CC:V:2026-03-10 23:\d\d:\d\d$/);
    w.network.sendFromOutside({ from: ADMIN, to: V_DEVICE, text: 'START_LOOP' });
    await until(w.clock, () => vDevice.loopRunning);
    vDevice.stop();
    await vweb.close();
    await modem.stop();
    await w.shutdown();
  }, 120_000);
});
