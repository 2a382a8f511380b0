/**
 * `hsm sim --v-device external:<pty>` with this test playing the released V-Device app
 * (chaincloud-v v0.6.3), written from the spec's section "What the released app does" and
 * nothing of the project's own V-Device emulator: its SMS over an AT client on the pty
 * (at-phone.ts, 27.005 text mode), its HTTP with the app's paths, form bodies and `Token`
 * header, its keys and signatures with the independent oracle (bitcoinjs-message), its
 * vtest_info decryption from the spec (scrypt over UTF-16BE, AES-256-CBC).
 *
 * One world, in order: the app's Create opens the first channel; the administrator's commands;
 * the full work loop through the per-coin paths, a duplicate POST answered code 3; PING to
 * status 1; the 03:00 UTC+8 alarm with its CHANNEL_OK lost (the app signs with the new channel
 * at once); a carrier A outage, which the app, sending to SIM1 only, can only wait out.
 */
import { createDecipheriv, randomUUID, scryptSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReadyInfo } from '../../hw-profiles/sim/rig.ts';
import { osTool } from '../helpers/os-tools.ts';
import { fileTempDir } from '../helpers/temp.ts';
import { bitcoin, bitcoinMessage } from '../oracle/bitcoinjs.ts';
import { AtPhone } from './at-phone.ts';
import { startSim, type SimProcess } from './sim-process.ts';

const socat = osTool('socat', 'socat');
const PAYEE = '1NbbvxBYxGGCBhaM8mow1HFWA7dB5yukmY';
/** 2026-03-11 01:30 in the phone's zone (UTC+8): inside the night, before the app's 03:00 alarm. */
const START = '2026-03-10T17:30:00Z';

// ---------------------------------------------------------------------------------------------
// The app, from the spec

interface Channel {
  hId: number;
  dh: Buffer;
  qh: string;
  qc?: string;
  cId?: number;
  status: 'creating' | 'ok';
}

/** Java's String.split(":"): trailing empty strings removed. */
function javaSplit(text: string): string[] {
  const fields = text.split(':');
  while (fields.length > 0 && fields.at(-1) === '') fields.pop();
  return fields;
}

/** The signed request string (TxRequest.toString). */
function requestString(r: { coin: string; dynamic: number; outs: string; userTxNo: string; outType: number; memo: string | null }): string {
  let text = `{"coin_code":"${r.coin}","is_dynamic_fee":${r.dynamic},"outs":"${r.outs}","user_tx_no":"${r.userTxNo}"`;
  if (r.outType !== 0) text += `,"outType":${r.outType}`;
  if (r.memo !== null) text += `,"memo":"${r.memo}"`;
  return `${text}}`;
}

/** The vc_code: a Bitcoin message signature, compressed key (header 31..34), RFC 6979. */
function vcCode(text: string, dh: Buffer): string {
  return (bitcoinMessage.sign(text, dh, true) as Buffer).toString('base64');
}

/** vtest_info: `ct/iv/salt` (or the older `:`), key = scrypt(UTF-16BE password, salt), AES-256-CBC. */
function decryptVtest(info: string, password: string): Record<string, unknown> {
  const [ct, iv, saltField] = info.split(info.includes(':') ? ':' : '/').map((h) => Buffer.from(h, 'hex')) as [Buffer, Buffer, Buffer];
  const salt = saltField.length === 9 ? saltField.subarray(1) : saltField;
  const utf16be = Buffer.from(password, 'utf16le').swap16();
  const key = scryptSync(utf16be, salt, 32, { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
  const decipher = createDecipheriv('aes-256-cbc', key, iv);
  return JSON.parse(Buffer.concat([decipher.update(ct), decipher.final()]).toString('utf8')) as Record<string, unknown>;
}

function pubkeyAddress(hex: string): string {
  return bitcoin.payments.p2pkh({ pubkey: Buffer.from(hex, 'hex') }).address as string;
}

// ---------------------------------------------------------------------------------------------

let sim: SimProcess;
let ready: ReadyInfo;
let phone: AtPhone;
const channels: Channel[] = [];

async function http(base: string, method: 'GET' | 'POST', path: string, token: string, fields?: Array<[string, string]>): Promise<{ status: number; body: any }> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { Accept: 'application/json', Token: token, ...(fields === undefined ? {} : { 'Content-Type': 'application/x-www-form-urlencoded; charset=UTF-8' }) },
    ...(fields === undefined ? {} : { body: new URLSearchParams(fields).toString() }),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? null : JSON.parse(text) };
}
const platform = (method: 'GET' | 'POST', path: string, fields?: Array<[string, string]>) => http(ready.app.platformDomain, method, `/api/v1${path}`, ready.app.hotSendToken, fields);
const vweb = (method: 'GET' | 'POST', path: string, fields?: Array<[string, string]>) => http(ready.app.vwebDomain, method, `/api/v1${path}`, 'vweb-token', fields);

async function control(path: string, body?: unknown): Promise<any> {
  const response = await fetch(`${ready.control}${path}`, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(response.status, path).toBe(200);
  return response.json();
}

/** The app hears a sender only when it is exactly +86 and a number typed into it (its default mode). */
function heard(from: string): 'hsm' | 'admin' | undefined {
  if (from === `+86${ready.app.adminPhone}`) return 'admin';
  if (from === `+86${ready.app.hsmPhone1}` || from === `+86${ready.app.hsmPhone2}`) return 'hsm';
  return undefined;
}

/** The app's Create (or its alarm): a new key, the next local id, QH to the first number only. */
async function createChannel(): Promise<Channel> {
  const dh = Buffer.from(secp256k1.utils.randomSecretKey());
  const channel: Channel = { hId: channels.length + 1, dh, qh: Buffer.from(secp256k1.getPublicKey(dh, true)).toString('hex').toUpperCase(), status: 'creating' };
  channels.push(channel);
  await phone.sendSms(ready.app.hsmPhone1, `CC:QH:${channel.qh}:H_ID:${channel.hId}:`);
  return channel;
}

/** A QC as the app takes it: 6 fields after CC:, for the last channel's id. */
function takeQc(text: string, channel: Channel): void {
  const fields = javaSplit(text.slice('CC:'.length));
  expect(fields).toHaveLength(6);
  expect([fields[0], fields[2], fields[4]]).toEqual(['QC', 'C_ID', 'H_ID']);
  expect(Number(fields[5])).toBe(channel.hId);
  const cId = Number(fields[3]);
  expect(cId).toBeLessThanOrEqual(2 ** 31 - 1); // the app parses it into a Java int
  Object.assign(channel, { qc: fields[1], cId, status: 'ok' });
}

/** The channel the app signs with: the newest OK one. */
function okChannel(): Channel {
  const channel = [...channels].reverse().find((c) => c.status === 'ok');
  if (channel?.cId === undefined) throw new Error('no OK channel');
  return channel;
}

async function pollStatus(path: string, limitMs = 180_000): Promise<any> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const polled = await platform('GET', path);
    // 400 or 404 here mean failure to the app: never for a request still pending.
    expect([400, 404], JSON.stringify(polled.body)).not.toContain(polled.status);
    if (polled.status === 200 && (polled.body.hot_wallet_tx_status === 1 || polled.body.hot_wallet_tx_status === 9)) return polled.body;
    if (Date.now() > deadline) throw new Error(`${path} still pending: ${JSON.stringify(polled.body)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** One pass of the work loop for the withdrawal vweb hands out; returns its vtest_id and status. */
async function workOnce(): Promise<{ vtestId: string; status: any; form: Array<[string, string]> }> {
  const pulled = await vweb('GET', '/open/vtest');
  expect(pulled.status).toBe(200);
  const vtestId = String(pulled.body.vtest_id);
  const info = decryptVtest(pulled.body.vtest_info, ready.app.transferPassword);
  const coin = (info.coin_code as string | undefined) ?? 'BTC';
  const outs = info.outs as string;
  for (const out of outs.split(';')) {
    const [address, value] = out.split(',') as [string, string];
    expect(() => bitcoin.address.toOutputScript(address, bitcoin.networks.bitcoin)).not.toThrow();
    expect(BigInt(value) >= 0n).toBe(true);
  }
  const user = await platform('GET', `/open/${coin}/user`);
  expect(user.status).toBe(200);
  expect(typeof user.body.balance).toBe('number');
  const channel = okChannel();
  const outType = (info.out_type as number | undefined) ?? 0;
  const memo = (info.memo as string | undefined) ?? null;
  const form: Array<[string, string]> = [
    ['coin_code', coin],
    ['user_tx_no', vtestId],
    ['outs', outs],
    ['vc_code', vcCode(requestString({ coin, dynamic: info.dynamic as number, outs, userTxNo: vtestId, outType, memo }), channel.dh)],
    ['is_dynamic_fee', String(info.dynamic)],
    ['only_confirmed', String((info.confirmed as number | undefined) ?? 0)],
    ['c_id', String(channel.cId)],
    ['out_type', String(outType)],
    ...(memo === null ? [] : ([['memo', memo]] as Array<[string, string]>)),
  ];
  const posted = await platform('POST', `/open/${coin}/tx/request`, form);
  expect(posted, JSON.stringify(posted.body)).toEqual({ status: 200, body: { result: true } });
  const status = await pollStatus(`/open/${coin}/tx/${vtestId}`);
  const reported = await vweb('POST', '/open/vtest', [['vtest_id', status.send_request.user_tx_no], ...(status.tx_hash === null ? [] : ([['tx_hash', status.tx_hash]] as Array<[string, string]>))]);
  expect(reported).toEqual({ status: 200, body: { result: true } });
  return { vtestId, status, form };
}

describe.skipIf(!socat.available)('the released app, played from its spec, against hsm sim --v-device external:<pty>', () => {
  beforeAll(async () => {
    const dir = fileTempDir('hsm-app-player-');
    const pty = join(dir, 'phone');
    writeFileSync(join(dir, 'seed.json'), JSON.stringify({ seed: 'app-player', start: START }));
    sim = startSim(['--seed', join(dir, 'seed.json'), '--state-dir', join(dir, 'state'), '--v-device', `external:${pty}`, '--events'], { scope: 'file' });
    ready = (await sim.ready(120_000)).ready;
    phone = await AtPhone.open(pty);
  }, 180_000);

  afterAll(async () => {
    await phone?.close();
    if (sim !== undefined) expect(await sim.stop('SIGINT', 60_000)).toBe(0);
  }, 90_000);

  it("opens the first channel as the app's Create does: QH to SIM1, QC heard from +86 and an HSM number, CHANNEL_OK to SIM1", async () => {
    expect(ready.vDevice).toMatchObject({ mode: 'external' });
    expect(`+86${ready.app.hsmPhone1}`).toBe(ready.numbers.coldSim1);
    const channel = await createChannel();
    const qc = await phone.waitSms((s) => s.text.startsWith('CC:QC:'), 'with the QC');
    expect(heard(qc.from)).toBe('hsm');
    takeQc(qc.text, channel);
    await phone.sendSms(ready.app.hsmPhone1, `CC:CHANNEL_OK:${channel.cId}:`);
    const opened = await sim.event((e) => e.type === 'cold.channel.opened' && e.cId === channel.cId, 'HSM-Cold opening the channel');
    expect(opened.confirmedBy).toBe('channel-ok');
    const requests = sim.events.filter((e) => e.type === 'sms.delivered' && e.from === ready.numbers.vDevice).map((e) => e.to);
    expect(new Set(requests)).toEqual(new Set([ready.numbers.coldSim1]));
  }, 120_000);

  it("carries the administrator's commands to the app and its answers back", async () => {
    const admin = ready.numbers.admin;
    const answers: Array<[string, string]> = [
      ['CC:START_LOOP', 'the loop is started'],
      ['CC:STOP_LOOP', 'the loop is stopped'],
      ['CC:SELF_DESTRUCT', 'sms format is error'],
    ];
    for (const [command, answer] of answers) {
      const since = Date.now();
      await control('/control/sms', { from: admin, to: ready.numbers.vDevice, text: command });
      const got = await phone.waitSms((s) => s.text === command, command, 60_000, since);
      expect(heard(got.from)).toBe('admin');
      expect(got.from.includes(ready.app.adminPhone)).toBe(true);
      await phone.sendSms(got.from, answer);
      await sim.event((e) => e.type === 'sms.delivered' && e.to === admin && e.text === answer, `"${answer}" at the administrator`);
    }
    // TIME: the phone's clock (the world's) in its zone, yyyy-MM-dd HH:mm:ss.
    await control('/control/sms', { from: admin, to: ready.numbers.vDevice, text: 'CC:TIME' });
    await phone.waitSms((s) => s.text === 'CC:TIME', 'CC:TIME');
    const now = new Date(Date.parse((await control('/status')).worldTime) + 8 * 3_600_000).toISOString();
    const answer = `CC:V:${now.slice(0, 10)} ${now.slice(11, 19)}`;
    await phone.sendSms(`+86${ready.app.adminPhone}`, answer);
    const shown = await sim.event((e) => e.type === 'sms.delivered' && e.to === admin && String(e.text).startsWith('CC:V:'), 'the TIME answer at the administrator');
    expect(shown.text).toBe(answer);
    expect(shown.kind).toBe('app-reply');
  }, 180_000);

  it('runs the whole work loop through the per-coin paths with the exact forms; a second POST is answered code 3', async () => {
    const { vtest_id: vtestId } = await control('/control/withdrawal', { outs: `${PAYEE},20000`, dynamic: 1 });
    const { status, form } = await workOnce();
    expect(status).toMatchObject({ hot_wallet_tx_status: 1, send_request: { user_tx_no: String(vtestId) }, tx_info: null });
    expect(status.tx_hash).toMatch(/^[0-9a-f]{64}$/);
    // The app posting the same request again (it re-pulled after an error): 400, code 3, taken as success.
    const again = await platform('POST', '/open/BTC/tx/request', form);
    expect(again.status).toBe(400);
    expect(again.body.code).toBe(3);
    const world = await control('/status');
    expect(world.vweb.withdrawals).toEqual({ done: 1 });
    expect(sim.events.filter((e) => e.type === 'chain.broadcast' && e.userTxNo === String(vtestId))).toHaveLength(1);
  }, 240_000);

  it('PING on the coin-less paths reaches status 1 and spends nothing', async () => {
    const uuid = randomUUID();
    const channel = okChannel();
    const posted = await platform('POST', '/open/tx/request', [
      ['coin_code', 'BTC'],
      ['user_tx_no', uuid],
      ['outs', 'PING'],
      ['vc_code', vcCode(requestString({ coin: 'BTC', dynamic: 1, outs: 'PING', userTxNo: uuid, outType: 0, memo: null }), channel.dh)],
      ['is_dynamic_fee', '1'],
      ['c_id', String(channel.cId)],
    ]);
    expect(posted).toEqual({ status: 200, body: { result: true } });
    const status = await pollStatus(`/open/tx/${uuid}`);
    expect(status).toMatchObject({ hot_wallet_tx_status: 1, tx_hash: null });
    expect(sim.events.filter((e) => e.type === 'chain.broadcast' && e.userTxNo === uuid)).toEqual([]);
  }, 180_000);

  it('the 03:00 UTC+8 alarm brings a new channel; its CHANNEL_OK is lost, the app signs with it at once, and HSM-Cold follows', async () => {
    // 03:00 in UTC+8 is 19:00 UTC, outside the app's 23:00-01:59 window: the app takes the QC
    // because the new channel is still creating.
    await control('/control/advance', { to: '2026-03-10T19:00:00Z' });
    const before = okChannel();
    const alarm = await createChannel();
    const qc = await phone.waitSms((s) => s.text.startsWith('CC:QC:') && s.text.endsWith(`:H_ID:${alarm.hId}`), 'with the second QC', 120_000);
    expect(heard(qc.from)).toBe('hsm');
    takeQc(qc.text, alarm);
    expect(alarm.cId).toBeGreaterThan(before.cId as number);
    // The carrier loses the CHANNEL_OK; the app never sends it again.
    await control('/control/fault', { fault: 'sms-loss', carrier: 'B', lossRate: 1 });
    await phone.sendSms(ready.app.hsmPhone1, `CC:CHANNEL_OK:${alarm.cId}:`);
    await sim.event((e) => e.type === 'sms.lost', 'the CHANNEL_OK lost');
    await control('/control/fault', { fault: 'sms-loss', carrier: 'B', lossRate: 0 });
    const { vtest_id: vtestId } = await control('/control/withdrawal', { outs: `${PAYEE},21000`, dynamic: 0 });
    const { status } = await workOnce();
    expect(status).toMatchObject({ hot_wallet_tx_status: 1, c_id: alarm.cId, send_request: { user_tx_no: String(vtestId) } });
    const opened = await sim.event((e) => e.type === 'cold.channel.opened' && e.cId === alarm.cId, 'HSM-Cold confirming the channel');
    expect(opened.confirmedBy).toBe('vc_code');
  }, 240_000);

  it("a carrier A outage: the app's SMS to SIM1 wait in the network, its withdrawals do not; SIM1 hears it again when A is back", async () => {
    await control('/control/batch', { wallet: 'cold', batch_no: 0 });
    const batch = (await vweb('GET', '/open/batch')).body;
    expect(batch).toMatchObject({ batch_no: 0, coin_type: 'BTC', address_type: 2 });
    await control('/control/fault', { fault: 'carrier', carrier: 'A', up: false });
    const seq = sim.events.at(-1)?.seq ?? 0;
    const since = Date.now();
    await phone.sendSms(ready.app.hsmPhone1, 'CC:VERIFY_COLD_ADDRESSES:0:BTC:');
    await sim.event((e) => e.seq > seq && e.type === 'sms.retrying' && e.to === ready.numbers.coldSim1, 'the network holding the request for SIM1');
    // A withdrawal needs no SMS from the phone: it goes through.
    await control('/control/withdrawal', { outs: `${PAYEE},22000`, dynamic: 1 });
    expect((await workOnce()).status.hot_wallet_tx_status).toBe(1);
    expect(phone.inbox.filter((s) => s.at >= since && s.text.startsWith('CC:COLD_ADDRESSES:'))).toEqual([]);
    expect(sim.events.filter((e) => e.seq > seq && e.type === 'sms.delivered' && e.to === ready.numbers.coldSim1)).toEqual([]);

    await control('/control/fault', { fault: 'carrier', carrier: 'A', up: true });
    await control('/control/advance', { ms: 60_000 }); // the SMSC's next delivery attempt
    const reply = await phone.waitSms((s) => s.text.startsWith('CC:COLD_ADDRESSES:'), 'with the batch signature', 120_000, since);
    expect(heard(reply.from)).toBe('hsm'); // from SIM1 or SIM2: the app hears both
    const fields = javaSplit(reply.text.slice('CC:'.length));
    expect(fields).toHaveLength(5);
    const channel = channels.find((c) => c.cId === Number(fields[3]));
    const content = [...batch.address_list].sort((a: any, b: any) => a.index - b.index).map((a: any, k: number) => `${k},${a.address}:`).join('');
    const ok = bitcoinMessage.verify(content, pubkeyAddress(channel?.qc as string), fields[2] as string);
    expect(ok).toBe(true);
    expect(await vweb('POST', '/open/batch', [['batch_no', '0'], ['status', '2'], ['type', '2'], ['coin_type', 'BTC']])).toEqual({ status: 200, body: { result: true } });
  }, 240_000);
});
