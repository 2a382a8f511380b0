/**
 * `hsm demo` (= `npm run demo`): the demo story (scripts/demo/story.ts) with step-by-step
 * progress on stdout, a non-zero exit at the first broken step, and the whole run as JSON
 * with `--json <file>`.
 * @module
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { createLogger } from '../../shared/log.ts';
import { runDemo } from '../demo/story.ts';
import { EXIT, run } from './output.ts';
import { readSeedFile } from './sim.ts';

interface DemoCliOptions {
  json?: string;
  processes?: boolean;
  seed?: string;
  stateDir?: string;
  logLevel: string;
}

export function configureDemo(command: Command): void {
  command
    .option('--json <file>', 'write the run as JSON to this file')
    .option('--processes', 'run HSM-Hot and HSM-Cold as separate processes over socat ptys')
    .option('--seed <file>', 'seed file (text, or JSON {"seed","start"})')
    .option('--state-dir <dir>', 'keep the world in this new directory after the run (default: a temporary one, removed)')
    .option('--log-level <level>', 'log level on stderr', 'silent')
    .action((options: DemoCliOptions) =>
      run({}, async () => {
        const seed = options.seed === undefined ? undefined : readSeedFile(options.seed);
        process.stdout.write(`hsm demo${options.processes === true ? ' (devices in separate processes)' : ''}\n`);
        const summary = await runDemo({
          ...(seed === undefined ? {} : { seed: seed.seed, ...(seed.start === undefined ? {} : { start: seed.start }) }),
          ...(options.processes === true ? { processes: true } : {}),
          ...(options.stateDir === undefined ? {} : { stateDir: options.stateDir }),
          log: createLogger({ name: 'hsm-demo', level: options.logLevel as 'silent', destination: process.stderr }),
          progress: (line) => void process.stdout.write(`${line}\n`),
        });
        if (options.json !== undefined) writeFileSync(options.json, `${JSON.stringify(summary, null, 2)}\n`);
        process.stdout.write(summary.ok ? `demo passed: ${summary.steps.length} steps in ${(summary.realMs / 1000).toFixed(1)} s\n` : 'demo FAILED\n');
        return summary.ok ? EXIT.ok : EXIT.invalid;
      }),
    );
}
