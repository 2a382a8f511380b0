/**
 * A terminal program (picocom, tio) running inside a private tmux server, driven like an
 * operator at a keyboard: `send-keys` to type, `capture-pane` to read the screen. Waits poll
 * the screen for the expected text with a deadline; nothing sleeps for a fixed time.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { osTool, osTools } from '../helpers/os-tools.ts';

/** What a terminal-program test needs: tmux to drive it, socat for the console's pty, and the program. */
export function terminalTools(program: 'picocom' | 'tio'): { available: boolean; skipReason: string | undefined } {
  return osTools(osTool('tmux', 'tmux'), osTool('socat', 'socat'), osTool(program, program));
}

const POLL_MS = 40;

export class TmuxTerminal {
  private readonly socket: string;
  private before = '';

  private constructor(
    dir: string,
    private readonly session: string,
  ) {
    this.socket = join(dir, 'tmux.sock');
  }

  /** Starts `command` in a detached tmux session of `width` x `height`. */
  static start(dir: string, command: readonly string[], size = { width: 160, height: 50 }): TmuxTerminal {
    const terminal = new TmuxTerminal(dir, 'console');
    terminal.tmux(['new-session', '-d', '-s', terminal.session, '-x', String(size.width), '-y', String(size.height), ...command]);
    terminal.tmux(['set-option', '-t', terminal.session, 'history-limit', '10000']);
    return terminal;
  }

  private tmux(args: readonly string[]): string {
    return execFileSync('tmux', ['-S', this.socket, ...args], { encoding: 'utf8', env: { ...process.env, TERM: 'xterm' } });
  }

  /** The whole screen and its scrollback, wrapped lines joined, trailing blanks dropped. */
  screen(): string {
    return this.tmux(['capture-pane', '-p', '-J', '-t', this.session, '-S', '-10000'])
      .split('\n')
      .map((line) => line.trimEnd())
      .join('\n')
      .trimEnd();
  }

  /** Types `text` literally (no Enter). */
  type(text: string): void {
    this.tmux(['send-keys', '-t', this.session, '-l', text]);
  }

  /** Presses keys by tmux name (`Enter`, `C-c`, `C-d`, `C-a`, `Up`...). */
  press(...keys: string[]): void {
    this.tmux(['send-keys', '-t', this.session, ...keys]);
  }

  /** Types a line and presses Enter; later waits look for text that was not on the screen before. */
  line(text: string): void {
    this.before = this.screen();
    if (text.length > 0) this.type(text);
    this.press('Enter');
  }

  /**
   * Resolves with the screen once `pattern` occurs more often than it did before the last typed
   * line (so an old prompt does not count); rejects at the deadline.
   */
  async waitFor(pattern: string | RegExp, timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    const count = (text: string): number =>
      typeof pattern === 'string' ? text.split(pattern).length - 1 : [...text.matchAll(new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`))].length;
    const seen = count(this.before);
    for (;;) {
      const screen = this.screen();
      if (count(screen) > seen) return screen;
      if (Date.now() > deadline) throw new Error(`"${String(pattern)}" did not appear on the terminal within ${timeoutMs} ms; the screen ends with:\n${screen.slice(-1500)}`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  /** Kills the tmux server and everything in it. */
  close(): void {
    try {
      this.tmux(['kill-server']);
    } catch {
      // Already gone: the terminal program exited and took the session with it.
    }
  }
}
