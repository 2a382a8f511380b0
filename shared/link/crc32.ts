/**
 * CRC-32/ISO-HDLC, the link frame's trailer (frame.ts): reflected polynomial 0xEDB88320,
 * initial value and final XOR 0xFFFFFFFF; check value 0xCBF43926 over "123456789" (the
 * CRC catalogue's CRC-32/ISO-HDLC). Node computes it natively as zlib.crc32 from 20.15 on; an
 * older Node (20.11, the last armv7 build on the npm registry) gets the same from a table.
 * @module
 */
import * as zlib from 'node:zlib';

const TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** The table-driven CRC-32 (one byte a step). */
export function crc32ByTable(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) crc = (TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** CRC-32 of `data`, natively where this Node has zlib.crc32. */
export const crc32: (data: Uint8Array) => number = typeof zlib.crc32 === 'function' ? (data) => zlib.crc32(data) : crc32ByTable;
