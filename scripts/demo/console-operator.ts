/**
 * The demo's operator at a device console: the terminal end of the console's pty, opened with
 * the real serialport bindings, or the console's Unix socket where there is no pty (no socat),
 * as `hsm console` connects to it; typed into as a person would (a line, Enter), read until the
 * expected text shows. It logs in, turns 2FA on (reading the secret the console shows once, as
 * an authenticator app would) and answers the code a privileged command asks for, from the
 * world clock (the consoles' clock).
 *
 *   const operator = await ConsoleOperator.login(rig.ready.consoles.cold, password, 'hsm-cold');
 *   await operator.enableTotp(password, () => rig.clock.now());
 *   await operator.privileged('channel open-window 60', () => rig.clock.now());
 * @module
 */
import { statSync } from 'node:fs';
import { generateSync } from 'otplib';
import { HsmError } from '../../shared/errors.ts';
import { connectConsoleSocket } from '../../hw-profiles/sim/console-socket.ts';
import { openSerialPort, type Port } from '../../shared/port.ts';

const WAIT_MS = 60_000;

export class ConsoleOperator {
  private screen = '';
  private mark = 0;
  private secret: string | undefined;

  private constructor(
    private readonly line: Port,
    private readonly prompt: RegExp,
  ) {
    line.onData((chunk) => (this.screen += Buffer.from(chunk).toString('utf8').replace(/\r\n/g, '\n')));
  }

  /** Opens the console at `path` (a pty's terminal end or the console's socket) and logs in with `password`. */
  static async login(path: string, password: string, device: 'hsm-hot' | 'hsm-cold'): Promise<ConsoleOperator> {
    const line = statSync(path).isSocket() ? await connectConsoleSocket(path) : await openSerialPort({ path, baudRate: 115_200 });
    const operator = new ConsoleOperator(line, new RegExp(`${device}\\([^)]*\\)[>$] $`));
    operator.type('');
    await operator.waitFor(operator.prompt);
    operator.type('login');
    await operator.waitFor('password: ');
    operator.type(password);
    const answer = await operator.waitFor(operator.prompt);
    if (!answer.includes('logged in')) throw new HsmError('DEMO_CONSOLE', `the console did not log in: ${answer.trim().slice(-200)}`);
    return operator;
  }

  /** `2fa enable` and `2fa confirm`, keeping the secret the console shows once. */
  async enableTotp(password: string, now: () => number): Promise<void> {
    this.type('2fa enable');
    await this.waitFor('password: ');
    this.type(password);
    const shown = await this.waitFor(this.prompt);
    const secret = /secret +([A-Z2-7]+)\n/.exec(shown)?.[1];
    if (secret === undefined) throw new HsmError('DEMO_CONSOLE', `2fa enable showed no secret: ${shown.trim().slice(-200)}`);
    this.secret = secret;
    this.type(`2fa confirm ${this.code(now)}`);
    const confirmed = await this.waitFor(this.prompt);
    if (!confirmed.includes('2FA is on')) throw new HsmError('DEMO_CONSOLE', `2fa confirm: ${confirmed.trim().slice(-200)}`);
  }

  /** Runs a privileged command, answering its 2FA question; returns what it printed. */
  async privileged(line: string, now: () => number): Promise<string> {
    this.type(line);
    await this.waitFor('2FA code: ');
    this.type(this.code(now));
    return this.waitFor(this.prompt);
  }

  async close(): Promise<void> {
    this.type('logout');
    await this.line.close();
  }

  private code(now: () => number): string {
    if (this.secret === undefined) throw new HsmError('DEMO_CONSOLE', '2FA is not enabled on this console yet');
    return generateSync({ secret: this.secret, epoch: Math.floor(now() / 1000) });
  }

  private type(line: string): void {
    this.line.write(Buffer.from(`${line}\r`, 'utf8'));
  }

  /** Waits (in real time) until `pattern` shows after the last match; returns the text up to it. */
  private async waitFor(pattern: string | RegExp): Promise<string> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const rest = this.screen.slice(this.mark);
      const match = typeof pattern === 'string' ? (rest.includes(pattern) ? { index: rest.indexOf(pattern), length: pattern.length } : undefined) : ((m) => (m === null ? undefined : { index: m.index, length: m[0].length }))(pattern.exec(rest));
      if (match !== undefined) {
        const end = match.index + match.length;
        this.mark += end;
        return rest.slice(0, end);
      }
      if (Date.now() > deadline) throw new HsmError('DEMO_CONSOLE', `the console did not show ${String(pattern)}; it ends with ${JSON.stringify(rest.slice(-200))}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}
