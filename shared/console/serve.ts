/**
 * Serving a diagnostics console on a byte port: a second UART or a USB gadget serial on a Pi,
 * a pty in the simulated rig. The firmware supplies its host (name and prompt state) and its
 * commands; the built-in ones (help, login, 2fa, confirm...) are added here. The console keeps
 * its operator record in the device store: declare `CONSOLE_COLLECTIONS` when opening it.
 *
 *   const server = serveConsole({ port, clock, random, store, host, commands });
 *   ...
 *   await server.close();
 * @module
 */
import type { Clock } from '../clock.ts';
import type { Logger } from '../log.ts';
import type { Port } from '../port.ts';
import type { RandomSource } from '../random.ts';
import type { DeviceStore } from '../store/store.ts';
import { builtinCommands } from './builtin-commands.ts';
import type { LockoutPolicy } from './lockout.ts';
import { OperatorCredentials, type ConsoleKdfCost } from './operator.ts';
import { CommandRegistry, type CommandSpec } from './registry.ts';
import { ConsoleSession, type ConsoleHost } from './session.ts';

export { CONSOLE_COLLECTIONS } from './collections.ts';

export interface ServeConsoleOptions {
  port: Port;
  clock: Clock;
  random: RandomSource;
  store: DeviceStore;
  host: ConsoleHost;
  /** The firmware's commands (built-ins are added; a clash is a programming error). */
  commands: readonly CommandSpec[];
  log?: Logger;
  idleTimeoutMs?: number;
  maxLineBytes?: number;
  /** scrypt cost of the operator password (tests use a cheap one). */
  kdf?: ConsoleKdfCost;
  lockout?: LockoutPolicy;
}

export interface ConsoleServer {
  readonly session: ConsoleSession;
  readonly credentials: OperatorCredentials;
  readonly registry: CommandRegistry;
  /** Stops serving (the port stays open; its owner closes it). */
  close(): void;
}

export function serveConsole(options: ServeConsoleOptions): ConsoleServer {
  const credentials = new OperatorCredentials({ store: options.store, clock: options.clock, random: options.random, kdf: options.kdf, lockout: options.lockout });
  const registry = new CommandRegistry();
  const session = new ConsoleSession({
    port: options.port,
    clock: options.clock,
    random: options.random,
    credentials,
    registry,
    host: options.host,
    log: options.log?.child({ part: 'console', port: options.port.path }),
    idleTimeoutMs: options.idleTimeoutMs,
    maxLineBytes: options.maxLineBytes,
  });
  registry.registerAll(builtinCommands(session));
  registry.registerAll(options.commands);
  const offData = options.port.onData((chunk) => session.receive(chunk));
  const offClose = options.port.onClose(() => session.close());
  session.start();
  return {
    session,
    credentials,
    registry,
    close: () => {
      offData();
      offClose();
      session.close();
    },
  };
}
