/**
 * Link frames (layer 2 of the HSM-Hot ⇄ HSM-Cold link; notes/serial-link.md §1).
 *
 * Wire form:  0x00 ‖ COBS( header ‖ payload ‖ crc32 ) ‖ 0x00
 *
 *   off size field
 *     0   1  version = 0x01
 *     1   1  type       HELLO=1 HELLO_ACK=2 DATA=3 ACK=4 ERR=5 PING=6 PONG=7 PAIR=8
 *     2   1  flags      b0 ACK_VALID, b1 ENC, b2 MORE (more fragments follow)
 *     3   4  srcEpoch   sender's boot epoch (u32 BE)
 *     7   4  dstEpoch   receiver epoch the sender believes current (0 in HELLO)
 *    11   2  seq        DATA sequence number (u16 BE); PING/PONG counter
 *    13   2  ack        cumulative ACK when ACK_VALID is set
 *    15   2  len        payload length, at most MAX_PAYLOAD
 *    17 len  payload
 *  17+len 4  crc        CRC-32/ISO-HDLC over bytes 0 .. 16+len (crc32.ts), BE
 *
 * The leading 0x00 flushes line noise and half-sent frames (RFC 1055 advice). The decoder
 * bounds its buffer, so a runaway stream without 0x00 costs bounded memory and time.
 * @module
 */
import { HsmError } from '../errors.ts';
import { cobsDecode, cobsEncode, cobsMaxEncodedLength } from './cobs.ts';
import { crc32 } from './crc32.ts';

export const FRAME_VERSION = 0x01;
export const HEADER_SIZE = 1 + 1 + 1 + 4 + 4 + 2 + 2 + 2; // = 17
export const CRC_SIZE = 4;
export const MAX_PAYLOAD = 1024;
/** Largest COBS block a valid frame can produce; anything longer is discarded unread. */
export const MAX_ENCODED = cobsMaxEncodedLength(HEADER_SIZE + MAX_PAYLOAD + CRC_SIZE);

export const FRAME_TYPE = {
  HELLO: 1,
  HELLO_ACK: 2,
  DATA: 3,
  ACK: 4,
  ERR: 5,
  PING: 6,
  PONG: 7,
  PAIR: 8,
} as const;
export type FrameType = (typeof FRAME_TYPE)[keyof typeof FRAME_TYPE];
const FRAME_TYPES = new Set<number>(Object.values(FRAME_TYPE));

export const FRAME_FLAG = { ACK_VALID: 0x01, ENC: 0x02, MORE: 0x04 } as const;
const KNOWN_FLAGS = FRAME_FLAG.ACK_VALID | FRAME_FLAG.ENC | FRAME_FLAG.MORE;

export interface Frame {
  type: FrameType;
  flags: number;
  srcEpoch: number;
  dstEpoch: number;
  seq: number;
  ack: number;
  payload: Uint8Array;
}

export type FrameErrorCode =
  | 'FRAME_EMPTY'
  | 'FRAME_OVERSIZE'
  | 'FRAME_COBS'
  | 'FRAME_SHORT'
  | 'FRAME_LENGTH'
  | 'FRAME_CRC'
  | 'FRAME_VERSION'
  | 'FRAME_TYPE'
  | 'FRAME_FLAGS';

function u32(n: number, field: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new HsmError('FRAME_FIELD', `${field} must be a u32, got ${n}`, { field });
  return n;
}

function u16(n: number, field: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw new HsmError('FRAME_FIELD', `${field} must be a u16, got ${n}`, { field });
  return n;
}

/** The header bytes of `frame` (also the AEAD associated data). */
export function encodeHeader(frame: Omit<Frame, 'payload'>, payloadLength: number): Uint8Array {
  const header = new Uint8Array(HEADER_SIZE);
  const view = new DataView(header.buffer);
  header[0] = FRAME_VERSION;
  header[1] = frame.type;
  header[2] = frame.flags;
  view.setUint32(3, u32(frame.srcEpoch, 'srcEpoch'));
  view.setUint32(7, u32(frame.dstEpoch, 'dstEpoch'));
  view.setUint16(11, u16(frame.seq, 'seq'));
  view.setUint16(13, u16(frame.ack, 'ack'));
  view.setUint16(15, u16(payloadLength, 'len'));
  return header;
}

/** Encodes `frame` into its wire bytes, delimiters included. */
export function encodeFrame(frame: Frame): Uint8Array {
  if (frame.payload.length > MAX_PAYLOAD) {
    throw new HsmError('FRAME_OVERSIZE', `payload of ${frame.payload.length} bytes exceeds ${MAX_PAYLOAD}`, { field: 'payload' });
  }
  if (!FRAME_TYPES.has(frame.type)) throw new HsmError('FRAME_TYPE', `unknown frame type ${frame.type}`, { field: 'type' });
  if ((frame.flags & ~KNOWN_FLAGS) !== 0) throw new HsmError('FRAME_FLAGS', `unknown flags 0x${frame.flags.toString(16)}`, { field: 'flags' });
  const body = new Uint8Array(HEADER_SIZE + frame.payload.length + CRC_SIZE);
  body.set(encodeHeader(frame, frame.payload.length), 0);
  body.set(frame.payload, HEADER_SIZE);
  new DataView(body.buffer).setUint32(HEADER_SIZE + frame.payload.length, crc32(body.subarray(0, HEADER_SIZE + frame.payload.length)));
  const stuffed = cobsEncode(body);
  const wire = new Uint8Array(stuffed.length + 2);
  wire.set(stuffed, 1); // wire[0] and the last byte stay 0x00: the delimiters
  return wire;
}

/**
 * Decodes one COBS block (the bytes between two delimiters). Checks, in order: size cap (before
 * any decoding), COBS, minimum length, length field, CRC, version, type, flags.
 */
export function decodeFrame(block: Uint8Array): Frame {
  if (block.length === 0) throw new HsmError<FrameErrorCode>('FRAME_EMPTY', 'empty frame');
  if (block.length > MAX_ENCODED) {
    throw new HsmError<FrameErrorCode>('FRAME_OVERSIZE', `frame of ${block.length} encoded bytes exceeds ${MAX_ENCODED}`);
  }
  const body = cobsDecode(block);
  if (body === undefined) throw new HsmError<FrameErrorCode>('FRAME_COBS', 'frame is not valid COBS');
  if (body.length < HEADER_SIZE + CRC_SIZE) {
    throw new HsmError<FrameErrorCode>('FRAME_SHORT', `frame of ${body.length} bytes is shorter than header and CRC`);
  }
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const length = view.getUint16(15);
  if (length > MAX_PAYLOAD || HEADER_SIZE + length + CRC_SIZE !== body.length) {
    throw new HsmError<FrameErrorCode>('FRAME_LENGTH', `length field ${length} does not match the ${body.length}-byte frame`);
  }
  const crc = view.getUint32(HEADER_SIZE + length);
  if (crc32(body.subarray(0, HEADER_SIZE + length)) !== crc) throw new HsmError<FrameErrorCode>('FRAME_CRC', 'CRC mismatch');
  if (body[0] !== FRAME_VERSION) throw new HsmError<FrameErrorCode>('FRAME_VERSION', `unsupported frame version ${body[0]}`);
  const type = body[1] ?? 0;
  if (!FRAME_TYPES.has(type)) throw new HsmError<FrameErrorCode>('FRAME_TYPE', `unknown frame type ${type}`);
  const flags = body[2] ?? 0;
  if ((flags & ~KNOWN_FLAGS) !== 0) throw new HsmError<FrameErrorCode>('FRAME_FLAGS', `unknown flags 0x${flags.toString(16)}`);
  return {
    type: type as FrameType,
    flags,
    srcEpoch: view.getUint32(3),
    dstEpoch: view.getUint32(7),
    seq: view.getUint16(11),
    ack: view.getUint16(13),
    payload: body.slice(HEADER_SIZE, HEADER_SIZE + length),
  };
}

export interface DecoderStats {
  frames: number;
  /** Blocks dropped, by reason. */
  dropped: Record<FrameErrorCode, number>;
  /** Bytes discarded because a block ran past MAX_ENCODED without a delimiter. */
  overrunBytes: number;
  /** Times the decoder gave up on a block and resynchronised at the next 0x00. */
  resyncs: number;
}

function emptyDropped(): Record<FrameErrorCode, number> {
  return {
    FRAME_EMPTY: 0,
    FRAME_OVERSIZE: 0,
    FRAME_COBS: 0,
    FRAME_SHORT: 0,
    FRAME_LENGTH: 0,
    FRAME_CRC: 0,
    FRAME_VERSION: 0,
    FRAME_TYPE: 0,
    FRAME_FLAGS: 0,
  };
}

/**
 * Streaming decoder: feed arbitrary chunks, get whole frames. Blocks that fail any check are
 * dropped and counted; the decoder resynchronises at the next delimiter. Memory is bounded by
 * MAX_ENCODED whatever the input.
 */
export class FrameDecoder {
  readonly stats: DecoderStats = { frames: 0, dropped: emptyDropped(), overrunBytes: 0, resyncs: 0 };
  private readonly buffer = new Uint8Array(MAX_ENCODED);
  private length = 0;
  private overrun = false;

  constructor(
    private readonly onFrame: (frame: Frame) => void,
    /** Called when a block is dropped (damaged frame or noise). */
    private readonly onDrop?: (code: FrameErrorCode) => void,
  ) {}

  push(chunk: Uint8Array): void {
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i] ?? 0;
      if (byte !== 0) {
        if (this.overrun) {
          this.stats.overrunBytes++;
        } else if (this.length < MAX_ENCODED) {
          this.buffer[this.length++] = byte;
        } else {
          this.overrun = true;
          this.stats.overrunBytes += this.length + 1;
          this.stats.dropped.FRAME_OVERSIZE++;
          this.stats.resyncs++;
          this.length = 0;
          this.onDrop?.('FRAME_OVERSIZE');
        }
        continue;
      }
      // A delimiter: end of a block (empty blocks between back-to-back delimiters are normal).
      if (this.overrun) {
        this.overrun = false;
      } else if (this.length > 0) {
        this.finishBlock();
      }
      this.length = 0;
    }
  }

  /** Forgets a partial block (after a port reopen). */
  reset(): void {
    this.length = 0;
    this.overrun = false;
  }

  private finishBlock(): void {
    let frame: Frame;
    try {
      frame = decodeFrame(this.buffer.subarray(0, this.length));
    } catch (error) {
      const code = (error as HsmError<FrameErrorCode>).code;
      if (code in this.stats.dropped) this.stats.dropped[code]++;
      this.stats.resyncs++;
      this.onDrop?.(code);
      return;
    }
    this.stats.frames++;
    this.onFrame(frame);
  }
}
