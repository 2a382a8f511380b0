/**
 * The platform gateway against the released app's HTTP contract (spec "What the released app
 * does"): the per-coin withdrawal path with the app's form, the duplicate answered code 3, the
 * TxStatus it polls, PING on the coin-less paths, and the reservation lifecycle when HSM-Hot
 * cannot be reached (a request is kept, sent again, and paid once; its coins are never lost).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rig } from '../../hw-profiles/sim/rig.ts';
import { signMessage } from '../../shared/crypto/message-signature.ts';
import { channelOpen, openApi, testRig } from './rig-helpers.ts';

const PAYEE = '1NbbvxBYxGGCBhaM8mow1HFWA7dB5yukmY';
const OTHER = '1MCs9SZwLg9JvLo6pzvVBWtmSV1dakwyM1';
/** The app's TxStatus fields (api/result/TxStatus.java, snake_case by its JSON policy). */
const TX_STATUS_KEYS = ['c_id', 'user_id', 'send_request', 'vc_code', 'request_at', 'hot_wallet_tx', 'hot_wallet_tx_status', 'tx_info', 'tx_hash'];

let rig: Rig;

beforeAll(async () => {
  rig = await testRig({ seed: 'gateway-app' });
  await channelOpen(rig);
}, 180_000);

afterAll(async () => {
  await rig?.stop();
});

interface AppRequest {
  coinCode?: string;
  userTxNo: string;
  outs: string;
  dynamic?: 0 | 1;
  confirmed?: 0 | 1;
  outType?: number;
  memo?: string;
  nonce?: number;
  gasPrice?: string;
}

/** The request string the app signs (TxRequest.toString, written out here from the spec). */
function appSignedString(r: AppRequest): string {
  let text = `{"coin_code":"${r.coinCode ?? 'BTC'}","is_dynamic_fee":${r.dynamic ?? 0},"outs":"${r.outs}","user_tx_no":"${r.userTxNo}"`;
  if ((r.outType ?? 0) !== 0) text += `,"outType":${r.outType}`;
  if (r.memo !== undefined) text += `,"memo":"${r.memo}"`;
  return `${text}}`;
}

/** The app's withdrawal form, field for field in the order its Retrofit interface sends them. */
function appForm(r: AppRequest, channel = rig.vDevice?.currentChannel()): Record<string, string> {
  if (channel?.cId === undefined) throw new Error('no channel');
  const form: Record<string, string> = {
    coin_code: r.coinCode ?? 'BTC',
    user_tx_no: r.userTxNo,
    outs: r.outs,
    vc_code: signMessage(appSignedString(r), Buffer.from(channel.dh, 'hex')),
    is_dynamic_fee: String(r.dynamic ?? 0),
    only_confirmed: String(r.confirmed ?? 0),
    c_id: String(channel.cId),
    out_type: String(r.outType ?? 0),
  };
  if (r.memo !== undefined) form.memo = r.memo;
  if (r.nonce !== undefined) form.nonce = String(r.nonce);
  if (r.gasPrice !== undefined) form.gas_price = r.gasPrice;
  return form;
}

async function finished(path: string, userTxNo: string): Promise<any> {
  await rig.waitFor(() => ['done', 'failed'].includes(rig.gateway.ledger.get(userTxNo)?.state ?? ''), `request ${userTxNo}`, 1_800_000);
  return (await openApi(rig, `${path}/${userTxNo}`)).body;
}

describe("platform gateway: the released app's HTTP contract", () => {
  it('takes the withdrawal on /BTC/tx/request with the fields the app always sends, and reports the TxStatus the app polls', async () => {
    const request: AppRequest = { userTxNo: '101', outs: `${PAYEE},20000;${OTHER},30000`, dynamic: 1, memo: '' };
    const posted = await openApi(rig, '/BTC/tx/request', { form: appForm(request) });
    expect(posted).toEqual({ status: 200, body: { result: true } });
    const pending = await openApi(rig, '/BTC/tx/101');
    expect(pending.status).toBe(200);
    const status = await finished('/BTC/tx', '101');
    for (const key of TX_STATUS_KEYS) expect(status, key).toHaveProperty(key);
    expect(status).toMatchObject({ hot_wallet_tx_status: 1, user_id: 40000, tx_info: null, reason: null });
    expect(status.send_request).toMatchObject({ user_tx_no: '101', coin_code: 'BTC', out_type: 0, memo: '' });
    expect(status.tx_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(status.request_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/); // what the app's date adapter reads
    expect(rig.chain.transaction(status.tx_hash)).toBeDefined();
    // The lower-case path is the same resource.
    expect((await openApi(rig, '/btc/tx/101')).body.tx_hash).toBe(status.tx_hash);
  });

  it('answers a repeated user_tx_no with HTTP 400 and code 3, even re-signed on another channel; other fields stay a 409', async () => {
    const request: AppRequest = { userTxNo: '102', outs: `${PAYEE},21000` };
    const form = appForm(request);
    expect((await openApi(rig, '/BTC/tx/request', { form })).status).toBe(200);
    const again = await openApi(rig, '/BTC/tx/request', { form });
    expect(again.status).toBe(400);
    expect(again.body).toMatchObject({ code: 3, message: expect.any(String), errors: [{ field: 'user_tx_no', code: 3 }] });
    // The app re-pulls, re-signs and re-posts: a fresh vc_code (another c_id) is the same request.
    const resigned = { ...form, c_id: '7', vc_code: signMessage(appSignedString(request), new Uint8Array(32).fill(3)), only_confirmed: '1', nonce: '4' };
    expect((await openApi(rig, '/BTC/tx/request', { form: resigned })).body.code).toBe(3);
    const conflict = await openApi(rig, '/BTC/tx/request', { form: appForm({ ...request, outs: `${PAYEE},21001` }) });
    expect(conflict.status).toBe(409);
    expect(conflict.body.code).toBeUndefined();
    expect(conflict.body.errors[0]).toMatchObject({ field: 'user_tx_no', code: 2100 });
    const status = await finished('/BTC/tx', '102');
    expect(status).toMatchObject({ hot_wallet_tx_status: 1, vc_code: form.vc_code, c_id: Number(form.c_id) });
    expect(rig.events.since(0).filter((e) => e.type === 'gateway.request' && e.userTxNo === '102')).toHaveLength(1);
  });

  it('signs out_type as outType; the unsigned fields never reach HSM-Hot and only narrow the coins', async () => {
    const request: AppRequest = { userTxNo: '103', outs: `${PAYEE},22000`, outType: 2, nonce: 9, gasPrice: '20000000000' };
    expect((await openApi(rig, '/BTC/tx/request', { form: appForm(request) })).status).toBe(200);
    const record = rig.gateway.ledger.get('103');
    expect(record?.form).toMatchObject({ outType: 2 });
    expect(Object.keys(record?.form ?? {})).not.toEqual(expect.arrayContaining(['nonce']));
    expect(record?.unsigned).toEqual({ only_confirmed: 0, nonce: 9, gas_price: '20000000000' });
    expect((await finished('/BTC/tx', '103')).hot_wallet_tx_status).toBe(1);

    // Right after a spend its change is unconfirmed: only_confirmed=1 may not spend it.
    const balance = BigInt((await openApi(rig, '/BTC/user')).body.balance);
    const confirmedOnly = await openApi(rig, '/BTC/tx/request', { form: appForm({ userTxNo: '104', outs: `${PAYEE},${balance - 100_000n}`, confirmed: 1 }) });
    expect(confirmedOnly.status).toBe(400);
    expect(confirmedOnly.body.errors[0]).toMatchObject({ field: 'outs', code: 1103 });
    expect(rig.gateway.ledger.get('104')).toBeUndefined();
  });

  it('PING on the coin-less path, is_dynamic_fee 1 and a UUID, reaches status 1 with no spend', async () => {
    const uuid = randomUUID();
    const balance = (await openApi(rig, '/user')).body.balance;
    const channel = rig.vDevice?.currentChannel();
    const form = {
      coin_code: 'BTC',
      user_tx_no: uuid,
      outs: 'PING',
      vc_code: signMessage(appSignedString({ userTxNo: uuid, outs: 'PING', dynamic: 1 }), Buffer.from(channel!.dh, 'hex')),
      is_dynamic_fee: '1',
      c_id: String(channel!.cId),
    };
    expect(await openApi(rig, '/tx/request', { form })).toEqual({ status: 200, body: { result: true } });
    const txs = rig.chain.history(() => true).length;
    const status = await finished('/tx', uuid);
    expect(status).toMatchObject({ hot_wallet_tx_status: 1, tx_hash: null });
    expect((await openApi(rig, '/user')).body.balance).toBe(balance);
    expect(rig.chain.history(() => true)).toHaveLength(txs);
  });

  it('a refusal by policy is status 9, with the rule that refused it in a field the app does not read', async () => {
    const posted = await openApi(rig, '/BTC/tx/request', { form: appForm({ userTxNo: '105', outs: `${PAYEE},120000000` }) });
    expect(posted.status).toBe(200);
    const status = await finished('/BTC/tx', '105');
    expect(status.hot_wallet_tx_status).toBe(9);
    expect(status.reason).toMatchObject({ code: 'POLICY_MAX_PER_TX', message: expect.stringContaining('per request') });
    expect(rig.gateway.ledger.get('105')?.reserved).toEqual([]);
  });

  it('refuses, naming the field, what HSM-Hot would refuse, before anything is reserved', async () => {
    const before = rig.events.lastSeq;
    const base = appForm({ userTxNo: '106', outs: `${PAYEE},1000` });
    const cases: Array<[Record<string, string>, string]> = [
      [{ ...base, memo: 'say "hi"' }, 'memo'],
      [{ ...base, user_tx_no: 'has space' }, 'user_tx_no'],
      [{ ...base, user_tx_no: '-leading' }, 'user_tx_no'],
      [{ ...base, out_type: 'x' }, 'out_type'],
      [{ ...base, only_confirmed: '2' }, 'only_confirmed'],
      [{ ...base, nonce: '-1' }, 'nonce'],
      [{ ...base, gas_price: '1e9' }, 'gas_price'],
      [{ ...base, c_id: '2147483648' }, 'c_id'],
      [{ ...base, outType: '1' }, 'outType'],
    ];
    for (const [form, field] of cases) {
      const response = await openApi(rig, '/BTC/tx/request', { form });
      expect(response.status, JSON.stringify(form)).toBe(400);
      expect(response.body.errors[0], JSON.stringify(form)).toMatchObject({ field, code: 40001 });
    }
    const proto = await openApi(rig, '/BTC/tx/request', { rawBody: `${new URLSearchParams(base).toString()}&__proto__=x` });
    expect(proto.status).toBe(400);
    expect(proto.body.errors[0]).toMatchObject({ field: '__proto__', code: 40001 });
    const badUrl = await fetch(`${rig.ready.api.url}/BTC/tx/%E0%A4%A`, { headers: { token: rig.keys.hotSendingToken } });
    expect(badUrl.status).toBe(400);
    expect(await badUrl.json()).toEqual({ errors: [{ field: 'url', message: 'the URL is not valid percent-encoding', code: 40001 }] });
    expect(rig.gateway.ledger.get('106')).toBeUndefined();
    expect(rig.events.since(before).filter((e) => e.type.startsWith('gateway.'))).toEqual([]);
  });
});

describe('the reservation lifecycle when HSM-Hot cannot be reached', () => {
  it('keeps a request posted while HSM-Hot is away, says why, sends it when HSM-Hot is back; four outages freeze nothing', async () => {
    const ids = ['201', '202', '203', '204'];
    for (const [i, userTxNo] of ids.entries()) {
      await rig.hotClient.stop(); // the platform loses HSM-Hot
      const form = appForm({ userTxNo, outs: `${PAYEE},${30_000 + i}` });
      const posted = await openApi(rig, '/BTC/tx/request', { form });
      expect(posted.status, JSON.stringify(posted.body)).toBe(503);
      expect(posted.body.errors[0].code).toBe(1200);
      const waiting = (await openApi(rig, `/BTC/tx/${userTxNo}`)).body;
      expect(waiting.hot_wallet_tx_status).toBe(0); // pending, never a 400/404 the app takes for failure
      expect(waiting.reason).toMatchObject({ code: 'WAITING_FOR_HSM_HOT' });
      // The app re-posts after a failed POST: the request is known.
      expect((await openApi(rig, '/BTC/tx/request', { form })).body.code).toBe(3);
      await rig.settle(rig.hotClient.start(), 'the platform to reconnect to HSM-Hot');
      // Sent again by the platform itself once HSM-Hot is back, and paid.
      const status = await finished('/BTC/tx', userTxNo);
      expect(status.hot_wallet_tx_status, userTxNo).toBe(1);
      expect(rig.chain.transaction(status.tx_hash)).toBeDefined();
    }
    const hashes = ids.map((id) => rig.gateway.ledger.get(id)?.txHash);
    expect(new Set(hashes).size).toBe(ids.length);
    expect(rig.events.since(0).filter((e) => e.type === 'gateway.resent').map((e) => e.userTxNo).sort()).toEqual(ids);
    // Nothing stays reserved; the wallet pays the next withdrawal.
    const open = ids.map((id) => rig.gateway.ledger.get(id)?.reserved).flat();
    expect(open).toEqual([]);
    expect((await openApi(rig, '/BTC/tx/request', { form: appForm({ userTxNo: '205', outs: `${PAYEE},5000` }) })).status).toBe(200);
    expect((await finished('/BTC/tx', '205')).hot_wallet_tx_status).toBe(1);
  });
});
