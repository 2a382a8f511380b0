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
import { FAST_CONSOLE_KDF, MemoryPort, PASSWORD } from './harness.ts';
import { OperatorDriver, enrolOperator } from './operator-driver.ts';

export { PASSWORD };

export class HotConsoleRig extends OperatorDriver {
  private constructor(
    readonly rig: HotRig,
    random: RandomSource,
    secret: Uint8Array,
    server: ConsoleServer,
    port: MemoryPort,
  ) {
    super(random, secret, server, port);
  }

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

  async shutdown(): Promise<void> {
    this.server.close();
    await this.rig.close();
  }
}
