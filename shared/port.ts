/**
 * A byte port (DESIGN.md, rule 3): the one interface through which firmware reaches a wire,
 * whether a real UART or USB serial device (`openSerialPort`, over node-serialport), a pty, or
 * an emulated wire from hw-profiles/sim/uart. The link to the peer HSM, each GSM modem and the
 * diagnostics console all get a `Port`; none of them knows which kind.
 *
 * Reads arrive in arbitrary chunks (never aligned with the peer's writes); a port that goes
 * away (USB unplug, pty closed, emulated unplug) reports `close` with `disconnected: true`.
 * The serialport bindings do not always notice a hang-up on the read side of a pty; the next
 * write fails with EIO and reports it. Users of a Port therefore write periodically (the link's
 * keepalive, the modem driver's AT watchdog).
 * @module
 */
import { SerialPort } from 'serialport';
import { HsmError } from './errors.ts';

export interface PortCloseInfo {
  /** True when the device went away (unplugged, read error), false after `close()`. */
  disconnected: boolean;
  reason?: string;
}

export interface Port {
  /** Device path or emulated name, for logs and diagnostics. */
  readonly path: string;
  readonly isOpen: boolean;
  /** Queues bytes for sending. Throws PORT_CLOSED when the port is not open. */
  write(data: Uint8Array): void;
  /** Resolves when queued bytes have left the host. */
  drain(): Promise<void>;
  onData(listener: (chunk: Uint8Array) => void): () => void;
  onClose(listener: (info: PortCloseInfo) => void): () => void;
  close(): Promise<void>;
}

/** Listener bookkeeping shared by every Port implementation. */
export class PortEvents {
  private readonly dataListeners = new Set<(chunk: Uint8Array) => void>();
  private readonly closeListeners = new Set<(info: PortCloseInfo) => void>();

  onData(listener: (chunk: Uint8Array) => void): () => void {
    this.dataListeners.add(listener);
    return () => this.dataListeners.delete(listener);
  }

  onClose(listener: (info: PortCloseInfo) => void): () => void {
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  emitData(chunk: Uint8Array): void {
    for (const listener of [...this.dataListeners]) listener(chunk);
  }

  emitClose(info: PortCloseInfo): void {
    for (const listener of [...this.closeListeners]) listener(info);
  }
}

export interface SerialPortOptions {
  /** Explicit device path (`/dev/ttyAMA0`, `/dev/serial/by-path/...`); never discovered. */
  path: string;
  /** Use a standard rate (9600 ... 921600); ptys ignore it. */
  baudRate: number;
  /** flock() the device so a second process cannot open it. Default true. */
  lock?: boolean;
}

/** Opens a real serial device (or pty) with the node-serialport bindings. */
export async function openSerialPort(options: SerialPortOptions): Promise<Port> {
  const port = new SerialPort({ path: options.path, baudRate: options.baudRate, autoOpen: false, lock: options.lock ?? true });
  await new Promise<void>((resolve, reject) => {
    port.open((error) => {
      if (error === null || error === undefined) resolve();
      else reject(new HsmError('PORT_OPEN', `cannot open ${options.path}: ${error.message}`, { field: 'path', cause: error }));
    });
  });
  return new SerialPortAdapter(port, options.path);
}

class SerialPortAdapter implements Port {
  private readonly events = new PortEvents();
  private closing = false;
  private closedReported = false;

  constructor(
    private readonly port: SerialPort,
    readonly path: string,
  ) {
    port.on('data', (chunk: Buffer) => this.events.emitData(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
    // A pty read error (EIO) is not flagged as a disconnect by the bindings: treat any error
    // on an open port as the device going away.
    port.on('error', (error: Error) => this.reportClose({ disconnected: !this.closing, reason: error.message }));
    port.on('close', (error?: Error & { disconnected?: boolean }) =>
      this.reportClose({ disconnected: !this.closing || error?.disconnected === true, reason: error?.message }),
    );
  }

  get isOpen(): boolean {
    return this.port.isOpen && !this.closedReported;
  }

  write(data: Uint8Array): void {
    if (!this.isOpen) throw new HsmError('PORT_CLOSED', `${this.path} is not open`);
    this.port.write(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  }

  drain(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.port.drain((error) => (error ? reject(new HsmError('PORT_IO', `${this.path}: ${error.message}`, { cause: error })) : resolve()));
    });
  }

  onData(listener: (chunk: Uint8Array) => void): () => void {
    return this.events.onData(listener);
  }

  onClose(listener: (info: PortCloseInfo) => void): () => void {
    return this.events.onClose(listener);
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (!this.port.isOpen) {
      this.reportClose({ disconnected: false });
      return;
    }
    await new Promise<void>((resolve) => this.port.close(() => resolve()));
    this.reportClose({ disconnected: false });
  }

  private reportClose(info: PortCloseInfo): void {
    if (this.closedReported) return;
    this.closedReported = true;
    this.events.emitClose(info);
  }
}
