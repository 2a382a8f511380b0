/**
 * The AT response parser: bytes from a modem in, typed events out. Pure (no I/O, no timers);
 * the driver (modem.ts) feeds it and keeps the clock.
 *
 * Framing (ITU-T V.250 §5.7.1): a response is `\r\n<line>\r\n` lines ending with a final result
 * code. The SMS prompt `\r\n> ` (3GPP TS 27.005 §3.5.1) has no line end, so it is recognised in
 * the unfinished line; some SIMCom firmwares send a bare `>` line instead. Lines are split at
 * CR or LF, so echo (`AT...\r`) and responses need no special casing; empty lines are skipped
 * (Huawei prints extra ones).
 *
 * Every line is one of:
 * - the echo of the command or PDU in flight;
 * - a final result (`OK`, `ERROR`, `+CME ERROR: n`, `+CMS ERROR: n`, and vendor variants);
 * - an unsolicited result code (URC), recognised by prefix, wherever it appears, even between
 *   the lines of a reply (27.007 §7.2 `+CREG`, 27.005 §3.4.1 `+CMTI`/`+CMT`/`+CDS`, vendor
 *   boot and signal reports); `+CMT`/`+CDS` take the following line as their PDU;
 * - an intermediate line of the reply in flight (or, with nothing in flight, an unknown URC).
 * @module
 */
import { HsmError } from '../errors.ts';
import { CME_ERROR_PREFIX, CMS_ERROR_PREFIX, CR, FINAL_RESULTS, LF } from './at-codes.ts';

export type FinalResult =
  | { kind: 'ok' }
  | { kind: 'error' }
  | { kind: 'cme'; code: number | undefined; text: string }
  | { kind: 'cms'; code: number | undefined; text: string }
  | { kind: 'other'; text: string };

export type Urc =
  | { kind: 'cmti'; storage: string; index: number }
  | { kind: 'cdsi'; storage: string; index: number }
  | { kind: 'cmt'; header: string; body: string }
  | { kind: 'cds'; header: string; body: string }
  | { kind: 'creg'; stat: number; lac?: string; ci?: string }
  | { kind: 'cgreg'; stat: number; lac?: string; ci?: string }
  | { kind: 'signal'; rssi: number }
  | { kind: 'ready'; text: string }
  | { kind: 'sim'; state: string }
  | { kind: 'memory-full' }
  | { kind: 'power-down'; text: string }
  | { kind: 'ring' }
  | { kind: 'other'; line: string };

export type AtEvent =
  | { type: 'echo'; line: string }
  | { type: 'line'; line: string }
  | { type: 'final'; result: FinalResult; lines: string[] }
  | { type: 'prompt' }
  | { type: 'urc'; urc: Urc; line: string }
  /** A final result with no command in flight (a late answer after a timeout). */
  | { type: 'stray'; line: string }
  | { type: 'error'; error: HsmError<AtParserErrorCode> };

export type AtParserErrorCode = 'AT_LINE_TOO_LONG' | 'AT_RESPONSE_TOO_LONG' | 'AT_URC_BODY';

export interface ExchangeSpec {
  /** The command line as written, without the final CR (for echo matching). */
  command: string;
  /** Lines starting with this belong to the reply even when they look like URCs (`+CREG:`). */
  responsePrefix?: string;
  /** The command is `AT+CMGS`/`AT+CMGW`: a `> ` prompt is expected before the final result. */
  expectPrompt?: boolean;
  /** Lines starting with this end the exchange as `ok` (modems that send `+CPIN: READY` without OK). */
  finalPrefix?: string;
}

export interface AtParserOptions {
  /** Longest line kept; longer ones are reported and skipped. Default 2048 characters. */
  maxLineLength?: number;
  /** Most intermediate lines kept for one reply. Default 1024. */
  maxResponseLines?: number;
}

interface Exchange {
  spec: ExchangeSpec;
  lines: string[];
  echoed: Set<string>;
  overflowReported: boolean;
}

export class AtParser {
  private readonly maxLineLength: number;
  private readonly maxResponseLines: number;
  private buffer = '';
  private discarding = false;
  private exchange: Exchange | undefined;
  private pendingUrcBody: { kind: 'cmt' | 'cds'; header: string } | undefined;

  constructor(options: AtParserOptions = {}) {
    this.maxLineLength = options.maxLineLength ?? 2048;
    this.maxResponseLines = options.maxResponseLines ?? 1024;
  }

  /** Starts matching the reply to a command that is about to be written. */
  begin(spec: ExchangeSpec): void {
    this.exchange = { spec, lines: [], echoed: new Set([normaliseEcho(spec.command)]), overflowReported: false };
  }

  /** The PDU (or text) written after the prompt: its echo is dropped, not taken as a reply line. */
  expectEcho(text: string): void {
    this.exchange?.echoed.add(normaliseEcho(text));
  }

  /** Forgets the exchange in flight (after a timeout); later lines of its reply become stray. */
  abandon(): void {
    this.exchange = undefined;
  }

  get busy(): boolean {
    return this.exchange !== undefined;
  }

  /** Forgets everything, including a partial line (after the port was reopened). */
  reset(): void {
    this.buffer = '';
    this.discarding = false;
    this.exchange = undefined;
    this.pendingUrcBody = undefined;
  }

  push(chunk: Uint8Array): AtEvent[] {
    const events: AtEvent[] = [];
    for (const byte of chunk) {
      if (byte === CR || byte === LF) {
        if (this.discarding) this.discarding = false;
        else if (this.buffer.length > 0) this.line(this.buffer, events);
        this.buffer = '';
        continue;
      }
      if (this.discarding) continue;
      if (byte === 0x00 || byte === 0x1a || byte === 0x1b) continue;
      this.buffer += String.fromCharCode(byte);
      if (this.buffer.length > this.maxLineLength) {
        events.push({ type: 'error', error: new HsmError('AT_LINE_TOO_LONG', `a modem line exceeded ${this.maxLineLength} characters`, { field: 'line' }) });
        this.buffer = '';
        this.discarding = true;
        continue;
      }
      if (this.buffer === '> ' && this.exchange?.spec.expectPrompt) {
        this.buffer = '';
        events.push({ type: 'prompt' });
      }
    }
    return events;
  }

  private line(raw: string, events: AtEvent[]): void {
    const line = raw.trim();
    if (line.length === 0) return;

    if (this.pendingUrcBody !== undefined) {
      const { kind, header } = this.pendingUrcBody;
      this.pendingUrcBody = undefined;
      if (classifyFinal(line) === undefined && parseUrc(line) === undefined) {
        events.push({ type: 'urc', urc: { kind, header, body: line }, line: header });
        return;
      }
      events.push({ type: 'error', error: new HsmError('AT_URC_BODY', `${header} was not followed by its message line`, { field: kind }) });
    }

    const exchange = this.exchange;
    if (exchange !== undefined) {
      if (exchange.echoed.has(normaliseEcho(line))) {
        events.push({ type: 'echo', line });
        return;
      }
      if (line === '>' && exchange.spec.expectPrompt) {
        events.push({ type: 'prompt' });
        return;
      }
      const final = classifyFinal(line);
      if (final !== undefined) {
        this.exchange = undefined;
        events.push({ type: 'final', result: final, lines: exchange.lines });
        return;
      }
      if (exchange.spec.finalPrefix !== undefined && line.startsWith(exchange.spec.finalPrefix)) {
        this.exchange = undefined;
        events.push({ type: 'final', result: { kind: 'ok' }, lines: [...exchange.lines, line] });
        return;
      }
      const prefix = exchange.spec.responsePrefix;
      if (prefix === undefined || !line.startsWith(prefix) || !belongsToReply(prefix, line)) {
        if (this.urc(line, events)) return;
      }
      if (exchange.lines.length >= this.maxResponseLines) {
        if (!exchange.overflowReported) {
          exchange.overflowReported = true;
          events.push({ type: 'error', error: new HsmError('AT_RESPONSE_TOO_LONG', `a reply exceeded ${this.maxResponseLines} lines`, { field: 'response' }) });
        }
        return;
      }
      exchange.lines.push(line);
      events.push({ type: 'line', line });
      return;
    }

    if (classifyFinal(line) !== undefined) {
      events.push({ type: 'stray', line });
      return;
    }
    if (this.urc(line, events)) return;
    events.push({ type: 'urc', urc: { kind: 'other', line }, line });
  }

  private urc(line: string, events: AtEvent[]): boolean {
    const urc = parseUrc(line);
    if (urc === undefined) return false;
    if (urc === 'cmt' || urc === 'cds') {
      this.pendingUrcBody = { kind: urc, header: line };
      return true;
    }
    events.push({ type: 'urc', urc, line });
    return true;
  }
}

function normaliseEcho(text: string): string {
  return text.replace(/[\x00\x1a\x1b]/g, '').trim().toUpperCase();
}

/** Final result codes (V.250 §5.7.1; 27.007 §9.2; 27.005 §3.2.5), or undefined. */
export function classifyFinal(line: string): FinalResult | undefined {
  if (line === FINAL_RESULTS.ok) return { kind: 'ok' };
  if (line === FINAL_RESULTS.error) return { kind: 'error' };
  if (line.startsWith(CME_ERROR_PREFIX)) return { kind: 'cme', ...errorCode(line.slice(CME_ERROR_PREFIX.length)) };
  if (line.startsWith(CMS_ERROR_PREFIX)) return { kind: 'cms', ...errorCode(line.slice(CMS_ERROR_PREFIX.length)) };
  switch (line) {
    case FINAL_RESULTS.noCarrier:
    case FINAL_RESULTS.busy:
    case FINAL_RESULTS.noAnswer:
    case FINAL_RESULTS.noDialtone:
    case FINAL_RESULTS.commandNotSupport:
    case FINAL_RESULTS.tooManyParameters:
      return { kind: 'other', text: line };
    default:
      return undefined;
  }
}

function errorCode(rest: string): { code: number | undefined; text: string } {
  const text = rest.trim();
  return { code: /^[0-9]{1,5}$/.test(text) ? Number(text) : undefined, text };
}

/**
 * A `+CREG:`/`+CGREG:` line is a query reply when its second field is a bare number
 * (`+CREG: <n>,<stat>[,...]`); the URC form starts with `<stat>` and has quoted fields after it.
 */
function belongsToReply(prefix: string, line: string): boolean {
  if (prefix !== '+CREG:' && prefix !== '+CGREG:') return true;
  const fields = splitParams(line.slice(prefix.length));
  return fields.length >= 2 && /^[0-9]+$/.test(fields[1] ?? '');
}

/** Splits AT parameters at commas outside quotes; quotes stay on the fields. */
export function splitParams(text: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (const char of text) {
    if (char === '"') quoted = !quoted;
    if (char === ',' && !quoted) {
      out.push(current.trim());
      current = '';
    } else {
      current += char;
    }
  }
  out.push(current.trim());
  return out;
}

export function unquote(field: string | undefined): string {
  if (field === undefined) return '';
  return field.length >= 2 && field.startsWith('"') && field.endsWith('"') ? field.slice(1, -1) : field;
}

function intField(field: string | undefined, max: number): number | undefined {
  if (field === undefined || !/^[0-9]{1,6}$/.test(field)) return undefined;
  const value = Number(field);
  return value <= max ? value : undefined;
}

/** Recognises a URC; `'cmt'`/`'cds'` mean the message line follows. */
export function parseUrc(line: string): Urc | 'cmt' | 'cds' | undefined {
  const colon = line.indexOf(':');
  const head = colon === -1 ? line : line.slice(0, colon);
  const params = colon === -1 ? [] : splitParams(line.slice(colon + 1));
  switch (head) {
    case '+CMTI':
    case '+CDSI': {
      const index = intField(params[1], 65_535);
      if (params.length !== 2 || index === undefined) return { kind: 'other', line };
      return { kind: head === '+CMTI' ? 'cmti' : 'cdsi', storage: unquote(params[0]), index };
    }
    case '+CMT':
      return colon === -1 ? undefined : 'cmt';
    case '+CDS':
      return colon === -1 ? undefined : 'cds';
    case '+CREG':
    case '+CGREG': {
      const stat = intField(params[0], 5);
      if (stat === undefined) return { kind: 'other', line };
      const kind = head === '+CREG' ? 'creg' : 'cgreg';
      return params.length >= 3 ? { kind, stat, lac: unquote(params[1]), ci: unquote(params[2]) } : { kind, stat };
    }
    case '^RSSI':
    case '+CSQN': {
      const rssi = intField(params[0], 99);
      return rssi === undefined ? { kind: 'other', line } : { kind: 'signal', rssi };
    }
    case '+QIND': {
      if (unquote(params[0]).toLowerCase() === 'csq') {
        const rssi = intField(params[1], 99);
        return rssi === undefined ? { kind: 'other', line } : { kind: 'signal', rssi };
      }
      if (line.includes('SMS DONE')) return { kind: 'ready', text: line };
      return { kind: 'other', line };
    }
    case '^HCSQ':
    case '^MODE':
    case '^BOOT':
    case '^SRVST':
    case '^DSFLOWRPT':
    case '^CEND':
    case '+CUSD':
    case '+CLIP':
    case '+CTZV':
    case '+CTZE':
    case '*PSUTTZ':
    case 'DST':
    case '+CIEV':
    case '+PSUTTZ':
      return { kind: 'other', line };
    case '^SIMST':
    case '+CPIN':
      return { kind: 'sim', state: params.join(',') };
    case '+CFUN':
      return { kind: 'ready', text: line };
    case '^SMMEMFULL':
    case '+SMMEMFULL':
      return { kind: 'memory-full' };
    default:
      break;
  }
  switch (line) {
    case 'RDY':
    case 'Call Ready':
    case 'SMS Ready':
    case 'PB DONE':
      return { kind: 'ready', text: line };
    case 'RING':
      return { kind: 'ring' };
    case 'NORMAL POWER DOWN':
    case 'UNDER-VOLTAGE POWER DOWN':
    case 'UNDER-VOLTAGE WARNNING':
    case 'OVER-VOLTAGE WARNNING':
    case 'OVER-VOLTAGE POWER DOWN':
      return { kind: 'power-down', text: line };
    default:
      return undefined;
  }
}
