import { afterEach, describe, expect, it } from 'vitest';
import { DeviceStore } from '../../shared/store/store.ts';
import { verifyAudit } from '../../shared/store/audit.ts';
import { GSM_INBOX_PARTS, GSM_OUTBOX, MODEM_POOL_COLLECTIONS, ModemPool, healthScore, type PoolEvent } from '../../shared/gsm/modem-pool.ts';
import { Modem, type ModemOptions } from '../../shared/gsm/modem.ts';
import { expectHsmError } from '../helpers/errors.ts';
import { tempDir } from '../helpers/temp.ts';
import { drive, modemRig, until, world, type ModemRig, type World } from './helpers.ts';

const SEND_TIMEOUT_MS = 60_000;
const V_DEVICE = '+4917699999999';

interface PoolRig {
  w: World;
  store: DeviceStore;
  dir: string;
  sim1: ModemRig;
  sim2: ModemRig;
  pool: ModemPool;
  events: PoolEvent[];
}

const opened: DeviceStore[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});

function openStore(w: World, dir: string): DeviceStore {
  const store = DeviceStore.open(dir, { app: 'hsm-cold', schemaVersion: 1, clock: w.clock, collections: MODEM_POOL_COLLECTIONS });
  opened.push(store);
  return store;
}

async function poolRig(options: { only?: 'sim1'; driver?: Partial<ModemOptions>; dir?: string; w?: World } = {}): Promise<PoolRig> {
  const w = options.w ?? world();
  const driver: Partial<ModemOptions> = { timeouts: { sendMs: SEND_TIMEOUT_MS }, ...options.driver };
  const sim1 = modemRig(w, { msisdn: '+4917100000001', carrierId: 'A', name: 'sim1', driver: { ...driver } });
  const sim2 = modemRig(w, { msisdn: '+4917200000002', carrierId: 'B', name: 'sim2', driver: { ...driver } });
  const dir = options.dir ?? tempDir();
  const store = openStore(w, dir);
  const modems = options.only === 'sim1' ? [sim1.modem] : [sim1.modem, sim2.modem];
  const pool = new ModemPool({ store, clock: w.clock, modems, random: w.random.fork('pool'), retry: { initialMs: 5_000, maxMs: 60_000, maxAttempts: 50 } });
  const events: PoolEvent[] = [];
  pool.onEvent((e) => events.push(e));
  await drive(w.clock, pool.start());
  return { w, store, dir, sim1, sim2, pool, events };
}

function submittedVia(w: World, text: string): string[] {
  return w.network.submissions().filter((s) => s.text === text).map((s) => s.from);
}

describe('ModemPool outbound', () => {
  it('sends through SIM1 while it is healthy and records how', async () => {
    const { w, pool, sim1 } = await poolRig();
    const id = pool.enqueue(V_DEVICE, 'CC:QC:02AB:C_ID:1:H_ID:1');
    await until(w.clock, () => pool.message(id)?.state === 'sent');
    expect(pool.message(id)).toMatchObject({ state: 'sent', sentVia: 'sim1', sentImsi: sim1.sim.imsi, attempts: 1, messageReferences: [0] });
    expect(submittedVia(w, 'CC:QC:02AB:C_ID:1:H_ID:1')).toEqual(['+4917100000001']);
    expect(pool.status().map((s) => [s.name, s.imsi])).toEqual([
      ['sim1', sim1.sim.imsi],
      ['sim2', expect.stringMatching(/^00102/)],
    ]);
  });

  it('with carrier A down, leaves through SIM2 within one send timeout; after recovery, back to SIM1', async () => {
    const { w, pool } = await poolRig();
    w.network.setCarrierUp('A', false);
    await w.clock.advance(100);
    const queuedAt = w.clock.monotonic();
    const id = pool.enqueue(V_DEVICE, 'during outage');
    await until(w.clock, () => pool.message(id)?.state === 'sent');
    expect(w.clock.monotonic() - queuedAt).toBeLessThan(SEND_TIMEOUT_MS);
    expect(submittedVia(w, 'during outage')).toEqual(['+4917200000002']);
    w.network.setCarrierUp('A', true);
    await until(w.clock, () => pool.status()[0]?.name === 'sim1' && pool.status()[0]?.health.registered === true);
    const after = pool.enqueue(V_DEVICE, 'after recovery');
    await until(w.clock, () => pool.message(after)?.state === 'sent');
    expect(submittedVia(w, 'after recovery')).toEqual(['+4917100000001']);
  });

  it('fails over in the same attempt when SIM1 answers with an error', async () => {
    const { w, pool, sim1, events } = await poolRig();
    sim1.device.modem.failNext({ command: '+CMGS', error: { cms: 500 } });
    const id = pool.enqueue(V_DEVICE, 'error on sim1');
    await until(w.clock, () => pool.message(id)?.state === 'sent');
    expect(pool.message(id)).toMatchObject({ sentVia: 'sim2', attempts: 1 });
    expect(events).toContainEqual(expect.objectContaining({ type: 'failover', id, from: 'sim1' }));
    expect(submittedVia(w, 'error on sim1')).toEqual(['+4917200000002']);
  });

  it('fails over when SIM1 does not answer in time', async () => {
    const { w, pool, sim1 } = await poolRig();
    sim1.device.modem.setSendDelay(200_000);
    const queuedAt = w.clock.monotonic();
    const id = pool.enqueue(V_DEVICE, 'slow sim1');
    await until(w.clock, () => pool.message(id)?.state === 'sent');
    expect(pool.message(id)?.sentVia).toBe('sim2');
    expect(w.clock.monotonic() - queuedAt).toBeLessThan(SEND_TIMEOUT_MS + 10_000);
  });

  it('a modem unplugged mid-send: recovered, and the message sent exactly once', async () => {
    const { w, pool, sim1 } = await poolRig();
    sim1.device.modem.setSendDelay(5_000);
    const id = pool.enqueue(V_DEVICE, 'unplugged mid-send');
    await until(w.clock, () => sim1.device.modem.invocations('+CMGS') === 1);
    await w.clock.advance(1_000);
    sim1.device.unplug();
    await until(w.clock, () => pool.message(id)?.state === 'sent');
    await w.clock.advance(30_000);
    sim1.device.replug();
    await until(w.clock, () => sim1.modem.state === 'ready', { limitMs: 120_000 });
    await w.clock.advance(10_000);
    expect(submittedVia(w, 'unplugged mid-send')).toEqual(['+4917200000002']);
    expect(w.network.deliveries({ to: V_DEVICE }).filter((d) => d.text === 'unplugged mid-send')).toHaveLength(1);
    const next = pool.enqueue(V_DEVICE, 'after replug');
    await until(w.clock, () => pool.message(next)?.state === 'sent');
    expect(pool.message(next)?.sentVia).toBe('sim1');
  });

  it('with a single modem unplugged mid-send, the message waits and goes out once after replug', async () => {
    const { w, pool, sim1, events } = await poolRig({ only: 'sim1' });
    sim1.device.modem.setSendDelay(5_000);
    const id = pool.enqueue(V_DEVICE, 'only one modem');
    await until(w.clock, () => sim1.device.modem.invocations('+CMGS') === 1);
    await w.clock.advance(2_000);
    sim1.device.unplug();
    await until(w.clock, () => events.some((e) => e.type === 'retry' && e.id === id));
    expect(pool.message(id)?.state).toBe('queued');
    await w.clock.advance(45_000);
    sim1.device.replug();
    await until(w.clock, () => pool.message(id)?.state === 'sent', { limitMs: 300_000 });
    expect(w.network.submissions().filter((s) => s.text === 'only one modem')).toHaveLength(1);
  });

  it('backs off while no modem can send, and gives up after the last attempt', async () => {
    const w = world();
    const sim1 = modemRig(w, { msisdn: '+4917100000001', name: 'sim1' });
    const store = openStore(w, tempDir());
    const pool = new ModemPool({ store, clock: w.clock, modems: [sim1.modem], retry: { initialMs: 1_000, maxMs: 4_000, maxAttempts: 4 } });
    const events: PoolEvent[] = [];
    pool.onEvent((e) => events.push(e));
    await drive(w.clock, pool.start());
    w.network.setCarrierUp('A', false);
    await w.clock.advance(10);
    const id = pool.enqueue(V_DEVICE, 'never');
    await until(w.clock, () => pool.message(id)?.state === 'failed');
    const retries = events.filter((e) => e.type === 'retry') as Array<{ nextAttemptAt: number }>;
    expect(retries).toHaveLength(3);
    expect(pool.message(id)?.lastError).toContain('gave up after 4 attempts');
    expect(w.network.submissions()).toHaveLength(0);
  });

  it('survives a restart: queued messages stay, one left sending is resent and flagged', async () => {
    const w = world();
    const dir = tempDir();
    const store = openStore(w, dir);
    store.transact((tx) => {
      tx.put(GSM_OUTBOX, 1, { id: 1, to: V_DEVICE, text: 'was sending', alphabet: 'auto', statusReport: false, concatReference: 1, state: 'sending', attempts: 1, createdAt: 0, nextAttemptAt: 0, uncertain: false });
    });
    await store.close();
    opened.splice(opened.indexOf(store), 1);
    const { pool } = await poolRig({ w, dir });
    await until(w.clock, () => pool.message(1)?.state === 'sent');
    expect(pool.message(1)).toMatchObject({ uncertain: true, attempts: 2 });
    expect(pool.enqueue(V_DEVICE, 'next')).toBe(2);
  });

  it('stopped mid-send: the message is neither failed nor warned about; the next start sends it, flagged', async () => {
    const { w, pool, sim1, dir, store } = await poolRig({ only: 'sim1' });
    sim1.device.modem.setSendDelay(5_000);
    const id = pool.enqueue(V_DEVICE, 'stopped mid-send');
    await until(w.clock, () => sim1.device.modem.invocations('+CMGS') === 1);
    await drive(w.clock, pool.stop());
    expect(pool.message(id)?.state).toBe('sending');
    await store.close();
    opened.splice(opened.indexOf(store), 1);
    const next = await poolRig({ w, dir, only: 'sim1' });
    await until(w.clock, () => next.pool.message(id)?.state === 'sent');
    expect(next.pool.message(id)).toMatchObject({ uncertain: true });
  });

  it('checks the number and the text before storing anything', async () => {
    const { pool, store } = await poolRig();
    expectHsmError(() => pool.enqueue('+49 176', 'x'), 'PDU_BAD_ADDRESS', 'to');
    expectHsmError(() => pool.enqueue(V_DEVICE, 'emoji 🚀'), 'SMS_TEXT_UNENCODABLE', 'text');
    expectHsmError(() => pool.enqueue(V_DEVICE, 'ж', { alphabet: 'gsm7' }), 'SMS_TEXT_UNENCODABLE', 'text');
    expectHsmError(() => pool.enqueue(V_DEVICE, 'x'.repeat(1_000)), 'SMS_TEXT_TOO_LONG', 'text');
    expect(store.count(GSM_OUTBOX)).toBe(0);
    expect(() => new ModemPool({ store, clock: (store as unknown as { clock: never }).clock, modems: [] })).toThrow(expect.objectContaining({ code: 'POOL_BAD_OPTION' }));
  });
});

describe('ModemPool inbound', () => {
  it('stores messages from both modems, reassembles multipart, de-duplicates network duplicates', async () => {
    const { w, pool, events } = await poolRig();
    w.network.setFaults('A', { duplicateRate: 1, reorderRate: 0.5 });
    w.network.sendFromOutside({ from: V_DEVICE, to: '+4917100000001', text: `CC:VERIFY_HOT_ADDRESSES:3:BTC:${'.'.repeat(200)}` });
    w.network.sendFromOutside({ from: V_DEVICE, to: '+4917200000002', text: 'CC:CHANNEL_OK:7:' });
    await until(w.clock, () => pool.pendingInbound().length === 2, { limitMs: 120_000 });
    await w.clock.advance(30_000);
    const inbox = pool.pendingInbound();
    expect(inbox).toHaveLength(2);
    expect(inbox.find((m) => m.via === 'sim1')).toMatchObject({ from: V_DEVICE, parts: 2, text: `CC:VERIFY_HOT_ADDRESSES:3:BTC:${'.'.repeat(200)}` });
    expect(inbox.find((m) => m.via === 'sim2')).toMatchObject({ from: V_DEVICE, parts: 1, text: 'CC:CHANNEL_OK:7:' });
    expect(events.filter((e) => e.type === 'inbound')).toHaveLength(2);
  });

  it('the same SMS read twice (delete failed, or seen by both modems) is stored once', async () => {
    const { w, pool, sim1, sim2 } = await poolRig();
    sim1.device.modem.failNext({ command: '+CMGD', error: { cms: 500 }, times: 1 });
    sim1.device.modem.injectSms({ from: V_DEVICE, text: 'twice', timestamp: Date.UTC(2026, 0, 1, 12) });
    sim2.device.modem.injectSms({ from: V_DEVICE, text: 'twice', timestamp: Date.UTC(2026, 0, 1, 12) });
    await until(w.clock, () => sim1.device.modem.messages().length === 0 && sim2.device.modem.messages().length === 0, { limitMs: 200_000 });
    expect(sim1.device.modem.invocations('+CMGD')).toBeGreaterThanOrEqual(2);
    expect(pool.pendingInbound().map((m) => m.text)).toEqual(['twice']);
  });

  it('keeps parts of a multipart message across a restart until the last part arrives', async () => {
    const w = world();
    const dir = tempDir();
    const sim1 = modemRig(w, { msisdn: '+4917100000001', name: 'sim1' });
    const store = openStore(w, dir);
    const pool = new ModemPool({ store, clock: w.clock, modems: [sim1.modem] });
    await drive(w.clock, pool.start());
    const text = 'z'.repeat(150) + 'y'.repeat(150);
    sim1.device.modem.injectSms({ from: V_DEVICE, text, order: [2], concatReference: 77 });
    await until(w.clock, () => sim1.device.modem.messages().length === 0);
    expect(pool.pendingInbound()).toEqual([]);
    await drive(w.clock, pool.stop());
    await store.close();
    opened.splice(opened.indexOf(store), 1);

    const again = openStore(w, dir);
    const modem = new Modem({ clock: w.clock, name: 'sim1', openPort: () => sim1.device.openHostPort() });
    const restarted = new ModemPool({ store: again, clock: w.clock, modems: [modem] });
    await drive(w.clock, restarted.start());
    sim1.device.modem.injectSms({ from: V_DEVICE, text, order: [1], concatReference: 77 });
    await until(w.clock, () => restarted.pendingInbound().length === 1);
    expect(restarted.pendingInbound()[0]).toMatchObject({ text, parts: 2, from: V_DEVICE });
  });

  it('drops an incomplete multipart message after the time limit', async () => {
    const { w, pool, sim1, events, store } = await poolRig();
    sim1.device.modem.injectSms({ from: V_DEVICE, text: 'q'.repeat(200), order: [1], concatReference: 3 });
    await until(w.clock, () => store.count(GSM_INBOX_PARTS) === 1);
    await w.clock.advance(3_700_000);
    expect(store.count(GSM_INBOX_PARTS)).toBe(0);
    expect(events).toContainEqual({ type: 'multipart-expired', group: `${V_DEVICE}|8|3|2` });
    expect(pool.pendingInbound()).toEqual([]);
  });

  it('matches status reports to sent messages', async () => {
    const { w, pool, events } = await poolRig();
    const id = pool.enqueue(V_DEVICE, 'with report', { statusReport: true });
    await until(w.clock, () => pool.message(id)?.delivery === 'delivered', { limitMs: 60_000 });
    expect(events).toContainEqual({ type: 'delivery', id, status: 0, outcome: 'delivered' });
  });

  it('marks messages handled in the caller’s transaction; the audit chain stays valid', async () => {
    const { w, pool, store, sim1 } = await poolRig();
    sim1.device.modem.injectSms({ from: V_DEVICE, text: 'handle me' });
    await until(w.clock, () => pool.pendingInbound().length === 1);
    const [message] = pool.pendingInbound();
    store.transact((tx) => {
      pool.markHandled(message?.id as number, tx);
      tx.audit('channel.ok', { id: message?.id as number });
    });
    expect(pool.pendingInbound()).toEqual([]);
    expectHsmError(() => pool.markHandled(999), 'POOL_UNKNOWN_MESSAGE', 'id');
    expect(verifyAudit(store, 'hsm-cold').ok).toBe(true);
  });
});

describe('health score', () => {
  const base = { state: 'ready' as const, registered: true, regStat: 1, rssi: 20, consecutiveFailures: 0, lastSuccessAt: 0, lastError: undefined };
  it('is 0 for a modem that cannot send, and falls with weak signal and failures', () => {
    expect(healthScore({ ...base, registered: false }, 0)).toBe(0);
    expect(healthScore({ ...base, state: 'recovering' }, 0)).toBe(0);
    expect(healthScore(base, 0)).toBe(100);
    expect(healthScore({ ...base, rssi: 3 }, 0)).toBe(70);
    expect(healthScore(base, 60)).toBe(40);
    expect(healthScore(base, 500)).toBe(1);
  });
});
