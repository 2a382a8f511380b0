import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { cobsDecode, cobsEncode } from '../../shared/link/cobs.ts';
import { FRAME_FLAG, FRAME_TYPE, FrameDecoder, MAX_ENCODED, MAX_PAYLOAD, decodeFrame, encodeFrame, type Frame } from '../../shared/link/frame.ts';
import { SeededRandom } from '../../shared/random.ts';
import { expectHsmError } from '../helpers/errors.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const bytes = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));

// Expected bytes computed with an independent reference (CRC from binascii.crc32, COBS from
// the encoding rule in Cheshire & Baker), not with this code.
const VECTORS: Array<{ name: string; frame: Frame; wire: string }> = [
  {
    name: 'HELLO with an 8-byte payload',
    frame: { type: FRAME_TYPE.HELLO, flags: 0, srcEpoch: 7, dstEpoch: 0, seq: 0, ack: 0, payload: bytes('0102030405060708') },
    wire: '00030101010101020701010101010101010e080102030405060708666f855900',
  },
  {
    name: 'bare ACK',
    frame: { type: FRAME_TYPE.ACK, flags: FRAME_FLAG.ACK_VALID, srcEpoch: 0x01020304, dstEpoch: 0x0a0b0c0d, seq: 0, ack: 0x1234, payload: new Uint8Array() },
    wire: '000c010401010203040a0b0c0d01031234010563eaf01d00',
  },
  {
    name: 'DATA with zeros in the payload, ENC|MORE',
    frame: { type: FRAME_TYPE.DATA, flags: FRAME_FLAG.ENC | FRAME_FLAG.MORE, srcEpoch: 5, dstEpoch: 6, seq: 0xfffe, ack: 0, payload: bytes('000100ff') },
    wire: '00040103060101020501010406fffe01010204020106ff51aa986200',
  },
];

describe('COBS', () => {
  const cases: Array<[string, string]> = [
    ['', '01'],
    ['00', '0101'],
    ['0000', '010101'],
    ['11220033', '0311220233'],
    ['11223344', '0511223344'],
    ['11000000', '0211010101'],
  ];
  for (const [input, encoded] of cases) {
    it(`${input || '(empty)'} ⇄ ${encoded}`, () => {
      expect(hex(cobsEncode(bytes(input)))).toBe(encoded);
      expect(hex(cobsDecode(bytes(encoded))!)).toBe(input);
    });
  }

  it('254 non-zero bytes need a 0xFF code; round-trips around the 254 boundary', () => {
    const run = Uint8Array.from({ length: 254 }, (_, i) => i + 1);
    const encoded = cobsEncode(run);
    expect(encoded[0]).toBe(0xff);
    expect(encoded.length).toBe(256);
    const random = new SeededRandom('cobs');
    for (let n = 0; n < 800; n += 7) {
      const data = random.bytes(n).map((b) => (random.chance(0.1) ? 0 : b));
      const enc = cobsEncode(data);
      expect(enc.includes(0)).toBe(false);
      expect(hex(cobsDecode(enc)!)).toBe(hex(data));
    }
  });

  it('refuses blocks containing zero or overrunning codes', () => {
    expect(cobsDecode(bytes('030100'))).toBeUndefined();
    expect(cobsDecode(bytes('05112233'))).toBeUndefined();
  });
});

describe('frame encoding (exact bytes)', () => {
  for (const v of VECTORS) {
    it(v.name, () => {
      expect(hex(encodeFrame(v.frame))).toBe(v.wire);
      const wire = bytes(v.wire);
      expect(decodeFrame(wire.subarray(1, wire.length - 1))).toEqual(v.frame);
    });
  }

  it('a 300-byte payload crosses a COBS group boundary', () => {
    const frame: Frame = { type: FRAME_TYPE.DATA, flags: 0, srcEpoch: 1, dstEpoch: 2, seq: 1, ack: 0, payload: new Uint8Array(300).fill(0x42) };
    const wire = encodeFrame(frame);
    expect(wire.length).toBe(325);
    expect(hex(wire.subarray(0, 24))).toBe('00030103010101020101010202020101ff012c4242424242');
    expect(hex(wire.subarray(wire.length - 12))).toBe('424242424242429bb30b9f00');
  });

  it('refuses to encode oversize payloads and bad fields', () => {
    const base: Frame = { type: FRAME_TYPE.DATA, flags: 0, srcEpoch: 1, dstEpoch: 1, seq: 1, ack: 0, payload: new Uint8Array() };
    expectHsmError(() => encodeFrame({ ...base, payload: new Uint8Array(MAX_PAYLOAD + 1) }), 'FRAME_OVERSIZE', 'payload');
    expectHsmError(() => encodeFrame({ ...base, seq: 70_000 }), 'FRAME_FIELD', 'seq');
    expectHsmError(() => encodeFrame({ ...base, srcEpoch: -1 }), 'FRAME_FIELD', 'srcEpoch');
    expectHsmError(() => encodeFrame({ ...base, flags: 0x80 }), 'FRAME_FLAGS');
    expectHsmError(() => encodeFrame({ ...base, type: 9 as 1 }), 'FRAME_TYPE');
  });
});

describe('frame decoding names what is wrong', () => {
  const good = bytes(VECTORS[0]!.wire);
  const block = good.subarray(1, good.length - 1);
  const body = cobsDecode(block)!;
  const reencode = (b: Uint8Array): Uint8Array => cobsEncode(b);

  it('empty, oversize, bad COBS, short', () => {
    expectHsmError(() => decodeFrame(new Uint8Array()), 'FRAME_EMPTY');
    expectHsmError(() => decodeFrame(new Uint8Array(MAX_ENCODED + 1).fill(1)), 'FRAME_OVERSIZE');
    expectHsmError(() => decodeFrame(bytes('05112233')), 'FRAME_COBS');
    expectHsmError(() => decodeFrame(reencode(body.subarray(0, 10))), 'FRAME_SHORT');
  });

  it('length field, CRC, version, type, flags', () => {
    const longer = Uint8Array.from(body);
    longer[16] = 9; // claims 9 payload bytes
    expectHsmError(() => decodeFrame(reencode(longer)), 'FRAME_LENGTH');
    const flipped = Uint8Array.from(body);
    flipped[20] = (flipped[20] ?? 0) ^ 0x10;
    expectHsmError(() => decodeFrame(reencode(flipped)), 'FRAME_CRC');
    for (const [offset, value, code] of [
      [0, 2, 'FRAME_VERSION'],
      [1, 9, 'FRAME_TYPE'],
      [2, 0x40, 'FRAME_FLAGS'],
    ] as const) {
      const changed = Uint8Array.from(body);
      changed[offset] = value;
      // Recompute the CRC so only the field under test is wrong.
      const view = new DataView(changed.buffer);
      view.setUint32(changed.length - 4, crc32(changed.subarray(0, changed.length - 4)));
      expectHsmError(() => decodeFrame(reencode(changed)), code);
    }
  });
});

describe('FrameDecoder on a byte stream', () => {
  const frames = VECTORS.map((v) => v.frame);
  const stream = (parts: Uint8Array[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => [...p]));

  it('reassembles frames from arbitrary chunk boundaries', () => {
    const wire = stream(frames.map(encodeFrame));
    const random = new SeededRandom('chunks');
    for (let round = 0; round < 50; round++) {
      const out: Frame[] = [];
      const decoder = new FrameDecoder((f) => out.push(f));
      let i = 0;
      while (i < wire.length) {
        const n = random.between(1, 17);
        decoder.push(wire.subarray(i, i + n));
        i += n;
      }
      expect(out).toEqual(frames);
    }
  });

  it('resynchronises after garbage, truncation and a runaway block', () => {
    const out: Frame[] = [];
    const decoder = new FrameDecoder((f) => out.push(f));
    const a = encodeFrame(frames[0]!);
    const b = encodeFrame(frames[1]!);
    const c = encodeFrame(frames[2]!);
    decoder.push(new TextEncoder().encode('U-Boot 2024.01\r\nStarting kernel ...\r\n')); // boot console noise, no 0x00
    decoder.push(a);
    decoder.push(b.subarray(0, b.length - 6)); // truncated: the peer rebooted mid-frame
    decoder.push(c); // its leading delimiter ends the broken block
    decoder.push(new Uint8Array(5000).fill(0x41)); // runaway bytes, no delimiter
    decoder.push(a);
    expect(out).toEqual([frames[0], frames[2], frames[0]]);
    expect(decoder.stats.frames).toBe(3);
    expect(decoder.stats.dropped.FRAME_CRC + decoder.stats.dropped.FRAME_COBS + decoder.stats.dropped.FRAME_LENGTH + decoder.stats.dropped.FRAME_SHORT).toBe(2);
    expect(decoder.stats.dropped.FRAME_OVERSIZE).toBe(1);
    expect(decoder.stats.overrunBytes).toBeGreaterThan(4000);
  });

  it('every single-bit flip of a frame is caught', () => {
    const wire = encodeFrame(frames[2]!);
    let delivered = 0;
    for (let bit = 8; bit < (wire.length - 1) * 8; bit++) {
      const damaged = Uint8Array.from(wire);
      damaged[bit >> 3] = (damaged[bit >> 3] ?? 0) ^ (1 << (bit & 7));
      const decoder = new FrameDecoder(() => delivered++);
      decoder.push(damaged);
      decoder.push(encodeFrame(frames[0]!));
    }
    // Only the trailing good frame gets through each time.
    expect(delivered).toBe((wire.length - 2) * 8);
  });
});
