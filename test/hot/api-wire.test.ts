import { describe, expect, it } from 'vitest';
import { apiTime, authSigningString, canonicalJson, messageSigningString, operationSigningString } from '../../hsm-hot/api-wire.ts';
import { expectHsmError } from '../helpers/errors.ts';
import { canonical } from './client.ts';

const KEY = '02a1633cafcc01ebfb6d78e39f687a1f0995c62fc95f51ead10a02ee0be551b5dc';

describe('host API wire strings', () => {
  it('canonical JSON sorts keys at every level and drops whitespace', () => {
    const params = { user_tx_no: '8', outs: 'a,1;b,2', c_id: 2, nested: { z: [3, { b: true, a: null }], a: 'é"\\' } };
    expect(canonicalJson(params)).toBe('{"c_id":2,"nested":{"a":"é\\"\\\\","z":[3,{"a":null,"b":true}]},"outs":"a,1;b,2","user_tx_no":"8"}');
    expect(canonicalJson(JSON.parse(' { "b" : 1 , "a" : [ ] } '))).toBe('{"a":[],"b":1}');
    expect(canonical(params)).toBe(canonicalJson(params));
  });

  it('refuses numbers that are not safe integers, and nesting deeper than 8', () => {
    expectHsmError(() => canonicalJson({ fee: 0.5 }), 'PARAMS_INVALID', 'params.fee');
    expectHsmError(() => canonicalJson({ big: 2 ** 53 }), 'PARAMS_INVALID', 'params.big');
    let deep: unknown = 1;
    for (let i = 0; i < 9; i++) deep = [deep];
    expectHsmError(() => canonicalJson({ deep }), 'PARAMS_INVALID');
    expect(canonicalJson(JSON.parse('{"__proto__":{"x":1}}'))).toBe('{"__proto__":{"x":1}}');
  });

  it('the exact strings a client signs', () => {
    expect(authSigningString(KEY, 1700000000000, 'ab'.repeat(32))).toBe(`AUTH${KEY}1700000000000${'ab'.repeat(32)}`);
    expect(operationSigningString('tx_status', KEY, 17, { user_tx_no: '8' })).toBe(`TX_STATUS${KEY}17{"user_tx_no":"8"}`);
    expect(operationSigningString('device_status', KEY, 18, {})).toBe(`DEVICE_STATUS${KEY}18{}`);
  });

  it('the device signs its messages over canonical JSON without the signature', () => {
    expect(messageSigningString({ msg: 'tx_status', id: 4, data: { b: 1, a: [true] }, signed: 'xyz' })).toBe('{"data":{"a":[true],"b":1},"id":4,"msg":"tx_status"}');
  });

  it('times are written as the seed writes them (UTC, seconds)', () => {
    expect(apiTime(Date.UTC(2016, 6, 31, 4, 52, 13, 999))).toBe('2016-07-31T04:52:13');
  });
});
