/**
 * Serving a diagnostics console on a byte port: a second UART or a USB gadget serial on a Pi,
 * a pty in the simulated rig (hw-profiles/sim/console-pty.ts). The firmware supplies its host
 * (name, prompt state, what `setup` asks first) and its commands; the built-in ones (help,
 * login, logout, setup, passwd, 2fa..., confirm, color, whoami) are added here. The console
 * keeps its operator record in the device store: declare `CONSOLE_COLLECTIONS` when opening it.
 *
 *   const commands: CommandSpec[] = [
 *     { path: 'status', summary: '...', access: 'read', run: (ctx) => ctx.out.lines(fields([...])) },
 *     { path: 'lock', summary: '...', access: 'privileged', run: async (ctx) => { ... } },
 *     ...auditCommands({ store, app }),
 *   ];
 *   const server = serveConsole({ port, clock, random, store, host: { name: 'hsm-hot', state }, commands });
 *   ...
 *   server.close();
 *
 * A command only declares its access level; the session does the rest (login, a TOTP code per
 * privileged call, the confirmation id of destructive ones, the audit entry). Commands ask
 * questions with `ctx.ask` (`{ secret: true }` for PINs), print through `ctx.out` (sanitized,
 * CR LF), throw an HsmError to refuse, and watch `ctx.signal` (^C, idle timeout).
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
