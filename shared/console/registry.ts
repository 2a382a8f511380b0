/**
 * The command registry: each firmware registers its commands (path, access level, argument
 * specs, handler); the session resolves a line to a command, parses its arguments and checks
 * the access level before the handler runs.
 *
 *   public       before login (help, login, setup)
 *   read         after login
 *   privileged   after login, with a fresh TOTP code for each call
 *   destructive  privileged, and two-step: the first call returns a confirmation id, which
 *                `confirm <id>` repeats with another fresh code
 *
 * Paths are one or more lowercase words (`channel open-window`); the longest registered path
 * that starts a line wins, and a group word alone lists its subcommands.
 * @module
 */
import type { Clock } from '../clock.ts';
import { HsmError } from '../errors.ts';
import { parseArgs, usageOf, type ArgSpec, type Args } from './arguments.ts';
import type { Output } from './terminal.ts';

export type Access = 'public' | 'read' | 'privileged' | 'destructive';

export interface AskOptions {
  /** Nothing typed is echoed (passwords, PINs, mnemonics). */
  secret?: boolean;
}

export interface OperatorInfo {
  /** How this session logged in; `response` sessions cannot unseal the TOTP secret. */
  method: 'password' | 'response';
  since: number;
}

export interface CommandContext {
  readonly out: Output;
  readonly clock: Clock;
  /** Aborted by ^C, by the idle timeout and when the session ends. */
  readonly signal: AbortSignal;
  /** The logged-in operator; undefined for public commands run before login. */
  readonly operator: OperatorInfo | undefined;
  /** Prints `prompt` and resolves with the next line; rejects with CONSOLE_CANCELLED on ^C/^D. */
  ask(prompt: string, options?: AskOptions): Promise<string>;
  /** Asks `question`; true only when the operator types `yes`. */
  confirm(question: string): Promise<boolean>;
}

export interface CommandSpec {
  path: string;
  summary: string;
  access: Access;
  args?: readonly ArgSpec[];
  /** Destructive commands: what will happen, shown at the first step; may throw to refuse. */
  preview?(ctx: CommandContext, args: Args): Promise<void> | void;
  run(ctx: CommandContext, args: Args): Promise<void> | void;
}

export interface ResolvedCommand {
  spec: CommandSpec;
  args: Args;
}

const PATH_WORD = /^[a-z0-9][a-z0-9-]{0,31}$/;

export class CommandRegistry {
  private readonly commands = new Map<string, CommandSpec>();

  register(spec: CommandSpec): void {
    const words = spec.path.split(' ');
    if (!words.every((w) => PATH_WORD.test(w))) throw new Error(`invariant failed: bad command path "${spec.path}"`);
    if (this.commands.has(spec.path)) throw new Error(`invariant failed: command "${spec.path}" is registered twice`);
    const args = spec.args ?? [];
    if (args.some((a, i) => a.optional && args.slice(i + 1).some((b) => !b.optional))) {
      throw new Error(`invariant failed: ${spec.path}: optional arguments must come last`);
    }
    if (spec.preview !== undefined && spec.access !== 'destructive') throw new Error(`invariant failed: ${spec.path}: only destructive commands preview`);
    this.commands.set(spec.path, { ...spec, args });
  }

  registerAll(specs: readonly CommandSpec[]): void {
    for (const spec of specs) this.register(spec);
  }

  get(path: string): CommandSpec | undefined {
    return this.commands.get(path);
  }

  /** All commands, sorted by path. */
  list(): CommandSpec[] {
    return [...this.commands.values()].sort((a, b) => a.path.localeCompare(b.path));
  }

  usage(spec: CommandSpec): string {
    return usageOf(spec.path, spec.args ?? []);
  }

  /** Subcommands under a group word (`channel` → `channel list`, ...). */
  subcommands(group: string): CommandSpec[] {
    return this.list().filter((c) => c.path.startsWith(`${group} `));
  }

  /** The command a line names; throws CONSOLE_UNKNOWN_COMMAND / _SUBCOMMAND otherwise. */
  find(words: readonly string[]): { spec: CommandSpec; rest: readonly string[] } {
    const lower = words.map((w) => w.toLowerCase());
    for (let n = Math.min(lower.length, 4); n >= 1; n--) {
      const spec = this.commands.get(lower.slice(0, n).join(' '));
      if (spec !== undefined) return { spec, rest: words.slice(n) };
    }
    const group = lower[0] ?? '';
    const subs = this.subcommands(group);
    if (subs.length > 0) {
      const names = subs.map((s) => s.path.slice(group.length + 1)).join(', ');
      const message =
        lower[1] === undefined ? `${group} needs a subcommand: ${names}` : `${group} has no subcommand "${clip(words[1] ?? '')}"; one of: ${names}`;
      throw new HsmError('CONSOLE_UNKNOWN_SUBCOMMAND', message, { field: 'command' });
    }
    throw new HsmError('CONSOLE_UNKNOWN_COMMAND', `unknown command "${clip(words[0] ?? '')}"; type help for the list`, { field: 'command' });
  }

  /** Finds the command and parses its arguments; nothing runs. */
  resolve(words: readonly string[]): ResolvedCommand {
    const { spec, rest } = this.find(words);
    return { spec, args: parseArgs(spec.path, spec.args ?? [], rest) };
  }
}

function clip(word: string): string {
  return word.length > 24 ? `${word.slice(0, 24)}…` : word;
}
