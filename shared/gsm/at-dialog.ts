/**
 * A short AT conversation on a port that is not (yet) driven by the `Modem` driver: one command
 * at a time, each answered by its final result or a timeout on the `Clock`. The modem locator
 * uses it to ask each candidate port for its SIM, and `hsm doctor` to check a modem without
 * bringing it up.
 *
 *   const dialog = new AtDialog(port, clock);
 *   await dialog.escape();                                   // leave a pending `> ` prompt
 *   const { result, lines } = await dialog.ask('AT+CIMI');
 *   dialog.close();                                          // detaches; the port stays open
 * @module
 */
import type { Clock } from '../clock.ts';
import { HsmError } from '../errors.ts';
import type { Port } from '../port.ts';
import { ESC } from './at-codes.ts';
import { AtParser, type ExchangeSpec, type FinalResult } from './at-parser.ts';

export interface AtReply {
  result: FinalResult;
  lines: string[];
}

export class AtDialog {
  private readonly parser = new AtParser();
  private waiting: ((reply: AtReply) => void) | undefined;
  private readonly off: () => void;

  constructor(
    private readonly port: Port,
    private readonly clock: Clock,
    /** Per command. Default 2 s. */
    private readonly timeoutMs = 2_000,
  ) {
    this.off = port.onData((chunk) => {
      for (const event of this.parser.push(chunk)) if (event.type === 'final') this.waiting?.({ result: event.result, lines: event.lines });
    });
  }

  /** ESC CR: abandons a half-written SMS a previous user left at the `> ` prompt; drops what comes back. */
  async escape(): Promise<void> {
    this.port.write(Uint8Array.of(ESC, 0x0d));
    await this.clock.sleep(100);
    this.parser.reset();
  }

  /** Sends one command line; MODEM_TIMEOUT when no final result arrives in time. */
  ask(line: string, spec: Omit<ExchangeSpec, 'command'> = {}): Promise<AtReply> {
    if (this.waiting !== undefined) return Promise.reject(new Error('invariant failed: one AT command at a time'));
    return new Promise((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        this.waiting = undefined;
        this.parser.abandon();
        reject(new HsmError('MODEM_TIMEOUT', `no answer to ${line.split('=')[0]} on ${this.port.path}`, { field: 'port' }));
      }, this.timeoutMs);
      this.waiting = (reply) => {
        this.clock.clearTimeout(timer);
        this.waiting = undefined;
        resolve(reply);
      };
      this.parser.begin({ ...spec, command: line });
      try {
        this.port.write(Buffer.from(`${line}\r`, 'latin1'));
      } catch (error) {
        this.clock.clearTimeout(timer);
        this.waiting = undefined;
        this.parser.abandon();
        reject(new HsmError('MODEM_DISCONNECTED', `${this.port.path}: the port is gone`, { field: 'port', cause: error }));
      }
    });
  }

  close(): void {
    this.off();
  }
}
