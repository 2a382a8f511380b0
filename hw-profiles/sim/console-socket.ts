/**
 * A device's diagnostics console on a Unix socket: the way in that needs nothing outside npm
 * (a pty needs socat, console-pty.ts). `hsm console hot|cold` (scripts/cli/console.ts) is its
 * terminal: it puts the user's terminal in raw mode and passes bytes both ways, as picocom does
 * on a pty; a test or a script may connect directly and speak lines.
 *
 * The socket is like a serial line: one terminal at a time (a second one is told the console is
 * in use and closed). Each connection gets a fresh console session (`serveConsole`); when the
 * terminal closes, the session ends (and logs out). When the terminal only ends its input (a
 * script piping its commands), the session first finishes what it was given, then closes.
 *
 *   const served = await serveConsoleOnSocket(path, { clock, random, store, host, commands });
 *   // hsm console hot --socket <path>
 *   await served.close();
 *
 * `bridgeConsoleSocket` serves the same socket in front of a console that runs elsewhere (a
 * device process's console pty): each connection opens the pty's terminal end, so a terminal on
 * the socket and picocom on the pty exclude each other as two programs on one serial port do.
 * @module
 */
import { lstatSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HsmError } from '../../shared/errors.ts';
import { PortEvents, openSerialPort, type Port, type PortCloseInfo } from '../../shared/port.ts';
import { serveConsole, type ServeConsoleOptions } from '../../shared/console/serve.ts';
import { tieDirectory } from './lifeline.ts';

/** sun_path holds 108 bytes on Linux, the terminating NUL included; leave some room. */
const MAX_SOCKET_PATH_BYTES = 100;
/** How often a session is checked for having finished its input after the terminal's EOF. */
const DRAIN_POLL_MS = 20;

export interface ServedConsoleSocket {
  /** Where terminals connect (`hsm console --socket <path>`). */
  readonly path: string;
  close(): Promise<void>;
}

/** A Port over one connected stream socket (the console's side of a connection). */
export class SocketPort implements Port {
  private readonly events = new PortEvents();
  private closedReported = false;

  constructor(
    private readonly socket: Socket,
    readonly path: string,
  ) {
    socket.on('data', (chunk: Buffer) => this.events.emitData(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
    socket.on('error', (error) => this.reportClose({ disconnected: true, reason: error.message }));
    socket.on('close', () => this.reportClose({ disconnected: true }));
  }

  get isOpen(): boolean {
    return !this.closedReported && this.socket.writable;
  }

  write(data: Uint8Array): void {
    if (!this.isOpen) throw new HsmError('PORT_CLOSED', `${this.path} is not open`);
    this.socket.write(data);
  }

  drain(): Promise<void> {
    return this.socket.writableLength === 0 ? Promise.resolve() : new Promise((resolve) => this.socket.once('drain', () => resolve()));
  }

  onData(listener: (chunk: Uint8Array) => void): () => void {
    return this.events.onData(listener);
  }

  onClose(listener: (info: PortCloseInfo) => void): () => void {
    return this.events.onClose(listener);
  }

  async close(): Promise<void> {
    if (this.socket.destroyed) return this.reportClose({ disconnected: false });
    await new Promise<void>((resolve) => this.socket.end(() => resolve()));
    this.socket.destroy();
    this.reportClose({ disconnected: false });
  }

  private reportClose(info: PortCloseInfo): void {
    if (this.closedReported) return;
    this.closedReported = true;
    this.events.emitClose(info);
  }
}

/** A console session for each terminal that connects to `path`. */
export function serveConsoleOnSocket(path: string, options: Omit<ServeConsoleOptions, 'port'>): Promise<ServedConsoleSocket> {
  return listenOnce(path, options.host.name, (socket) => {
    const port = new SocketPort(socket, path);
    const server = serveConsole({ ...options, port });
    let ended = false;
    port.onClose(() => server.close());
    // End of input: let the session finish the commands it was given, then hang up.
    socket.on('end', () => {
      if (ended) return;
      ended = true;
      const timer = setInterval(() => {
        if (server.session.busy || server.session.asking !== undefined) return;
        clearInterval(timer);
        void port.close();
      }, DRAIN_POLL_MS);
      port.onClose(() => clearInterval(timer));
    });
  });
}

/** The socket in front of a console served on a pty elsewhere: each connection opens `terminalPath`. */
export function bridgeConsoleSocket(path: string, terminalPath: string, name: string): Promise<ServedConsoleSocket> {
  return listenOnce(path, name, (socket) => {
    socket.pause();
    void openSerialPort({ path: terminalPath, baudRate: 115_200 }).then(
      (pty) => {
        const hangUp = (): void => {
          void pty.close();
          socket.destroy();
        };
        pty.onData((chunk) => socket.write(chunk));
        pty.onClose(hangUp);
        socket.on('data', (chunk: Buffer) => {
          if (pty.isOpen) pty.write(chunk);
        });
        socket.on('close', hangUp);
        socket.on('error', hangUp);
        socket.resume();
      },
      (error: unknown) => socket.end(`the ${name} console cannot be opened: ${(error as Error).message}\r\n`),
    );
  });
}

/** The address to connect to: a long state directory path holds a link to a socket with a short one. */
export function consoleSocketAddress(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path; // connecting reports what is wrong
  }
}

/** Connects to a console socket as a Port (tests, and scripts that speak lines). */
export function connectConsoleSocket(path: string): Promise<Port> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(consoleSocketAddress(path));
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(new SocketPort(socket, path));
    });
    socket.once('error', reject);
  });
}

/**
 * Listens on `path` (replacing a socket left by a run that did not stop cleanly) and hands each
 * connection to `serve`, one at a time. A path too long for a socket address gets the socket in
 * a short private directory, and a symbolic link to it at `path`.
 */
async function listenOnce(path: string, name: string, serve: (socket: Socket) => void): Promise<ServedConsoleSocket> {
  removeStale(path);
  let listenPath = path;
  let privateDir: { path: string; forget: () => void } | undefined;
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
    const dir = mkdtempSync(join(tmpdir(), 'hsm-console-'));
    privateDir = { path: dir, forget: tieDirectory(dir) };
    listenPath = join(dir, 'socket');
    symlinkSync(listenPath, path);
  }
  const connections = new Set<Socket>();
  let current: Socket | undefined;
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    connections.add(socket);
    socket.on('close', () => {
      connections.delete(socket);
      if (current === socket) current = undefined;
    });
    socket.on('error', () => undefined);
    if (current !== undefined) {
      socket.end(`the ${name} console is in use by another terminal\r\n`);
      return;
    }
    current = socket;
    serve(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new HsmError('CONSOLE_SOCKET', `cannot serve the ${name} console on ${path}: ${error.message}`, { field: 'console', cause: error })));
    server.listen(listenPath, () => resolve());
  });
  return {
    path,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of connections) socket.destroy();
      await closed;
      removeStale(path);
      if (privateDir !== undefined) {
        rmSync(privateDir.path, { recursive: true, force: true });
        privateDir.forget();
      }
    },
  };
}

/** Removes a socket or link at `path`, never anything else. */
function removeStale(path: string): void {
  let stat: ReturnType<typeof lstatSync>;
  try {
    stat = lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (!stat.isSocket() && !stat.isSymbolicLink()) throw new HsmError('CONSOLE_SOCKET', `${path} exists and is not a socket`, { field: 'console' });
  rmSync(path, { force: true });
}
