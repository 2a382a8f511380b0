/**
 * Plain-text formatting for the console: values that came from outside (SMS texts, modem
 * replies, error messages) are made safe for a terminal first, since a stray ESC or CR in them
 * could rewrite the operator's screen; then aligned fields, tables, durations and times.
 * @module
 */

/**
 * Replaces C0/C1 control characters (except LF), DEL and lone surrogates with `\xNN` / `\u{..}`
 * escapes, so a value prints as one visible run of characters.
 */
export function sanitize(text: string): string {
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    if (code === 0x0a) out += ch;
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else if (code >= 0x80 && code < 0xa0) out += `\\x${code.toString(16)}`;
    else if (code >= 0xd800 && code <= 0xdfff) out += `\\u{${code.toString(16)}}`;
    else out += ch;
  }
  return out;
}

/** One line, for values that must not break the layout (newlines shown as `\n`). */
export function sanitizeInline(text: string, maxLength = 200): string {
  const clean = sanitize(text).replace(/\n/g, '\\n');
  return clean.length > maxLength ? `${clean.slice(0, maxLength - 1)}…` : clean;
}

export type FieldValue = string | number | boolean | null | undefined;

function show(value: FieldValue): string {
  if (value === undefined || value === null) return '-';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  return sanitizeInline(String(value), 400);
}

/** `label  value` lines with the values aligned. */
export function fields(rows: ReadonlyArray<readonly [string, FieldValue]>, indent = ''): string[] {
  const width = Math.max(0, ...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${indent}${label.padEnd(width)}  ${show(value)}`);
}

/** A table with a header row; columns are left-aligned and separated by two spaces. */
export function table(header: readonly string[], rows: ReadonlyArray<readonly FieldValue[]>): string[] {
  const cells = [header.map((h) => h), ...rows.map((row) => row.map(show))];
  const widths = header.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  return cells.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

/** `1d 02:03:04`, `02:03:04`, or `45 s` for short spans. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  const totalSeconds = Math.floor(ms / 1000);
  if (totalSeconds < 60) return `${totalSeconds} s`;
  const days = Math.floor(totalSeconds / 86_400);
  const h = Math.floor((totalSeconds % 86_400) / 3600);
  const m = Math.floor((totalSeconds % 3600) / 60);
  const s = totalSeconds % 60;
  const hms = [h, m, s].map((n) => String(n).padStart(2, '0')).join(':');
  return days > 0 ? `${days}d ${hms}` : hms;
}

/** ISO 8601 in UTC to the second (`2026-03-10T15:05:00Z`). */
export function formatTime(epochMs: number | undefined): string {
  if (epochMs === undefined || !Number.isFinite(epochMs)) return '-';
  return new Date(epochMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The last `keep` digits of a phone number, the rest masked: `…0001`. */
export function maskPhoneNumber(number: string, keep = 4): string {
  const clean = sanitizeInline(number, 40);
  return clean.length <= keep ? clean : `…${clean.slice(-keep)}`;
}

/** A long key or signature shortened to its ends: `02AB34…89CDEF`. */
export function shorten(text: string, keep = 6): string {
  return text.length <= keep * 2 + 1 ? text : `${text.slice(0, keep)}…${text.slice(-keep)}`;
}
