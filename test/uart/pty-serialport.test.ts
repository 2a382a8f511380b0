import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSerialPort, type Port } from '../../shared/port.ts';
import { createPtyPair } from '../../hw-profiles/sim/uart/pty-pair.ts';
import { osTool } from '../helpers/os-tools.ts';
import { tempDir } from '../helpers/temp.ts';

const socat = osTool('socat', 'socat');

function received(port: Port, count: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const off = port.onData((chunk) => {
      chunks.push(Buffer.from(chunk));
      const all = Buffer.concat(chunks);
      if (all.length >= count) {
        off();
        resolve(all);
      }
    });
  });
}

describe.skipIf(!socat.available)('real serialport bindings over a socat pty pair', () => {
  it('moves bytes both ways, and an end can close and reopen while the pair stays up', async () => {
    const dir = tempDir();
    const pair = await createPtyPair({ linkA: join(dir, 'ttyA'), linkB: join(dir, 'ttyB') });
    try {
      const a = await openSerialPort({ path: pair.pathA, baudRate: 115_200 });
      let b = await openSerialPort({ path: pair.pathB, baudRate: 115_200 });
      const payload = Buffer.from(Array.from({ length: 10_000 }, (_, i) => i & 0xff));
      const got = received(b, payload.length);
      a.write(payload);
      expect((await got).equals(payload)).toBe(true);
      const back = received(a, 3);
      b.write(Uint8Array.of(0, 1, 2));
      expect([...(await back)]).toEqual([0, 1, 2]);

      await b.close();
      expect(b.isOpen).toBe(false);
      expect(pair.alive).toBe(true);
      b = await openSerialPort({ path: pair.pathB, baudRate: 115_200 });
      const again = received(b, 4);
      a.write(Uint8Array.of(9, 8, 7, 6));
      expect([...(await again)]).toEqual([9, 8, 7, 6]);
      await a.close();
      await b.close();
    } finally {
      await pair.close();
    }
  });

  it('a second open of a locked port fails with a clear error', async () => {
    const dir = tempDir();
    const pair = await createPtyPair({ linkA: join(dir, 'ttyA'), linkB: join(dir, 'ttyB') });
    try {
      const a = await openSerialPort({ path: pair.pathA, baudRate: 115_200 });
      await expect(openSerialPort({ path: pair.pathA, baudRate: 115_200 })).rejects.toMatchObject({ code: 'PORT_OPEN' });
      await a.close();
      await expect(openSerialPort({ path: join(dir, 'missing'), baudRate: 115_200 })).rejects.toMatchObject({ code: 'PORT_OPEN', field: 'path' });
    } finally {
      await pair.close();
    }
  });

  it('reports the port as disconnected when the pty goes away (at the latest on its next write)', async () => {
    const dir = tempDir();
    const pair = await createPtyPair({ linkA: join(dir, 'ttyA'), linkB: join(dir, 'ttyB') });
    const a = await openSerialPort({ path: pair.pathA, baudRate: 115_200 });
    const b = await openSerialPort({ path: pair.pathB, baudRate: 115_200 });
    const hello = received(a, 1);
    b.write(Uint8Array.of(1)); // the port is up and reading
    await hello;
    const closed = new Promise((resolve) => a.onClose(resolve));
    await pair.close();
    // The bindings do not always see the hang-up on the read side; a write always fails with
    // EIO. The link and the modem driver write periodically (keepalive, AT watchdog).
    await new Promise((r) => setTimeout(r, 100));
    if (a.isOpen) a.write(Uint8Array.of(0));
    expect(await closed).toMatchObject({ disconnected: true });
    expect(a.isOpen).toBe(false);
    await b.close();
  });
});
