/**
 * `hsm audit verify <state-dir>`: checks a device's audit chain and its signed checkpoints
 * offline, read-only, and names the first bad entry.
 * @module
 */
import type { Command } from 'commander';
import { verifyAudit } from '../../shared/store/audit.ts';
import { DeviceStore } from '../../shared/store/store.ts';
import { HsmError } from '../../shared/errors.ts';
import { EXIT, report, run } from './output.ts';

export function configureAudit(audit: Command): void {
  audit
    .command('verify')
    .description('verify the hash chain and checkpoint signatures of a device state directory')
    .argument('<state-dir>', 'the device state directory (holds store.mdb)')
    .option('--identity <pubkey>', 'pin the identity public key (hex) checkpoints must be signed with')
    .option('--json', 'print JSON')
    .action((stateDir: string, options: { identity?: string; json?: boolean }) =>
      run(options, async () => {
        if (options.identity !== undefined && !/^(02|03)[0-9a-fA-F]{64}$/.test(options.identity)) {
          throw new HsmError('BAD_OPTION', '--identity must be a compressed public key in hex (66 characters)', { field: 'identity' });
        }
        const store = DeviceStore.openForInspection(stateDir);
        try {
          const result = verifyAudit(store, store.meta.app, options.identity);
          report(options, result, () => {
            const lines = [
              `${result.ok ? 'OK' : 'FAILED'}: ${result.app} audit log, ${result.entries} entries, ${result.checkpoints} checkpoints`,
              `identity: ${result.identity ?? 'unknown'}`,
              `last signed checkpoint: ${result.lastCheckpointSeq ?? 'none'}; entries after it: ${result.uncoveredEntries}`,
            ];
            if (result.firstBadSeq !== null) lines.push(`first bad entry: ${result.firstBadSeq}`);
            for (const p of result.problems) lines.push(`- [${p.code}] ${p.message}`);
            return lines.join('\n');
          });
          return result.ok ? EXIT.ok : EXIT.invalid;
        } finally {
          await store.close();
        }
      }),
    );
}
