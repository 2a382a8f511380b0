/**
 * Serves an emulated modem on a pty, for any AT client (Gammu, our driver with the real
 * serialport bindings, picocom): socat makes a pty pair, the client opens `path`, the modem
 * holds the other end (in a private directory) through node-serialport.
 *
 * `unplug()` takes the pty away (socat exits, the client reads EIO, the path disappears) and
 * powers the modem off; `replug()` makes a new pty at the same path and boots the modem again,
 * as a USB stick that re-enumerates.
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSerialPort, type Port } from '../../../shared/port.ts';
import { createPtyPair, type PtyPair } from '../uart/pty-pair.ts';
import type { EmulatedModem } from './emulated-modem.ts';

export interface ServedModem {
  readonly path: string;
  readonly plugged: boolean;
  unplug(): Promise<void>;
  replug(): Promise<void>;
  close(): Promise<void>;
}

export async function serveModemOnPty(modem: EmulatedModem, path: string): Promise<ServedModem> {
  const privateDir = mkdtempSync(join(tmpdir(), 'hsm-modem-'));
  const inner = join(privateDir, 'modem');
  let pair: PtyPair | undefined;
  let port: Port | undefined;

  const plug = async (): Promise<void> => {
    pair = await createPtyPair({ linkA: path, linkB: inner });
    port = await openSerialPort({ path: inner, baudRate: 115_200, lock: false });
    modem.connect(port);
  };
  const pull = async (): Promise<void> => {
    modem.disconnect();
    const p = port;
    const q = pair;
    port = undefined;
    pair = undefined;
    if (p !== undefined) await p.close();
    if (q !== undefined) await q.close();
  };

  try {
    await plug();
  } catch (error) {
    await pull();
    rmSync(privateDir, { recursive: true, force: true });
    throw error;
  }

  return {
    path,
    get plugged() {
      return pair !== undefined;
    },
    unplug: pull,
    async replug() {
      if (pair === undefined) await plug();
    },
    async close() {
      await pull();
      rmSync(privateDir, { recursive: true, force: true });
    },
  };
}
