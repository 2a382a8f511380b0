/**
 * Structured logs (pino) that are safe to share (DESIGN.md, rule 7). Known secret-bearing keys
 * are censored at any of the first levels of nesting, so a careless `log.info({ seed })` still
 * prints `[redacted]`; firmware code must nevertheless never pass secrets to a logger. Lines are
 * JSON, or human ones for a terminal (`format: 'pretty'`, log-format.ts).
 * @module
 */
import { pino, type Logger, type DestinationStream } from 'pino';
import { prettyDestination, type LogFormat } from './log-format.ts';

export type { Logger } from 'pino';

/** Keys whose values never reach a log line. */
export const SECRET_KEYS = [
  'mnemonic',
  'seed',
  'passphrase',
  'privateKey',
  'privateExtendedKey',
  'xprv',
  'secret',
  'secrets',
  'pin',
  'password',
  'linkKey',
  'sessionKey',
  'dataKey',
  'wrappedKey',
  'channelPrivateKey',
  'totpSecret',
  'token',
] as const;

function redactPaths(): string[] {
  const paths: string[] = [];
  for (const key of SECRET_KEYS) paths.push(key, `*.${key}`, `*.*.${key}`);
  return paths;
}

export interface LogOptions {
  /** Component name shown on every line (`hsm-cold`, `link`, `gsm.modem[A]`...). */
  name: string;
  level?: pino.LevelWithSilent;
  destination?: DestinationStream;
  /** `json` (default) or `pretty`: one human line per entry, for a terminal. */
  format?: LogFormat;
}

export function createLogger(options: LogOptions): Logger {
  const config: pino.LoggerOptions = {
    name: options.name,
    level: options.level ?? (process.env.HSM_LOG_LEVEL as pino.LevelWithSilent | undefined) ?? 'info',
    redact: { paths: redactPaths(), censor: '[redacted]' },
    base: undefined,
  };
  if (options.format === 'pretty') {
    return pino(config, prettyDestination((options.destination ?? process.stdout) as NodeJS.WritableStream & { isTTY?: boolean }));
  }
  return options.destination === undefined ? pino(config) : pino(config, options.destination);
}

/** A logger that drops everything (tests, and library code called without a logger). */
export const silentLogger: Logger = pino({ level: 'silent' });
