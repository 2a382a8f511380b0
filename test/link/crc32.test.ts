import { crc32 as zlibCrc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32, crc32ByTable } from '../../shared/link/crc32.ts';
import { SeededRandom } from '../../shared/random.ts';

describe('CRC-32 of the link frames', () => {
  it('the table gives the catalogue check value and zlib.crc32 on 500 seeded inputs', () => {
    // CRC catalogue, CRC-32/ISO-HDLC: check = 0xCBF43926 over the ASCII digits 1..9.
    expect(crc32ByTable(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32ByTable(new Uint8Array(0))).toBe(0);
    const random = new SeededRandom('crc32');
    for (let i = 0; i < 500; i++) {
      const data = random.bytes(random.int(2048));
      expect(crc32ByTable(data), `input ${i} (${data.length} bytes)`).toBe(zlibCrc32(data));
    }
  });

  it('uses zlib.crc32 where Node has it', () => {
    const data = new SeededRandom('crc32-native').bytes(100);
    expect(crc32(data)).toBe(zlibCrc32(data));
  });
});
