/**
 * Log lines for a person at a terminal. pino writes one JSON object per line (already
 * redacted, log.ts); this destination turns each into one human line:
 *
 *   15:13:02.970 WARN  hsm-cold.link  link down  reason="keepalive timed out"
 *
 * time (local), level, where it came from (the logger's `device` or `name`, then `part` and
 * `modem`), the message, and the other fields as key=value. Colour only on a terminal that
 * does not ask for none (NO_COLOR, https://no-color.org).
 * @module
 */

export type LogFormat = 'json' | 'pretty';

/** The format for logs written to `stream`: human on a terminal, JSON otherwise. */
export function defaultLogFormat(stream: { isTTY?: boolean }): LogFormat {
  return stream.isTTY === true ? 'pretty' : 'json';
}

const LEVELS: Record<number, { label: string; color: string }> = {
  10: { label: 'TRACE', color: '\x1b[90m' },
  20: { label: 'DEBUG', color: '\x1b[90m' },
  30: { label: 'INFO', color: '\x1b[32m' },
  40: { label: 'WARN', color: '\x1b[33m' },
  50: { label: 'ERROR', color: '\x1b[31m' },
  60: { label: 'FATAL', color: '\x1b[31m' },
};
const RESET = '\x1b[0m';
/** Fields shown in the origin or the head of the line, not repeated as key=value. */
const HEAD_FIELDS = new Set(['level', 'time', 'msg', 'name', 'device', 'part', 'modem', 'pid', 'hostname']);

/** One pino JSON line as a human line (without the newline); a line that is not JSON is kept as it is. */
export function formatLogLine(json: string, options: { color: boolean }): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.trimEnd();
  }
  const level = LEVELS[entry.level as number] ?? { label: String(entry.level), color: '' };
  const time = typeof entry.time === 'number' ? clockTime(entry.time) : '';
  const origin = [entry.device ?? entry.name, entry.part, entry.modem].filter((v) => v !== undefined && v !== '').join('.');
  const fields = Object.entries(entry)
    .filter(([key]) => !HEAD_FIELDS.has(key))
    .map(([key, value]) => `${key}=${fieldText(value)}`);
  const label = level.label.padEnd(5);
  const shown = options.color && level.color !== '' ? `${level.color}${label}${RESET}` : label;
  return [time, shown, origin, ` ${String(entry.msg ?? '')}`, ...(fields.length === 0 ? [] : [` ${fields.join(' ')}`])].filter((part) => part !== '').join(' ');
}

/** A pino destination that writes human lines to `stream`. */
export function prettyDestination(stream: NodeJS.WritableStream & { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): { write(line: string): void } {
  const color = stream.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === '');
  return {
    write(line: string) {
      stream.write(`${formatLogLine(line, { color })}\n`);
    },
  };
}

function clockTime(epochMs: number): string {
  const d = new Date(epochMs);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

function fieldText(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'object' && value !== null && 'message' in value && typeof (value as { message: unknown }).message === 'string') {
    return JSON.stringify((value as { message: string }).message);
  }
  return JSON.stringify(value) ?? String(value);
}
