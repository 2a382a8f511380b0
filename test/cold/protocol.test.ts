import { describe, expect, it } from 'vitest';
import { verifyApproval } from '../../shared/chaincloud/approval.ts';
import { formatVDeviceMessage, parseColdMessage } from '../../shared/chaincloud/sms.ts';
import { p2pkhAddress } from '../../shared/crypto/address.ts';
import { batchContentString } from '../../shared/crypto/batch-content.ts';
import { CHAIN, accountSpec, deriveAddresses, exportAccountXpub, importAccountXpub, mnemonicToSeed } from '../../shared/crypto/hd.ts';
import { NETWORKS } from '../../shared/crypto/networks.ts';
import type { HotSendRequest } from '../../shared/crypto/request-string.ts';
import { SYSTEM_COLLECTIONS } from '../../shared/store/system-collections.ts';
import { COLD_RECORDS } from '../../hsm-cold/records.ts';
import { bitcoinMessage } from '../oracle/bitcoinjs.ts';
import { MNEMONIC, VDeviceKeys, at, vcCode } from './fixture.ts';
import { ADMIN, COLD_SIM2, V_DEVICE, coldWorld, settle, until, type ColdWorld } from './world.ts';

const A = '1NbbvxBYxGGCBhaM8mow1HFWA7dB5yukmY';

async function openChannel(w: ColdWorld, keys: VDeviceKeys): Promise<{ cId: number; qc: string; secret: Uint8Array }> {
  const key = keys.next();
  const before = w.received().length;
  w.vDeviceSends(formatVDeviceMessage({ kind: 'channel-request', qh: key.qh, hId: key.hId }));
  await until(w.clock, () => w.received().length > before);
  const reply = parseColdMessage(w.received().at(-1)!);
  if (reply.kind !== 'channel-reply') throw new Error(`expected QC, got ${w.received().at(-1)}`);
  expect(reply.hId).toBe(key.hId);
  w.vDeviceSends(formatVDeviceMessage({ kind: 'channel-ok', cId: reply.cId }));
  await until(w.clock, () => w.cold.status().channel?.cId === reply.cId);
  return { cId: reply.cId, qc: reply.qc, secret: key.secret };
}

function approveRequest(w: ColdWorld, r: HotSendRequest, cId: number, vc: string): Promise<unknown> {
  return w.hot.link.rpc.call('cold.approve', { ...r, vcCode: vc, cId, requestedAt: w.clock.now() });
}

describe('HSM-Cold over emulated modems, network and link', () => {
  it('sets up a channel over SMS with the exact strings, and tells HSM-Hot', async () => {
    const w = await coldWorld();
    const { cId } = await openChannel(w, new VDeviceKeys());
    expect(w.received()).toHaveLength(1);
    expect(w.received()[0]).toMatch(new RegExp(`^CC:QC:0[23][0-9A-F]{64}:C_ID:${cId}:H_ID:1$`));
    await until(w.clock, () => w.hot.events.some((e) => e.kind === 'channel.opened'));
    expect(w.cold.snapshot.matches({ running: { channel: 'open' } })).toBe(true);
    await w.shutdown();
  });

  it('answers batch checks; the signatures verify with bitcoinjs-message against QC', async () => {
    const w = await coldWorld();
    const { qc } = await openChannel(w, new VDeviceKeys());
    const hotSeed = mnemonicToSeed('legal winner thank year wave sausage worth useful legal winner thank yellow');
    const hotSpec = accountSpec(NETWORKS['btc-main'], 'p2pkh', 0);
    const hotXpub = exportAccountXpub(hotSeed, hotSpec);
    await settle(w.clock, w.hot.link.rpc.call('cold.pin-xpubs', { accounts: [{ coin: 'BTC', network: 'btc-main', type: 'p2pkh', account: 0, xpub: hotXpub }] }));
    const qcAddress = p2pkhAddress(Buffer.from(qc, 'hex'), NETWORKS['btc-main']);
    for (const [addressType, xpub] of [
      ['cold', exportAccountXpub(mnemonicToSeed(MNEMONIC), hotSpec)],
      ['hot', hotXpub],
    ] as const) {
      const before = w.received().length;
      w.vDeviceSends(formatVDeviceMessage({ kind: 'verify-addresses', addressType, batchNo: 1, coin: 'BTC' }));
      await until(w.clock, () => w.received().length > before);
      const reply = parseColdMessage(w.received().at(-1)!);
      if (reply.kind !== 'addresses') throw new Error('expected a batch reply');
      expect(reply).toMatchObject({ addressType, batchNo: 1, coin: 'BTC' });
      const content = batchContentString(deriveAddresses(importAccountXpub(xpub, hotSpec), hotSpec, CHAIN.external, 1000, 1000));
      expect(bitcoinMessage.verify(content, qcAddress, reply.signature)).toBe(true);
    }
    await w.shutdown();
  });

  it('approves over the link; a forged vc_code closes the channel and the administrator gets the SMS', async () => {
    const w = await coldWorld();
    const { cId, secret } = await openChannel(w, new VDeviceKeys());
    const r: HotSendRequest = { coinCode: 'BTC', userTxNo: '501', outs: `${A},20000`, isDynamicFee: 1 };
    const reply = (await settle(w.clock, approveRequest(w, r, cId, vcCode(r, secret)))) as { signature: string; requestHash: string; userTxNo: string; cId: number; approvedAt: number; kind: 'spend' };
    const coldIdentity = w.hot.link.peerIdentity;
    expect(verifyApproval(reply, reply.signature, coldIdentity)).toBe(true);
    const forged = { ...r, userTxNo: '502' };
    await expect(settle(w.clock, approveRequest(w, forged, cId, vcCode({ ...forged, outs: `${A},99999` }, secret)))).rejects.toMatchObject({ code: 'VC_CODE_INVALID' });
    await until(w.clock, () => w.received(ADMIN).length > 0);
    expect(w.received(ADMIN)[0]).toBe(`HSM-COLD ALERT: channel ${cId} closed: forged vc_code. New channels only after console: channel open-window. tx 502`);
    await until(w.clock, () => w.hot.events.some((e) => e.kind === 'channel.closed'));
    expect(w.cold.snapshot.matches({ running: { channel: 'closed' } })).toBe(true);
    const next = { ...r, userTxNo: '503' };
    await expect(settle(w.clock, approveRequest(w, next, cId, vcCode(next, secret)))).rejects.toMatchObject({ code: 'CHANNEL_CLOSED' });
    await w.shutdown();
  });

  it('with carrier A down, the alert leaves through SIM2', async () => {
    const w = await coldWorld();
    const { cId, secret } = await openChannel(w, new VDeviceKeys());
    w.network.setCarrierUp('A', false);
    const r: HotSendRequest = { coinCode: 'BTC', userTxNo: '601', outs: `${A},1000`, isDynamicFee: 0 };
    await expect(settle(w.clock, approveRequest(w, r, cId, vcCode({ ...r, outs: `${A},1001` }, secret)))).rejects.toMatchObject({ code: 'VC_CODE_INVALID' });
    await until(w.clock, () => w.received(ADMIN).length > 0, 600_000);
    expect(w.network.deliveries({ to: ADMIN })[0]!.from).toBe(COLD_SIM2);
    await w.shutdown();
  });

  it('ignores an unknown sender and refuses channels outside the window, answering nothing', async () => {
    const w = await coldWorld({ start: at(14, 0) });
    const keys = new VDeviceKeys();
    const key = keys.next();
    w.vDeviceSends(formatVDeviceMessage({ kind: 'channel-request', qh: key.qh, hId: key.hId }));
    w.vDeviceSends(formatVDeviceMessage({ kind: 'channel-request', qh: key.qh, hId: key.hId }), '+8613800000999');
    await w.clock.advance(120_000);
    expect(w.received()).toEqual([]);
    expect(w.received('+8613800000999')).toEqual([]);
    expect(w.cold.status().pendingChannel).toBeUndefined();
    await w.shutdown();
  });

  it('rotates the channel every night for four nights; old channels are retired, approvals follow the new one', async () => {
    const w = await coldWorld();
    const keys = new VDeviceKeys();
    let previous: { cId: number; secret: Uint8Array } | undefined;
    for (let night = 0; night < 4; night++) {
      if (night > 0) await w.clock.advanceTo(at(23, 10, night));
      const channel = await openChannel(w, keys);
      if (previous !== undefined) {
        expect(channel.cId).toBeGreaterThan(previous.cId);
        const stale: HotSendRequest = { coinCode: 'BTC', userTxNo: `old-${night}`, outs: `${A},1000`, isDynamicFee: 0 };
        await expect(settle(w.clock, approveRequest(w, stale, previous.cId, vcCode(stale, previous.secret)))).rejects.toMatchObject({ code: 'CHANNEL_RETIRED' });
      }
      const r: HotSendRequest = { coinCode: 'BTC', userTxNo: `night-${night}`, outs: `${A},1000`, isDynamicFee: 0 };
      await expect(settle(w.clock, approveRequest(w, r, channel.cId, vcCode(r, channel.secret)))).resolves.toMatchObject({ kind: 'spend', cId: channel.cId });
      previous = channel;
    }
    const kinds = w.hot.events.map((e) => e.kind);
    expect(kinds.filter((k) => k === 'channel.opened')).toHaveLength(4);
    expect(kinds.filter((k) => k === 'channel.retired')).toHaveLength(3);
    expect(w.cold.recentChannels(10).filter((c) => c.status === 'retired')).toHaveLength(3);
    await w.shutdown();
  }, 120_000);

  it('a channel not renewed expires after 26 h; HSM-Hot hears of it and requests on it are refused', async () => {
    const w = await coldWorld();
    const { cId, secret } = await openChannel(w, new VDeviceKeys());
    await w.clock.advance(26 * 3_600_000 + 2 * 60_000);
    await until(w.clock, () => w.hot.events.some((e) => e.kind === 'channel.expired'));
    const r: HotSendRequest = { coinCode: 'BTC', userTxNo: 'late', outs: `${A},1000`, isDynamicFee: 0 };
    await expect(settle(w.clock, approveRequest(w, r, cId, vcCode(r, secret)))).rejects.toMatchObject({ code: 'CHANNEL_EXPIRED' });
    expect(w.cold.snapshot.matches({ running: { channel: 'closed' } })).toBe(true);
    await w.shutdown();
  }, 120_000);

  it('duplicated and reordered SMS on the network change nothing: one reply per request, one channel', async () => {
    const w = await coldWorld({ seed: 'dup-reorder' });
    for (const id of w.network.carrierIds) w.network.setFaults(id, { delayMs: [500, 8000], duplicateRate: 0.5, reorderRate: 0.5 });
    const keys = new VDeviceKeys();
    const key = keys.next();
    w.vDeviceSends(formatVDeviceMessage({ kind: 'channel-request', qh: key.qh, hId: key.hId }));
    await until(w.clock, () => w.received().length > 0);
    await w.clock.advance(60_000);
    const replies = new Set(w.received());
    expect(replies.size).toBe(1); // copies of one reply at most
    const reply = parseColdMessage([...replies][0]!);
    if (reply.kind !== 'channel-reply') throw new Error('expected QC');
    w.vDeviceSends(formatVDeviceMessage({ kind: 'channel-ok', cId: reply.cId }));
    await until(w.clock, () => w.cold.status().channel?.cId === reply.cId, 600_000);
    w.vDeviceSends(formatVDeviceMessage({ kind: 'verify-addresses', addressType: 'cold', batchNo: 0, coin: 'BTC' }));
    w.vDeviceSends(formatVDeviceMessage({ kind: 'verify-addresses', addressType: 'cold', batchNo: 3, coin: 'BTC' }));
    await until(w.clock, () => new Set(w.received().filter((t) => t.startsWith('CC:COLD_ADDRESSES:'))).size === 2, 600_000);
    await w.clock.advance(120_000);
    expect(w.cold.status().channel?.cId).toBe(reply.cId);
    expect(w.cold.recentChannels(10)).toHaveLength(1);
    // The inbox took each message once, whatever the network duplicated.
    const handled = [...w.cold.store.range((await import('../../shared/gsm/modem-pool.ts')).GSM_INBOX)].map((e) => e.value.text);
    expect(new Set(handled).size).toBe(handled.length);
    await w.shutdown();
  }, 180_000);

  it('a late copy of the open channel\'s CC:QH is ignored; an approval asked twice is granted once', async () => {
    const w = await coldWorld({ seed: 'late-copy' });
    const keys = new VDeviceKeys();
    const key = keys.next();
    const request = formatVDeviceMessage({ kind: 'channel-request', qh: key.qh, hId: key.hId });
    w.vDeviceSends(request);
    await until(w.clock, () => w.received().length === 1);
    const reply = parseColdMessage(w.received()[0]!);
    if (reply.kind !== 'channel-reply') throw new Error('expected QC');
    w.vDeviceSends(formatVDeviceMessage({ kind: 'channel-ok', cId: reply.cId }));
    await until(w.clock, () => w.cold.status().channel?.cId === reply.cId);
    // HSM-Hot hears of the new channel over the link on its own time: count from after that.
    await until(w.clock, () => w.hot.events.some((e) => e.kind === 'channel.opened' && (e.details as { cId?: number }).cId === reply.cId));
    const hotEvents = w.hot.events.length;

    // The copy the other carrier delivered late, after the channel opened.
    w.vDeviceSends(request);
    const audit = () => [...w.cold.store.range(SYSTEM_COLLECTIONS.audit)].map((e) => e.value);
    await until(w.clock, () => audit().some((e) => e.kind === 'channel.request-duplicate'));
    await w.clock.advance(120_000);
    expect(w.received()).toHaveLength(1); // no second QC
    expect(w.cold.status().channel?.cId).toBe(reply.cId);
    expect(w.cold.recentChannels(10)).toHaveLength(1);
    expect(audit().filter((e) => e.kind === 'channel.requested')).toHaveLength(1);
    expect(w.received(ADMIN)).toEqual([]); // not taken for a second request in the window
    expect(w.hot.events.slice(hotEvents).filter((e) => e.kind.startsWith('channel.'))).toEqual([]);

    // HSM-Hot asks for the same approval twice (a retry under a new link request id): the same
    // signed reply, one spend, one audit entry.
    const r: HotSendRequest = { coinCode: 'BTC', userTxNo: 'twice', outs: `${A},12345`, isDynamicFee: 0 };
    const vc = vcCode(r, key.secret);
    const first = await settle(w.clock, approveRequest(w, r, reply.cId, vc));
    await w.clock.advance(5_000);
    const second = await settle(w.clock, approveRequest(w, r, reply.cId, vc));
    expect(second).toEqual(first);
    expect([...w.cold.store.range(COLD_RECORDS.spends)]).toHaveLength(1);
    expect(audit().filter((e) => e.kind === 'approval.granted')).toHaveLength(1);
    await w.shutdown();
  }, 120_000);

  it('when the network clock disagrees with ours, the window stays shut and the administrators hear of it', async () => {
    const w = await coldWorld();
    w.network.setTime(w.clock.now() + 20 * 60_000); // the carriers' NITZ says twenty minutes later
    await w.clock.advance(11 * 60_000); // the next time sample and sweep
    await until(w.clock, () => w.received(ADMIN).some((t) => t.includes('clock not trusted')));
    const key = new VDeviceKeys().next();
    w.vDeviceSends(formatVDeviceMessage({ kind: 'channel-request', qh: key.qh, hId: key.hId }));
    await w.clock.advance(120_000);
    expect(w.received()).toEqual([]);
    expect(w.cold.status().window).toMatchObject({ open: false, reason: expect.stringContaining('modem time differs') });
    // An operator can still open the window by hand.
    w.cold.openWindow(10);
    w.vDeviceSends(formatVDeviceMessage({ kind: 'channel-request', qh: key.qh, hId: key.hId }));
    await until(w.clock, () => w.received().length === 1);
    await w.shutdown();
  }, 120_000);
});
