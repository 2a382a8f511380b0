import { describe, expect, it } from 'vitest';
import { parseColdMessage } from '../../shared/chaincloud/sms.ts';
import { expectHsmError } from '../helpers/errors.ts';
import {
  channelById,
  closeOperatorWindow,
  currentChannel,
  handleChannelOk,
  handleChannelRequest,
  openOperatorWindow,
  pendingChannel,
  sweepChannels,
  windowState,
} from '../../hsm-cold/channel.ts';
import { COLD_RECORDS, channelKeySecret } from '../../hsm-cold/records.ts';
import { ADMIN, V_DEVICE, VDeviceKeys, at, baseConfig, coldFixture, type ColdFixture } from './fixture.ts';

function openChannel(f: ColdFixture, keys: VDeviceKeys): { cId: number; qc: string; secret: Uint8Array } {
  const key = keys.next();
  const result = f.svc.store.transact((tx) => handleChannelRequest(f.svc, tx, V_DEVICE, key));
  expect(result.accepted).toBe(true);
  const reply = parseColdMessage(f.sent.at(-1)!.text);
  if (reply.kind !== 'channel-reply') throw new Error('expected a QC reply');
  expect(reply.hId).toBe(key.hId);
  f.svc.store.transact((tx) => handleChannelOk(f.svc, tx, V_DEVICE, reply.cId));
  return { cId: reply.cId, qc: reply.qc, secret: key.secret };
}

describe('channel set-up (CC:QH → CC:QC → CC:CHANNEL_OK)', () => {
  it('answers a request in the window with the exact QC reply, to the requesting V-Device, and opens on CHANNEL_OK', async () => {
    const f = coldFixture();
    const keys = new VDeviceKeys();
    const key = keys.next();
    const result = f.svc.store.transact((tx) => handleChannelRequest(f.svc, tx, V_DEVICE, key));
    expect(result).toMatchObject({ accepted: true });
    expect(f.sent).toHaveLength(1);
    expect(f.sent[0]!.to).toBe(V_DEVICE);
    expect(f.sent[0]!.text).toMatch(new RegExp(`^CC:QC:0[23][0-9A-F]{64}:C_ID:${result.cId}:H_ID:${key.hId}$`));
    expect(pendingChannel(f.svc.store)?.cId).toBe(result.cId);
    expect(f.svc.vault.hasSecret(channelKeySecret(result.cId!))).toBe(true);
    const ok = f.svc.store.transact((tx) => handleChannelOk(f.svc, tx, V_DEVICE, result.cId!));
    expect(ok.opened).toBe(true);
    expect(currentChannel(f.svc.store)).toMatchObject({ cId: result.cId, status: 'open', qh: key.qh });
    expect(f.events.map((e) => e.kind)).toEqual(['channel.opened']);
    await f.close();
  });

  it('gives strictly increasing, unpredictable channel ids', async () => {
    const f = coldFixture();
    const keys = new VDeviceKeys();
    const ids: number[] = [];
    for (let night = 0; night < 5; night++) {
      f.clock.advanceSync(night === 0 ? 0 : 86_400_000);
      f.trustTime();
      ids.push(openChannel(f, keys).cId);
    }
    for (let i = 1; i < ids.length; i++) expect(ids[i]!).toBeGreaterThan(ids[i - 1]!);
    const steps = ids.slice(1).map((id, i) => id - ids[i]!);
    expect(new Set(steps).size).toBeGreaterThan(1);
    await f.close();
  });

  it('the previous channel stays valid until the new one is confirmed, then it is retired and its key erased', async () => {
    const f = coldFixture();
    const keys = new VDeviceKeys();
    const first = openChannel(f, keys);
    f.clock.advanceSync(86_400_000); // next night, 23:30
    f.trustTime();
    const key = keys.next();
    const req = f.svc.store.transact((tx) => handleChannelRequest(f.svc, tx, V_DEVICE, key));
    expect(currentChannel(f.svc.store)?.cId).toBe(first.cId);
    f.svc.store.transact((tx) => handleChannelOk(f.svc, tx, V_DEVICE, req.cId!));
    expect(currentChannel(f.svc.store)?.cId).toBe(req.cId);
    expect(channelById(f.svc.store, first.cId)).toMatchObject({ status: 'retired' });
    expect(f.svc.vault.hasSecret(channelKeySecret(first.cId))).toBe(false);
    expect(f.events.map((e) => e.kind)).toEqual(['channel.opened', 'channel.retired', 'channel.opened']);
    await f.close();
  });
});

describe('the rotation window', () => {
  it('refuses requests outside 23:00-02:00 local and answers nothing', async () => {
    const f = coldFixture({ start: at(14, 0) });
    const result = f.svc.store.transact((tx) => handleChannelRequest(f.svc, tx, V_DEVICE, new VDeviceKeys().next()));
    expect(result.accepted).toBe(false);
    expect(result.reason).toContain('outside the rotation window (23:00-02:00 Asia/Shanghai)');
    expect(f.sent).toEqual([]);
    for (const [h, m, open] of [
      [22, 59, false],
      [23, 0, true],
      [1, 59, true],
      [2, 0, false],
    ] as const) {
      f.clock.advanceSync(at(h, m, h < 12 ? 1 : 0) - f.clock.now());
      f.trustTime();
      expect(windowState(f.svc, f.svc.store, f.clock.now()).open).toBe(open);
    }
    await f.close();
  });

  it('does not open by itself when the clock is not trusted', async () => {
    const f = coldFixture({ start: at(23, 10) });
    f.svc.store.transact((tx) => tx.put(COLD_RECORDS.timeSamples, 'hot', { offsetMs: 3_600_000, at: f.clock.now(), value: f.clock.now() + 3_600_000 }));
    const state = windowState(f.svc, f.svc.store, f.clock.now());
    expect(state.open).toBe(false);
    expect(state.reason).toContain('hot time differs from the local clock by 3600 s');
    f.clock.advanceSync(2 * 3_600_000); // samples go stale: still not trusted
    expect(windowState(f.svc, f.svc.store, at(23, 50)).reason).toMatch(/not trusted/);
    await f.close();
  });

  it('an operator can open it for some minutes; it closes by itself, or by command', async () => {
    const f = coldFixture({ start: at(10, 0) });
    expectHsmError(() => f.svc.store.transact((tx) => openOperatorWindow(f.svc, tx, 0)), 'BAD_WINDOW', 'minutes');
    f.svc.store.transact((tx) => openOperatorWindow(f.svc, tx, 15));
    expect(windowState(f.svc, f.svc.store, f.clock.now()).open).toBe(true);
    f.clock.advanceSync(16 * 60_000);
    f.svc.store.transact((tx) => sweepChannels(f.svc, tx, f.clock.now()));
    expect(windowState(f.svc, f.svc.store, f.clock.now()).open).toBe(false);
    f.svc.store.transact((tx) => openOperatorWindow(f.svc, tx, 60));
    f.svc.store.transact((tx) => closeOperatorWindow(f.svc, tx));
    expect(windowState(f.svc, f.svc.store, f.clock.now()).open).toBe(false);
    await f.close();
  });

  it('may allow the very first channel at any time, once', async () => {
    const f = coldFixture({ start: at(10, 0), config: baseConfig({ rotation: { firstChannelAnytime: true, timeZone: 'Asia/Shanghai' } }) });
    const keys = new VDeviceKeys();
    openChannel(f, keys);
    const second = f.svc.store.transact((tx) => handleChannelRequest(f.svc, tx, V_DEVICE, keys.next()));
    expect(second.accepted).toBe(false);
    await f.close();
  });
});

describe('expiry, timeouts and forgeries', () => {
  it('an open channel expires 26 h after opening; a pending one is dropped after 30 min', async () => {
    const f = coldFixture();
    const keys = new VDeviceKeys();
    const { cId } = openChannel(f, keys);
    f.clock.advanceSync(25 * 3_600_000);
    f.svc.store.transact((tx) => sweepChannels(f.svc, tx, f.clock.now()));
    expect(channelById(f.svc.store, cId)?.status).toBe('open');
    f.clock.advanceSync(3_600_000);
    f.svc.store.transact((tx) => sweepChannels(f.svc, tx, f.clock.now()));
    expect(channelById(f.svc.store, cId)?.status).toBe('expired');
    expect(f.svc.vault.hasSecret(channelKeySecret(cId))).toBe(false);
    expect(f.events.at(-1)?.kind).toBe('channel.expired');

    f.clock.advanceSync(22 * 3_600_000); // 23:30 two days on
    f.trustTime();
    const pending = f.svc.store.transact((tx) => handleChannelRequest(f.svc, tx, V_DEVICE, keys.next()));
    f.clock.advanceSync(31 * 60_000);
    const ok = f.svc.store.transact((tx) => handleChannelOk(f.svc, tx, V_DEVICE, pending.cId!));
    expect(ok.opened).toBe(false);
    expect(channelById(f.svc.store, pending.cId!)).toMatchObject({ status: 'closed', closeReason: 'not confirmed in time' });
    await f.close();
  });

  it('CHANNEL_OK naming no pending channel changes nothing; three of them alert the administrators', async () => {
    const f = coldFixture();
    const keys = new VDeviceKeys();
    const req = f.svc.store.transact((tx) => handleChannelRequest(f.svc, tx, V_DEVICE, keys.next()));
    for (const guess of [req.cId! + 1, req.cId! + 2]) expect(f.svc.store.transact((tx) => handleChannelOk(f.svc, tx, V_DEVICE, guess)).opened).toBe(false);
    expect(f.sent.filter((s) => s.to === ADMIN)).toHaveLength(0);
    f.svc.store.transact((tx) => handleChannelOk(f.svc, tx, '+8613800009999', req.cId!)); // the right id from another number
    expect(pendingChannel(f.svc.store)?.cId).toBe(req.cId);
    const alert = f.sent.find((s) => s.to === ADMIN);
    expect(alert?.text).toContain('HSM-COLD ALERT: 3 CHANNEL_OK messages naming no pending channel');
    await f.close();
  });

  it('a repeated request gets the same reply; a different second request alerts and supersedes the first', async () => {
    const f = coldFixture();
    const keys = new VDeviceKeys();
    const key = keys.next();
    const a = f.svc.store.transact((tx) => handleChannelRequest(f.svc, tx, V_DEVICE, key));
    const again = f.svc.store.transact((tx) => handleChannelRequest(f.svc, tx, V_DEVICE, key));
    expect(again.cId).toBe(a.cId);
    expect(f.sent[1]!.text).toBe(f.sent[0]!.text);
    const b = f.svc.store.transact((tx) => handleChannelRequest(f.svc, tx, V_DEVICE, keys.next()));
    expect(b.cId).toBeGreaterThan(a.cId!);
    expect(channelById(f.svc.store, a.cId!)).toMatchObject({ status: 'closed', closeReason: 'superseded by a newer request' });
    expect(f.sent.some((s) => s.to === ADMIN && s.text.includes('a second channel request in one window'))).toBe(true);
    await f.close();
  });
});

describe('time trust alerts', () => {
  it('alerts the administrators once when the clock stops being trusted, and again only after it recovered', async () => {
    const { watchTimeTrust } = await import('../../hsm-cold/time-trust.ts');
    const f = coldFixture({ start: at(12, 0) });
    const alerts = (): number => f.sent.filter((s) => s.to === ADMIN && s.text.includes('clock not trusted')).length;
    f.svc.store.transact((tx) => watchTimeTrust(f.svc, tx, f.clock.now()));
    expect(alerts()).toBe(0);
    f.svc.store.transact((tx) => tx.put(COLD_RECORDS.timeSamples, 'modem', { offsetMs: -600_000, at: f.clock.now(), value: f.clock.now() - 600_000 }));
    for (let i = 0; i < 3; i++) f.svc.store.transact((tx) => watchTimeTrust(f.svc, tx, f.clock.now()));
    expect(alerts()).toBe(1);
    expect(f.sent.find((s) => s.text.includes('clock not trusted'))?.text).toContain('modem time differs from the local clock by -600 s');
    f.trustTime();
    f.svc.store.transact((tx) => watchTimeTrust(f.svc, tx, f.clock.now()));
    f.svc.store.transact((tx) => tx.put(COLD_RECORDS.timeSamples, 'hot', { offsetMs: 900_000, at: f.clock.now(), value: f.clock.now() + 900_000 }));
    f.svc.store.transact((tx) => watchTimeTrust(f.svc, tx, f.clock.now()));
    expect(alerts()).toBe(2);
    await f.close();
  });
});
