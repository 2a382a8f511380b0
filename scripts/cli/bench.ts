/**
 * `hsm bench` (= `npm run bench`): prints JSON figures.
 *
 * - libraries: ours against peer libraries measured side by side in the same run;
 * - process: the compiled CLI and the devices as processes on this machine (median of 5), each
 *   against its budget (scripts/bench/process-figures.ts);
 * - emulated: the same under arm64 emulation, and the simulated world, a withdrawal and the demo
 *   end to end on arm64 and armv7 (scripts/pi/emulate.sh), labelled as emulated.
 *
 * `budgets` lists every figure held against a budget with `met`; a missed one stays in the list.
 * @module
 */
import { cpus } from 'node:os';
import type { Command } from 'commander';
import { HsmError } from '../../shared/errors.ts';
import { addressBatchFigures, batchJobMemoryFigure, messageVerifyFigure } from '../bench/crypto.ts';
import { linkMeasuredGoodputFigure, linkProtocolEfficiencyFigure, linkRttFigure } from '../bench/link.ts';
import { demoFigure, helpFigure, kdfFigure, processesFigure, readyFigure, simFigure, steadyFigure, type BudgetCheck, type ProcessFigure } from '../bench/process-figures.ts';
import { emulatedRunner, nativeRunner, type EmulatedArch, type Runner } from '../bench/processes.ts';
import { run } from './output.ts';

const SECTIONS = ['libraries', 'process', 'emulated'] as const;
type Section = (typeof SECTIONS)[number];

/** Real time an emulated end-to-end run may take (qemu on a shared machine is slow). */
const EMULATED_LIMIT_MS = 40 * 60_000;

interface Plan {
  runs: number;
  steadySeconds: number;
}

async function libraryFigures(quick: boolean): Promise<Record<string, unknown>> {
  const figures = [...addressBatchFigures(quick), messageVerifyFigure(quick), await linkProtocolEfficiencyFigure(), await linkMeasuredGoodputFigure(quick), await linkRttFigure()];
  return { figures, batchJobMemory: await batchJobMemoryFigure(quick) };
}

/** The budgeted figures on one runner: help, each device to ready, the KDF, the steady state. */
async function budgetedFigures(runner: Runner, plan: Plan, checks: BudgetCheck[]): Promise<ProcessFigure[]> {
  return [
    await helpFigure(runner, plan.runs, checks),
    await readyFigure(runner, 'hot', plan.runs, checks),
    await readyFigure(runner, 'cold', plan.runs, checks),
    kdfFigure(runner, plan.runs),
    await steadyFigure(runner, plan.steadySeconds, checks),
  ];
}

function describeRunner(runner: Runner): Record<string, unknown> {
  return { on: runner.label, node: runner.nodeVersion, ...(runner.emulated ? { note: 'qemu-user on this machine: upper bounds, slower than the ARM board itself' } : {}) };
}

async function emulatedFigures(arch: EmulatedArch, plan: Plan, checks: BudgetCheck[]): Promise<Record<string, unknown>> {
  let runner: Runner;
  try {
    runner = await emulatedRunner(arch);
  } catch (error) {
    return { on: `${arch} (emulated)`, skipped: (error as Error).message };
  }
  const figures: ProcessFigure[] =
    arch === 'arm64'
      ? [...(await budgetedFigures(runner, plan, checks)), await simFigure(runner, EMULATED_LIMIT_MS), await demoFigure(runner, EMULATED_LIMIT_MS)]
      : [await processesFigure(runner, EMULATED_LIMIT_MS)];
  return { ...describeRunner(runner), figures };
}

export function configureBench(command: Command): void {
  command
    .option('--quick', 'one short round of each, to check the harness')
    .option('--only <sections>', `comma-separated, from ${SECTIONS.join(', ')}`, SECTIONS.join(','))
    .action((options: { quick?: boolean; only: string }) =>
      run({ json: true }, async () => {
        const quick = options.quick ?? false;
        const sections = options.only.split(',').map((s) => s.trim());
        const unknown = sections.filter((s) => !(SECTIONS as readonly string[]).includes(s));
        if (unknown.length > 0) throw new HsmError('BAD_OPTION', `--only: unknown section ${unknown.join(', ')} (${SECTIONS.join(', ')})`, { field: 'only' });
        const wanted = (section: Section): boolean => sections.includes(section);
        const plan: Plan = quick ? { runs: 1, steadySeconds: 10 } : { runs: 5, steadySeconds: 60 };
        const checks: BudgetCheck[] = [];
        const result: Record<string, unknown> = { node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, quick };
        if (wanted('libraries')) Object.assign(result, await libraryFigures(quick));
        if (wanted('process')) {
          const runner = nativeRunner();
          result.process = { ...describeRunner(runner), runs: plan.runs, figures: await budgetedFigures(runner, plan, checks) };
        }
        if (wanted('emulated')) result.emulated = { arm64: await emulatedFigures('arm64', plan, checks), armv7: await emulatedFigures('armv7', plan, checks) };
        result.budgets = checks;
        process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      }),
    );
}
