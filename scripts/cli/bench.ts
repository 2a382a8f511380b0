/**
 * `hsm bench` (= `npm run bench`): prints JSON figures, each ours against peer libraries
 * measured side by side in the same run.
 * @module
 */
import { cpus } from 'node:os';
import type { Command } from 'commander';
import { addressBatchFigures, batchJobMemoryFigure, messageVerifyFigure } from '../bench/crypto.ts';
import { linkGoodputFigure, linkRttFigure } from '../bench/link.ts';
import { run } from './output.ts';

export function configureBench(command: Command): void {
  command
    .option('--quick', 'one short round of each, to check the harness')
    .action((options: { quick?: boolean }) =>
      run({ json: true }, async () => {
        const quick = options.quick ?? false;
        const figures = [...addressBatchFigures(quick), messageVerifyFigure(quick), await linkGoodputFigure(), await linkRttFigure()];
        const batchJobMemory = await batchJobMemoryFigure(quick);
        const result = {
          node: process.version,
          cpu: cpus()[0]?.model ?? 'unknown',
          cores: cpus().length,
          quick,
          figures,
          batchJobMemory,
        };
        process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      }),
    );
}
