/**
 * One console session on one port: input events from the line discipline, the operator's
 * login state, and the command loop.
 *
 * - One command runs at a time; lines typed meanwhile are queued (up to `maxQueuedLines`),
 *   except while the command asks a question, when the next line is its answer.
 * - ^C cancels the line, a question or the running command (its `signal`); ^D on an empty
 *   line logs out; an over-long line is refused whole.
 * - Access levels (registry.ts) are checked after the arguments parse and before anything
 *   runs: bad input is refused without asking for a code and changes nothing. Privileged
 *   commands ask for a TOTP code; destructive ones return a confirmation id first.
 * - After `idleTimeoutMs` without a keystroke (on the device clock) the operator is logged
 *   out; logging out forgets the unsealed TOTP secret and pending confirmations.
 * @module
 */
import type { Clock, TimerHandle } from '../clock.ts';
import { HsmError, isHsmError } from '../errors.ts';
import { silentLogger, type Logger } from '../log.ts';
import type { Port } from '../port.ts';
import type { RandomSource } from '../random.ts';
import { splitWords, type Args } from './arguments.ts';
import { CONFIRMATION_TTL_MS, ConfirmationBook } from './confirmations.ts';
import { LineInput, type InputEvent } from './line-input.ts';
import type { OperatorCredentials } from './operator.ts';
import type { AskOptions, CommandContext, CommandRegistry, CommandSpec, OperatorInfo } from './registry.ts';
import { Terminal, describeError } from './terminal.ts';

export const DEFAULT_IDLE_TIMEOUT_MS = 5 * 60_000;
export const DEFAULT_MAX_LINE_BYTES = 512;
const DEFAULT_MAX_QUEUED_LINES = 8;

export interface ConsoleHost {
  /** Device name for the prompt and the TOTP label: `hsm-cold`. */
  readonly name: string;
  /** Machine state for the prompt: `running/link:up`, `locked`. */
  state(): string;
  /** Lines printed when the console starts (no secrets). */
  banner?(): string[];
  /** Runs before the first operator password is set (e.g. asks the device PIN); throws to refuse. */
  authorizeSetup?(ctx: CommandContext): Promise<void>;
}

export interface SessionOptions {
  port: Port;
  clock: Clock;
  random: RandomSource;
  credentials: OperatorCredentials;
  registry: CommandRegistry;
  host: ConsoleHost;
  log?: Logger;
  idleTimeoutMs?: number;
  maxLineBytes?: number;
  maxQueuedLines?: number;
}

interface LoggedIn {
  info: OperatorInfo;
  /** Unsealed at a password login while 2FA is on; zeroised at logout. */
  totpSecret: Uint8Array | undefined;
}

interface Question {
  prompt: string;
  resolve(answer: string): void;
  reject(error: HsmError): void;
}

export type LogoutReason = 'operator' | 'eof' | 'idle' | 'lockout' | 'closed';

export function cancelled(message = 'cancelled'): HsmError {
  return new HsmError('CONSOLE_CANCELLED', message);
}

export class ConsoleSession {
  readonly terminal: Terminal;
  readonly credentials: OperatorCredentials;
  readonly registry: CommandRegistry;
  readonly host: ConsoleHost;
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly confirmations: ConfirmationBook;
  readonly idleTimeoutMs: number;
  private readonly input: LineInput;
  private readonly log: Logger;
  private readonly maxQueuedLines: number;
  private auth: LoggedIn | undefined;
  private pendingEnrollment: { secret: Uint8Array; sealKey: Uint8Array } | undefined;
  private running: AbortController | undefined;
  private question: Question | undefined;
  private readonly queue: InputEvent[] = [];
  private promptShown: string | undefined;
  private idleTimer: TimerHandle | undefined;
  private closed = false;

  constructor(options: SessionOptions) {
    this.terminal = new Terminal(options.port);
    this.credentials = options.credentials;
    this.registry = options.registry;
    this.host = options.host;
    this.clock = options.clock;
    this.random = options.random;
    this.log = options.log ?? silentLogger;
    this.idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.maxQueuedLines = options.maxQueuedLines ?? DEFAULT_MAX_QUEUED_LINES;
    this.confirmations = new ConfirmationBook(options.clock, options.random);
    this.input = new LineInput({
      maxLineBytes: options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES,
      echo: (bytes) => this.terminal.writeBytes(bytes),
      onEvent: (event) => this.onInput(event),
    });
  }

  // -------------------------------------------------------------------------------------------
  // State seen by commands and tests

  get loggedIn(): boolean {
    return this.auth !== undefined;
  }

  get operator(): OperatorInfo | undefined {
    return this.auth?.info;
  }

  /** Whether this session holds the unsealed TOTP secret. */
  get canUseCodes(): boolean {
    return this.auth?.totpSecret !== undefined;
  }

  /** Whether a command runs or typed-ahead input waits. */
  get busy(): boolean {
    return this.running !== undefined || this.queue.length > 0;
  }

  /** The question a command is waiting on, if any (its prompt). */
  get asking(): string | undefined {
    return this.question?.prompt;
  }

  /** Prints the banner and the first prompt. */
  start(): void {
    this.terminal.line(`${this.host.name} diagnostics console`);
    this.terminal.lines(this.safeBanner());
    this.terminal.line(this.credentials.exists() ? 'type login to log in, help for the commands' : 'no operator password is set yet: type setup');
    this.showPrompt();
  }

  /** Bytes from the port. */
  receive(chunk: Uint8Array): void {
    if (this.closed) return;
    if (this.auth !== undefined || this.question !== undefined) this.armIdle();
    this.input.push(chunk);
  }

  /** Ends the session (the port closed or the server stops). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.clock.clearTimeout(this.idleTimer);
    this.question?.reject(cancelled('the console closed'));
    this.question = undefined;
    this.running?.abort(cancelled('the console closed'));
    if (this.auth !== undefined) this.logout('closed');
    this.forgetEnrollment();
    this.input.close();
  }

  // -------------------------------------------------------------------------------------------
  // Authentication state, used by the built-in commands

  login(info: OperatorInfo, totpSecret: Uint8Array | undefined): void {
    this.auth = { info, totpSecret };
    this.armIdle();
  }

  logout(reason: LogoutReason): void {
    const auth = this.auth;
    if (auth === undefined) return;
    auth.totpSecret?.fill(0);
    this.auth = undefined;
    this.confirmations.clear();
    this.forgetEnrollment();
    this.clock.clearTimeout(this.idleTimer);
    this.safeAudit('logout', { reason });
    this.log.info({ reason }, 'console operator logged out');
  }

  setEnrollment(secret: Uint8Array, sealKey: Uint8Array): void {
    this.forgetEnrollment();
    this.pendingEnrollment = { secret, sealKey };
  }

  get enrollment(): { secret: Uint8Array; sealKey: Uint8Array } | undefined {
    return this.pendingEnrollment;
  }

  /** After `2fa confirm`: the session now holds the enabled secret. */
  enrollmentConfirmed(): void {
    const pending = this.pendingEnrollment;
    if (pending === undefined || this.auth === undefined) return;
    this.auth.totpSecret?.fill(0);
    this.auth.totpSecret = Uint8Array.from(pending.secret);
    this.forgetEnrollment();
  }

  /** After `2fa disable`. */
  totpDisabled(): void {
    if (this.auth === undefined) return;
    this.auth.totpSecret?.fill(0);
    this.auth.totpSecret = undefined;
  }

  /**
   * Asks for a TOTP code and checks it (the code's time step is used up). Throws when 2FA is
   * off or this session cannot use codes.
   */
  async requireCode(ctx: CommandContext, action: string): Promise<void> {
    const auth = this.auth;
    if (auth === undefined) throw new HsmError('CONSOLE_LOGIN_REQUIRED', 'log in first (login)');
    if (auth.totpSecret === undefined) {
      if (this.credentials.totpSettings() === undefined) {
        throw new HsmError('CONSOLE_2FA_REQUIRED', `${action} needs a 2FA code, and 2FA is off: turn it on with 2fa enable`);
      }
      throw new HsmError('CONSOLE_2FA_UNAVAILABLE', 'this session logged in with a response and cannot check codes; log in with the password');
    }
    const code = (await ctx.ask('2FA code: ')).trim();
    this.credentials.checkCode(auth.totpSecret, code, { action });
  }

  // -------------------------------------------------------------------------------------------
  // Input

  private onInput(event: InputEvent): void {
    const question = this.question;
    if (question !== undefined) {
      this.question = undefined;
      this.input.echo = 'on';
      this.promptShown = undefined;
      if (event.kind === 'line') question.resolve(event.text);
      else if (event.kind === 'overflow') question.reject(lineTooLong(event.length));
      else {
        if (event.kind === 'eof') this.terminal.write('\n');
        question.reject(cancelled());
      }
      return;
    }
    if (this.running !== undefined) {
      if (event.kind === 'interrupt') {
        this.queue.length = 0;
        this.running.abort(cancelled());
      } else if (event.kind !== 'eof') {
        if (this.queue.length < this.maxQueuedLines) this.queue.push(event);
        else this.terminal.warn('(input ignored: too many lines typed ahead)');
      }
      return;
    }
    this.process(event);
  }

  private process(event: InputEvent): void {
    switch (event.kind) {
      case 'line':
        if (event.text.trim() === '') this.next();
        else void this.runLine(event.text);
        return;
      case 'interrupt':
        this.next();
        return;
      case 'eof':
        // Logged out, ^D does nothing, as at a login prompt.
        if (this.auth === undefined) return;
        this.terminal.line('logout');
        this.logout('eof');
        this.next();
        return;
      case 'overflow':
        this.terminal.error(lineTooLong(event.length));
        this.next();
    }
  }

  /** Runs the next queued event, or shows the prompt. */
  private next(): void {
    const event = this.queue.shift();
    if (event !== undefined) {
      this.process(event);
      return;
    }
    this.showPrompt();
  }

  private async runLine(text: string): Promise<void> {
    this.promptShown = undefined;
    const abort = new AbortController();
    this.running = abort;
    const ctx = this.context(abort.signal);
    try {
      await this.execute(text, ctx);
    } catch (error) {
      // A wrong password or code that locks the console also ends the session.
      if (isHsmError(error, 'CONSOLE_LOCKED_OUT')) this.logout('lockout');
      this.report(error);
    } finally {
      this.running = undefined;
      this.input.echo = 'on';
      if (!this.closed) this.next();
    }
  }

  private report(error: unknown): void {
    if (isHsmError(error, 'CONSOLE_CANCELLED')) {
      this.terminal.line(error.message);
      return;
    }
    if (!(error instanceof HsmError)) this.log.error({ error: (error as Error)?.name ?? typeof error }, 'console command failed unexpectedly');
    this.terminal.error(error);
  }

  // -------------------------------------------------------------------------------------------
  // Dispatch

  private async execute(text: string, ctx: CommandContext): Promise<void> {
    const { spec, args } = this.registry.resolve(splitWords(text));
    if (spec.access === 'public') {
      await spec.run(ctx, args);
      return;
    }
    if (this.auth === undefined) throw new HsmError('CONSOLE_LOGIN_REQUIRED', `${spec.path} needs a login: type login`, { field: 'command' });
    if (spec.access === 'read') {
      const group = spec.path.split(' ')[0] ?? spec.path;
      if (this.credentials.totpSettings()?.commands.includes(group)) await this.requireCode(ctx, spec.path);
      await spec.run(ctx, args);
      return;
    }
    if (spec.access === 'destructive') {
      await spec.preview?.(ctx, args);
      await this.requireCode(ctx, spec.path);
      const id = this.confirmations.issue(spec.path, args);
      this.safeAudit('confirmation-issued', { command: spec.path, args: args.canonical() });
      ctx.out.warn(`to go ahead, type within ${CONFIRMATION_TTL_MS / 1000} s, with a fresh 2FA code:  confirm ${id}`);
      return;
    }
    await this.requireCode(ctx, spec.path);
    await this.runPrivileged(spec, ctx, args);
  }

  /** Runs a privileged command whose code has checked out, and audits the outcome. */
  async runPrivileged(spec: CommandSpec, ctx: CommandContext, args: Args): Promise<void> {
    try {
      await spec.run(ctx, args);
      this.safeAudit('privileged', { command: spec.path, args: args.canonical(), outcome: 'done' });
      this.log.info({ command: spec.path }, 'privileged console command done');
    } catch (error) {
      this.safeAudit('privileged', { command: spec.path, args: args.canonical(), outcome: 'failed', code: describeError(error).code });
      throw error;
    }
  }

  private context(signal: AbortSignal): CommandContext {
    const session = this;
    return {
      out: this.terminal,
      clock: this.clock,
      signal,
      get operator() {
        return session.auth?.info;
      },
      ask: (prompt, options) => this.ask(prompt, signal, options),
      confirm: async (question) => (await this.ask(`${question} (yes/no) `, signal)).trim().toLowerCase() === 'yes',
    };
  }

  private ask(prompt: string, signal: AbortSignal, options: AskOptions = {}): Promise<string> {
    if (signal.aborted) return Promise.reject(signal.reason instanceof HsmError ? signal.reason : cancelled());
    if (this.question !== undefined) throw new Error('invariant failed: one question at a time');
    return new Promise<string>((resolve, reject) => {
      const onAbort = (): void => {
        if (this.question?.prompt !== prompt) return;
        this.question = undefined;
        this.input.echo = 'on';
        reject(signal.reason instanceof HsmError ? signal.reason : cancelled());
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.question = {
        prompt,
        resolve: (answer) => {
          signal.removeEventListener('abort', onAbort);
          resolve(answer);
        },
        reject: (error) => {
          signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      if (options.secret === true) {
        // As getpass() flushes typeahead (TCSAFLUSH): a secret is never taken from a line
        // that was echoed before the prompt.
        this.queue.length = 0;
        this.input.clearPending();
        this.input.echo = 'off';
      } else {
        this.input.echo = 'on';
      }
      this.terminal.write(prompt);
      this.promptShown = prompt;
      this.armIdle();
      const queued = this.queue.shift();
      if (queued !== undefined) this.onInput(queued);
    });
  }

  // -------------------------------------------------------------------------------------------
  // Prompt, notices, idle timeout

  prompt(): string {
    let state: string;
    try {
      state = this.host.state();
    } catch {
      state = 'unknown';
    }
    return `${this.host.name}(${state})${this.auth === undefined ? '>' : '$'} `;
  }

  private showPrompt(): void {
    if (this.closed) return;
    const prompt = this.prompt();
    this.terminal.write(prompt + this.input.pendingText);
    this.promptShown = prompt;
  }

  /** A message that arrives between commands (idle logout): printed above a fresh prompt. */
  notice(text: string): void {
    if (this.promptShown === undefined) {
      this.terminal.line(text);
      return;
    }
    this.terminal.write('\n');
    this.terminal.line(text);
    if (this.question !== undefined) {
      this.terminal.write(this.question.prompt + this.input.pendingText);
      this.promptShown = this.question.prompt;
    } else {
      this.showPrompt();
    }
  }

  private armIdle(): void {
    this.clock.clearTimeout(this.idleTimer);
    this.idleTimer = this.clock.setTimeout(() => this.idleExpired(), this.idleTimeoutMs);
  }

  private idleExpired(): void {
    this.idleTimer = undefined;
    if (this.closed) return;
    const minutes = Math.round(this.idleTimeoutMs / 60_000);
    const wasLoggedIn = this.auth !== undefined;
    if (wasLoggedIn) this.logout('idle');
    this.input.clearPending();
    const question = this.question;
    if (question !== undefined) {
      this.question = undefined;
      this.input.echo = 'on';
      this.promptShown = undefined;
      question.reject(new HsmError('CONSOLE_IDLE', `no input for ${minutes} min${wasLoggedIn ? '; logged out' : ''}`));
      return;
    }
    this.running?.abort(new HsmError('CONSOLE_IDLE', `no input for ${minutes} min; logged out`));
    if (wasLoggedIn) this.notice(`no input for ${minutes} min; logged out`);
  }

  private forgetEnrollment(): void {
    this.pendingEnrollment?.secret.fill(0);
    this.pendingEnrollment?.sealKey.fill(0);
    this.pendingEnrollment = undefined;
  }

  private safeBanner(): string[] {
    try {
      return this.host.banner?.() ?? [];
    } catch {
      return [];
    }
  }

  /** Audits an operator action; a failing store must not take the console down with it. */
  safeAudit(kind: string, details: Record<string, string | number | boolean | null>): void {
    try {
      this.credentials.audit(kind, details);
    } catch (error) {
      this.log.error({ kind, code: (error as HsmError).code }, 'console audit entry could not be written');
    }
  }
}

function lineTooLong(length: number): HsmError {
  return new HsmError('CONSOLE_LINE_TOO_LONG', `the line was ${length} bytes, longer than the console takes; it was discarded`, { field: 'line' });
}
