/**
 * A structural check of untrusted msgpack bytes before any decoder touches them
 * (notes/serial-link.md §5, "Untrusted input"). msgpackr always honours extension types
 * (RegExp, Date, Error, typed arrays, records) and turns 0xC1 into an object; this walk
 * accepts only nil, booleans, integers, floats, UTF-8 strings, binary, arrays and maps with
 * string keys, within limits on depth, element count and lengths, and one value filling the
 * buffer exactly. Anything else is refused with the byte offset of the first problem.
 *
 * Format reference: github.com/msgpack/msgpack/blob/master/spec.md ("Formats").
 * @module
 */
import { HsmError } from '../errors.ts';

export interface MsgpackLimits {
  maxDepth: number;
  /** Total number of values (map entries count twice). */
  maxValues: number;
  maxStringBytes: number;
}

export const DEFAULT_MSGPACK_LIMITS: MsgpackLimits = { maxDepth: 16, maxValues: 20_000, maxStringBytes: 64 * 1024 };

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const utf8 = new TextDecoder('utf-8', { fatal: true });

class Walker {
  private offset = 0;
  private values = 0;
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly limits: MsgpackLimits,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  run(): void {
    this.value(0);
    if (this.offset !== this.bytes.length) this.fail(`${this.bytes.length - this.offset} trailing bytes after the value`);
  }

  private fail(message: string): never {
    throw new HsmError('MSG_MALFORMED', `msgpack: ${message} (at byte ${this.offset})`);
  }

  private need(n: number): void {
    if (this.offset + n > this.bytes.length) this.fail(`needs ${n} more bytes than remain`);
  }

  private u8(): number {
    this.need(1);
    return this.bytes[this.offset++] ?? 0;
  }

  private uint(size: 1 | 2 | 4): number {
    this.need(size);
    const v = size === 1 ? this.view.getUint8(this.offset) : size === 2 ? this.view.getUint16(this.offset) : this.view.getUint32(this.offset);
    this.offset += size;
    return v;
  }

  private skip(n: number): void {
    this.need(n);
    this.offset += n;
  }

  private string(length: number): string {
    if (length > this.limits.maxStringBytes) this.fail(`string of ${length} bytes exceeds ${this.limits.maxStringBytes}`);
    this.need(length);
    const slice = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    try {
      return utf8.decode(slice);
    } catch {
      return this.fail('string is not valid UTF-8');
    }
  }

  private value(depth: number, asKey = false): void {
    if (++this.values > this.limits.maxValues) this.fail(`more than ${this.limits.maxValues} values`);
    if (depth > this.limits.maxDepth) this.fail(`nesting deeper than ${this.limits.maxDepth}`);
    const start = this.offset;
    const b = this.u8();
    if (asKey) {
      let length: number;
      if (b >= 0xa0 && b <= 0xbf) length = b & 0x1f;
      else if (b === 0xd9) length = this.uint(1);
      else if (b === 0xda) length = this.uint(2);
      else if (b === 0xdb) length = this.uint(4);
      else {
        this.offset = start;
        return this.fail('map keys must be strings');
      }
      const key = this.string(length);
      if (FORBIDDEN_KEYS.has(key)) this.fail(`map key "${key}" is not allowed`);
      return;
    }
    if (b <= 0x7f || b >= 0xe0) return; // fixints
    if (b >= 0x80 && b <= 0x8f) return this.map(b & 0x0f, depth);
    if (b >= 0x90 && b <= 0x9f) return this.array(b & 0x0f, depth);
    if (b >= 0xa0 && b <= 0xbf) return void this.string(b & 0x1f);
    switch (b) {
      case 0xc0: // nil
      case 0xc2: // false
      case 0xc3: // true
        return;
      case 0xc4:
        return this.bin(this.uint(1));
      case 0xc5:
        return this.bin(this.uint(2));
      case 0xc6:
        return this.bin(this.uint(4));
      case 0xca: // float32
        return this.skip(4);
      case 0xcb: // float64
        return this.skip(8);
      case 0xcc: // uint8 .. uint64
      case 0xd0:
        return this.skip(1);
      case 0xcd:
      case 0xd1:
        return this.skip(2);
      case 0xce:
      case 0xd2:
        return this.skip(4);
      case 0xcf:
      case 0xd3:
        return this.skip(8);
      case 0xd9:
        return void this.string(this.uint(1));
      case 0xda:
        return void this.string(this.uint(2));
      case 0xdb:
        return void this.string(this.uint(4));
      case 0xdc:
        return this.array(this.uint(2), depth);
      case 0xdd:
        return this.array(this.uint(4), depth);
      case 0xde:
        return this.map(this.uint(2), depth);
      case 0xdf:
        return this.map(this.uint(4), depth);
      default:
        this.offset = start;
        // 0xc1 (never used), 0xc7-0xc9 and 0xd4-0xd8 (extension types)
        return this.fail(`type byte 0x${b.toString(16)} (extension or reserved) is not accepted`);
    }
  }

  private bin(length: number): void {
    if (length > this.limits.maxStringBytes) this.fail(`binary of ${length} bytes exceeds ${this.limits.maxStringBytes}`);
    this.skip(length);
  }

  private array(count: number, depth: number): void {
    // Each element takes at least one byte: a count beyond the remaining bytes is a lie.
    if (count > this.bytes.length - this.offset) this.fail(`array of ${count} elements cannot fit`);
    for (let i = 0; i < count; i++) this.value(depth + 1);
  }

  private map(count: number, depth: number): void {
    if (count * 2 > this.bytes.length - this.offset) this.fail(`map of ${count} entries cannot fit`);
    for (let i = 0; i < count; i++) {
      this.value(depth + 1, true);
      this.value(depth + 1);
    }
  }
}

/** Throws MSG_MALFORMED unless `bytes` is exactly one acceptable msgpack value. */
export function checkMsgpack(bytes: Uint8Array, limits: MsgpackLimits = DEFAULT_MSGPACK_LIMITS): void {
  if (bytes.length === 0) throw new HsmError('MSG_MALFORMED', 'msgpack: empty message');
  new Walker(bytes, limits).run();
}
