import { describe, expect, it } from 'vitest';
import { p2pkhAddress, p2wpkhAddress } from '../../shared/crypto/address.ts';
import { recoverMessagePublicKey, signMessage } from '../../shared/crypto/message-signature.ts';
import { NETWORKS } from '../../shared/crypto/networks.ts';
import { MAX_OUTS_ENTRIES, formatOuts, parseAmount, parseOuts, requestString, type HotSendRequest } from '../../shared/crypto/request-string.ts';
import { secp } from '../../shared/crypto/secp.ts';
import { expectHsmError } from '../helpers/errors.ts';

const btc = NETWORKS['btc-main'];
const A = '1NbbvxBYxGGCBhaM8mow1HFWA7dB5yukmY';
const B = '1MCs9SZwLg9JvLo6pzvVBWtmSV1dakwyM1';

const base: HotSendRequest = { coinCode: 'BTC', userTxNo: '8', outs: `${A},2000;${B},3000`, isDynamicFee: 1 };

describe('the vc_code request string (spec §vc_code)', () => {
  it('has the exact byte layout: fixed key order, no spaces, raw values', () => {
    expect(requestString(base)).toBe(`{"coin_code":"BTC","is_dynamic_fee":1,"outs":"${A},2000;${B},3000","user_tx_no":"8"}`);
  });

  it('adds outType only when present and not 0, then memo', () => {
    expect(requestString({ ...base, outType: 0 })).toBe(requestString(base));
    expect(requestString({ ...base, outType: 2 })).toBe(`{"coin_code":"BTC","is_dynamic_fee":1,"outs":"${A},2000;${B},3000","user_tx_no":"8","outType":2}`);
    expect(requestString({ ...base, outType: 2, memo: 'payroll 11' })).toBe(
      `{"coin_code":"BTC","is_dynamic_fee":1,"outs":"${A},2000;${B},3000","user_tx_no":"8","outType":2,"memo":"payroll 11"}`,
    );
    expect(requestString({ ...base, memo: '' })).toBe(`{"coin_code":"BTC","is_dynamic_fee":1,"outs":"${A},2000;${B},3000","user_tx_no":"8","memo":""}`);
  });

  it('PING with a UUID user_tx_no', () => {
    expect(requestString({ coinCode: 'BTC', userTxNo: '1b4e28ba-2fa1-11d2-883f-0016d3cca427', outs: 'PING', isDynamicFee: 0 })).toBe(
      '{"coin_code":"BTC","is_dynamic_fee":0,"outs":"PING","user_tx_no":"1b4e28ba-2fa1-11d2-883f-0016d3cca427"}',
    );
  });

  it('a vc_code over it recovers to the V-Device channel key (QH)', () => {
    const channelKey = new Uint8Array(32).fill(0x42);
    const qh = Buffer.from(secp.getPublicKey(channelKey, true)).toString('hex').toUpperCase();
    const vcCode = signMessage(requestString(base), channelKey);
    expect(Buffer.from(recoverMessagePublicKey(requestString(base), vcCode)).toString('hex').toUpperCase()).toBe(qh);
    expect(Buffer.from(recoverMessagePublicKey(requestString({ ...base, isDynamicFee: 0 }), vcCode)).toString('hex').toUpperCase()).not.toBe(qh);
  });

  it('refuses field values that could change the meaning of the signed string', () => {
    expectHsmError(() => requestString({ ...base, userTxNo: '8","outs":"x' }), 'BAD_USER_TX_NO', 'user_tx_no');
    expectHsmError(() => requestString({ ...base, userTxNo: '' }), 'BAD_USER_TX_NO');
    expectHsmError(() => requestString({ ...base, userTxNo: 'x'.repeat(65) }), 'BAD_USER_TX_NO');
    expectHsmError(() => requestString({ ...base, memo: 'say "hi"' }), 'BAD_MEMO', 'memo');
    expectHsmError(() => requestString({ ...base, memo: 'back\\slash' }), 'BAD_MEMO');
    expectHsmError(() => requestString({ ...base, memo: 'tab\there' }), 'BAD_MEMO');
    expectHsmError(() => requestString({ ...base, outs: `${A},1","x` }), 'BAD_OUTS', 'outs');
    expectHsmError(() => requestString({ ...base, isDynamicFee: 2 as 1 }), 'BAD_IS_DYNAMIC_FEE');
    expectHsmError(() => requestString({ ...base, outType: -1 }), 'BAD_OUT_TYPE');
    expectHsmError(() => requestString({ ...base, coinCode: 'ETH' as 'BTC' }), 'UNKNOWN_COIN', 'coin_code');
  });
});

describe('outs parser', () => {
  it('parses payments, keeps order, totals them', () => {
    const parsed = parseOuts(`${A},10000;${B},20000`, btc);
    expect(parsed.kind).toBe('payments');
    if (parsed.kind !== 'payments') return;
    expect(parsed.payments.map((p) => [p.address, p.value])).toEqual([
      [A, 10000n],
      [B, 20000n],
    ]);
    expect(parsed.total).toBe(30000n);
    expect(formatOuts(parsed.payments)).toBe(`${A},10000;${B},20000`);
  });

  it('recognises PING', () => {
    expect(parseOuts('PING', btc)).toEqual({ kind: 'ping' });
  });

  it('accepts SegWit destinations for coins that have them', () => {
    const pub = secp.getPublicKey(new Uint8Array(32).fill(1), true);
    expect(parseOuts(`${p2wpkhAddress(pub, NETWORKS['ltc-main'])},1`, NETWORKS['ltc-main']).kind).toBe('payments');
    expectHsmError(() => parseOuts(`${p2pkhAddress(pub, NETWORKS['ltc-main'])},1`, btc), 'ADDRESS_WRONG_NETWORK', 'outs[0].address');
  });

  it('names the bad entry', () => {
    expectHsmError(() => parseOuts('', btc), 'BAD_OUTS');
    expectHsmError(() => parseOuts(`${A},1;`, btc), 'BAD_OUTS', 'outs[1]');
    expectHsmError(() => parseOuts(`;${A},1`, btc), 'BAD_OUTS', 'outs[0]');
    expectHsmError(() => parseOuts(`${A},1;;${B},1`, btc), 'BAD_OUTS', 'outs[1]');
    expectHsmError(() => parseOuts(`${A}`, btc), 'BAD_OUTS', 'outs[0]');
    expectHsmError(() => parseOuts(`${A},1,2`, btc), 'BAD_OUTS', 'outs[0]');
    expectHsmError(() => parseOuts(`${A},0`, btc), 'BAD_AMOUNT', 'outs[0].value');
    expectHsmError(() => parseOuts(`${A},-5`, btc), 'BAD_AMOUNT');
    expectHsmError(() => parseOuts(`${A},1.5`, btc), 'BAD_AMOUNT');
    expectHsmError(() => parseOuts(`${A},010`, btc), 'BAD_AMOUNT');
    expectHsmError(() => parseOuts(`${A}, 10`, btc), 'BAD_AMOUNT');
    expectHsmError(() => parseOuts(`${A},1e3`, btc), 'BAD_AMOUNT');
    expectHsmError(() => parseOuts(`${B},1;${A}0,1`, btc), 'ADDRESS_CHARSET', 'outs[1].address');
    expectHsmError(() => parseOuts(`${B},1;${A}x,1`, btc), 'ADDRESS_CHECKSUM', 'outs[1].address');
    expectHsmError(() => parseOuts(`,1`, btc), 'ADDRESS_EMPTY', 'outs[0].address');
  });

  it('enforces the coin supply per value and in total', () => {
    expect(parseAmount('2100000000000000', btc)).toBe(2_100_000_000_000_000n);
    expectHsmError(() => parseAmount('2100000000000001', btc), 'BAD_AMOUNT');
    expect(parseAmount('8400000000000000', NETWORKS['ltc-main'])).toBe(8_400_000_000_000_000n);
    expectHsmError(() => parseOuts(`${A},2000000000000000;${B},200000000000000`, btc), 'BAD_OUTS', 'outs');
    expectHsmError(() => parseAmount('99999999999999999999', btc), 'BAD_AMOUNT');
  });

  it('bounds the number of entries and the length before parsing', () => {
    const many = Array.from({ length: MAX_OUTS_ENTRIES + 1 }, () => `${A},1`).join(';');
    expectHsmError(() => parseOuts(many, btc), 'BAD_OUTS');
    expectHsmError(() => parseOuts('x'.repeat(20_000), btc), 'BAD_OUTS');
  });
});
