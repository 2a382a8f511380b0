/**
 * What the released app forces on HSM-Cold (spec "What the released app does"): it never
 * resends CHANNEL_OK and signs with the new channel at once; it never retries a QH; it reads
 * every SMS as one GSM-7 PDU and ids as Java ints. And what an operator must see and do.
 */
import { describe, expect, it } from 'vitest';
import { MAX_CHANNEL_ID, formatColdMessage, parseColdMessage } from '../../shared/chaincloud/sms.ts';
import { MAX_BATCH_NO } from '../../shared/crypto/batch-content.ts';
import type { HotSendRequest } from '../../shared/crypto/request-string.ts';
import { signMessage } from '../../shared/crypto/message-signature.ts';
import { planSms } from '../../shared/gsm/pdu.ts';
import { Refusal } from '../../shared/link/rpc.ts';
import { SYSTEM_COLLECTIONS } from '../../shared/store/system-collections.ts';
import { approve, type ApproveReply } from '../../hsm-cold/approvals.ts';
import {
  channelById,
  channelRequestRefusals,
  currentChannel,
  handleChannelOk,
  handleChannelRequest,
  openOperatorWindow,
  pendingChannel,
  sweepChannels,
  windowState,
} from '../../hsm-cold/channel.ts';
import { COLD_RECORDS, SINGLETON } from '../../hsm-cold/records.ts';
import { ADMIN, V_DEVICE, VDeviceKeys, at, coldFixture, vcCode, type ColdFixture } from './fixture.ts';

const PAYEE = '1NbbvxBYxGGCBhaM8mow1HFWA7dB5yukmY';

function requestChannel(f: ColdFixture, keys: VDeviceKeys): { cId: number; secret: Uint8Array; qc: string } {
  const key = keys.next();
  const result = f.svc.store.transact((tx) => handleChannelRequest(f.svc, tx, V_DEVICE, key));
  expect(result.accepted, result.reason).toBe(true);
  const reply = parseColdMessage(f.sent.at(-1)!.text);
  if (reply.kind !== 'channel-reply') throw new Error('expected a QC reply');
  return { cId: reply.cId, secret: key.secret, qc: reply.qc };
}

function openChannel(f: ColdFixture, keys: VDeviceKeys): { cId: number; secret: Uint8Array } {
  const channel = requestChannel(f, keys);
  expect(f.svc.store.transact((tx) => handleChannelOk(f.svc, tx, V_DEVICE, channel.cId)).opened).toBe(true);
  return channel;
}

function ask(f: ColdFixture, userTxNo: string, cId: number, secret: Uint8Array, outs = `${PAYEE},5000`): ApproveReply | Refusal {
  const r: HotSendRequest = { coinCode: 'BTC', userTxNo, outs, isDynamicFee: 1 };
  return f.svc.store.transact((tx) => approve(f.svc, tx, { ...r, vcCode: vcCode(r, secret), cId, requestedAt: f.clock.now() }));
}

const alerts = (f: ColdFixture): string[] => f.sent.filter((s) => s.to === ADMIN).map((s) => s.text);

/** An open channel, then the next night's request, whose QC reached the phone (its CHANNEL_OK never came). */
function nextNightPending(): { f: ColdFixture; old: { cId: number; secret: Uint8Array }; fresh: { cId: number; secret: Uint8Array } } {
  const f = coldFixture();
  const keys = new VDeviceKeys();
  const old = openChannel(f, keys);
  f.clock.advanceSync(86_400_000);
  f.trustTime();
  return { f, old, fresh: requestChannel(f, keys) };
}

describe('CHANNEL_OK lost: the app already signs with the new channel', () => {
  it('a vc_code made with the pending channel key confirms that channel (audited) and is approved', async () => {
    const { f, old, fresh } = nextNightPending();
    const reply = ask(f, 'after-lost-ok', fresh.cId, fresh.secret);
    expect(reply).not.toBeInstanceOf(Refusal);
    expect(reply).toMatchObject({ kind: 'spend', cId: fresh.cId });
    expect(currentChannel(f.svc.store)?.cId).toBe(fresh.cId);
    expect(channelById(f.svc.store, old.cId)?.status).toBe('retired');
    expect(pendingChannel(f.svc.store)).toBeUndefined();
    const audit = [...f.svc.store.range(SYSTEM_COLLECTIONS.audit)].map((e) => e.value.kind);
    expect(audit).toContain('channel.confirmed-by-vc-code');
    expect(f.events.find((e) => e.kind === 'channel.opened' && e.details.cId === fresh.cId)?.details).toMatchObject({ confirmedBy: 'vc_code' });
    // A late CHANNEL_OK afterwards changes nothing and alerts nobody.
    f.svc.store.transact((tx) => handleChannelOk(f.svc, tx, V_DEVICE, fresh.cId));
    expect(currentChannel(f.svc.store)?.cId).toBe(fresh.cId);
    expect(alerts(f)).toEqual([]);
    await f.close();
  });

  it('a vc_code by another key naming the pending channel confirms nothing and closes nothing', async () => {
    const { f, old, fresh } = nextNightPending();
    const refused = ask(f, 'wrong-key', fresh.cId, old.secret);
    expect(refused).toBeInstanceOf(Refusal);
    expect((refused as Refusal).error.code).toBe('CHANNEL_PENDING');
    expect(pendingChannel(f.svc.store)?.cId).toBe(fresh.cId);
    expect(currentChannel(f.svc.store)?.cId).toBe(old.cId);
    await f.close();
  });

  it('a pending channel dropped unconfirmed tells the administrator why and what to do', async () => {
    const { f, fresh } = nextNightPending();
    f.clock.advanceSync(31 * 60_000);
    f.svc.store.transact((tx) => sweepChannels(f.svc, tx, f.clock.now()));
    expect(channelById(f.svc.store, fresh.cId)).toMatchObject({ status: 'closed', closeReason: 'not confirmed in time' });
    const [alert] = alerts(f);
    expect(alert).toContain(`channel ${fresh.cId}`);
    expect(alert).toContain('channel open-window');
    expect(alert!.length).toBeLessThanOrEqual(160);
    // The phone signing with it now hears why, in the refusal the operator reads.
    const refused = ask(f, 'too-late', fresh.cId, fresh.secret) as Refusal;
    expect(refused.error.code).toBe('CHANNEL_CLOSED');
    expect(refused.error.message).toContain('not confirmed in time');
    await f.close();
  });
});

describe('a forged vc_code: the operator decides when the next channel may come', () => {
  it('refuses a new QH in the same window until the operator opens it from the console; the alert says so', async () => {
    const f = coldFixture();
    const keys = new VDeviceKeys();
    const { cId, secret } = openChannel(f, keys);
    f.clock.advanceSync(86_400_000);
    f.trustTime();
    const r: HotSendRequest = { coinCode: 'BTC', userTxNo: 'forged', outs: `${PAYEE},5000`, isDynamicFee: 1 };
    const forged = signMessage('{"something":"else"}', secret);
    const refusal = f.svc.store.transact((tx) => approve(f.svc, tx, { ...r, vcCode: forged, cId, requestedAt: f.clock.now() }));
    expect((refusal as Refusal).error.code).toBe('VC_CODE_INVALID');
    const alert = alerts(f).find((t) => t.includes('forged'));
    expect(alert).toContain('channel open-window');
    expect(alert!.length).toBeLessThanOrEqual(160);

    // Inside the nightly window, yet refused: the forger may be the one asking.
    expect(windowState(f.svc, f.svc.store, f.clock.now())).toMatchObject({ open: false });
    const refused = f.svc.store.transact((tx) => handleChannelRequest(f.svc, tx, V_DEVICE, keys.next()));
    expect(refused.accepted).toBe(false);
    expect(refused.reason).toContain('channel open-window');
    f.clock.advanceSync(86_400_000); // the next night too
    f.trustTime();
    expect(f.svc.store.transact((tx) => handleChannelRequest(f.svc, tx, V_DEVICE, keys.next())).accepted).toBe(false);

    f.svc.store.transact((tx) => openOperatorWindow(f.svc, tx, 30));
    const next = requestChannel(f, keys);
    expect(next.cId).toBeGreaterThan(cId);
    await f.close();
  });
});

describe('a QH refused outside the window is not silent', () => {
  it('emits an event naming the reason and counts the refusals', async () => {
    const f = coldFixture({ start: at(14, 0) });
    const keys = new VDeviceKeys();
    for (let i = 1; i <= 2; i++) {
      const result = f.svc.store.transact((tx) => handleChannelRequest(f.svc, tx, V_DEVICE, keys.next()));
      expect(result.accepted).toBe(false);
      const event = f.events.filter((e) => e.kind === 'channel.request-refused').at(-1);
      expect(event?.details).toMatchObject({ hId: i, count: i, reason: expect.stringContaining('outside the rotation window') });
      expect(String(event?.details.from)).not.toContain('8613800000001');
    }
    expect(channelRequestRefusals(f.svc.store)).toMatchObject({ count: 2, lastReason: expect.stringContaining('outside the rotation window') });
    expect(f.sent).toEqual([]);
    await f.close();
  });
});

describe('what the phone can read', () => {
  it('the largest cId and batch number HSM-Cold can emit still fit one GSM-7 SMS', () => {
    const qc = `02${'AB'.repeat(32)}`;
    const signature = signMessage('x', new Uint8Array(32).fill(7));
    const texts = [
      formatColdMessage({ kind: 'channel-reply', qc, cId: MAX_CHANNEL_ID, hId: MAX_CHANNEL_ID }),
      formatColdMessage({ kind: 'addresses', addressType: 'cold', batchNo: MAX_BATCH_NO, signature, cId: MAX_CHANNEL_ID, coin: 'DOGE' }),
    ];
    for (const text of texts) {
      const plan = planSms(text, { alphabet: 'gsm7', maxParts: 1 });
      expect(plan).toEqual({ encoding: 'gsm7', parts: [text] });
      expect(text.length).toBeLessThanOrEqual(160);
    }
    expect(() => formatColdMessage({ kind: 'channel-reply', qc, cId: MAX_CHANNEL_ID + 1, hId: 1 })).toThrow(/cId/);
  });

  it('never hands out a cId beyond what the app can parse', async () => {
    const f = coldFixture();
    f.svc.store.transact((tx) => tx.put(COLD_RECORDS.channelState, SINGLETON, { lastCId: MAX_CHANNEL_ID - 3, badChannelOks: 0 }));
    const keys = new VDeviceKeys();
    const first = requestChannel(f, keys);
    expect(first.cId).toBeLessThanOrEqual(MAX_CHANNEL_ID);
    f.svc.store.transact((tx) => tx.put(COLD_RECORDS.channelState, SINGLETON, { lastCId: MAX_CHANNEL_ID, badChannelOks: 0 }));
    const sent = f.sent.length;
    const refused = f.svc.store.transact((tx) => handleChannelRequest(f.svc, tx, V_DEVICE, keys.next()));
    expect(refused.accepted).toBe(false);
    expect(f.sent.slice(sent).filter((s) => s.to === V_DEVICE)).toEqual([]);
    expect(alerts(f).some((t) => t.includes('channel ids'))).toBe(true);
    await f.close();
  });

  it('administrator alerts are plain GSM-7: a masked number keeps its digits', async () => {
    const f = coldFixture();
    const keys = new VDeviceKeys();
    requestChannel(f, keys);
    f.svc.store.transact((tx) => handleChannelRequest(f.svc, tx, '+8613800000001', keys.next())); // a second request in one window
    const alert = alerts(f).find((t) => t.includes('second channel request'));
    expect(alert).toMatch(/from \.\.\.0001/);
    expect(alert).not.toContain('?');
    expect(planSms(alert!, { alphabet: 'gsm7', maxParts: 1 }).parts).toEqual([alert]);
    await f.close();
  });
});
