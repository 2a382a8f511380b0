/**
 * Serves an emulated modem on a pty, for any AT client (Gammu, our driver with the real
 * serialport bindings, picocom): socat makes a pty pair, the client opens `path`, the modem
 * holds the other end (in a private directory) through node-serialport.
 *
 * `unplug()` takes the pty away (socat exits, the client reads EIO, the path disappears) and
 * powers the modem off; `replug()` makes a new pty at the same path and boots the modem again,
 * as a USB stick that re-enumerates.
 *
 * A real modem's unsolicited output (`RDY`, `+CMTI`, signal reports...) is lost when no program
 * has the tty open. A pty would keep it in its buffer instead and hand it to the next program
 * that opens it (Gammu then reads it before the echo of its first command and gives up). So the
 * modem prints a URC only while a program holds the client end (pty-presence.ts), and the pty
 * is served once the modem has booted, with whatever was printed until then drained.
 * @module
 */
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSerialPort, type Port } from '../../../shared/port.ts';
import { tieDirectory } from '../lifeline.ts';
import { createPtyPair, type PtyPair } from '../uart/pty-pair.ts';
import type { EmulatedModem } from './emulated-modem.ts';
import { PtyPresence } from './pty-presence.ts';

export interface ServedModem {
  readonly path: string;
  readonly plugged: boolean;
  /** The socat process behind the pty while plugged (it holds both ends open). */
  readonly socatPid: number | undefined;
  unplug(): Promise<void>;
  replug(): Promise<void>;
  close(): Promise<void>;
}

export interface ServeModemOptions {
  /** Called whenever bytes pass between the modem and its pty, either way. */
  onActivity?: () => void;
}

export async function serveModemOnPty(modem: EmulatedModem, path: string, options: ServeModemOptions = {}): Promise<ServedModem> {
  const privateDir = mkdtempSync(join(tmpdir(), 'hsm-modem-'));
  const forgetDir = tieDirectory(privateDir);
  const inner = join(privateDir, 'modem');
  let pair: PtyPair | undefined;
  let port: Port | undefined;

  const plug = async (): Promise<void> => {
    pair = await createPtyPair({ linkA: path, linkB: inner });
    const servers = [{ pid: process.pid, fds: pair.spareFds }, ...(pair.pid === undefined ? [] : [{ pid: pair.pid }])];
    const presence = new PtyPresence(path, servers);
    modem.setHostPresence(() => presence.held());
    port = await openSerialPort({ path: inner, baudRate: 115_200, lock: false });
    if (options.onActivity !== undefined) watchActivity(port, options.onActivity);
    modem.connect(port);
    while (!modem.booted) await modem.clock.sleep(50);
    await modem.clock.sleep(100); // socat forwards what the modem printed
    drainPty(path);
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
    forgetDir();
    throw error;
  }

  return {
    path,
    get plugged() {
      return pair !== undefined;
    },
    get socatPid() {
      return pair?.pid;
    },
    unplug: pull,
    async replug() {
      if (pair === undefined) await plug();
    },
    async close() {
      await pull();
      rmSync(privateDir, { recursive: true, force: true });
      forgetDir();
    },
  };
}

/** Reads and drops whatever waits on the client's side of the pty. */
function drainPty(path: string): void {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOCTTY | constants.O_NONBLOCK);
  const buffer = Buffer.alloc(4096);
  try {
    for (;;) {
      let read: number;
      try {
        read = readSync(fd, buffer, 0, buffer.length, null);
      } catch {
        break; // EAGAIN: nothing left
      }
      if (read <= 0) break;
    }
  } finally {
    closeSync(fd);
  }
}

/** Reports bytes read from and written to `port`. */
function watchActivity(port: Port, onActivity: () => void): void {
  port.onData(onActivity);
  const write = port.write.bind(port);
  port.write = (data: Uint8Array): void => {
    onActivity();
    write(data);
  };
}
