/**
 * HSM-Hot's console over an in-memory port, on HSM-Hot running against the HSM-Cold stand-in
 * (test/hot/rig.ts): an operator with a password and 2FA set up as an operator would, the
 * simulated clock moved along while a command works.
 */
import type { SimulatedClock } from '../../shared/clock.ts';
import { serveConsole, type ConsoleServer } from '../../shared/console/serve.ts';
import type { RandomSource } from '../../shared/random.ts';
import { hotConsole } from '../../hsm-hot/console-commands.ts';
import { HotRig, type RigOptions } from '../hot/rig.ts';
import { enrolOperator, totpCode } from './cold-rig.ts';
import { FAST_CONSOLE_KDF, MemoryPort, PASSWORD } from './harness.ts';

export { PASSWORD };

export class HotConsoleRig {
  private mark = 0;

  private constructor(
    readonly rig: HotRig,
    readonly random: RandomSource,
    readonly secret: Uint8Array,
    readonly server: ConsoleServer,
    readonly port: MemoryPort,
  ) {}

  /** HSM-Hot provisioned, paired and running with its link up; the console served, the operator enrolled. */
  static async create(options: RigOptions = {}): Promise<HotConsoleRig> {
    const rig = await HotRig.create(options);
    if (options.coldRunning ?? true) {
      // The stand-in serves only what HSM-Hot's protocol needs; HSM-Cold answers link.echo too.
      rig.cold.endpoint?.rpc.handle('link.echo', (body: { data: Uint8Array }) => ({ data: body.data }));
      await rig.until(() => rig.hot.linkUp);
    }
    const random = rig.random.fork('console');
    const port = new MemoryPort();
    const { host, commands } = hotConsole(rig.hot, { random });
    const server = serveConsole({ port, clock: rig.clock, random, store: rig.hot.store, host, commands, kdf: FAST_CONSOLE_KDF });
    const secret = await enrolOperator(server.credentials, rig.clock, random);
    return new HotConsoleRig(rig, random, secret, server, port);
  }

  get clock(): SimulatedClock {
    return this.rig.clock;
  }

  get session() {
    return this.server.session;
  }

  /** The whole screen so far, CR LF as LF. */
  screen(): string {
    return this.port.output().toString('utf8').replace(/\r\n/g, '\n');
  }

  fresh(): string {
    const all = this.port.output();
    const text = all.subarray(this.mark).toString('utf8').replace(/\r\n/g, '\n');
    this.mark = all.length;
    return text;
  }

  async enter(line: string): Promise<string> {
    this.port.type(`${line}\r`);
    await this.settle(line);
    return this.fresh();
  }

  /** Waits until no command runs or one asks a question, moving the simulated clock in small steps. */
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
  async privileged(line: string, code?: string): Promise<string> {
    const fresh = code ?? (await this.freshCode());
    const asked = await this.enter(line);
    if (!asked.endsWith('2FA code: ')) return asked;
    return asked + (await this.enter(fresh));
  }

  async shutdown(): Promise<void> {
    this.server.close();
    await this.rig.close();
  }
}
