/**
 * Consistent Overhead Byte Stuffing (Cheshire & Baker, IEEE/ACM ToN 1999): removes every 0x00
 * from a block, so 0x00 can delimit frames on a byte stream. Overhead is at most
 * 1 + ⌈n/254⌉ bytes.
 *
 * Encoding: the block is cut at each 0x00 (and after 254 non-zero bytes); each piece is sent as
 * a code byte (piece length + 1) followed by its non-zero bytes. A code of 0xFF means "254 bytes,
 * no zero follows".
 * @module
 */

/** Largest encoded size of an `n`-byte block. */
export function cobsMaxEncodedLength(n: number): number {
  return n + 1 + Math.floor(n / 254);
}

export function cobsEncode(input: Uint8Array): Uint8Array {
  const out = new Uint8Array(cobsMaxEncodedLength(input.length));
  let codeIndex = 0;
  let write = 1;
  let code = 1;
  for (const byte of input) {
    if (byte === 0) {
      out[codeIndex] = code;
      codeIndex = write++;
      code = 1;
      continue;
    }
    out[write++] = byte;
    code++;
    if (code === 0xff) {
      out[codeIndex] = code;
      codeIndex = write++;
      code = 1;
    }
  }
  out[codeIndex] = code;
  return out.subarray(0, write);
}

/**
 * Decodes one block (without delimiters). Returns undefined when the block is not valid COBS:
 * a zero byte inside it, or a code byte pointing past its end.
 */
export function cobsDecode(input: Uint8Array): Uint8Array | undefined {
  const out = new Uint8Array(input.length);
  let read = 0;
  let write = 0;
  while (read < input.length) {
    const code = input[read++] ?? 0;
    if (code === 0) return undefined;
    const end = read + code - 1;
    if (end > input.length) return undefined;
    while (read < end) {
      const byte = input[read++] ?? 0;
      if (byte === 0) return undefined;
      out[write++] = byte;
    }
    if (code !== 0xff && read < input.length) out[write++] = 0;
  }
  return out.subarray(0, write);
}
