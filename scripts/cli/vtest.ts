/**
 * `hsm vtest encrypt|decrypt`: the vweb → V-Device withdrawal payload (`vtest_info`).
 * The payload (or vtest_info) is read from `--payload`/`--info` or stdin.
 * @module
 */
import type { Command } from 'commander';
import { decryptVtest, encryptVtest, vtestPayloadSchema } from '../../shared/crypto/vtest-cipher.ts';
import { HsmError } from '../../shared/errors.ts';
import { systemRandom } from '../../shared/random.ts';
import { readStdin, report, run } from './output.ts';

export function configureVtest(vtest: Command): void {
  vtest
    .command('encrypt')
    .description('encrypt a payload JSON such as {"outs":"addr,10000","dynamic":0}')
    .requiredOption('--password <password>', 'the shared vweb password')
    .option('--payload <json>', 'payload JSON (default: read stdin)')
    .option('--json', 'print JSON')
    .action((options: { password: string; payload?: string; json?: boolean }) =>
      run(options, async () => {
        const text = options.payload ?? (await readStdin());
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch (cause) {
          throw new HsmError('VTEST_PAYLOAD', 'the payload is not JSON', { field: 'payload', cause });
        }
        const payload = vtestPayloadSchema.safeParse(json);
        if (!payload.success) {
          const issue = payload.error.issues[0];
          throw new HsmError('VTEST_PAYLOAD', `payload ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`, { field: 'payload' });
        }
        const info = encryptVtest(payload.data, options.password, systemRandom);
        report(options, { vtest_info: info }, () => info);
      }),
    );

  vtest
    .command('decrypt')
    .description('decrypt a vtest_info string to its payload')
    .requiredOption('--password <password>', 'the shared vweb password')
    .option('--info <vtest_info>', 'ciphertext/iv/salt (default: read stdin)')
    .option('--json', 'print JSON')
    .action((options: { password: string; info?: string; json?: boolean }) =>
      run(options, async () => {
        const payload = decryptVtest(options.info ?? (await readStdin()), options.password);
        report(options, payload, () => JSON.stringify(payload));
      }),
    );
}
