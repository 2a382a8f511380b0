/**
 * The terminal end of a console pty opened with the real serialport bindings, or a connection
 * to a console socket, as a program that is not a person would use it: type a line (CR, as a
 * terminal sends Enter), and wait for text on the screen. The screen keeps everything
 * received, CR LF shown as LF.
 */
import { connectConsoleSocket } from '../../hw-profiles/sim/console-socket.ts';
import { openSerialPort, type Port } from '../../shared/port.ts';
import { eventually } from './eventually.ts';

export class SerialTerminal {
  private received = '';
  private mark = 0;

  private constructor(private readonly port: Port) {
    port.onData((chunk) => (this.received += Buffer.from(chunk).toString('utf8')));
  }

  static async open(path: string): Promise<SerialTerminal> {
    return new SerialTerminal(await openSerialPort({ path, baudRate: 115_200 }));
  }

  /** A terminal on a console's Unix socket (what `hsm console` does). */
  static async connect(socketPath: string): Promise<SerialTerminal> {
    return new SerialTerminal(await connectConsoleSocket(socketPath));
  }

  screen(): string {
    return this.received.replace(/\r\n/g, '\n');
  }

  line(text: string): void {
    this.port.write(Buffer.from(`${text}\r`, 'utf8'));
  }

  /** Waits until `pattern` appears after the last match; returns the text up to and including it. */
  async waitFor(pattern: string | RegExp, timeoutMs = 20_000): Promise<string> {
    let found: string | undefined;
    const seen = (): string => this.screen().slice(this.mark);
    await eventually(
      () => {
        const rest = seen();
        const match = typeof pattern === 'string' ? (rest.includes(pattern) ? { index: rest.indexOf(pattern), 0: pattern } : null) : pattern.exec(rest);
        if (match === null) return false;
        const end = (match.index ?? 0) + match[0].length;
        found = rest.slice(0, end);
        this.mark += end;
        return true;
      },
      `"${String(pattern)}" on the terminal`,
      timeoutMs,
    ).catch((error: Error) => {
      // What the terminal shows by then, not when the wait began.
      throw new Error(`${error.message}; since the last match it shows ${JSON.stringify(seen().slice(-300))}`);
    });
    return found as string;
  }

  async close(): Promise<void> {
    await this.port.close();
  }
}
