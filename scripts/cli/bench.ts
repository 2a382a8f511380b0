/**
 * `hsm bench` (= `npm run bench`): prints JSON figures, each ours against peer libraries or a
 * bound measured side by side in the same run, then a short table of the withdrawal figures.
 * @module
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import type { Command } from 'commander';
import { addressBatchFigures, batchJobMemoryFigure, messageVerifyFigure } from '../bench/crypto.ts';
import { linkMeasuredGoodputFigure, linkProtocolEfficiencyFigure, linkRttFigure } from '../bench/link.ts';
import { withdrawalFigures, withdrawalTable, type WithdrawalRun } from '../bench/withdrawals.ts';
import { HsmError } from '../../shared/errors.ts';
import { run } from './output.ts';

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

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('run the benchmarks and print JSON figures (ratios against peer libraries or bounds measured in the same run)')
    .option('--quick', 'one short round of each, to check the harness')
    .option('--full', '1,000 queued withdrawals of each kind at every baud rate (takes much longer)')
    .option('--table', 'print the withdrawal table on stdout after the JSON (otherwise on stderr)')
    .option('--json <file>', 'also write the JSON figures to <file>')
    .option('--only <part>', 'run only "withdrawals" or only the "micro" figures')
    .action((options: { quick?: boolean; full?: boolean; table?: boolean; json?: string; only?: string }) =>
      run({ json: true }, async () => {
        const quick = options.quick ?? false;
        const only = options.only;
        if (only !== undefined && only !== 'withdrawals' && only !== 'micro') throw new HsmError('BAD_OPTION', `--only must be "withdrawals" or "micro", got "${only}"`, { field: 'only' });
        const figures: unknown[] = [];
        let batchJobMemory: unknown;
        if (only !== 'withdrawals') {
          figures.push(...addressBatchFigures(quick), messageVerifyFigure(quick), await linkProtocolEfficiencyFigure(), await linkMeasuredGoodputFigure(quick), await linkRttFigure());
          batchJobMemory = await batchJobMemoryFigure(quick);
        }
        const withdrawals =
          only === 'micro'
            ? []
            : await withdrawalFigures({
                runs: withdrawalRuns(quick ? 'quick' : options.full ? 'full' : 'default'),
                log: (line) => process.stderr.write(`bench: ${line}\n`),
              });
        const result = {
          node: process.version,
          cpu: cpus()[0]?.model ?? 'unknown',
          cores: cpus().length,
          /** The machine's load when the run ended: the withdrawal figures are in real time, so a busy machine slows them. */
          loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
          quick,
          figures,
          batchJobMemory,
          withdrawals,
        };
        const json = `${JSON.stringify(result, null, 2)}\n`;
        process.stdout.write(json);
        if (options.json !== undefined) writeFileSync(options.json, json);
        const table = `${withdrawalTable(withdrawals)}\n`;
        if (options.table) process.stdout.write(table);
        else process.stderr.write(table);
      }),
    );
}
