/**
 * HSM-Cold's console over an in-memory port, on HSM-Cold running in the emulated world
 * (test/cold/world.ts): an operator with a password and 2FA set up as an operator would, the
 * world's simulated clock moved along while a command works.
 */
import type { SimulatedClock } from '../../shared/clock.ts';
import { serveConsole, type ConsoleServer } from '../../shared/console/serve.ts';
import type { RandomSource } from '../../shared/random.ts';
import { coldConsole } from '../../hsm-cold/console-commands.ts';
import { FAST_KDF, baseConfig } from '../cold/fixture.ts';
import { coldWorld, type ColdWorld } from '../cold/world.ts';
import { FAST_CONSOLE_KDF, MemoryPort, PASSWORD } from './harness.ts';
import { OperatorDriver, enrolOperator } from './operator-driver.ts';

export { PASSWORD };

export class ColdConsoleRig extends OperatorDriver {
  private constructor(
    readonly world: ColdWorld,
    random: RandomSource,
    secret: Uint8Array,
    server: ConsoleServer,
    port: MemoryPort,
  ) {
    super(random, secret, server, port);
  }

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

  async shutdown(): Promise<void> {
    this.server.close();
    await this.world.shutdown();
  }
}
