/**
 * Fuzzing the AT parser with random and mutated modem output streams (seeded, fixed counts:
 * 25,000 in `npm test`, 100,000 in `npm run soak`): no exception, every event well-formed, every error an HsmError with one of the
 * parser's codes, lines and replies within their caps; and the same events whatever the
 * chunking. The reply readers get the parser's output and must return or throw AT_BAD_RESPONSE.
 */
import { describe, expect, it } from 'vitest';
import { HsmError } from '../../shared/errors.ts';
import { AtParser, type AtEvent, type ExchangeSpec } from '../../shared/gsm/at-parser.ts';
import { parseCclk, parseCmgl, parseCmgr, parseCmgs, parseCpin, parseCpmsQuery, parseCpmsSet, parseCsca, parseCsq, parseDigits, parseRegistration, parseTextLine } from '../../shared/gsm/at-responses.ts';
import { encodeDeliver, encodeStatusReport } from '../../shared/gsm/pdu.ts';
import { SeededRandom } from '../../shared/random.ts';
import { soakCount } from '../helpers/soak.ts';

const STREAMS = soakCount(25_000, 100_000);
const CHUNKING_CHECKS = 5_000;
const MAX_LINE = 512;
const MAX_LINES = 64;
const PARSER_CODES = new Set(['AT_LINE_TOO_LONG', 'AT_RESPONSE_TOO_LONG', 'AT_URC_BODY']);

const deliver = encodeDeliver({ from: '+4917099', text: 'CC:QH:02AB:H_ID:1:', timestamp: Date.UTC(2026, 0, 1), smsc: '+491710760000' })[0]?.hex as string;
const report = encodeStatusReport({ messageReference: 4, recipient: '+4917099', timestamp: Date.UTC(2026, 0, 1), discharge: Date.UTC(2026, 0, 1, 0, 1), status: 0 }).hex;

/** Replies and URCs as modems send them (with echo, without, Huawei blank lines, prompts). */
const CORPUS: Array<{ spec: ExchangeSpec | undefined; stream: string }> = [
  { spec: { command: 'AT' }, stream: 'AT\r\r\nOK\r\n' },
  { spec: { command: 'AT+CGMM' }, stream: 'AT+CGMM\r\r\nSIMCOM_SIM800C\r\n\r\nOK\r\n' },
  { spec: { command: 'AT+CSQ', responsePrefix: '+CSQ:' }, stream: '\r\n+CSQ: 21,0\r\n\r\n^RSSI: 14\r\n\r\nOK\r\n' },
  { spec: { command: 'AT+CREG?', responsePrefix: '+CREG:' }, stream: '\r\n+CREG: 2\r\n\r\n+CREG: 2,1,"00C3","1A2B"\r\n\r\nOK\r\n' },
  { spec: { command: 'AT+CPMS?', responsePrefix: '+CPMS:' }, stream: '\r\n+CPMS: "SM",2,30,"SM",2,30,"SM",2,30\r\n\r\nOK\r\n' },
  { spec: { command: 'AT+CMGL=4', responsePrefix: '+CMGL:' }, stream: `\r\n+CMGL: 1,0,,24\r\n${deliver}\r\n+CMTI: "SM",2\r\n+CMGL: 2,1,,24\r\n${deliver}\r\n\r\nOK\r\n` },
  { spec: { command: 'AT+CMGR=1', responsePrefix: '+CMGR:' }, stream: `\r\n+CMGR: 0,,24\r\n${deliver}\r\n\r\nOK\r\n` },
  { spec: { command: 'AT+CMGS=24', expectPrompt: true, responsePrefix: '+CMGS:' }, stream: 'AT+CMGS=24\r\r\n> 0011000B91\x1a\r\n+CMGS: 42\r\n\r\nOK\r\n' },
  { spec: { command: 'AT+CMGS=24', expectPrompt: true }, stream: '\r\n>\r\n\r\n+CMS ERROR: 304\r\n' },
  { spec: { command: 'AT+CPIN?', responsePrefix: '+CPIN:', finalPrefix: '+CPIN:' }, stream: '\r\n+CPIN: SIM PIN\r\n' },
  { spec: { command: 'AT+CCID' }, stream: '\r\nCOMMAND NOT SUPPORT\r\n' },
  { spec: { command: 'AT+CCLK?', responsePrefix: '+CCLK:' }, stream: '\r\n+CCLK: "26/01/02,10:00:00+04"\r\n\r\nOK\r\n' },
  { spec: undefined, stream: `\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nSMS Ready\r\n\r\n+CMT: ,24\r\n${deliver}\r\n\r\n+CDS: 25\r\n${report}\r\n` },
  { spec: undefined, stream: '\r\n+QIND: "csq",17,99\r\n\r\n^SMMEMFULL: "SM"\r\n\r\nRING\r\n\r\nOK\r\n' },
];

const NOISE = ['\r', '\n', '\r\n', '> ', '>', 'OK', 'ERROR', '+CME ERROR: ', '+CMS ERROR: 5', '+CMT: ,', '+CDS: ', '+CMTI: "SM",', '"', ',', '\x00', '\x1a', '\x1b', '\xff'];

function mutate(random: SeededRandom, input: Uint8Array): Uint8Array {
  const bytes = [...input];
  const rounds = random.between(1, 6);
  for (let r = 0; r < rounds; r++) {
    const at = random.int(bytes.length + 1);
    switch (random.int(8)) {
      case 0:
        if (bytes.length > 0) bytes[Math.min(at, bytes.length - 1)] = ((bytes[Math.min(at, bytes.length - 1)] as number) ^ (1 << random.int(8))) & 0xff;
        break;
      case 1:
        bytes.splice(at, random.between(1, 8));
        break;
      case 2:
        bytes.splice(at, 0, ...random.bytes(random.between(1, 16)));
        break;
      case 3:
        bytes.splice(at, 0, ...Buffer.from(random.pick(NOISE), 'latin1'));
        break;
      case 4:
        bytes.length = Math.min(bytes.length, at);
        break;
      case 5: {
        const from = random.int(bytes.length + 1);
        bytes.splice(at, 0, ...bytes.slice(from, from + random.between(1, 40)));
        break;
      }
      case 6:
        bytes.splice(at, 0, ...Buffer.from('x'.repeat(random.between(MAX_LINE - 4, MAX_LINE + 40)), 'latin1'));
        break;
      default:
        bytes.splice(at, 0, ...Buffer.from(random.pick(CORPUS).stream, 'latin1'));
    }
  }
  return Uint8Array.from(bytes);
}

function makeStream(random: SeededRandom, n: number): { spec: ExchangeSpec | undefined; bytes: Uint8Array } {
  if (n % 4 === 0) {
    const spec = random.chance(0.5) ? random.pick(CORPUS).spec : undefined;
    return { spec, bytes: random.bytes(random.between(0, 300)) };
  }
  const base = random.pick(CORPUS);
  return { spec: base.spec, bytes: mutate(random, Buffer.from(base.stream, 'latin1')) };
}

function run(spec: ExchangeSpec | undefined, bytes: Uint8Array, chunks: (bytes: Uint8Array) => Uint8Array[]): AtEvent[] {
  const parser = new AtParser({ maxLineLength: MAX_LINE, maxResponseLines: MAX_LINES });
  if (spec !== undefined) parser.begin(spec);
  const events: AtEvent[] = [];
  for (const chunk of chunks(bytes)) events.push(...parser.push(chunk));
  return events;
}

/** Why an event is malformed, or undefined (plain checks: expect() per event is too slow here). */
function problem(event: AtEvent): string | undefined {
  switch (event.type) {
    case 'echo':
    case 'line':
    case 'stray':
      return typeof event.line === 'string' && event.line.length > 0 && event.line.length <= MAX_LINE ? undefined : 'bad line';
    case 'final':
      return ['ok', 'error', 'cme', 'cms', 'other'].includes(event.result.kind) && event.lines.length <= MAX_LINES ? undefined : 'bad final';
    case 'prompt':
      return undefined;
    case 'urc':
      return typeof event.urc.kind === 'string' ? undefined : 'bad urc';
    case 'error':
      return event.error instanceof HsmError && PARSER_CODES.has(event.error.code) ? undefined : `untyped error ${String(event.error)}`;
    default:
      return `unknown event ${JSON.stringify(event)}`;
  }
}

const READERS: Array<(lines: string[]) => unknown> = [
  (l) => parseCsq(l),
  (l) => parseRegistration(l, '+CREG:'),
  (l) => parseCpin(l),
  (l) => parseCsca(l),
  (l) => parseCpmsSet(l),
  (l) => parseCpmsQuery(l),
  (l) => parseCmgl(l),
  (l) => parseCmgr(l),
  (l) => parseCmgs(l),
  (l) => parseCclk(l),
  (l) => parseDigits(l, 'AT+CIMI', 6, 15),
  (l) => parseTextLine(l, 'AT+CGMI'),
];

describe('AT parser fuzzing', () => {
  it(`${STREAMS} random and mutated streams: no exception, well-formed events, typed errors`, () => {
    const random = new SeededRandom('at-parser-fuzz');
    const counts = { final: 0, error: 0, urc: 0, prompt: 0, readerOk: 0, readerError: 0 };
    const failures: string[] = [];
    for (let n = 0; n < STREAMS; n++) {
      const { spec, bytes } = makeStream(random, n);
      let events: AtEvent[] = [];
      try {
        events = run(spec, bytes, (b) => [b]);
      } catch (error) {
        failures.push(`stream ${n} threw ${String(error)}`);
      }
      for (const event of events) {
        const bad = problem(event);
        if (bad !== undefined) failures.push(`stream ${n}: ${bad}`);
        if (event.type === 'final' || event.type === 'error' || event.type === 'urc' || event.type === 'prompt') counts[event.type]++;
        if (event.type === 'final') {
          try {
            random.pick(READERS)(event.lines);
            counts.readerOk++;
          } catch (error) {
            if (!(error instanceof HsmError) || error.code !== 'AT_BAD_RESPONSE') failures.push(`stream ${n}: reader threw ${String(error)}`);
            counts.readerError++;
          }
        }
      }
    }
    expect(failures.slice(0, 5)).toEqual([]);
    expect(counts.final).toBeGreaterThan(STREAMS / 10);
    expect(counts.error).toBeGreaterThan(STREAMS / 100);
    expect(counts.urc).toBeGreaterThan(STREAMS / 10);
    expect(counts.prompt).toBeGreaterThan(STREAMS / 1000);
    expect(counts.readerError).toBeGreaterThan(STREAMS / 100);
  }, 60_000);

  it(`${CHUNKING_CHECKS} streams give the same events whole, byte by byte and in random chunks`, () => {
    const random = new SeededRandom('at-parser-chunking');
    for (let n = 0; n < CHUNKING_CHECKS; n++) {
      const { spec, bytes } = makeStream(random, n);
      const whole = run(spec, bytes, (b) => [b]);
      const bytewise = run(spec, bytes, (b) => [...b].map((x) => Uint8Array.of(x)));
      const cuts: Uint8Array[] = [];
      for (let i = 0; i < bytes.length; ) {
        const size = random.between(1, 17);
        cuts.push(bytes.subarray(i, i + size));
        i += size;
      }
      const chunked = run(spec, bytes, () => cuts);
      expect(bytewise).toEqual(whole);
      expect(chunked).toEqual(whole);
    }
  }, 60_000);
});
