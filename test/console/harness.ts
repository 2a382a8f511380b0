/**
 * A console served on an in-memory port, with a simulated clock and a temporary store: bytes
 * typed reach the session at once, and everything it writes is kept as the "screen".
 */
import { SimulatedClock } from '../../shared/clock.ts';
import { HsmError } from '../../shared/errors.ts';
import { PortEvents, type Port, type PortCloseInfo } from '../../shared/port.ts';
import { SeededRandom } from '../../shared/random.ts';
import { DeviceStore } from '../../shared/store/store.ts';
import { CONSOLE_COLLECTIONS, serveConsole, type ConsoleServer } from '../../shared/console/serve.ts';
import type { CommandSpec } from '../../shared/console/registry.ts';
import type { ConsoleHost } from '../../shared/console/session.ts';
import { totpSecretText } from '../../shared/console/totp.ts';
import type { LockoutPolicy } from '../../shared/console/lockout.ts';
import { defineCollection } from '../../shared/store/collection.ts';
import { generateSync } from 'otplib';
import type { Logger } from '../../shared/log.ts';
import { z } from 'zod';
import { tempDir } from '../helpers/temp.ts';

export const PASSWORD = 'correct horse battery';
export const FAST_CONSOLE_KDF = { N: 1024, r: 8, p: 1 };

/** A collection the test commands change, to see whether a refused command changed anything. */
export const TEST_COUNTER = defineCollection('test.counter', z.strictObject({ value: z.number().int() }));

export class MemoryPort implements Port {
  readonly path = 'memory';
  private readonly events = new PortEvents();
  private open = true;
  private readonly written: Buffer[] = [];

  get isOpen(): boolean {
    return this.open;
  }

  write(data: Uint8Array): void {
    if (!this.open) throw new HsmError('PORT_CLOSED', 'memory port is closed');
    this.written.push(Buffer.from(data));
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

  /** Bytes from the terminal. */
  type(data: string | Uint8Array): void {
    this.events.emitData(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
  }

  /** Everything written so far. */
  output(): Buffer {
    if (this.written.length > 1) this.written.splice(0, this.written.length, Buffer.concat(this.written));
    return this.written[0] ?? Buffer.alloc(0);
  }
}

export interface HarnessOptions {
  log?: Logger;
  commands?: (h: { store: DeviceStore; clock: SimulatedClock }) => CommandSpec[];
  host?: Partial<ConsoleHost>;
  idleTimeoutMs?: number;
  maxLineBytes?: number;
  lockout?: LockoutPolicy;
  seed?: string;
  dir?: string;
}

export class ConsoleHarness {
  readonly clock = new SimulatedClock({ start: Date.UTC(2026, 2, 10, 8, 0, 0) });
  readonly random: SeededRandom;
  readonly port = new MemoryPort();
  readonly store: DeviceStore;
  readonly server: ConsoleServer;
  readonly dir: string;
  private mark = 0;

  constructor(options: HarnessOptions = {}) {
    this.random = new SeededRandom(options.seed ?? 'console-harness');
    this.dir = options.dir ?? tempDir('console-');
    this.store = DeviceStore.open(this.dir, { app: 'test', schemaVersion: 1, clock: this.clock, collections: [...CONSOLE_COLLECTIONS, TEST_COUNTER] });
    this.server = serveConsole({
      port: this.port,
      clock: this.clock,
      random: this.random.fork('console'),
      store: this.store,
      host: { name: 'hsm-test', state: () => 'running', ...options.host },
      commands: options.commands?.({ store: this.store, clock: this.clock }) ?? [],
      kdf: FAST_CONSOLE_KDF,
      ...(options.log !== undefined ? { log: options.log } : {}),
      ...(options.idleTimeoutMs !== undefined ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
      ...(options.maxLineBytes !== undefined ? { maxLineBytes: options.maxLineBytes } : {}),
      ...(options.lockout !== undefined ? { lockout: options.lockout } : {}),
    });
  }

  get session() {
    return this.server.session;
  }

  /** The whole screen as text, CR LF shown as LF. */
  screen(): string {
    return this.port.output().toString('utf8').replace(/\r\n/g, '\n');
  }

  /** Screen text written since the last call of `fresh()`. */
  fresh(): string {
    const all = this.port.output();
    const text = all.subarray(this.mark).toString('utf8').replace(/\r\n/g, '\n');
    this.mark = all.length;
    return text;
  }

  /** Waits (real time, bounded) until no command runs or a command asks a question. */
  async settle(limitMs = 10_000): Promise<void> {
    const deadline = Date.now() + limitMs;
    for (;;) {
      if (!this.session.busy || this.session.asking !== undefined) return;
      if (Date.now() > deadline) throw new Error('the console did not settle');
      await new Promise((r) => setImmediate(r));
    }
  }

  /** Types `line` and Enter, then waits for the console to settle; returns the new output. */
  async enter(line: string): Promise<string> {
    this.port.type(`${line}\r`);
    await this.settle();
    return this.fresh();
  }

  counter(): number {
    return this.store.get(TEST_COUNTER, 'n')?.value ?? 0;
  }

  /** Sets the operator password directly (as setup would). */
  async createOperator(password = PASSWORD): Promise<void> {
    await this.server.credentials.create(password);
  }

  async login(password = PASSWORD): Promise<string> {
    await this.enter('login');
    return this.enter(password);
  }

  /** Enables 2FA through the console; returns the secret the console showed once. */
  async enableTotp(password = PASSWORD): Promise<Uint8Array> {
    await this.enter('2fa enable');
    const shown = await this.enter(password);
    const text = /secret {2}([A-Z2-7]+)/.exec(shown)?.[1];
    if (text === undefined) throw new Error(`no secret shown: ${shown}`);
    const secret = this.session.enrollment?.secret;
    if (secret === undefined) throw new Error('no enrolment pending');
    const copy = Uint8Array.from(secret);
    if (totpSecretText(copy) !== text) throw new Error('the secret shown differs from the pending one');
    const out = await this.enter(`2fa confirm ${this.code(copy)}`);
    if (!out.includes('2FA is on')) throw new Error(`2FA not confirmed: ${out}`);
    return copy;
  }

  /** The current code for `secret` on the console's clock, `stepsAhead` steps later. */
  code(secret: Uint8Array, stepsAhead = 0): string {
    return generateSync({ secret: totpSecretText(secret), epoch: Math.floor(this.clock.now() / 1000) + stepsAhead * 30 });
  }

  /** Moves the clock to the start of the next TOTP step, so the next code is fresh. */
  async nextStep(): Promise<void> {
    const ms = 30_000 - (this.clock.now() % 30_000);
    await this.clock.advance(ms);
  }

  async close(): Promise<void> {
    this.server.close();
    await this.port.close();
    await this.store.close();
  }
}

/** Commands that change TEST_COUNTER, one per access level. */
export function counterCommands(h: { store: DeviceStore }): CommandSpec[] {
  const add = (n: number) => h.store.transact((tx) => tx.put(TEST_COUNTER, 'n', { value: (tx.get(TEST_COUNTER, 'n')?.value ?? 0) + n }));
  return [
    { path: 'count show', summary: 'shows the counter', access: 'read', run: (ctx) => ctx.out.line(`counter ${h.store.get(TEST_COUNTER, 'n')?.value ?? 0}`) },
    {
      path: 'count add',
      summary: 'adds to the counter',
      access: 'privileged',
      args: [{ name: 'n', kind: 'int', min: 1, max: 100 }],
      run: (ctx, args) => {
        add(args.int('n'));
        ctx.out.line('added');
      },
    },
    {
      path: 'count reset',
      summary: 'sets the counter to zero',
      access: 'destructive',
      preview: (ctx) => ctx.out.line('this sets the counter to zero'),
      run: (ctx) => {
        h.store.transact((tx) => tx.put(TEST_COUNTER, 'n', { value: 0 }));
        ctx.out.line('counter reset');
      },
    },
  ];
}
