import { describe, expect, it } from 'vitest';
import { AtParser, classifyFinal, parseUrc, splitParams, type AtEvent } from '../../shared/gsm/at-parser.ts';
import { parseCclk, parseCmgl, parseCmgr, parseCpmsQuery, parseCpmsSet, parseCsca, parseCsq, parseDigits, parseRegistration } from '../../shared/gsm/at-responses.ts';
import { expectHsmError } from '../helpers/errors.ts';

const bytes = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, 'latin1'));

/** Feeds `text` one byte at a time, as a slow UART would. */
function feedBytewise(parser: AtParser, text: string): AtEvent[] {
  const events: AtEvent[] = [];
  for (const byte of bytes(text)) events.push(...parser.push(Uint8Array.of(byte)));
  return events;
}

describe('AtParser framing (V.250 §5.7.1)', () => {
  it('returns the information lines and the final result, with or without echo', () => {
    const parser = new AtParser();
    parser.begin({ command: 'AT+CGMM' });
    expect(parser.push(bytes('AT+CGMM\r\r\nGSM-EMU-1\r\n\r\nOK\r\n'))).toEqual([
      { type: 'echo', line: 'AT+CGMM' },
      { type: 'line', line: 'GSM-EMU-1' },
      { type: 'final', result: { kind: 'ok' }, lines: ['GSM-EMU-1'] },
    ]);
    parser.begin({ command: 'AT+CGMI' });
    expect(parser.push(bytes('\r\nACME\r\n\r\nOK\r\n')).at(-1)).toEqual({ type: 'final', result: { kind: 'ok' }, lines: ['ACME'] });
  });

  it('gives the same events whatever the chunking', () => {
    const reply = 'AT+CSQ\r\r\n+CSQ: 21,0\r\n\r\n+CMTI: "SM",3\r\n\r\nOK\r\n';
    const whole = new AtParser();
    whole.begin({ command: 'AT+CSQ', responsePrefix: '+CSQ:' });
    const bytewise = new AtParser();
    bytewise.begin({ command: 'AT+CSQ', responsePrefix: '+CSQ:' });
    expect(feedBytewise(bytewise, reply)).toEqual(whole.push(bytes(reply)));
  });

  it('separates a URC that arrives in the middle of a reply', () => {
    const parser = new AtParser();
    parser.begin({ command: 'AT+CMGL=4', responsePrefix: '+CMGL:' });
    const events = parser.push(bytes('\r\n+CMGL: 1,0,,5\r\n+CMTI: "SM",2\r\n0011AABBCC\r\n^RSSI: 14\r\n\r\nOK\r\n'));
    expect(events.filter((e) => e.type === 'urc').map((e) => (e as { urc: unknown }).urc)).toEqual([
      { kind: 'cmti', storage: 'SM', index: 2 },
      { kind: 'signal', rssi: 14 },
    ]);
    expect(events.at(-1)).toEqual({ type: 'final', result: { kind: 'ok' }, lines: ['+CMGL: 1,0,,5', '0011AABBCC'] });
  });

  it('tells a +CREG query reply from a +CREG URC', () => {
    const parser = new AtParser();
    parser.begin({ command: 'AT+CREG?', responsePrefix: '+CREG:' });
    const events = parser.push(bytes('\r\n+CREG: 2\r\n\r\n+CREG: 1,1\r\n\r\nOK\r\n'));
    expect(events[0]).toEqual({ type: 'urc', urc: { kind: 'creg', stat: 2 }, line: '+CREG: 2' });
    expect(events.at(-1)).toEqual({ type: 'final', result: { kind: 'ok' }, lines: ['+CREG: 1,1'] });
  });

  it('recognises the SMS prompt without a line end, and the bare ">" variant', () => {
    const parser = new AtParser();
    parser.begin({ command: 'AT+CMGS=18', expectPrompt: true, responsePrefix: '+CMGS:' });
    expect(feedBytewise(parser, 'AT+CMGS=18\r\r\n> ')).toEqual([{ type: 'echo', line: 'AT+CMGS=18' }, { type: 'prompt' }]);
    parser.expectEcho('0011AA');
    expect(parser.push(bytes('0011AA\x1a\r\n+CMGS: 42\r\n\r\nOK\r\n'))).toEqual([
      { type: 'echo', line: '0011AA' },
      { type: 'line', line: '+CMGS: 42' },
      { type: 'final', result: { kind: 'ok' }, lines: ['+CMGS: 42'] },
    ]);
    parser.begin({ command: 'AT+CMGS=18', expectPrompt: true });
    expect(parser.push(bytes('\r\n>\r\n'))).toEqual([{ type: 'prompt' }]);
    // Without a send in flight, "> " is just the start of a line.
    const idle = new AtParser();
    expect(idle.push(bytes('\r\n> '))).toEqual([]);
  });

  it('takes the line after +CMT/+CDS as their PDU', () => {
    const parser = new AtParser();
    expect(parser.push(bytes('\r\n+CMT: ,24\r\n07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07\r\n'))).toEqual([
      { type: 'urc', urc: { kind: 'cmt', header: '+CMT: ,24', body: '07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07' }, line: '+CMT: ,24' },
    ]);
    const broken = parser.push(bytes('\r\n+CDS: 25\r\nOK\r\n'));
    expect(broken[0]).toMatchObject({ type: 'error', error: { code: 'AT_URC_BODY', field: 'cds' } });
    expect(broken[1]).toEqual({ type: 'stray', line: 'OK' });
  });

  it('reports final results with no command in flight as stray, other lines as URCs', () => {
    const parser = new AtParser();
    expect(parser.push(bytes('\r\nOK\r\n\r\nRDY\r\n\r\nsomething odd\r\n'))).toEqual([
      { type: 'stray', line: 'OK' },
      { type: 'urc', urc: { kind: 'ready', text: 'RDY' }, line: 'RDY' },
      { type: 'urc', urc: { kind: 'other', line: 'something odd' }, line: 'something odd' },
    ]);
  });

  it('accepts +CPIN without OK when told to', () => {
    const parser = new AtParser();
    parser.begin({ command: 'AT+CPIN?', responsePrefix: '+CPIN:', finalPrefix: '+CPIN:' });
    expect(parser.push(bytes('\r\n+CPIN: READY\r\n')).at(-1)).toEqual({ type: 'final', result: { kind: 'ok' }, lines: ['+CPIN: READY'] });
  });

  it('caps line length and reply size with typed errors', () => {
    const parser = new AtParser({ maxLineLength: 16, maxResponseLines: 2 });
    const long = parser.push(bytes(`${'x'.repeat(40)}\r\nRING\r\n`));
    expect(long[0]).toMatchObject({ type: 'error', error: { code: 'AT_LINE_TOO_LONG', field: 'line' } });
    expect(long[1]).toEqual({ type: 'urc', urc: { kind: 'ring' }, line: 'RING' });
    parser.begin({ command: 'AT+CMGL=4' });
    const many = parser.push(bytes('a\r\nb\r\nc\r\nd\r\nOK\r\n'));
    expect(many.filter((e) => e.type === 'error')).toHaveLength(1);
    expect(many.at(-1)).toEqual({ type: 'final', result: { kind: 'ok' }, lines: ['a', 'b'] });
  });

  it('classifies final result codes, including vendor ones', () => {
    expect(classifyFinal('+CMS ERROR: 500')).toEqual({ kind: 'cms', code: 500, text: '500' });
    expect(classifyFinal('+CME ERROR: SIM not inserted')).toEqual({ kind: 'cme', code: undefined, text: 'SIM not inserted' });
    expect(classifyFinal('COMMAND NOT SUPPORT')).toEqual({ kind: 'other', text: 'COMMAND NOT SUPPORT' });
    expect(classifyFinal('OKAY')).toBeUndefined();
  });

  it('reads URCs of the quirk profiles', () => {
    expect(parseUrc('+QIND: "csq",17,99')).toEqual({ kind: 'signal', rssi: 17 });
    expect(parseUrc('+QIND: SMS DONE')).toEqual({ kind: 'ready', text: '+QIND: SMS DONE' });
    expect(parseUrc('^SMMEMFULL: "SM"')).toEqual({ kind: 'memory-full' });
    expect(parseUrc('+CMTI: "ME",x')).toEqual({ kind: 'other', line: '+CMTI: "ME",x' });
    expect(parseUrc('SMS Ready')).toEqual({ kind: 'ready', text: 'SMS Ready' });
    expect(splitParams('"a,b",1, 2')).toEqual(['"a,b"', '1', '2']);
  });
});

describe('reply readers (27.005, 27.007)', () => {
  it('read well-formed replies', () => {
    expect(parseCsq(['+CSQ: 21,0'])).toEqual({ rssi: 21, ber: 0 });
    expect(parseRegistration(['+CREG: 2,5,"00C3","1A2B"'], '+CREG:')).toEqual({ stat: 5, lac: '00C3', ci: '1A2B' });
    expect(parseCpmsSet(['+CPMS: 2,30,2,30,2,30'])).toEqual({ used: 2, total: 30 });
    expect(parseCpmsQuery(['+CPMS: "SM",2,30,"SM",2,30,"SM",2,30'])).toEqual({ storage: 'SM', used: 2, total: 30 });
    expect(parseCsca(['+CSCA: "+491710760000",145'])).toBe('+491710760000');
    expect(parseCsca(['+CSCA: "",129'])).toBeUndefined();
    expect(parseDigits(['^ICCID: 89490200001234567890'], 'AT^ICCID?', 18, 20)).toBe('89490200001234567890');
    expect(parseDigits(['8949020000123456789F'], 'AT+CCID', 18, 20)).toBe('8949020000123456789');
    expect(parseCmgl(['+CMGL: 0,1,,5', '00AABB', '+CMGL: 3,0,,6', 'ccdd'])).toEqual([
      { index: 0, stat: 1, length: 5, pdu: '00AABB' },
      { index: 3, stat: 0, length: 6, pdu: 'CCDD' },
    ]);
    expect(parseCmgr([])).toBeUndefined();
    expect(parseCclk(['+CCLK: "26/01/02,10:00:00+04"'])).toEqual({ at: Date.UTC(2026, 0, 2, 9, 0, 0), timeZoneMinutes: 60 });
  });

  it('reject malformed replies with AT_BAD_RESPONSE naming the command', () => {
    expectHsmError(() => parseCsq(['+CSQ: x,0']), 'AT_BAD_RESPONSE', 'AT+CSQ');
    expectHsmError(() => parseCsq([]), 'AT_BAD_RESPONSE', 'AT+CSQ');
    expectHsmError(() => parseCmgl(['+CMGL: 1,0,,5', 'OK?']), 'AT_BAD_RESPONSE', 'AT+CMGL');
    expectHsmError(() => parseCmgr(['+CMGR: 0,,5']), 'AT_BAD_RESPONSE', 'AT+CMGR');
    expectHsmError(() => parseCclk(['+CCLK: "26/02/30,10:00:00+04"']), 'AT_BAD_RESPONSE', 'AT+CCLK?');
    expectHsmError(() => parseDigits(['ERROR?'], 'AT+CIMI', 6, 15), 'AT_BAD_RESPONSE', 'AT+CIMI');
  });
});
