/**
 * `hsm`: the command-line entry to everything the project runs: the devices, the simulated
 * world, and the offline tools. Subcommands live in scripts/cli/, one module per group.
 * @module
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerAudit } from './cli/audit.ts';
import { registerBench } from './cli/bench.ts';
import { registerConsole } from './cli/console.ts';
import { registerDemo } from './cli/demo.ts';
import { registerDevices } from './cli/device.ts';
import { registerDoctor } from './cli/doctor.ts';
import { registerKeys } from './cli/keys.ts';
import { registerModemSim } from './cli/modem-sim.ts';
import { registerMsg } from './cli/msg.ts';
import { registerProfile } from './cli/profile.ts';
import { registerSim } from './cli/sim.ts';
import { registerVtest } from './cli/vtest.ts';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

export function buildProgram(): Command {
  const program = new Command('hsm')
    .description('ChainCloud HSM-Hot / HSM-Cold firmware, emulator and tools')
    .version(pkg.version)
    .showHelpAfterError()
    .configureOutput({ outputError: (text, write) => write(text) });

  registerSim(program);
  registerDemo(program);
  registerConsole(program);
  registerKeys(program);
  registerMsg(program);
  registerVtest(program);
  registerAudit(program);
  registerBench(program);
  registerModemSim(program);
  registerProfile(program);
  registerDevices(program);
  registerDoctor(program);
  return program;
}

await buildProgram().parseAsync(process.argv);
