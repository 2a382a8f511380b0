/**
 * The emulated V-Device against HSM-Cold over the simulated network, held to the released
 * app's behaviour (spec "What the released app does"): where it sends, whom it hears, how it
 * parses, what it answers, its windows and alarm, and where its keys rest.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CHAIN, accountSpec, deriveAddresses, exportAccountXpub, importAccountXpub, mnemonicToSeed } from '../../shared/crypto/hd.ts';
import { NETWORKS } from '../../shared/crypto/networks.ts';
import { Modem } from '../../shared/gsm/modem.ts';
import { zonedToEpoch } from '../../shared/time-zone.ts';
import { EmulatedModemDevice } from '../../hw-profiles/sim/gsm/modem-device.ts';
import { Vweb } from '../../hw-profiles/sim/host/vweb.ts';
import { VDevice, type VDeviceEvent } from '../../hw-profiles/sim/phone/v-device.ts';
import { ADMIN, MNEMONIC, V_DEVICE, baseConfig } from '../cold/fixture.ts';
import { COLD_SIM1, COLD_SIM2, coldWorld, settle, until, type ColdWorld } from '../cold/world.ts';
import { tempDir } from '../helpers/temp.ts';

const national = (n: string): string => n.replace(/^\+86/, '');

interface Phone {
  w: ColdWorld;
  vDevice: VDevice;
  vweb: Vweb;
  events: VDeviceEvent[];
  stateFile: string;
  /** Texts the V-Device sent, in order, with their destination. */
  sent(): Array<{ to: string; text: string }>;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** HSM-Cold as the simulated world sets it up: its window holds the app's 03:00 UTC+8 alarm. */
const WORLD_ROTATION = { from: '23:00', to: '04:00', timeZone: 'Asia/Shanghai', maxAgeHours: 26, pendingMinutes: 30, firstChannelAnytime: true };

async function phone(start?: number, options: { failover?: boolean } = {}): Promise<Phone> {
  const w = await coldWorld({ ...(start === undefined ? {} : { start }), config: baseConfig({ rotation: WORLD_ROTATION }) });
  const sim = w.network.issueSim({ carrierId: 'B', msisdn: V_DEVICE });
  const device = new EmulatedModemDevice({ clock: w.clock, network: w.network, sim, profile: 'default', random: w.random.fork('phone') });
  const modem = new Modem({ clock: w.clock, name: 'phone', openPort: () => device.openHostPort(), random: w.random.fork('phone-driver') });
  await settle(w.clock, modem.start());
  const vweb = new Vweb({ clock: w.clock, random: w.random.fork('vweb'), password: '20160721' });
  const vwebUrl = await vweb.listen();
  const stateFile = join(tempDir('v-device-state-'), 'v-device.json');
  const vDevice = new VDevice({
    clock: w.clock,
    random: w.random.fork('v-device'),
    modem,
    settings: { hsmPhone1: national(COLD_SIM1), hsmPhone2: national(COLD_SIM2), adminPhone: national(ADMIN), vwebPassword: '20160721' },
    network: 'mainnet',
    api: { platform: { baseUrl: 'http://127.0.0.1:9', token: 'unused', altToken: 'unused' }, vweb: { baseUrl: vwebUrl, token: 'vweb' } },
    timeZone: 'Asia/Shanghai',
    loop: { autoStart: false },
    addressLoopMs: 60_000,
    stateFile,
    ...(options.failover === true ? { extensions: { secondNumberFailover: { afterMs: 60_000 } } } : {}),
  });
  const events: VDeviceEvent[] = [];
  vDevice.onEvent((e) => events.push(e));
  vDevice.start();
  cleanups.push(async () => {
    vDevice.stop();
    await vweb.close();
    await modem.stop();
    await w.shutdown();
  });
  const sent = (): Array<{ to: string; text: string }> => events.filter((e): e is Extract<VDeviceEvent, { type: 'sms.out' }> => e.type === 'sms.out').map((e) => ({ to: e.to, text: e.text }));
  return { w, vDevice, vweb, events, stateFile, sent };
}

/** Opens the first channel the way the app's user does (Create), and waits for HSM-Cold to open it. */
async function firstChannel(p: Phone): Promise<number> {
  await settle(p.w.clock, p.vDevice.createChannel({ byHand: true }));
  await until(p.w.clock, () => p.vDevice.currentChannel() !== undefined && p.w.cold.status().channel !== undefined);
  return p.vDevice.currentChannel()?.cId as number;
}

const adminGot = (p: Phone): string[] => p.w.received(ADMIN);

describe('the V-Device as the released app behaves', () => {
  it('sends QH and CHANNEL_OK to the first number only, with the exact strings; its keys rest in a 0600 file', async () => {
    const p = await phone();
    const cId = await firstChannel(p);
    expect(p.vDevice.currentChannel()?.cId).toBe(p.w.cold.status().channel?.cId);
    // Dialled as typed into the app, without +86; the network routes it to SIM1.
    expect(p.sent()).toEqual([
      { to: national(COLD_SIM1), text: expect.stringMatching(/^CC:QH:0[23][0-9A-F]{64}:H_ID:1:$/) },
      { to: national(COLD_SIM1), text: `CC:CHANNEL_OK:${cId}:` },
    ]);
    expect(p.w.network.deliveries({ to: COLD_SIM1 }).map((d) => d.from)).toEqual([V_DEVICE, V_DEVICE]);
    expect(statSync(p.stateFile).mode & 0o777).toBe(0o600);
  }, 120_000);

  it('checks a batch for vweb, reporting coin_type; a tampered list fails', async () => {
    const p = await phone();
    await firstChannel(p);
    const spec = accountSpec(NETWORKS['btc-main'], 'p2pkh', 0);
    const cold = deriveAddresses(importAccountXpub(exportAccountXpub(mnemonicToSeed(MNEMONIC), spec), spec), spec, CHAIN.external, 0, 1000);
    p.vweb.queueBatchCheck(0, cold, 'cold');
    await until(p.w.clock, () => p.vweb.batches[0]?.state === 'passed', 900_000, 1_000);
    const tampered = [...cold];
    tampered[500] = cold[501] as string;
    p.vweb.queueBatchCheck(1, tampered, 'cold', 0);
    await until(p.w.clock, () => p.vweb.batches[1]?.state !== 'queued' && p.vweb.batches[1]?.state !== 'handed-out', 900_000, 1_000);
    expect(p.vweb.batches.map((b) => b.state)).toEqual(['passed', 'failed']);
    expect(p.sent().filter((s) => s.text.startsWith('CC:VERIFY_COLD_ADDRESSES:')).map((s) => s.to)).toEqual([national(COLD_SIM1), national(COLD_SIM1)]);
  }, 240_000);

  it("answers the administrator's commands with the app's exact texts, and nothing else", async () => {
    const p = await phone();
    await firstChannel(p);
    const before = adminGot(p).length;
    const ask = async (text: string, replies: number): Promise<string[]> => {
      const from = adminGot(p).length;
      p.w.network.sendFromOutside({ from: ADMIN, to: V_DEVICE, text });
      await until(p.w.clock, () => adminGot(p).length >= from + replies, 120_000);
      await p.w.clock.advance(30_000); // and nothing more comes
      return adminGot(p).slice(from);
    };
    expect(await ask('CC:TIME', 1)).toEqual([expect.stringMatching(/^CC:V:2026-03-10 23:\d\d:\d\d$/)]);
    expect(await ask('CC:START_LOOP', 1)).toEqual(['the loop is started']);
    expect(p.vDevice.loopRunning).toBe(true);
    expect(await ask('CC:STOP_LOOP', 1)).toEqual(['the loop is stopped']);
    expect(p.vDevice.loopRunning).toBe(false);
    expect(await ask('CC:SELF_DESTRUCT', 1)).toEqual(['sms format is error']);
    expect(await ask('hello', 1)).toEqual(['sms format is error']);
    expect(await ask('you said: SMS FORMAT IS ERROR', 0)).toEqual([]);
    expect(await ask('CC:TIME:NOW', 0)).toEqual([]); // more than one field: not an admin command
    expect(adminGot(p).length).toBe(before + 5);
  }, 240_000);

  it('parses as Java splits, ignores unknown CC: messages silently, and reports senders it cannot hear', async () => {
    const p = await phone();
    await firstChannel(p);
    const sentBefore = p.sent().length;
    p.w.network.sendFromOutside({ from: COLD_SIM1, to: V_DEVICE, text: 'CC:SOMETHING:NEW:' });
    p.w.network.sendFromOutside({ from: '+8613700000009', to: V_DEVICE, text: 'CC:TIME' });
    await until(p.w.clock, () => p.events.filter((e) => e.type === 'sms.ignored').length >= 2, 120_000);
    await p.w.clock.advance(30_000);
    expect(p.sent().length).toBe(sentBefore);
    const ignored = p.events.filter((e) => e.type === 'sms.ignored') as Array<{ from: string; reason: string }>;
    expect(ignored.find((e) => e.from === '+8613700000009')?.reason).toContain('+86');
    expect(ignored.find((e) => e.from === COLD_SIM1)?.reason).toContain('SOMETHING');
  }, 240_000);

  it('takes a QC outside its window only while the channel is creating: the 03:00 UTC+8 alarm works, a stray QC does not', async () => {
    // 02:50 Shanghai (UTC+8) on 11 March: outside the app's 23:00-01:59 window.
    const p = await phone(zonedToEpoch({ year: 2026, month: 3, day: 11, hour: 2, minute: 50 }, 'Asia/Shanghai'));
    await firstChannel(p);
    const first = p.vDevice.currentChannel()?.cId as number;
    // A QC the phone did not ask for, outside the window: refused, the administrator told.
    p.w.network.sendFromOutside({ from: COLD_SIM1, to: V_DEVICE, text: `CC:QC:${p.vDevice.currentChannel()?.qc}:C_ID:99:H_ID:1:` });
    await until(p.w.clock, () => adminGot(p).includes('channel establish--time is not ok'), 120_000);
    expect(p.vDevice.currentChannel()?.cId).toBe(first);
    // The alarm at 03:00 UTC+8: a new channel, its QC taken because it is still creating.
    await until(p.w.clock, () => p.events.some((e) => e.type === 'channel.requested' && !e.byHand), 30 * 60_000, 1_000);
    await until(p.w.clock, () => (p.vDevice.currentChannel()?.cId ?? 0) > first, 600_000);
    const second = p.vDevice.currentChannel()?.cId as number;
    // Signed with the new channel right after CHANNEL_OK, and HSM-Cold opened it.
    await until(p.w.clock, () => p.w.cold.status().channel?.cId === second, 600_000);
  }, 240_000);

  it('keeps sending to SIM1 only when carrier A is down; the SIM2 failover is an option', async () => {
    for (const failover of [false, true]) {
      const p = await phone(undefined, { failover });
      await firstChannel(p);
      p.w.network.setCarrierUp('A', false);
      p.vweb.queueBatchCheck(0, ['1NbbvxBYxGGCBhaM8mow1HFWA7dB5yukmY'], 'cold');
      await until(p.w.clock, () => p.sent().some((s) => s.text.startsWith('CC:VERIFY_COLD_ADDRESSES:0:BTC:')), 300_000, 1_000);
      await until(p.w.clock, () => p.events.some((e) => e.type === 'batch.checked'), 5 * 60_000, 1_000).catch(() => undefined);
      const destinations = new Set(p.sent().filter((s) => s.text.startsWith('CC:VERIFY_COLD')).map((s) => s.to));
      expect([...destinations].sort()).toEqual(failover ? [national(COLD_SIM1), national(COLD_SIM2)] : [national(COLD_SIM1)]);
      expect(p.events.some((e) => e.type === 'batch.checked')).toBe(failover);
      await cleanups.pop()?.();
    }
  }, 480_000);
});
