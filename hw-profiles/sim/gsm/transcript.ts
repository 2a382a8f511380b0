/**
 * AT transcripts: recorded modem exchanges as text, and a `Port` that replays one against the
 * driver.
 *
 *   # comment
 *   => AT+CMGS=24          what the host writes, up to CR (dropped) or Ctrl-Z (shown as ^Z)
 *   <= +CMGS: 7            a line from the modem, sent framed as \r\n<line>\r\n
 *   <= >                   the SMS prompt, sent as \r\n> (no line end)
 *   <=raw \r\n>\r\n         exact bytes, with \r, \n and \xNN escapes (quirks: bare prompts,
 *                          doubled echo, missing line ends)
 *
 * Other control characters are written as ^[ (ESC) or \xNN. `<=` lines before the first `=>`
 * come out when the port opens; each `=>` releases the `<=` lines that follow it.
 *
 * The replay port fails on the first write that differs from the transcript, naming the
 * transcript line, and `finish()` checks that every exchange was used.
 * @module
 */
import { HsmError } from '../../../shared/errors.ts';
import { PortEvents, type Port, type PortCloseInfo } from '../../../shared/port.ts';
import type { RandomSource } from '../../../shared/random.ts';

export type TranscriptEntry = { kind: 'host' | 'modem' | 'modem-raw'; text: string; line: number };

/** The concatenation reference (0x2A) of every recorded and replayed send. */
export const TRANSCRIPT_RANDOM: RandomSource = { bytes: (n) => new Uint8Array(n).fill(0x2a) };

function unescapeRaw(text: string): string {
  return text.replace(/\\(r|n|x[0-9a-fA-F]{2}|\\)/g, (_, e: string) => (e === 'r' ? '\r' : e === 'n' ? '\n' : e === '\\' ? '\\' : String.fromCharCode(parseInt(e.slice(1), 16))));
}

const PROMPT = '>';

/** Host bytes as transcript text: ESC → ^[, Ctrl-Z → ^Z, other controls → \xNN. */
export function showHostText(bytes: string): string {
  return bytes.replace(/[\x00-\x1f\x7f]/g, (c) => (c === '\x1b' ? '^[' : c === '\x1a' ? '^Z' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}

export function parseTranscript(text: string): TranscriptEntry[] {
  const entries: TranscriptEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '' || line.startsWith('#')) return;
    const match = /^(=>|<=raw|<=) ?(.*)$/.exec(line);
    if (match === null) throw new HsmError('TRANSCRIPT_SYNTAX', `transcript line ${i + 1}: expected "=> ", "<= " or "<=raw "`, { field: `line ${i + 1}` });
    const kind = match[1] === '=>' ? 'host' : match[1] === '<=' ? 'modem' : 'modem-raw';
    entries.push({ kind, text: kind === 'modem-raw' ? unescapeRaw(match[2] as string) : (match[2] as string), line: i + 1 });
  });
  return entries;
}

/** Builds a transcript from captured traffic (in = host → modem, out = modem → host). */
export class TranscriptRecorder {
  private readonly lines: string[] = [];
  private hostBuffer = '';
  private modemBuffer = '';

  constructor(header: readonly string[] = []) {
    for (const h of header) this.lines.push(`# ${h}`);
  }

  traffic(direction: 'in' | 'out', bytes: Uint8Array): void {
    const text = Buffer.from(bytes).toString('latin1');
    if (direction === 'in') {
      this.flushModem(true);
      for (const char of text) {
        if (char === '\r' || char === '\x1a') {
          this.lines.push(`=> ${showHostText(this.hostBuffer + (char === '\x1a' ? char : ''))}`);
          this.hostBuffer = '';
        } else {
          this.hostBuffer += char;
        }
      }
    } else {
      this.modemBuffer += text;
      this.flushModem(false);
    }
  }

  /** Emits every complete modem line; at a host write, a pending `> ` prompt too. */
  private flushModem(hostWrites: boolean): void {
    for (;;) {
      const end = this.modemBuffer.search(/[\r\n]/);
      if (end === -1) break;
      const line = this.modemBuffer.slice(0, end);
      this.modemBuffer = this.modemBuffer.slice(end + 1);
      if (line.trim() !== '') this.lines.push(`<= ${line}`);
    }
    if (hostWrites && this.modemBuffer.trim() === PROMPT) {
      this.lines.push(`<= ${PROMPT}`);
      this.modemBuffer = '';
    }
  }

  note(text: string): void {
    this.flushModem(true);
    this.lines.push(`# ${text}`);
  }

  toString(): string {
    this.flushModem(true);
    return `${this.lines.join('\n')}\n`;
  }
}

/**
 * A fake port that plays the modem's side of a transcript. Replies go out on the next turn of
 * the event loop, as from a real device.
 */
export class TranscriptPort implements Port {
  readonly path: string;
  private readonly events = new PortEvents();
  private readonly entries: TranscriptEntry[];
  private position = 0;
  private open = true;
  private pending = '';
  private failure: HsmError | undefined;

  constructor(transcript: string, path = 'transcript') {
    this.path = path;
    this.entries = parseTranscript(transcript);
    this.releaseModemLines();
  }

  get isOpen(): boolean {
    return this.open;
  }

  write(data: Uint8Array): void {
    if (!this.open) throw new HsmError('PORT_CLOSED', `${this.path} is not open`);
    for (const char of Buffer.from(data).toString('latin1')) {
      if (char === '\r' || char === '\x1a') {
        this.hostRecord(this.pending + (char === '\x1a' ? char : ''));
        this.pending = '';
        if (!this.open) return;
      } else {
        this.pending += char;
      }
    }
  }

  async drain(): Promise<void> {}

  onData(listener: (chunk: Uint8Array) => void): () => void {
    return this.events.onData(listener);
  }

  onClose(listener: (info: PortCloseInfo) => void): () => void {
    return this.events.onClose(listener);
  }

  async close(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    this.events.emitClose({ disconnected: false });
  }

  /** Throws the first mismatch, or a note about exchanges the driver never made. */
  finish(): void {
    if (this.failure !== undefined) throw this.failure;
    const next = this.entries[this.position];
    if (next !== undefined) {
      throw new HsmError('TRANSCRIPT_NOT_CONSUMED', `transcript line ${next.line}: "${next.kind === 'host' ? '=>' : '<='} ${showHostText(next.text)}" was never reached`, { field: `line ${next.line}` });
    }
  }

  get consumed(): boolean {
    return this.failure === undefined && this.position >= this.entries.length;
  }

  private hostRecord(raw: string): void {
    const shown = showHostText(raw);
    const expected = this.entries[this.position];
    if (expected === undefined || expected.kind !== 'host' || expected.text !== shown) {
      const where = expected === undefined ? 'after the end of the transcript' : `at transcript line ${expected.line} (expected "${expected.kind === 'host' ? '=>' : '<='} ${expected.text}")`;
      this.failure ??= new HsmError('TRANSCRIPT_MISMATCH', `unexpected write "=> ${shown}" ${where}`, { field: expected === undefined ? 'end' : `line ${expected.line}` });
      this.open = false;
      setImmediate(() => this.events.emitClose({ disconnected: true, reason: 'transcript mismatch' }));
      return;
    }
    this.position++;
    this.releaseModemLines();
  }

  private releaseModemLines(): void {
    let out = '';
    for (let entry = this.entries[this.position]; entry !== undefined && entry.kind !== 'host'; entry = this.entries[this.position]) {
      if (entry.kind === 'modem-raw') out += entry.text;
      else out += entry.text === PROMPT ? '\r\n> ' : `\r\n${entry.text}\r\n`;
      this.position++;
    }
    if (out === '') return;
    const bytes = Uint8Array.from(Buffer.from(out, 'latin1'));
    setImmediate(() => {
      if (this.open) this.events.emitData(bytes);
    });
  }
}
