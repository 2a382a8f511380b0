/**
 * HSM-Cold's console over an in-memory port, on HSM-Cold running in the emulated world
 * (test/cold/world.ts): an operator with a password and 2FA set up as an operator would, the
 * world's simulated clock moved along while a command works.
 */
import { generateSync } from 'otplib';
import type { SimulatedClock } from '../../shared/clock.ts';
import { deriveOperatorKeys, type OperatorCredentials } from '../../shared/console/operator.ts';
import { serveConsole, type ConsoleServer } from '../../shared/console/serve.ts';
import { newTotpSecret, totpSecretText } from '../../shared/console/totp.ts';
import type { RandomSource } from '../../shared/random.ts';
import { coldConsole } from '../../hsm-cold/console-commands.ts';
import { FAST_KDF, baseConfig } from '../cold/fixture.ts';
import { coldWorld, type ColdWorld } from '../cold/world.ts';
import { FAST_CONSOLE_KDF, MemoryPort, PASSWORD } from './harness.ts';

export { PASSWORD };

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

export class ColdConsoleRig {
  private mark = 0;

  private constructor(
    readonly world: ColdWorld,
    readonly random: RandomSource,
    readonly secret: Uint8Array,
    readonly server: ConsoleServer,
    readonly port: MemoryPort,
  ) {}

  static async create(options: Parameters<typeof coldWorld>[0] = {}): Promise<ColdConsoleRig> {
    const world = await coldWorld(options);
    // HSM-Hot answers link.echo (the stand-in in world.ts serves only what HSM-Cold's protocol needs).
    world.hot.link.rpc.handle('link.echo', (body: { data: Uint8Array }) => ({ data: body.data }));
    const random = world.random.fork('console');
    const port = new MemoryPort();
    const { host, commands } = coldConsole(world.cold, { random, kdf: FAST_KDF, provisionDefaults: baseConfig() });
    const server = serveConsole({ port, clock: world.clock, random, store: world.cold.store, host, commands, kdf: FAST_CONSOLE_KDF });
    const secret = await enrolOperator(server.credentials, world.clock, random);
    return new ColdConsoleRig(world, random, secret, server, port);
  }

  get clock(): SimulatedClock {
    return this.world.clock;
  }

  get session() {
    return this.server.session;
  }

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

  /** Runs a privileged command: the line, then a fresh code. */
  async privileged(line: string): Promise<string> {
    const code = await this.freshCode();
    const asked = await this.enter(line);
    if (!asked.endsWith('2FA code: ')) return asked;
    return asked + (await this.enter(code));
  }

  async shutdown(): Promise<void> {
    this.server.close();
    await this.world.shutdown();
  }
}
