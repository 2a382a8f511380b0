import { describe, expect, it } from 'vitest';
import { LineEditor } from '../../shared/console/line-editor.ts';
import { LineInput, type InputEvent } from '../../shared/console/line-input.ts';

function editor(maxLineBytes = 16) {
  const echoed: number[] = [];
  const events: string[] = [];
  const e = new LineEditor({
    maxLineBytes,
    write: (bytes) => echoed.push(...bytes),
    events: {
      line: (bytes) => events.push(`line:${Buffer.from(bytes).toString('latin1')}`),
      interrupt: () => events.push('interrupt'),
      eof: () => events.push('eof'),
      overflow: (length) => events.push(`overflow:${length}`),
    },
  });
  const type = (s: string | number[]): void => e.push(typeof s === 'string' ? Buffer.from(s, 'latin1') : Uint8Array.from(s));
  const echo = (): string => Buffer.from(echoed.splice(0)).toString('latin1');
  return { e, type, echo, events };
}

describe('line editor', () => {
  it('echoes typed characters and ends lines on CR, LF or CR LF, echoing CR LF once', () => {
    const { type, echo, events } = editor();
    type('ab\rcd\nef\r\ngh\n\r');
    expect(events).toEqual(['line:ab', 'line:cd', 'line:ef', 'line:gh', 'line:']);
    expect(echo()).toBe('ab\r\ncd\r\nef\r\ngh\r\n\r\n');
  });

  it('erases with BS and DEL ("\\b \\b"), a UTF-8 character as one, and nothing on an empty line', () => {
    const { type, echo, events } = editor();
    type([0x61, 0xc3, 0xa9, 0x08, 0x62, 0x7f, 0x7f, 0x7f, 0x63, 0x0d]);
    expect(events).toEqual(['line:c']);
    expect(echo()).toBe('a\xc3\xa9\b \bb\b \b\b \bc\r\n');
  });

  it('^U erases the line, ^W the last word', () => {
    const { type, events } = editor(64);
    type('channel open-window 15');
    type([0x17]);
    type('30\r');
    type('status');
    type([0x15]);
    type('link\r');
    expect(events).toEqual(['line:channel open-window 30', 'line:link']);
  });

  it('^C cancels the line; ^D logs out only on an empty line', () => {
    const { type, echo, events } = editor();
    type('rebo');
    type([0x03]);
    expect(echo()).toBe('rebo^C\r\n');
    type('x');
    type([0x04]);
    type([0x08, 0x04]);
    expect(events).toEqual(['interrupt', 'eof']);
  });

  it('swallows arrow keys and other escape sequences (CSI, SS3, Alt-x) without echo', () => {
    const { type, echo, events } = editor(64);
    type('st\x1b[Aat\x1b[1;5C\x1bOPus\x1bx\r');
    expect(events).toEqual(['line:status']);
    expect(echo()).toBe('status\r\n');
  });

  it('a control byte inside an escape sequence ends it and still acts (ESC then Enter)', () => {
    const { type, events } = editor();
    type('ab\x1b\r');
    type('cd\x1b[12\r');
    expect(events).toEqual(['line:ab', 'line:cd']);
  });

  it('ignores other control bytes', () => {
    const { type, echo, events } = editor();
    type([0x00, 0x01, 0x02, 0x05, 0x09, 0x0b, 0x0c, 0x1c, 0x1f, 0x61, 0x0d]);
    expect(events).toEqual(['line:a']);
    expect(echo()).toBe('a\r\n');
  });

  it('an over-long line rings once and is reported as an overflow, never as a cut line', () => {
    const { type, echo, events } = editor(8);
    type('0123456789abcdef\r');
    expect(events).toEqual(['overflow:16']);
    expect(echo()).toBe('01234567\x07\r\n');
    type('short\r');
    expect(events.at(-1)).toBe('line:short');
  });

  it('erasing back under the cap leaves exactly what is on the screen', () => {
    const { type, events } = editor(4);
    type('abcdef');
    type([0x7f]);
    type('Z\r');
    expect(events).toEqual(['line:abcZ']);
  });

  it('echo off: nothing but the line end is echoed (passwords)', () => {
    const { e, type, echo, events } = editor();
    e.echo = 'off';
    type('secret\x7f!\r');
    expect(echo()).toBe('\r\n');
    expect(events).toEqual(['line:secre!']);
  });

  it('takes input in any fragmentation', () => {
    const whole = editor(32);
    const bytes = Buffer.from('help\r\x1b[Dlo\x7fgin\r\nx\x03', 'latin1');
    whole.type([...bytes]);
    const split = editor(32);
    for (const byte of bytes) split.type([byte]);
    expect(split.events).toEqual(whole.events);
    expect(split.echo()).toBe(whole.echo());
  });
});

describe('line input (editor in front of @serialport/parser-readline)', () => {
  it('decodes lines as UTF-8 (invalid bytes become U+FFFD) and keeps lines and keys in order', () => {
    const events: InputEvent[] = [];
    const input = new LineInput({ maxLineBytes: 32, echo: () => undefined, onEvent: (e) => events.push(e) });
    input.push(Uint8Array.from([0x61, 0xff, 0x62, 0x0d, 0xe2, 0x82, 0xac, 0x0d, 0x03, 0x04]));
    input.push(Buffer.from('x'.repeat(40) + '\rok\r\r'));
    expect(events).toEqual([
      { kind: 'line', text: 'a\ufffdb' },
      { kind: 'line', text: '€' },
      { kind: 'interrupt' },
      { kind: 'eof' },
      { kind: 'overflow', length: 40 },
      { kind: 'line', text: 'ok' },
      { kind: 'line', text: '' },
    ]);
    input.close();
  });

  it('an unfinished UTF-8 sequence at the end of a line does not leak into the next one', () => {
    const events: InputEvent[] = [];
    const input = new LineInput({ maxLineBytes: 32, echo: () => undefined, onEvent: (e) => events.push(e) });
    input.push(Uint8Array.from([0x61, 0xe2, 0x82, 0x0d, 0x6c, 0x6f, 0x67, 0x69, 0x6e, 0x0d]));
    expect(events).toEqual([
      { kind: 'line', text: 'a\ufffd' },
      { kind: 'line', text: 'login' },
    ]);
    input.close();
  });

  it('shows the pending line only while echo is on', () => {
    const input = new LineInput({ maxLineBytes: 32, echo: () => undefined, onEvent: () => undefined });
    input.push(Buffer.from('stat'));
    expect(input.pendingText).toBe('stat');
    input.echo = 'off';
    expect(input.pendingText).toBe('');
    input.close();
  });
});
