/**
 * Logs for a person at a terminal: one human line per pino entry (time, level, origin,
 * message, fields), coloured only on a terminal that does not ask for none, secrets redacted
 * as in JSON; JSON wherever the logs do not go to a terminal.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../shared/log.ts';
import { defaultLogFormat, formatLogLine, prettyDestination } from '../../shared/log-format.ts';

/** A stream that keeps what is written, and says whether it is a terminal. */
function sink(isTTY: boolean): Writable & { isTTY: boolean; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  }) as Writable & { isTTY: boolean; text: () => string };
  stream.isTTY = isTTY;
  stream.text = () => chunks.join('');
  return stream;
}

describe('human log lines', () => {
  it('show local time, level, origin, message and the other fields', () => {
    const at = new Date(2026, 2, 10, 15, 4, 5, 67).getTime();
    const line = JSON.stringify({ level: 40, time: at, name: 'hsm-sim', device: 'hsm-cold', part: 'link', reason: 'keepalive timed out', epoch: 3, msg: 'link down' });
    expect(formatLogLine(line, { color: false })).toBe('15:04:05.067 WARN  hsm-cold.link  link down  reason="keepalive timed out" epoch=3');
    const plain = JSON.stringify({ level: 30, time: at, name: 'hsm-sim', msg: 'ready' });
    expect(formatLogLine(plain, { color: false })).toBe('15:04:05.067 INFO  hsm-sim  ready');
    expect(formatLogLine(JSON.stringify({ level: 50, time: at, name: 'x', err: { message: 'boom', stack: 'at ...' }, msg: 'failed' }), { color: false })).toBe('15:04:05.067 ERROR x  failed  err="boom"');
    expect(formatLogLine(line, { color: true })).toContain('\x1b[33mWARN \x1b[0m');
    expect(formatLogLine('not json\n', { color: false })).toBe('not json');
  });

  it('a pretty logger writes human lines, secrets redacted; colour only on a terminal without NO_COLOR', () => {
    const terminal = sink(true);
    const log = createLogger({ name: 'hsm-sim', level: 'info', destination: terminal, format: 'pretty' });
    log.warn({ pin: '482916', device: 'hsm-hot' }, 'unlock refused');
    expect(terminal.text()).toMatch(/^\d\d:\d\d:\d\d\.\d{3} \x1b\[33mWARN \x1b\[0m hsm-hot {2}unlock refused {2}pin=\[redacted\]\n$/);
    expect(terminal.text()).not.toContain('482916');

    const noColor = sink(true);
    prettyDestination(noColor, { NO_COLOR: '1' }).write(`${JSON.stringify({ level: 30, time: 0, name: 'n', msg: 'm' })}\n`);
    expect(noColor.text()).not.toContain('\x1b[');
  });

  it('the default is human lines on a terminal and JSON anywhere else', () => {
    expect(defaultLogFormat({ isTTY: true })).toBe('pretty');
    expect(defaultLogFormat({ isTTY: false })).toBe('json');
    expect(defaultLogFormat({})).toBe('json');
  });
});
