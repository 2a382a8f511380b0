import { describe, expect, it } from 'vitest';
import { describeSms } from '../../hw-profiles/sim/events.ts';
import { Rig } from '../../hw-profiles/sim/rig.ts';
import { tempDir } from '../helpers/temp.ts';
import { FAST_KDF, channelOpen, control, openApi, testRig } from './rig-helpers.ts';

const PAYEE = '1MCs9SZwLg9JvLo6pzvVBWtmSV1dakwyM1';

/** Reads server-sent events from `url` until `enough` says so. */
async function readEvents(url: string, enough: (events: Array<{ id: number; event: string; data: any }>) => boolean, headers: Record<string, string> = {}) {
  const controller = new AbortController();
  const response = await fetch(url, { headers, signal: controller.signal });
  expect(response.headers.get('content-type')).toBe('text/event-stream');
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const events: Array<{ id: number; event: string; data: any }> = [];
  let buffer = '';
  while (!enough(events)) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const fields = Object.fromEntries(block.split('\n').filter((l) => !l.startsWith(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));
      if (fields.data !== undefined) events.push({ id: Number(fields.id), event: fields.event as string, data: JSON.parse(fields.data as string) });
    }
  }
  controller.abort();
  return events;
}

describe('the simulated rig', () => {
  it('resumes a world from its state directory: keys, channel, chain, requests and world time', async () => {
    const stateDir = tempDir('rig-resume-');
    const first = await testRig({ seed: 'resume', stateDir });
    const cId = await channelOpen(first);
    const vtestId = first.vweb.queueWithdrawal({ outs: `${PAYEE},20000`, dynamic: 1 });
    await first.waitFor(() => first.vweb.withdrawal(vtestId)?.state === 'done', 'the withdrawal', 1_800_000);
    const txHash = first.vweb.withdrawal(vtestId)?.txHash;
    const identity = first.ready.hostApi.identity;
    const stoppedAt = first.clock.now();
    /** The last message reference each SIM handed out (EF_SMSS). */
    const lastReference = new Map(first.network.submissions().map((s) => [s.from, s.messageReference]));
    await first.stop();

    const second = await testRig({ stateDir, seed: undefined });
    try {
      expect(second.ready.resumed).toBe(true);
      expect(second.ready.seed).toBe('resume');
      expect(second.ready.hostApi.identity).toBe(identity);
      expect(second.clock.now()).toBeGreaterThanOrEqual(stoppedAt);
      expect(second.vDevice?.currentChannel()?.cId).toBe(cId);
      const status = await control(second, '/status');
      expect(status.body.channel.channel.cId).toBe(cId);
      expect(second.vweb.withdrawal(vtestId)?.state).toBe('done');
      expect((await openApi(second, `/tx/${vtestId}`)).body).toMatchObject({ hot_wallet_tx_status: 1, tx_hash: txHash });
      expect(second.chain.transaction(txHash as string)).toBeDefined();
      // The platform's nonces and journal position survived: a new request goes through.
      const next = second.vweb.queueWithdrawal({ outs: `${PAYEE},21000`, dynamic: 0 });
      await second.waitFor(() => second.vweb.withdrawal(next)?.state === 'done', 'the second withdrawal', 1_800_000);
      expect(second.events.since(0).filter((e) => e.type === 'hot.tx-status' && e.userTxNo === String(vtestId))).toEqual([]);
      // The SIMs kept their message references: each goes on after the last one of the first run
      // (the V-Device's phone, which sent in the first run, answers the administrator's TIME).
      await control(second, '/control/sms', { from: second.ready.numbers.admin, to: second.ready.numbers.vDevice, text: 'CC:TIME' });
      await second.waitFor(() => second.network.deliveries({ to: second.ready.numbers.admin }).some((d) => d.text.startsWith('CC:V:')), 'the TIME answer', 600_000);
      const again = second.network.submissions().filter((s) => lastReference.has(s.from));
      expect(again.length).toBeGreaterThan(0);
      for (const from of new Set(again.map((s) => s.from))) {
        expect(again.find((s) => s.from === from)?.messageReference, from).toBe(((lastReference.get(from) as number) + 1) % 256);
      }
    } finally {
      await second.stop();
    }
    await expect(Rig.start({ stateDir, seed: 'another', timeScale: 'manual', kdf: FAST_KDF })).rejects.toThrow(/another seed/);
  }, 300_000);

  it('streams events over SSE, resumable by Last-Event-ID, and takes control requests', async () => {
    const rig = await testRig({ seed: 'control' });
    try {
      await channelOpen(rig);
      const first = await readEvents(rig.ready.events, (events) => events.some((e) => e.event === 'rig.ready'));
      expect(first[0]?.id).toBe(1);
      expect(first.map((e) => e.id)).toEqual(first.map((_, i) => i + 1));
      const ready = first.find((e) => e.event === 'rig.ready');
      const channelSms = rig.events.since(0).find((e) => e.type === 'sms.delivered' && e.kind === 'channel-request');
      expect(channelSms?.text).toMatch(/^CC:QH:0[23][0-9A-F]{64}:H_ID:1:$/);

      const withdrawal = await control(rig, '/control/withdrawal', { outs: `${PAYEE},5000`, dynamic: 0 });
      expect(withdrawal).toEqual({ status: 200, body: { vtest_id: 1 } });
      const resumed = await readEvents(rig.ready.events, (events) => events.some((e) => e.event === 'vweb.withdrawal-queued'), { 'last-event-id': String(ready?.id) });
      expect(resumed[0]?.id).toBe((ready?.id as number) + 1);

      const before = rig.clock.now();
      expect((await control(rig, '/control/advance', { ms: 60_000 })).status).toBe(200);
      expect(rig.clock.now()).toBeGreaterThanOrEqual(before + 60_000);
      await rig.waitFor(() => rig.vweb.withdrawal(1)?.state === 'done', 'the withdrawal', 1_800_000);

      expect((await control(rig, '/control/fault', { fault: 'carrier', carrier: 'A', up: false })).body).toEqual({ result: true });
      expect(rig.network.isCarrierUp('A')).toBe(false);
      expect(rig.events.find((e) => e.type === 'fault.injected' && e.fault === 'carrier')).toBeDefined();
      expect(rig.events.find((e) => e.type === 'network.carrier' && e.up === false)).toBeDefined();
      await control(rig, '/control/fault', { fault: 'carrier', carrier: 'A', up: true });

      await control(rig, '/control/sms', { from: rig.ready.numbers.admin, to: rig.ready.numbers.vDevice, text: 'CC:TIME' });
      await rig.waitFor(() => rig.network.deliveries({ to: rig.ready.numbers.admin }).some((d) => d.text.startsWith('CC:V:')), 'the TIME answer', 600_000);

      // Bad control requests name the field and change nothing.
      const seq = rig.events.lastSeq;
      for (const [path, body, field] of [
        ['/control/fault', { fault: 'meteor' }, 'fault'],
        ['/control/fault', { fault: 'modem', sim: 3, plugged: false }, 'sim'],
        ['/control/fault', { fault: 'kill', device: 'hot' }, 'fault'],
        ['/control/advance', { ms: -5 }, 'ms'],
        ['/control/withdrawal', { outs: '' }, 'outs'],
        ['/control/withdrawal', { outs: `${PAYEE},12x` }, 'outs[0].value'],
        ['/control/withdrawal', { outs: `${PAYEE},1000`, coin_code: 'XYZ' }, 'coin_code'],
        ['/control/sms', { from: 'nobody', to: rig.ready.numbers.vDevice, text: 'x' }, 'from'],
      ] as const) {
        const response = await control(rig, path, body);
        expect(response.status, JSON.stringify(body)).toBe(400);
        expect(response.body.errors[0].field, JSON.stringify(body)).toBe(field);
      }
      expect(rig.events.since(seq).filter((e) => e.type === 'fault.injected' || e.type === 'vweb.withdrawal-queued')).toEqual([]);
      const status = await control(rig, '/status');
      expect(status.body).toMatchObject({ hotApiConnected: true, carriers: { A: true, B: true }, vweb: { withdrawals: { done: 1 } } });
    } finally {
      await rig.stop();
    }
  }, 300_000);

  it('shows SMS bodies of the app protocol and hides any other text', () => {
    expect(describeSms('CC:CHANNEL_OK:17:')).toEqual({ kind: 'channel-ok', text: 'CC:CHANNEL_OK:17:' });
    expect(describeSms('CC:V:2026-03-10 23:00:05')).toEqual({ kind: 'app-reply', text: 'CC:V:2026-03-10 23:00:05' });
    expect(describeSms('ping is ok')).toEqual({ kind: 'app-reply', text: 'ping is ok' });
    expect(describeSms('sms format is error')).toEqual({ kind: 'format-error', text: 'sms format is error' });
    expect(describeSms('CC:PING')).toEqual({ kind: 'admin-command', text: 'CC:PING' });
    expect(describeSms('PING')).toEqual({ kind: 'other', text: '[4 characters]' });
    expect(describeSms('my PIN is 1234')).toEqual({ kind: 'other', text: '[14 characters]' });
  });
});
