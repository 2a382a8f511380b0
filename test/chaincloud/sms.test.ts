import { describe, expect, it } from 'vitest';
import {
  formatAdminAlert,
  formatColdMessage,
  formatVDeviceMessage,
  javaSplit,
  parseColdMessage,
  parseVDeviceMessage,
} from '../../shared/chaincloud/sms.ts';
import { signMessage } from '../../shared/crypto/message-signature.ts';
import { secp } from '../../shared/crypto/secp.ts';
import { expectHsmError } from '../helpers/errors.ts';

const QH = Buffer.from(secp.getPublicKey(new Uint8Array(32).fill(9), true)).toString('hex').toUpperCase();
const QC = Buffer.from(secp.getPublicKey(new Uint8Array(32).fill(8), true)).toString('hex').toUpperCase();

describe('V-Device → HSM-Cold messages (spec §SMS messages)', () => {
  it('parses the four messages as the app sends them, trailing colon included', () => {
    expect(parseVDeviceMessage(`CC:QH:${QH}:H_ID:17:`)).toEqual({ kind: 'channel-request', qh: QH, hId: 17 });
    expect(parseVDeviceMessage('CC:CHANNEL_OK:42:')).toEqual({ kind: 'channel-ok', cId: 42 });
    expect(parseVDeviceMessage('CC:VERIFY_HOT_ADDRESSES:0:BTC:')).toEqual({ kind: 'verify-addresses', addressType: 'hot', batchNo: 0, coin: 'BTC' });
    expect(parseVDeviceMessage('CC:VERIFY_COLD_ADDRESSES:12:LTC:')).toEqual({ kind: 'verify-addresses', addressType: 'cold', batchNo: 12, coin: 'LTC' });
  });

  it('tolerates a missing trailing colon, surrounding whitespace and a lower-case key', () => {
    expect(parseVDeviceMessage(` CC:QH:${QH.toLowerCase()}:H_ID:17\r\n`)).toEqual({ kind: 'channel-request', qh: QH, hId: 17 });
    expect(parseVDeviceMessage('CC:CHANNEL_OK:42')).toEqual({ kind: 'channel-ok', cId: 42 });
  });

  it('round-trips through the formatter', () => {
    for (const text of [`CC:QH:${QH}:H_ID:1:`, 'CC:CHANNEL_OK:9:', 'CC:VERIFY_HOT_ADDRESSES:3:DOGE:']) {
      expect(formatVDeviceMessage(parseVDeviceMessage(text))).toBe(text);
    }
  });

  it('names what is wrong in a malformed message', () => {
    expectHsmError(() => parseVDeviceMessage('hello'), 'SMS_FORMAT', 'text');
    expectHsmError(() => parseVDeviceMessage('CC:QH:1234:H_ID:1:'), 'SMS_FORMAT', 'QH');
    expectHsmError(() => parseVDeviceMessage(`CC:QH:04${QH.slice(2)}:H_ID:1:`), 'SMS_FORMAT', 'QH');
    expectHsmError(() => parseVDeviceMessage(`CC:QH:02${'0'.repeat(64)}:H_ID:1:`), 'SMS_FORMAT', 'QH'); // not on the curve
    expectHsmError(() => parseVDeviceMessage(`CC:QH:${QH}:HID:1:`), 'SMS_FORMAT', 'text');
    expectHsmError(() => parseVDeviceMessage(`CC:QH:${QH}:H_ID:-1:`), 'SMS_FORMAT', 'H_ID');
    expectHsmError(() => parseVDeviceMessage('CC:CHANNEL_OK:1:2:'), 'SMS_FORMAT', 'text');
    expectHsmError(() => parseVDeviceMessage('CC:CHANNEL_OK:0x1:'), 'SMS_FORMAT', 'cId');
    expectHsmError(() => parseVDeviceMessage('CC:VERIFY_HOT_ADDRESSES:01:BTC:'), 'SMS_FORMAT', 'batchNo');
    expectHsmError(() => parseVDeviceMessage('CC:VERIFY_HOT_ADDRESSES:1:ETH:'), 'SMS_FORMAT', 'coin');
    expectHsmError(() => parseVDeviceMessage('CC:SELF_DESTRUCT:'), 'SMS_FORMAT', 'text');
    expectHsmError(() => parseVDeviceMessage(`CC:${'x'.repeat(600)}`), 'SMS_FORMAT', 'text');
  });
});

describe('Java String.split semantics (the app parses with it)', () => {
  it('drops trailing empty fields and keeps leading ones', () => {
    expect(javaSplit('CHANNEL_OK:7:', ':')).toEqual(['CHANNEL_OK', '7']);
    expect(javaSplit('a::b::', ':')).toEqual(['a', '', 'b']);
    expect(javaSplit(':a', ':')).toEqual(['', 'a']);
    expect(javaSplit('START_LOOP', ':')).toEqual(['START_LOOP']);
    expect(javaSplit('', ':')).toEqual(['']);
    expect(javaSplit(':::', ':')).toEqual([]);
  });
});

describe('HSM-Cold → V-Device messages', () => {
  it('formats the channel reply with exactly 6 fields after CC:', () => {
    const text = formatColdMessage({ kind: 'channel-reply', qc: QC.toLowerCase(), cId: 1001, hId: 17 });
    expect(text).toBe(`CC:QC:${QC}:C_ID:1001:H_ID:17`);
    expect(text.slice(3).split(':')).toHaveLength(6);
    expect(parseColdMessage(text)).toEqual({ kind: 'channel-reply', qc: QC, cId: 1001, hId: 17 });
  });

  it('formats batch replies with exactly 5 fields after CC:', () => {
    const signature = signMessage('0,1abc:', new Uint8Array(32).fill(8));
    const hot = formatColdMessage({ kind: 'addresses', addressType: 'hot', batchNo: 3, signature, cId: 1001, coin: 'BTC' });
    expect(hot).toBe(`CC:HOT_ADDRESSES:3:${signature}:1001:BTC`);
    expect(hot.slice(3).split(':')).toHaveLength(5);
    expect(parseColdMessage(hot)).toMatchObject({ kind: 'addresses', addressType: 'hot', batchNo: 3, cId: 1001, coin: 'BTC' });
    expect(formatColdMessage({ kind: 'addresses', addressType: 'cold', batchNo: 0, signature, cId: 7, coin: 'LTC' })).toMatch(/^CC:COLD_ADDRESSES:0:/);
    // The app splits as Java does: a trailing colon adds no field, a seventh field is refused.
    expect(parseColdMessage(`CC:QC:${QC}:C_ID:1:H_ID:2:`)).toEqual({ kind: 'channel-reply', qc: QC, cId: 1, hId: 2 });
    expectHsmError(() => parseColdMessage(`CC:QC:${QC}:C_ID:1:H_ID:2:x`), 'SMS_FORMAT');
    expectHsmError(() => parseColdMessage('CC:HOT_ADDRESSES:1:AAAA:1:BTC'), 'SMS_FORMAT', 'sig');
  });

  it('administrator alerts stay within one plain SMS', () => {
    expect(formatAdminAlert('forged vc_code on channel 9; channel closed')).toBe('HSM-COLD ALERT: forged vc_code on channel 9; channel closed');
    const long = formatAdminAlert('x'.repeat(400));
    expect(long.length).toBe(160);
    expect(formatAdminAlert('tab\there ~[]{}€')).toBe('HSM-COLD ALERT: tab?here ??????');
    expect(formatAdminAlert('from \u20260001 \u201cquoted\u201d \u2013 dash')).toBe('HSM-COLD ALERT: from ...0001 "quoted" - dash');
  });
});
