/**
 * `hsm audit verify <state-dir> [peer-state-dir]`: checks a device's audit chain, its signed
 * checkpoints and, given the peer's state directory (or a witness file the peer exported), the
 * heads the peer witnessed; offline, read-only. Names the first entry that can no longer be
 * trusted. Exit 0: the log(s) verify; 1: tampering found; 2: bad input (no store, bad option,
 * unreadable witness file).
 *
 * `hsm audit witnesses <state-dir>`: exports the heads of its peer's log this device recorded,
 * as a witness file for `verify --witnesses` (shared/store/audit-witnesses.ts).
 * @module
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { verifyAudit, type AuditReport, type WitnessedHead } from '../../shared/store/audit.ts';
import { parseWitnessFile, witnessFile, witnessedHeads } from '../../shared/store/audit-witnesses.ts';
import { DeviceStore } from '../../shared/store/store.ts';
import { HsmError } from '../../shared/errors.ts';
import { EXIT, report, run } from './output.ts';

const PUBLIC_KEY = /^(02|03)[0-9a-fA-F]{64}$/;

interface VerifyOptions {
  identity?: string;
  peerIdentity?: string;
  witnesses?: string;
  json?: boolean;
}

function checkKey(value: string | undefined, option: string): void {
  if (value !== undefined && !PUBLIC_KEY.test(value)) {
    throw new HsmError('BAD_OPTION', `--${option} must be a compressed public key in hex (66 characters)`, { field: option });
  }
}

function readWitnessFile(path: string): WitnessedHead[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new HsmError('WITNESS_FILE', `cannot read the witness file ${path}`, { field: 'witnesses', cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new HsmError('WITNESS_FILE', `the witness file ${path} is not JSON`, { field: 'witnesses', cause });
  }
  return parseWitnessFile(json).heads;
}

/** Opens both stores first, so a missing one is bad input before anything is checked. */
function openStores(dirs: readonly string[]): DeviceStore[] {
  const stores: DeviceStore[] = [];
  try {
    for (const dir of dirs) stores.push(DeviceStore.openForInspection(dir));
  } catch (error) {
    for (const store of stores) void store.close();
    throw error;
  }
  return stores;
}

function reportText(result: AuditReport): string[] {
  const lines = [
    `${result.ok ? 'OK' : 'FAILED'}: ${result.app} audit log, ${result.entries} entries, ${result.checkpoints} checkpoints, ${result.witnesses} witnessed heads`,
    `identity: ${result.identity ?? 'unknown'}`,
    `last signed checkpoint: ${result.lastCheckpointSeq ?? 'none'}; last head the peer witnessed: ${result.lastWitnessedSeq ?? 'none'}; entries after both: ${result.uncoveredEntries}`,
  ];
  if (result.firstBadSeq !== null) lines.push(`first bad entry: ${result.firstBadSeq}`);
  for (const p of result.problems) lines.push(`- [${p.code}] ${p.message}`);
  return lines;
}

export function configureAudit(audit: Command): void {
  audit
    .command('verify')
    .description("verify a device's audit chain and signed checkpoints, and with its peer's state (or witness file) the heads the peer witnessed")
    .argument('<state-dir>', 'the device state directory (holds store.mdb)')
    .argument('[peer-state-dir]', "the peer device's state directory: both logs are checked, each against the other's witnesses")
    .option('--identity <pubkey>', "pin the device's identity public key (hex) checkpoints must be signed with")
    .option('--peer-identity <pubkey>', "pin the peer's identity public key")
    .option('--witnesses <file>', 'a witness file the peer exported (hsm audit witnesses)')
    .option('--json', 'print JSON')
    .action((stateDir: string, peerDir: string | undefined, options: VerifyOptions) =>
      run(options, async () => {
        checkKey(options.identity, 'identity');
        checkKey(options.peerIdentity, 'peer-identity');
        if (options.peerIdentity !== undefined && peerDir === undefined) {
          throw new HsmError('BAD_OPTION', '--peer-identity needs the peer state directory', { field: 'peer-identity' });
        }
        const fromFile = options.witnesses === undefined ? [] : readWitnessFile(options.witnesses);
        const stores = openStores(peerDir === undefined ? [stateDir] : [stateDir, peerDir]);
        try {
          const [store, peer] = stores as [DeviceStore, DeviceStore | undefined];
          const app = store.meta.app;
          const witnesses = [...fromFile, ...(peer === undefined ? [] : witnessedHeads(peer, app))];
          const result = verifyAudit(store, app, options.identity, witnesses);
          const peerResult = peer === undefined ? undefined : verifyAudit(peer, peer.meta.app, options.peerIdentity, witnessedHeads(store, peer.meta.app));
          const ok = result.ok && (peerResult?.ok ?? true);
          // JSON: the device's report; with the peer, `ok` covers both and `peer` holds the peer's.
          report(options, peerResult === undefined ? result : { ...result, ok, peer: peerResult }, () =>
            [...reportText(result), ...(peerResult === undefined ? [] : ['', ...reportText(peerResult)])].join('\n'),
          );
          return ok ? EXIT.ok : EXIT.invalid;
        } finally {
          for (const s of stores) await s.close();
        }
      }),
    );

  audit
    .command('witnesses')
    .description("export the heads of the peer's audit log this device recorded, for `audit verify --witnesses`")
    .argument('<state-dir>', 'the device state directory (holds store.mdb)')
    .option('--out <file>', 'write the witness file there (mode 0644; it holds nothing secret) instead of stdout')
    .action((stateDir: string, options: { out?: string }) =>
      run({ json: true }, async () => {
        const [store] = openStores([stateDir]) as [DeviceStore];
        try {
          const text = `${JSON.stringify(witnessFile(store), null, 2)}\n`;
          if (options.out === undefined) process.stdout.write(text);
          else writeFileSync(options.out, text);
        } finally {
          await store.close();
        }
      }),
    );
}
