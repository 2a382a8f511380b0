/**
 * How every `hsm` subcommand reports: human text by default, one JSON document with `--json`,
 * errors as `error: <message>` (or `{"error":{code,field,message}}`) with a non-zero exit.
 * @module
 */
import { HsmError } from '../../shared/errors.ts';

/** Exit codes: 0 done / valid, 1 checked and found invalid, 2 bad input or failure. */
export const EXIT = { ok: 0, invalid: 1, error: 2 } as const;

export interface OutputOptions {
  json?: boolean;
}

export function report(options: OutputOptions, data: unknown, text: () => string): void {
  if (options.json) process.stdout.write(`${JSON.stringify(data, jsonReplacer, 2)}\n`);
  else process.stdout.write(`${text()}\n`);
}

function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  return value;
}

export function reportError(options: OutputOptions, error: unknown): number {
  const safe =
    error instanceof HsmError
      ? error.toJSON()
      : { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) };
  if (options.json) process.stdout.write(`${JSON.stringify({ error: safe }, null, 2)}\n`);
  else process.stderr.write(`error: ${safe.message}${safe.code === 'INTERNAL' ? '' : ` [${safe.code}]`}\n`);
  return EXIT.error;
}

/** Runs a subcommand body, mapping thrown errors to the error report and exit code. */
export async function run(options: OutputOptions, body: () => Promise<number | void> | number | void): Promise<void> {
  let code: number;
  try {
    code = (await body()) ?? EXIT.ok;
  } catch (error) {
    code = reportError(options, error);
  }
  process.exitCode = code;
}

/** Reads all of stdin as UTF-8 (for secrets that must not appear in argv). */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').trim();
}

export function parseIntegerOption(value: string, name: string): number {
  if (!/^(0|[1-9][0-9]*)$/.test(value)) {
    throw new HsmError('BAD_OPTION', `--${name} must be a non-negative integer, got "${value}"`, { field: name });
  }
  return Number(value);
}
