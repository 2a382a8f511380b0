/**
 * A device's diagnostics console on a socat pty pair (pty-pair.ts), for the simulated rig and
 * for tests that drive a real terminal program: the device end is opened with the real
 * serialport bindings and served by `serveConsole`; the terminal end is the path to hand to
 * picocom, tio or screen (and to list in the rig's ready file).
 *
 *   const pty = await serveConsoleOnPty({ dir, name: 'cold-console', ...serveOptions });
 *   // picocom -b 115200 <pty.terminalPath>
 *   await pty.close();
 * @module
 */
import { join } from 'node:path';
import { serveConsole, type ConsoleServer, type ServeConsoleOptions } from '../../shared/console/serve.ts';
import { openSerialPort, type Port } from '../../shared/port.ts';
import { createPtyPair, type PtyPair } from './uart/pty-pair.ts';

export interface ConsolePtyOptions extends Omit<ServeConsoleOptions, 'port'> {
  /** Directory for the two pty links. */
  dir: string;
  /** Link name stem: `<name>` (terminal end) and `<name>.device`. Default `console`. */
  name?: string;
  /** Ignored by ptys; standard rates only. Default 115200. */
  baudRate?: number;
}

export interface ConsolePty {
  /** Open this with the terminal program. */
  readonly terminalPath: string;
  readonly devicePath: string;
  readonly server: ConsoleServer;
  readonly port: Port;
  readonly pair: PtyPair;
  close(): Promise<void>;
}

export async function serveConsoleOnPty(options: ConsolePtyOptions): Promise<ConsolePty> {
  const name = options.name ?? 'console';
  const terminalPath = join(options.dir, name);
  const devicePath = join(options.dir, `${name}.device`);
  const pair = await createPtyPair({ linkA: devicePath, linkB: terminalPath });
  let port: Port;
  try {
    port = await openSerialPort({ path: devicePath, baudRate: options.baudRate ?? 115_200 });
  } catch (error) {
    await pair.close();
    throw error;
  }
  const { dir: _dir, name: _name, baudRate: _baud, ...serve } = options;
  const server = serveConsole({ ...serve, port });
  return {
    terminalPath,
    devicePath,
    server,
    port,
    pair,
    close: async () => {
      server.close();
      await port.close();
      await pair.close();
    },
  };
}
