/**
 * Console output to the port: every line ends in CR LF, every text is sanitized (format.ts)
 * before it is written, and colour (SGR, ECMA-48 §8.3.117) is added only after `color on`.
 * Errors print as `error: <message> [CODE]`, as the CLI prints them.
 * @module
 */
import { HsmError } from '../errors.ts';
import type { Port } from '../port.ts';
import { sanitize } from './format.ts';

export interface Output {
  line(text?: string): void;
  lines(texts: readonly string[]): void;
  heading(text: string): void;
  ok(text: string): void;
  warn(text: string): void;
  /** `error: <message> [CODE]`; anything but an HsmError prints as an internal error. */
  error(error: unknown): void;
}

const SGR = { reset: '\x1b[0m', bold: '\x1b[1m', red: '\x1b[31m', green: '\x1b[32m', yellow: '\x1b[33m' } as const;

/** The text shown for an error; never the message of an unexpected exception (it may hold anything). */
export function describeError(error: unknown): { text: string; code: string } {
  if (error instanceof HsmError) return { text: `${error.message} [${error.code}]`, code: error.code };
  return { text: 'internal error; the action was not completed [INTERNAL]', code: 'INTERNAL' };
}

export class Terminal implements Output {
  color = false;

  constructor(private readonly port: Port) {}

  /** Writes raw bytes (echo); a closed port drops them. */
  writeBytes(bytes: Uint8Array): void {
    if (!this.port.isOpen) return;
    try {
      this.port.write(bytes);
    } catch {
      // The port went away; the server notices through onClose.
    }
  }

  /** Writes sanitized text, LF translated to CR LF, with no line end added. */
  write(text: string): void {
    this.writeBytes(Buffer.from(sanitize(text).replace(/\n/g, '\r\n'), 'utf8'));
  }

  line(text = ''): void {
    this.write(`${text}\n`);
  }

  lines(texts: readonly string[]): void {
    if (texts.length > 0) this.write(`${texts.join('\n')}\n`);
  }

  heading(text: string): void {
    this.styled(SGR.bold, text);
  }

  ok(text: string): void {
    this.styled(SGR.green, text);
  }

  warn(text: string): void {
    this.styled(SGR.yellow, text);
  }

  error(error: unknown): void {
    this.styled(SGR.red, `error: ${describeError(error).text}`);
  }

  private styled(sgr: string, text: string): void {
    if (!this.color) {
      this.line(text);
      return;
    }
    const body = sanitize(text).replace(/\n/g, '\r\n');
    this.writeBytes(Buffer.from(`${sgr}${body}${SGR.reset}\r\n`, 'utf8'));
  }
}
