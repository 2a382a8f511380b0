/**
 * `hsm bench` (= `npm run bench`): prints JSON figures, then a short table of the withdrawal
 * figures (on stderr, or stdout with --table).
 *
 * - libraries: ours against peer libraries measured side by side in the same run;
 * - withdrawals: the simulated pair end to end at 9600, 115200 and 921600 baud, against the
 *   wire's bound and each device's work per withdrawal measured in the same run
 *   (scripts/bench/withdrawals.ts);
 * - process: the compiled CLI and the devices as processes on this machine (median of 5), each
 *   against its budget (scripts/bench/process-figures.ts);
 * - emulated (only when asked for: it takes the better part of an hour): the same under arm64
 *   emulation, and the simulated world, a withdrawal and the demo end to end on arm64 and armv7
 *   (scripts/pi/emulate.sh), labelled as emulated.
 *
 * `budgets` lists every figure held against a budget with `met`; a missed one stays in the list.
 * @module
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import type { Command } from 'commander';
import { HsmError } from '../../shared/errors.ts';
import { addressBatchFigures, batchJobMemoryFigure, messageVerifyFigure } from '../bench/crypto.ts';
import { linkMeasuredGoodputFigure, linkProtocolEfficiencyFigure, linkRttFigure } from '../bench/link.ts';
import { demoFigure, helpFigure, kdfFigure, processesFigure, readyFigure, simFigure, steadyFigure, type BudgetCheck, type ProcessFigure } from '../bench/process-figures.ts';
import { emulatedRunner, nativeRunner, type EmulatedArch, type Runner } from '../bench/processes.ts';
import { withdrawalFigures, withdrawalTable, type WithdrawalRun } from '../bench/withdrawals.ts';
import { run } from './output.ts';

const SECTIONS = ['libraries', 'withdrawals', 'process', 'emulated'] as const;
/** What runs without --only. */
const DEFAULT_SECTIONS: readonly Section[] = ['libraries', 'withdrawals', 'process'];
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

const BAUD_RATES = [9600, 115_200, 921_600] as const;

/**
 * Withdrawals per run: 1,000 one-output withdrawals at 115200 baud (the figure the link is
 * judged by); fewer at the other rates and with ten outputs, so the default bench takes a few
 * minutes; `--full` queues 1,000 of each everywhere.
 */
function withdrawalRuns(mode: 'quick' | 'default' | 'full'): WithdrawalRun[] {
  return BAUD_RATES.map((baudRate) => {
    if (mode === 'quick') return { baudRate, queued: 20, queuedTenOutputs: baudRate === 115_200 ? 10 : 0, latencySamples: 5 };
    if (mode === 'full') return { baudRate, queued: 1000, queuedTenOutputs: 1000, latencySamples: 100 };
    const main = baudRate === 115_200;
    return { baudRate, queued: main ? 1000 : 200, queuedTenOutputs: main ? 200 : 0, latencySamples: main ? 30 : 20 };
  });
}

export function configureBench(command: Command): void {
  command
    .option('--quick', 'one short round of each, to check the harness')
    .option('--full', '1,000 queued withdrawals of each kind at every baud rate (takes much longer)')
    .option('--only <sections>', `comma-separated, from ${SECTIONS.join(', ')}`, DEFAULT_SECTIONS.join(','))
    .option('--table', 'print the withdrawal table on stdout after the JSON (otherwise on stderr)')
    .option('--json <file>', 'also write the JSON figures to <file>')
    .action((options: { quick?: boolean; full?: boolean; only: string; table?: boolean; json?: string }) =>
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
        let withdrawals: Awaited<ReturnType<typeof withdrawalFigures>> = [];
        if (wanted('withdrawals')) {
          withdrawals = await withdrawalFigures({
            runs: withdrawalRuns(quick ? 'quick' : options.full ? 'full' : 'default'),
            log: (line) => process.stderr.write(`bench: ${line}\n`),
          });
          result.withdrawals = withdrawals;
        }
        if (wanted('process')) {
          const runner = nativeRunner();
          result.process = { ...describeRunner(runner), runs: plan.runs, figures: await budgetedFigures(runner, plan, checks) };
        }
        if (wanted('emulated')) result.emulated = { arm64: await emulatedFigures('arm64', plan, checks), armv7: await emulatedFigures('armv7', plan, checks) };
        result.budgets = checks;
        /** The machine's load when the run ended: the figures are in real time, so a busy machine slows them. */
        result.loadAverage = loadavg().map((l) => Math.round(l * 100) / 100);
        const json = `${JSON.stringify(result, null, 2)}\n`;
        process.stdout.write(json);
        if (options.json !== undefined) writeFileSync(options.json, json);
        if (withdrawals.length > 0) {
          const table = `${withdrawalTable(withdrawals)}\n`;
          if (options.table === true) process.stdout.write(table);
          else process.stderr.write(table);
        }
      }),
    );
}
