/**
 * vweb against the released app's VWebService (spec "What the released app does"): the next
 * withdrawal stays the same until it is reported (the app re-pulls after a failed POST), the
 * payload is snake_case (plaintext with an empty password), the batch endpoints carry
 * coin_type, and every refusal has the project's error form.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../shared/clock.ts';
import { decryptVtest } from '../../shared/crypto/vtest-cipher.ts';
import { SeededRandom } from '../../shared/random.ts';
import { Vweb } from '../../hw-profiles/sim/host/vweb.ts';

const PAYEE = '1NbbvxBYxGGCBhaM8mow1HFWA7dB5yukmY';
const running: Vweb[] = [];
afterEach(async () => {
  for (const v of running.splice(0)) await v.close();
});

async function start(password = '20160721'): Promise<{ vweb: Vweb; url: string }> {
  const vweb = new Vweb({ clock: new SimulatedClock({ start: Date.UTC(2026, 2, 10) }), random: new SeededRandom('vweb-test'), password });
  running.push(vweb);
  return { vweb, url: `${await vweb.listen()}/api/v1/open` };
}

async function call(url: string, init: { form?: Record<string, string>; body?: string; contentType?: string } = {}): Promise<{ status: number; body: any }> {
  const body = init.body ?? (init.form === undefined ? undefined : new URLSearchParams(init.form).toString());
  const response = await fetch(url, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { Token: 'vweb-token', Accept: 'application/json', ...(body === undefined ? {} : { 'content-type': init.contentType ?? 'application/x-www-form-urlencoded' }) },
    ...(body === undefined ? {} : { body }),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? null : JSON.parse(text) };
}

describe('vweb for the released app', () => {
  it('hands out the oldest unreported withdrawal again until it is reported', async () => {
    const { vweb, url } = await start();
    const first = vweb.queueWithdrawal({ outs: `${PAYEE},10000`, dynamic: 0, coin_code: 'BTC', out_type: 0, confirmed: 1 });
    vweb.queueWithdrawal({ outs: `${PAYEE},20000`, dynamic: 1 });
    const pulled = await call(`${url}/vtest`);
    expect(pulled.body.vtest_id).toBe(first);
    expect(decryptVtest(pulled.body.vtest_info, '20160721')).toEqual({ outs: `${PAYEE},10000`, dynamic: 0, coin_code: 'BTC', out_type: 0, confirmed: 1 });
    // The POST to the platform failed: the app pulls again and gets the same one.
    expect((await call(`${url}/vtest`)).body.vtest_id).toBe(first);
    expect(await call(`${url}/vtest`, { form: { vtest_id: String(first) } })).toEqual({ status: 200, body: { result: true } });
    expect(vweb.withdrawal(first)?.state).toBe('failed'); // tx_hash absent: failed
    const second = await call(`${url}/vtest`);
    expect(second.body.vtest_id).toBe(first + 1);
    await call(`${url}/vtest`, { form: { vtest_id: String(first + 1), tx_hash: 'ab'.repeat(32) } });
    expect(await call(`${url}/vtest`)).toEqual({ status: 200, body: null });
  });

  it('with an empty password hands out the payload as plaintext JSON', async () => {
    const { vweb, url } = await start('');
    vweb.queueWithdrawal({ outs: `${PAYEE},10000`, dynamic: 1 });
    const pulled = await call(`${url}/vtest`);
    expect(JSON.parse(pulled.body.vtest_info)).toEqual({ outs: `${PAYEE},10000`, dynamic: 1 });
  });

  it('hands out batches with coin_type and takes the report with it', async () => {
    const { vweb, url } = await start();
    vweb.queueBatchCheck(0, [PAYEE], 'cold');
    const batch = await call(`${url}/batch`);
    expect(batch.body).toEqual({ batch_no: 0, address_list: [{ index: 0, address: PAYEE }], coin_type: 'BTC', status: null, address_type: 2 });
    const wrongCoin = await call(`${url}/batch`, { form: { batch_no: '0', status: '2', type: '2', coin_type: 'LTC' } });
    expect(wrongCoin.status).toBe(400);
    expect(wrongCoin.body.errors[0]).toMatchObject({ field: 'coin_type' });
    expect(await call(`${url}/batch`, { form: { batch_no: '0', status: '2', type: '2', coin_type: 'BTC' } })).toEqual({ status: 200, body: { result: true } });
    expect(vweb.batches[0]?.state).toBe('passed');
  });

  it('answers every refusal in the project error form, naming the field', async () => {
    const { vweb, url } = await start();
    vweb.queueWithdrawal({ outs: `${PAYEE},10000`, dynamic: 1 });
    const cases: Array<[Promise<{ status: number; body: any }>, number, string | undefined]> = [
      [call(`${url}/vtest`, { form: { vtest_id: '99' } }), 400, 'vtest_id'],
      [call(`${url}/vtest`, { form: { vtest_id: '1', tx_hash: 'xyz' } }), 400, 'tx_hash'],
      [call(`${url}/vtest`, { body: 'vtest_id=1&__proto__=x' }), 400, '__proto__'],
      [call(`${url}/vtest`, { body: 'vtest_id=1&vtest_id=2' }), 400, 'vtest_id'],
      [call(`${url}/vtest`, { body: '{"vtest_id":1}', contentType: 'application/json' }), 400, 'body'],
      [call(`${url}/batch`, { form: { batch_no: 'x', status: '2', type: '1' } }), 400, 'batch_no'],
      [call(`${url}/%zz`), 400, 'url'],
      [call(`${url}/nowhere`), 404, undefined],
    ];
    for (const [pending, status, field] of cases) {
      const response = await pending;
      expect(response.status).toBe(status);
      expect(Object.keys(response.body)).toEqual(['errors']);
      expect(response.body.errors).toHaveLength(1);
      expect(response.body.errors[0]).toEqual({ ...(field === undefined ? {} : { field }), message: expect.any(String), code: expect.any(Number) });
    }
    expect(vweb.withdrawal(1)?.state).toBe('queued');
  });
});
