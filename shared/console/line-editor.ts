/**
 * The console's line discipline: what a Unix tty in canonical mode does for a serial login,
 * done on the device because the far end (picocom, tio, screen) sends raw keystrokes.
 *
 *   printable bytes   appended and echoed (UTF-8 sequences pass through whole)
 *   CR, LF, CR LF     end the line; "\r\n" is echoed
 *   BS 0x08, DEL 0x7f erase the last character ("\b \b")
 *   ^U 0x15           erases the line;  ^W 0x17 erases the last word
 *   ^C 0x03           cancels the line ("^C\r\n")
 *   ^D 0x04           on an empty line: end of input (logout); otherwise ignored
 *   ESC sequences     consumed and ignored: CSI `ESC [ params final` and SS3 `ESC O x`
 *                     (ECMA-48 §5.4: final byte 0x40-0x7e), so arrow keys type nothing
 *   other C0 bytes    ignored
 *
 * A line longer than `maxLineBytes` is not cut: the bytes past the cap are dropped (one BEL is
 * echoed), and at its end the whole line is reported as an overflow instead of a line, so a
 * truncated command never runs. No line the editor hands on is ever longer than the cap.
 * @module
 */

export const KEY = {
  ctrlC: 0x03,
  ctrlD: 0x04,
  bell: 0x07,
  backspace: 0x08,
  tab: 0x09,
  lf: 0x0a,
  cr: 0x0d,
  ctrlU: 0x15,
  ctrlW: 0x17,
  esc: 0x1b,
  del: 0x7f,
} as const;

/** Longest escape sequence consumed before the editor gives up on it. */
const MAX_ESCAPE_BYTES = 32;

export type EchoMode = 'on' | 'off';

export interface LineEditorEvents {
  /** A complete line (without its terminator), at most `maxLineBytes` long. */
  line(bytes: Uint8Array): void;
  /** ^C. */
  interrupt(): void;
  /** ^D on an empty line. */
  eof(): void;
  /** A line ended that was longer than the cap; `length` counts every byte typed. */
  overflow(length: number): void;
}

export interface LineEditorOptions {
  maxLineBytes: number;
  /** Bytes to echo back to the terminal. */
  write(bytes: Uint8Array): void;
  events: LineEditorEvents;
}

type EscapeState = 'none' | 'esc' | 'csi' | 'ss3';

const ERASE = Uint8Array.of(KEY.backspace, 0x20, KEY.backspace);
const NEWLINE = Uint8Array.of(KEY.cr, KEY.lf);
const CTRL_C_ECHO = Uint8Array.of(0x5e, 0x43, KEY.cr, KEY.lf);

function isContinuation(byte: number): boolean {
  return (byte & 0xc0) === 0x80;
}

export class LineEditor {
  private readonly maxLineBytes: number;
  private readonly write: (bytes: Uint8Array) => void;
  private readonly events: LineEditorEvents;
  private buffer: Uint8Array;
  private length = 0;
  /** Bytes typed on this line, including those dropped past the cap. */
  private typed = 0;
  private escape: EscapeState = 'none';
  private escapeBytes = 0;
  private afterCr = false;
  private echoMode: EchoMode = 'on';
  /** Echo collected while a chunk is processed, written once (before any event is raised). */
  private echoed: number[] = [];

  constructor(options: LineEditorOptions) {
    if (!Number.isInteger(options.maxLineBytes) || options.maxLineBytes < 1) {
      throw new Error('invariant failed: maxLineBytes must be a positive integer');
    }
    this.maxLineBytes = options.maxLineBytes;
    this.write = options.write;
    this.events = options.events;
    this.buffer = new Uint8Array(options.maxLineBytes);
  }

  /** `off` while a password is typed: nothing but the line end is echoed. */
  set echo(mode: EchoMode) {
    this.echoMode = mode;
  }

  get echo(): EchoMode {
    return this.echoMode;
  }

  /** The line typed so far (a copy), for redrawing it after asynchronous output. */
  get pending(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }

  /** Forgets the line typed so far without echoing anything. */
  clear(): void {
    this.buffer.fill(0, 0, this.length);
    this.length = 0;
    this.typed = 0;
  }

  push(chunk: Uint8Array): void {
    for (const byte of chunk) this.pushByte(byte);
    this.flushEcho();
  }

  private queueEcho(bytes: Uint8Array | readonly number[]): void {
    for (const byte of bytes) this.echoed.push(byte);
  }

  private flushEcho(): void {
    if (this.echoed.length === 0) return;
    const bytes = Uint8Array.from(this.echoed);
    this.echoed = [];
    this.write(bytes);
  }

  private pushByte(byte: number): void {
    const afterCr = this.afterCr;
    this.afterCr = false;
    if (this.escape !== 'none' && this.consumeEscape(byte)) return;
    switch (byte) {
      case KEY.cr:
        this.afterCr = true;
        this.endLine();
        return;
      case KEY.lf:
        if (!afterCr) this.endLine();
        return;
      case KEY.backspace:
      case KEY.del:
        this.eraseChars(1);
        return;
      case KEY.ctrlU:
        this.eraseChars(Number.POSITIVE_INFINITY);
        return;
      case KEY.ctrlW:
        this.eraseWord();
        return;
      case KEY.ctrlC:
        this.clear();
        this.queueEcho(CTRL_C_ECHO);
        this.flushEcho();
        this.events.interrupt();
        return;
      case KEY.ctrlD:
        if (this.typed !== 0) return;
        this.flushEcho();
        this.events.eof();
        return;
      case KEY.esc:
        this.escape = 'esc';
        this.escapeBytes = 1;
        return;
      default:
        if (byte < 0x20) return;
        this.append(byte);
    }
  }

  /** Returns true when `byte` belonged to the escape sequence. */
  private consumeEscape(byte: number): boolean {
    this.escapeBytes++;
    if (this.escapeBytes > MAX_ESCAPE_BYTES) this.escape = 'none';
    switch (this.escape) {
      case 'esc':
        if (byte === 0x5b) this.escape = 'csi';
        else if (byte === 0x4f) this.escape = 'ss3';
        else if (byte === KEY.esc) this.escapeBytes = 1;
        else if (byte >= 0x20 && byte < 0x7f) this.escape = 'none';
        else {
          this.escape = 'none';
          return false;
        }
        return true;
      case 'csi':
        if (byte >= 0x20 && byte <= 0x3f) return true;
        this.escape = 'none';
        return byte >= 0x40 && byte <= 0x7e;
      case 'ss3':
        this.escape = 'none';
        return byte >= 0x20 && byte <= 0x7e;
      default:
        return false;
    }
  }

  private append(byte: number): void {
    this.typed++;
    if (this.length >= this.maxLineBytes) {
      if (this.typed === this.maxLineBytes + 1) this.queueEcho([KEY.bell]);
      return;
    }
    this.buffer[this.length++] = byte;
    if (this.echoMode === 'on') this.queueEcho([byte]);
  }

  private endLine(): void {
    this.queueEcho(NEWLINE);
    this.flushEcho();
    const typed = this.typed;
    const line = this.buffer.slice(0, this.length);
    this.clear();
    if (typed > this.maxLineBytes) this.events.overflow(typed);
    else this.events.line(line);
  }

  /** Erases up to `count` characters (a UTF-8 sequence counts as one). */
  private eraseChars(count: number): void {
    let erased = 0;
    while (erased < count && this.length > 0) {
      let end = this.length - 1;
      while (end > 0 && isContinuation(this.buffer[end] ?? 0)) end--;
      this.buffer.fill(0, end, this.length);
      this.length = end;
      erased++;
      if (this.echoMode === 'on') this.queueEcho(ERASE);
    }
    if (this.length === 0) this.typed = 0;
    else this.typed = Math.min(this.typed, this.length);
  }

  private eraseWord(): void {
    let spaces = 0;
    while (this.length - spaces > 0 && this.buffer[this.length - 1 - spaces] === 0x20) spaces++;
    let word = 0;
    while (this.length - spaces - word > 0 && this.buffer[this.length - 1 - spaces - word] !== 0x20) word++;
    let chars = spaces;
    for (let i = this.length - spaces - word; i < this.length - spaces; i++) if (!isContinuation(this.buffer[i] ?? 0)) chars++;
    this.eraseChars(chars);
  }
}
