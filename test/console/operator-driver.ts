/**
 * An operator at a console served on an in-memory port (harness.ts `MemoryPort`): types lines,
 * reads what came back, and moves the device's simulated clock while a command works. The
 * device rigs (cold-rig.ts, hot-rig.ts) extend it with the device they serve.
 */
import { generateSync } from 'otplib';
import type { SimulatedClock } from '../../shared/clock.ts';
import { deriveOperatorKeys, type OperatorCredentials } from '../../shared/console/operator.ts';
import type { ConsoleServer } from '../../shared/console/serve.ts';
import { newTotpSecret, totpSecretText } from '../../shared/console/totp.ts';
import type { RandomSource } from '../../shared/random.ts';
import { PASSWORD, type MemoryPort } from './harness.ts';

export function totpCode(secret: Uint8Array, nowMs: number): string {
  return generateSync({ secret: totpSecretText(secret), epoch: Math.floor(nowMs / 1000) });
}

/** Sets the operator password and turns 2FA on (as setup, 2fa enable and 2fa confirm do); returns the TOTP secret. */
export async function enrolOperator(credentials: OperatorCredentials, clock: SimulatedClock | { now(): number }, random: RandomSource): Promise<Uint8Array> {
  await credentials.create(PASSWORD);
  const keys = await deriveOperatorKeys(PASSWORD, credentials.record()!.kdf);
  const secret = newTotpSecret(random);
  credentials.enableTotp(secret, totpCode(secret, clock.now()), keys.sealKey);
  keys.sealKey.fill(0);
  keys.verifier.fill(0);
  return secret;
}

export abstract class OperatorDriver {
  private mark = 0;

  protected constructor(
    readonly random: RandomSource,
    readonly secret: Uint8Array,
    readonly server: ConsoleServer,
    readonly port: MemoryPort,
  ) {}

  abstract get clock(): SimulatedClock;

  get session() {
    return this.server.session;
  }

  /** The whole screen so far, CR LF as LF. */
  screen(): string {
    return this.port.output().toString('utf8').replace(/\r\n/g, '\n');
  }

  /** What the console printed since the last call. */
  fresh(): string {
    const all = this.port.output();
    const text = all.subarray(this.mark).toString('utf8').replace(/\r\n/g, '\n');
    this.mark = all.length;
    return text;
  }

  /** Types a line, then waits for the console to settle (see `settle`); returns the new output. */
  async enter(line: string): Promise<string> {
    this.port.type(`${line}\r`);
    await this.settle(line);
    return this.fresh();
  }

  /**
   * Waits until no command runs or a command asks a question, moving the simulated clock in
   * small steps; each step also lets real-time work finish (scrypt runs on the libuv pool), so
   * the deadline is in real time.
   */
  async settle(what = 'input', realLimitMs = 20_000): Promise<void> {
    const deadline = Date.now() + realLimitMs;
    await new Promise((r) => setImmediate(r));
    while (this.session.busy && this.session.asking === undefined) {
      if (Date.now() > deadline) throw new Error(`the console did not settle after "${what}": ${JSON.stringify(this.fresh().slice(-800))}`);
      await new Promise((r) => setTimeout(r, 0));
      await this.clock.advance(20);
    }
  }

  async login(): Promise<string> {
    await this.enter('login');
    return this.enter(PASSWORD);
  }

  /** Moves to the next TOTP step and returns its code. */
  async freshCode(): Promise<string> {
    await this.clock.advance(30_000 - (this.clock.now() % 30_000));
    return totpCode(this.secret, this.clock.now());
  }

  /** Runs a privileged command: the line, then a fresh code (or the one given). */
  async privileged(line: string, code?: string): Promise<string> {
    const fresh = code ?? (await this.freshCode());
    const asked = await this.enter(line);
    if (!asked.endsWith('2FA code: ')) return asked;
    return asked + (await this.enter(fresh));
  }
}
