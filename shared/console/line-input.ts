/**
 * Console input over a byte port: the line editor (echo, erase, control keys, the length cap)
 * in front of @serialport/parser-readline, which splits the lines; each line is decoded on its
 * own (UTF-8; invalid or unfinished sequences become U+FFFD and never reach the next line). ReadlineParser has no maximum line length (notes/serial-link.md §4),
 * so it only ever sees whole lines the editor has already capped; it emits each one
 * synchronously on write, so lines and control keys reach the listener in the order typed.
 * Empty lines (Enter alone) bypass it: a stream drops empty chunks.
 * @module
 */
import { ReadlineParser } from '@serialport/parser-readline';
import { LineEditor, type EchoMode } from './line-editor.ts';

export type InputEvent =
  | { kind: 'line'; text: string }
  | { kind: 'interrupt' }
  | { kind: 'eof' }
  | { kind: 'overflow'; length: number };

export interface LineInputOptions {
  maxLineBytes: number;
  /** Echo back to the terminal. */
  echo(bytes: Uint8Array): void;
  onEvent(event: InputEvent): void;
}

const LF = Buffer.from('\n');

export class LineInput {
  private readonly editor: LineEditor;
  /** Emits Buffers: a stream decoder would carry a line's unfinished UTF-8 sequence into the next line. */
  private readonly splitter = new ReadlineParser({ delimiter: '\n', encoding: undefined });

  constructor(options: LineInputOptions) {
    this.splitter.on('data', (line: Buffer) => options.onEvent({ kind: 'line', text: line.toString('utf8') }));
    this.editor = new LineEditor({
      maxLineBytes: options.maxLineBytes,
      write: options.echo,
      events: {
        line: (bytes) => {
          // A Readable drops empty chunks, so an empty line never leaves the splitter.
          if (bytes.length === 0) options.onEvent({ kind: 'line', text: '' });
          else this.splitter.write(Buffer.concat([bytes, LF]));
          bytes.fill(0);
        },
        interrupt: () => options.onEvent({ kind: 'interrupt' }),
        eof: () => options.onEvent({ kind: 'eof' }),
        overflow: (length) => options.onEvent({ kind: 'overflow', length }),
      },
    });
  }

  push(chunk: Uint8Array): void {
    this.editor.push(chunk);
  }

  set echo(mode: EchoMode) {
    this.editor.echo = mode;
  }

  get echo(): EchoMode {
    return this.editor.echo;
  }

  /** The line typed so far, as shown (empty while echo is off). */
  get pendingText(): string {
    return this.editor.echo === 'on' ? Buffer.from(this.editor.pending).toString('utf8') : '';
  }

  clearPending(): void {
    this.editor.clear();
  }

  close(): void {
    this.splitter.removeAllListeners('data');
    this.splitter.destroy();
  }
}
