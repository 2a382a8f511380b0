/**
 * Commands over what every device store has, for any firmware to register: the audit log's
 * tail, its verification (shared/store/audit.ts) and a signed head on demand (sent to the
 * peer to witness), and the self-test report.
 * @module
 */
import { witnessStatus } from '../link/audit-witness.ts';
import { auditTail, lastCheckpoint, verifyAudit } from '../store/audit.ts';
import type { DeviceStore } from '../store/store.ts';
import { fields, formatTime, sanitizeInline, table } from './format.ts';
import type { CommandSpec } from './registry.ts';
import type { CheckResult } from './selftest.ts';
import type { Output } from './terminal.ts';

export interface AuditCommandOptions {
  store: DeviceStore;
  /** The firmware's store app name (`hsm-cold`). */
  app: string;
  /** The identity key checkpoints must be signed with (pinned); the recorded one when absent. */
  identity?: () => string | undefined;
}

function formatDetails(details: Record<string, unknown>): string {
  return Object.entries(details)
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
}

export function auditCommands(options: AuditCommandOptions): CommandSpec[] {
  return [
    {
      path: 'audit tail',
      summary: 'the last entries of the audit log',
      access: 'read',
      args: [{ name: 'count', kind: 'int', min: 1, max: 200, optional: true }],
      run: (ctx, args) => {
        const entries = auditTail(options.store, args.optionalInt('count') ?? 20);
        if (entries.length === 0) {
          ctx.out.line('the audit log is empty');
          return;
        }
        ctx.out.lines(table(['seq', 'time', 'kind', 'details'], entries.map((e) => [e.seq, formatTime(e.at), e.kind, sanitizeInline(formatDetails(e.details), 120)])));
      },
    },
    {
      path: 'audit checkpoint',
      summary: 'sign the audit head now and send it to the peer device, which records it (cross-witnessing)',
      access: 'read',
      run: (ctx) => {
        const entry = options.store.transact((tx) => tx.audit('audit.checkpoint', { by: 'console' }));
        if (lastCheckpoint(options.store)?.seq !== entry.seq) {
          ctx.out.warn(`entry ${entry.seq} written, but the vault is locked: the head is signed at the next unlock`);
          return;
        }
        const witness = witnessStatus(options.store);
        ctx.out.ok(`head ${entry.seq} signed`);
        ctx.out.lines(
          fields([
            ['sent to the peer', witness.sentSeq >= entry.seq ? 'yes' : 'after the head in flight is answered'],
            ['last head the peer recorded', witness.witnessedSeq === 0 ? 'none yet' : witness.witnessedSeq],
          ]),
        );
      },
    },
    {
      path: 'audit verify',
      summary: 'check the hash chain and the signed checkpoints of the audit log',
      access: 'read',
      run: (ctx) => {
        const report = verifyAudit(options.store, options.app, options.identity?.());
        ctx.out.lines(
          fields([
            ['result', report.ok ? 'ok' : 'PROBLEMS FOUND'],
            ['entries', report.entries],
            ['last entry', report.lastSeq],
            ['checkpoints', report.checkpoints],
            ['last valid checkpoint', report.lastCheckpointSeq],
            ['entries after it', report.uncoveredEntries],
            ['identity', report.identity],
            ['first bad entry', report.firstBadSeq],
          ]),
        );
        for (const problem of report.problems.slice(0, 10)) ctx.out.warn(`${problem.code}: ${problem.message}`);
      },
    },
  ];
}

/** Prints self-test results as `PASS/FAIL/SKIP  name  detail` and a summary; returns whether none failed. */
export function printChecks(out: Output, results: readonly CheckResult[]): boolean {
  for (const r of results) {
    const line = `${r.status.toUpperCase()}  ${r.name.padEnd(22)}  ${r.detail}`;
    if (r.status === 'fail') out.warn(line);
    else out.line(line);
  }
  const count = (status: CheckResult['status']): number => results.filter((r) => r.status === status).length;
  const failed = count('fail');
  const summary = `selftest: ${count('pass')} passed, ${failed} failed, ${count('skip')} skipped`;
  if (failed === 0) out.ok(summary);
  else out.warn(summary);
  return failed === 0;
}
