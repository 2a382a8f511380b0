import { describe, expect, it } from 'vitest';
import { decryptVtest, decryptVtestText, encryptVtest, encryptVtestText } from '../../shared/crypto/vtest-cipher.ts';
import { SeededRandom } from '../../shared/random.ts';
import { expectHsmError } from '../helpers/errors.ts';
import { loadVectors } from '../helpers/vectors.ts';

const seed = loadVectors<{ password: string; vtest_info: string; plaintext: string }>('vtest');

describe('vtest_info cipher', () => {
  it('decrypts the seed vector to the documented payload', () => {
    expect(decryptVtestText(seed.vtest_info, seed.password)).toBe(seed.plaintext);
    expect(decryptVtest(seed.vtest_info, seed.password)).toEqual({
      outs: '1NbbvxBYxGGCBhaM8mow1HFWA7dB5yukmY,10000;1MCs9SZwLg9JvLo6pzvVBWtmSV1dakwyM1,10000',
      dynamic: 0,
    });
  });

  it('round-trips with upper-case hex and an 8-byte salt', () => {
    const random = new SeededRandom('vtest');
    const payload = { outs: '1NbbvxBYxGGCBhaM8mow1HFWA7dB5yukmY,12345', dynamic: 1 as const, coin_code: 'BTC', memo: 'm' };
    const info = encryptVtest(payload, 'pässwörd', random);
    const [ct, iv, salt] = info.split('/');
    expect(info).toBe(info.toUpperCase());
    expect(iv).toHaveLength(32);
    expect(salt).toHaveLength(16);
    expect(ct!.length % 32).toBe(0);
    expect(decryptVtest(info, 'pässwörd')).toEqual(payload);
  });

  it("reads the app's snake_case plaintext keys (its JSON naming policy), and no camelCase ones", () => {
    const random = new SeededRandom('vtest-snake');
    const text = '{"outs":"1NbbvxBYxGGCBhaM8mow1HFWA7dB5yukmY,1000","dynamic":1,"confirmed":1,"coin_code":"BTC","out_type":2,"memo":"","nonce":7,"gas_price":"20000000000"}';
    expect(decryptVtest(encryptVtestText(text, 'p', random), 'p')).toEqual(JSON.parse(text));
    expectHsmError(() => decryptVtest(encryptVtestText('{"outs":"a,1","dynamic":0,"coinCode":"BTC"}', 'p', random), 'p'), 'VTEST_PAYLOAD', 'vtest_info.coinCode');
    expectHsmError(() => decryptVtest(encryptVtestText('{"outs":"a,1","dynamic":0,"gas_price":"1e9"}', 'p', random), 'p'), 'VTEST_PAYLOAD', 'vtest_info.gas_price');
  });

  it("decrypts the older ':' separator as the app does", () => {
    expect(decryptVtestText(seed.vtest_info.replaceAll('/', ':'), seed.password)).toBe(seed.plaintext);
  });

  it('an empty password means the payload is plaintext JSON (the app skips decryption)', () => {
    expect(decryptVtest(seed.plaintext, '')).toEqual({ outs: '1NbbvxBYxGGCBhaM8mow1HFWA7dB5yukmY,10000;1MCs9SZwLg9JvLo6pzvVBWtmSV1dakwyM1,10000', dynamic: 0 });
    expect(encryptVtest({ outs: 'a,1', dynamic: 0 }, '', new SeededRandom('x'))).toBe('{"outs":"a,1","dynamic":0}');
    expectHsmError(() => decryptVtest(seed.vtest_info, ''), 'VTEST_PAYLOAD', 'vtest_info');
  });

  it('accepts a 9-byte salt field (flags byte, then the salt)', () => {
    const [ct, iv, salt] = seed.vtest_info.split('/');
    expect(decryptVtestText(`${ct}/${iv}/01${salt}`, seed.password)).toBe(seed.plaintext);
  });

  it('names malformed input', () => {
    const [ct, iv, salt] = seed.vtest_info.split('/') as [string, string, string];
    expectHsmError(() => decryptVtestText(`${ct}/${iv}`, seed.password), 'VTEST_FORMAT', 'vtest_info');
    expectHsmError(() => decryptVtestText(`${ct.toLowerCase()}/${iv}/${salt}`, seed.password), 'VTEST_FORMAT', 'vtest_info.ciphertext');
    expectHsmError(() => decryptVtestText(`${ct}/${iv.slice(2)}/${salt}`, seed.password), 'VTEST_FORMAT', 'vtest_info.iv');
    expectHsmError(() => decryptVtestText(`${ct}/${iv}/${salt}AB01`, seed.password), 'VTEST_FORMAT', 'vtest_info.salt');
    expectHsmError(() => decryptVtestText(`${ct.slice(2)}/${iv}/${salt}`, seed.password), 'VTEST_FORMAT', 'vtest_info.ciphertext');
    expectHsmError(() => decryptVtestText('x'.repeat(70_000), seed.password), 'VTEST_FORMAT');
  });

  it('a wrong password or a damaged ciphertext is an error, never a silent wrong payload', () => {
    expectHsmError(() => decryptVtestText(seed.vtest_info, '20160722'), 'VTEST_DECRYPT');
    const random = new SeededRandom('vtest-wrong');
    for (let i = 0; i < 20; i++) {
      expect(() => decryptVtest(seed.vtest_info, `wrong-${random.uint32()}`)).toThrow(/vtest_info/);
    }
  });

  it('validates the payload after decryption', () => {
    const random = new SeededRandom('vtest-payload');
    expectHsmError(() => decryptVtest(encryptVtestText('not json', 'p', random), 'p'), 'VTEST_PAYLOAD');
    expectHsmError(() => decryptVtest(encryptVtestText('{"outs":"a,1","dynamic":2}', 'p', random), 'p'), 'VTEST_PAYLOAD', 'vtest_info.dynamic');
    expectHsmError(() => decryptVtest(encryptVtestText('{"outs":"a,1","dynamic":0,"extra":1}', 'p', random), 'p'), 'VTEST_PAYLOAD');
  });
});
