/**
 * `hsm`: the command-line entry to everything the project runs: the devices, the simulated
 * world, and the offline tools. Subcommands live in scripts/cli/, one module per group.
 *
 * The program knows each command by name and description; the module that adds its options,
 * subcommands and action is loaded only for the command that runs (or whose help is asked
 * for), so `hsm --help` loads no firmware and `hsm hot` none of the simulated world's tools.
 * @module
 */
import { Command } from 'commander';
import { packageVersion } from '../shared/package.ts';

interface CommandEntry {
  name: string;
  description: string;
  /** Adds the command's options, subcommands and action. */
  configure: (command: Command) => Promise<void>;
}

const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'sim',
    description: 'run the whole simulated system: both HSMs, modems, GSM network, V-Device, platform gateway, chain and vweb',
    configure: async (c) => (await import('./cli/sim.ts')).configureSim(c),
  },
  {
    name: 'demo',
    description: 'the end-to-end story: channel, address batches, withdrawals, PING, rotation, a forged vc_code, a carrier outage',
    configure: async (c) => (await import('./cli/demo.ts')).configureDemo(c),
  },
  {
    name: 'console',
    description: "a terminal on a simulated device's diagnostics console (its Unix socket); Ctrl-] leaves",
    configure: async (c) => (await import('./cli/console.ts')).configureConsole(c),
  },
  { name: 'keys', description: 'HD keys: new mnemonics, account xpubs, addresses', configure: async (c) => (await import('./cli/keys.ts')).configureKeys(c) },
  { name: 'msg', description: 'Bitcoin message signatures (BIP-137)', configure: async (c) => (await import('./cli/msg.ts')).configureMsg(c) },
  { name: 'vtest', description: 'vtest_info cipher (scrypt + AES-256-CBC)', configure: async (c) => (await import('./cli/vtest.ts')).configureVtest(c) },
  { name: 'audit', description: 'the tamper-evident audit log', configure: async (c) => (await import('./cli/audit.ts')).configureAudit(c) },
  {
    name: 'bench',
    description: 'run the benchmarks and print JSON figures (ratios against peer libraries, process figures against budgets)',
    configure: async (c) => (await import('./cli/bench.ts')).configureBench(c),
  },
  {
    name: 'modem-sim',
    description: 'serve an emulated GSM modem on a pty for any AT client, on a simulated two-carrier network',
    configure: async (c) => (await import('./cli/modem-sim.ts')).configureModemSim(c),
  },
  { name: 'profile', description: 'hardware profiles (hw-profiles/profiles/)', configure: async (c) => (await import('./cli/profile.ts')).configureProfile(c) },
  ...(['hot', 'cold'] as const).map(
    (role): CommandEntry => ({
      name: role,
      description: `run HSM-${role === 'hot' ? 'Hot' : 'Cold'} on the machine a hardware profile describes (real or simulated)`,
      configure: async (c) => (await import('./cli/device.ts')).configureDevice(role, c),
    }),
  ),
  {
    name: 'doctor',
    description: 'check this machine against its hardware profile: ports, modems, SIMs, network, link peer, time, state directory; with a fix for each failure',
    configure: async (c) => (await import('./cli/doctor.ts')).configureDoctor(c),
  },
];

/** The entry of the command `args` run (`<command> ...`) or ask help for (`help <command>`). */
function commandNamed(args: readonly string[]): CommandEntry | undefined {
  const operands = args.filter((arg) => !arg.startsWith('-'));
  const name = operands[0] === 'help' ? operands[1] : operands[0];
  return COMMANDS.find((entry) => entry.name === name);
}

/** The program, with the command `args` names fully configured and the others by name only. */
export async function buildProgram(args: readonly string[]): Promise<Command> {
  const program = new Command('hsm')
    .description('ChainCloud HSM-Hot / HSM-Cold firmware, emulator and tools')
    .version(packageVersion())
    .showHelpAfterError()
    .configureOutput({ outputError: (text, write) => write(text) });

  const wanted = commandNamed(args);
  for (const entry of COMMANDS) {
    const command = program.command(entry.name).description(entry.description);
    if (entry === wanted) await entry.configure(command);
  }
  return program;
}

await (await buildProgram(process.argv.slice(2))).parseAsync(process.argv);
