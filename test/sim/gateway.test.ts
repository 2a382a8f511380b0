import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rig } from '../../hw-profiles/sim/rig.ts';
import { worldKeys } from '../../hw-profiles/sim/world-keys.ts';
import { bitcoin, ecc } from '../oracle/bitcoinjs.ts';
import { channelOpen, openApi, oracleAddresses, signRequest, testRig, vDeviceForm } from './rig-helpers.ts';

const PAYEE = '1NbbvxBYxGGCBhaM8mow1HFWA7dB5yukmY';
const SEED_USER_KEYS = ['can_otc_ad', 'user_id', 'gender', 'user_type', 'real_name', 'receiving_index', 'avatar', 'register_at', 'address', 'balance', 'user_name', 'can_otc_order'];
const SEED_TX_KEYS = ['tx_hash', 'confirmation', 'confirm_at', 'value', 'tx_at', 'inputs', 'outputs'];
const SEED_DETAIL_KEYS = ['tx_hash', 'c_id', 'user_id', 'send_request', 'vc_code', 'request_at', 'hot_wallet_tx_id', 'tx_at', 'hot_wallet_tx_status'];

let rig: Rig;

beforeAll(async () => {
  rig = await testRig({ seed: 'gateway-test' });
  await channelOpen(rig);
}, 120_000);

afterAll(async () => {
  await rig?.stop();
});

async function settled(userTxNo: string): Promise<any> {
  await rig.waitFor(() => ['done', 'failed'].includes(rig.gateway.ledger.get(userTxNo)?.state ?? ''), `request ${userTxNo}`, 600_000);
  return (await openApi(rig, `/tx/${userTxNo}`)).body;
}

describe('platform gateway: the seed Open API', () => {
  it('answers time and user in the seed shapes', async () => {
    const time = await openApi(rig, '/time');
    expect(time.status).toBe(200);
    expect(time.body.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
    const user = await openApi(rig, '/user');
    expect(user.status).toBe(200);
    expect(Object.keys(user.body).sort()).toEqual([...SEED_USER_KEYS].sort());
    expect(user.body).toMatchObject({ user_id: 40000, balance: 175_000_000, receiving_index: 3, real_name: null, avatar: null });
    expect(user.body.register_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
  });

  it('hands out address batches that an independent derivation reproduces, per credential', async () => {
    const keys = worldKeys('gateway-test');
    const hot = await openApi(rig, '/address/batch/1');
    expect(hot.status).toBe(200);
    expect(hot.body).toHaveLength(1000);
    expect(hot.body[0]).toEqual({ index: 1000, address: oracleAddresses(keys.hotMnemonic, 0, 1000, 1)[0] });
    expect(hot.body.map((a: { address: string }) => a.address)).toEqual(oracleAddresses(keys.hotMnemonic, 0, 1000, 1000));
    const cold = await openApi(rig, '/address/batch/0', { credential: 'cold' });
    expect(cold.status).toBe(200);
    expect(cold.body.slice(0, 5).map((a: { address: string }) => a.address)).toEqual(oracleAddresses(keys.coldMnemonic, 0, 0, 5));
    expect((await openApi(rig, '/address/batch/x')).body.errors[0]).toMatchObject({ field: 'batch_no', code: 40001 });
  });

  it('reports the next unused receiving address and the history of used ones', async () => {
    const next = await openApi(rig, '/address/next', { credential: 'cold' });
    expect(next.body.index).toBe(0);
    rig.chain.fund(next.body.address, 42_000n);
    rig.chain.mine();
    const after = await openApi(rig, '/address/next', { credential: 'cold' });
    expect(after.body).toEqual({ index: 1, address: oracleAddresses(worldKeys('gateway-test').coldMnemonic, 0, 1, 1)[0] });
    const history = await openApi(rig, '/address/history/0', { credential: 'cold' });
    expect(history.body).toEqual([{ index: 0, address: next.body.address }]);
    const hotHistory = await openApi(rig, '/address/history/0');
    expect(hotHistory.body.map((a: { index: number }) => a.index)).toEqual([2, 1, 0]);
    const since = await openApi(rig, `/address/history/0?since_address=${hotHistory.body[0].address}`);
    expect(since.body.map((a: { index: number }) => a.index)).toEqual([1, 0]);
    expect((await openApi(rig, '/address/history/2')).body.errors[0]).toMatchObject({ field: 'path', code: 40001 });
    const cold = await openApi(rig, '/tx', { credential: 'cold' });
    expect(cold.body).toHaveLength(1);
    expect(cold.body[0]).toMatchObject({ value: 42_000, confirmation: 1, inputs: [], outputs: [{ is_mine: true, status: 0, value: 42_000 }] });
  });

  it('takes a V-Device-signed request, has HSM-Hot sign it, broadcasts it, and reports it in the seed shape', async () => {
    const form = vDeviceForm(rig, 'gw-1', `${PAYEE},25000`);
    const posted = await openApi(rig, '/tx/request', { form });
    expect(posted).toEqual({ status: 200, body: { result: true } });
    const detail = await settled('gw-1');
    // The seed's fields, and the app's TxStatus ones beside them (gateway-app.test.ts).
    expect(Object.keys(detail)).toEqual(expect.arrayContaining(SEED_DETAIL_KEYS));
    expect(detail).toMatchObject({ hot_wallet_tx_status: 1, c_id: Number(form.c_id), user_id: 40000, vc_code: form.vc_code, send_request: { coin_code: 'BTC', user_tx_no: 'gw-1', is_dynamic_fee: 1, outs: form.outs } });
    const onChain = rig.chain.transaction(detail.tx_hash);
    expect(onChain).toBeDefined();
    // The chain's own check used bitcoinjs; check the signature once more here, independently.
    const tx = bitcoin.Transaction.fromBuffer(Buffer.from(onChain!.raw));
    const [sig, pubkey] = bitcoin.script.decompile(tx.ins[0]!.script) as [Buffer, Buffer];
    const prev = rig.chain.transaction(Buffer.from(tx.ins[0]!.hash).reverse().toString('hex'))!.outputs[tx.ins[0]!.index]!;
    const decoded = bitcoin.script.signature.decode(sig);
    expect(ecc.verify(tx.hashForSignature(0, Buffer.from(prev.script), decoded.hashType), pubkey, decoded.signature)).toBe(true);
    const view = await openApi(rig, `/tx/detail/${detail.tx_hash}`);
    expect(Object.keys(view.body).sort()).toEqual([...SEED_TX_KEYS].sort());
    const fee = onChain!.inputs.reduce((s, i) => s + i.value, 0n) - onChain!.outputs.reduce((s, o) => s + o.value, 0n);
    expect(view.body.value).toBe(-(25_000 + Number(fee)));
    expect(view.body.outputs.find((o: { address: string }) => o.address === PAYEE)).toMatchObject({ is_mine: false, value: 25_000 });
    expect(view.body.inputs.every((i: { is_mine: boolean }) => i.is_mine)).toBe(true);
    // The same request again is answered as the app expects (400, code 3); other fields under the number are refused.
    expect(await openApi(rig, '/tx/request', { form })).toMatchObject({ status: 400, body: { code: 3 } });
    const conflict = await openApi(rig, '/tx/request', { form: { ...form, outs: `${PAYEE},25001` } });
    expect(conflict.status).toBe(409);
    expect(conflict.body.errors[0]).toMatchObject({ field: 'user_tx_no', code: 2100 });
  });

  it('reports a request HSM-Cold refuses (a vc_code from another key) as status 9, without spending', async () => {
    const form = vDeviceForm(rig, 'gw-forged', `${PAYEE},30000`);
    const forged = { ...form, vc_code: vDeviceForm(rig, 'gw-other', `${PAYEE},30000`).vc_code as string };
    const balance = (await openApi(rig, '/user')).body.balance;
    expect((await openApi(rig, '/tx/request', { form: forged })).status).toBe(200);
    const detail = await settled('gw-forged');
    expect(detail.hot_wallet_tx_status).toBe(9);
    expect(detail.tx_hash).toBeNull();
    expect(rig.gateway.ledger.get('gw-forged')?.reason?.code).toBe('VC_CODE_INVALID');
    expect((await openApi(rig, '/user')).body.balance).toBe(balance);
    // The channel is closed now: wait for the next window before anything else needs it.
    await rig.waitFor(() => rig.events.find((e) => e.type === 'cold.channel.closed') !== undefined, 'the channel to close', 600_000);
  });

  it('refuses bad forms field by field and changes nothing', async () => {
    const before = rig.events.lastSeq;
    const base = { coin_code: 'BTC', user_tx_no: 'gw-bad', outs: `${PAYEE},1000`, vc_code: 'x'.repeat(88), is_dynamic_fee: '1', c_id: '1' };
    const cases: Array<[Record<string, string>, string, number]> = [
      [{ ...base, user_tx_no: '' }, 'user_tx_no', 40001],
      [{ ...base, outs: '1BadAddress,1000' }, 'outs[0].address', 1100],
      [{ ...base, outs: `${PAYEE},-5` }, 'outs[0].value', 40001],
      [{ ...base, is_dynamic_fee: '2' }, 'is_dynamic_fee', 40001],
      [{ ...base, c_id: 'seven' }, 'c_id', 40001],
      [{ ...base, coin_code: 'LTC' }, 'coin_code', 40001],
      [{ ...base, extra: '1' }, 'extra', 40001],
      [{ ...base, outs: `${PAYEE},900000000` }, 'outs', 1103],
    ];
    for (const [form, field, code] of cases) {
      const response = await openApi(rig, '/tx/request', { form });
      expect(response.status, JSON.stringify(form)).toBeGreaterThanOrEqual(400);
      expect(response.body.errors[0], JSON.stringify(form)).toMatchObject({ field, code });
    }
    const json = await openApi(rig, '/tx/request', { rawBody: JSON.stringify(base), contentType: 'application/json' });
    expect(json.body.errors[0]).toMatchObject({ field: 'body', code: 40001 });
    expect(rig.gateway.ledger.get('gw-bad')).toBeUndefined();
    expect(rig.events.since(before).filter((e) => e.type.startsWith('gateway.'))).toEqual([]);
  });

  it('authenticates by token, and checks signed requests of a credential with a secret', async () => {
    const path = '/api/v1/open/user';
    expect((await openApi(rig, '/user', { credential: 'none' })).body.errors[0]).toEqual({ field: 'token', message: 'the token header is missing', code: 1301 });
    expect((await openApi(rig, '/user', { credential: 'none', headers: { token: 'f'.repeat(64) } })).status).toBe(401);
    const keys = rig.keys;
    const unsigned = await openApi(rig, '/user', { credential: 'none', headers: { token: keys.coldReceivingToken } });
    expect(unsigned.body.errors[0]).toMatchObject({ field: 'cc-access-timestamp', code: 1301 });
    const now = Math.floor(rig.clock.now() / 1000);
    const signed = (timestamp: number, signature = signRequest(keys.coldReceivingSecret, 'GET', path, '', timestamp)) => ({
      token: keys.coldReceivingToken,
      'cc-access-timestamp': String(timestamp),
      'cc-access-signature': signature,
    });
    const good = signed(now);
    expect((await openApi(rig, '/user', { credential: 'none', headers: good })).status).toBe(200);
    expect((await openApi(rig, '/user', { credential: 'none', headers: good })).body.errors[0].code).toBe(1305);
    expect((await openApi(rig, '/user', { credential: 'none', headers: signed(now - 301) })).body.errors[0].code).toBe(1304);
    expect((await openApi(rig, '/user', { credential: 'none', headers: signed(now + 1, signRequest('wrong', 'GET', path, '', now + 1)) })).body.errors[0].code).toBe(1303);
    // The signature covers the query string too.
    const other = signed(now + 2, signRequest(keys.coldReceivingSecret, 'GET', '/api/v1/open/tx', '', now + 2));
    expect((await openApi(rig, '/tx?tx_hash=', { credential: 'none', headers: other })).body.errors[0].code).toBe(1303);
    // A Cold Receiving credential cannot request transactions.
    const posted = await openApi(rig, '/tx/request', { credential: 'cold', form: { user_tx_no: '1', outs: `${PAYEE},1`, vc_code: 'x', c_id: '1' } });
    expect(posted.body.errors[0]).toMatchObject({ code: 1300 });
  });

  it('serves the per-coin paths and answers unknown ones with the error shape', async () => {
    expect((await openApi(rig, '/btc/time')).status).toBe(200);
    const ltc = await openApi(rig, '/ltc/user');
    expect(ltc).toEqual({ status: 404, body: { errors: [{ message: 'coin ltc is not served here', code: 1000 }] } });
    const nowhere = await openApi(rig, '/nowhere/at/all');
    expect(nowhere.status).toBe(404);
    expect(nowhere.body.errors[0].code).toBe(1000);
    expect((await openApi(rig, '/tx/unknown-no')).body.errors[0].code).toBe(1000);
    expect((await openApi(rig, `/tx/detail/${'0'.repeat(64)}`)).status).toBe(404);
    expect((await openApi(rig, '/tx/detail/xyz')).body.errors[0]).toMatchObject({ field: 'tx_hash', code: 40001 });
  });

  it('lists transactions 20 at a time, oldest first, continuing after tx_hash', async () => {
    const hot = await rig.gateway.wallet('BTC', 'hot');
    for (let i = 0; i < 25; i++) rig.chain.fund(hot.address(0, 10 + i), BigInt(1000 + i));
    rig.chain.mine();
    const first = await openApi(rig, '/tx');
    expect(first.body).toHaveLength(20);
    const times = first.body.map((t: { tx_at: string }) => t.tx_at);
    expect([...times].sort()).toEqual(times);
    const second = await openApi(rig, `/tx?tx_hash=${first.body[19].tx_hash}`);
    const all = [...first.body, ...second.body].map((t: { tx_hash: string }) => t.tx_hash);
    expect(new Set(all).size).toBe(all.length);
    expect(all).toHaveLength(rig.chain.history((a) => hot.isMine(a)).length);
    expect((await openApi(rig, `/tx?tx_hash=${'1'.repeat(64)}`)).body.errors[0]).toMatchObject({ field: 'tx_hash', code: 40001 });
  });
});
