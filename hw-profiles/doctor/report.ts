/**
 * The doctor's report: one entry per check, each failed or doubtful one with a fix, as data
 * (`--json`) or as text for an operator at a terminal.
 * @module
 */
import type { Board, Role } from '../profile.ts';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface Check {
  /** Stable id: `cold.modem.sim1.registration`, `hot.link.peer`. */
  id: string;
  role: Role;
  title: string;
  status: CheckStatus;
  detail: string;
  /** What to do; every `fail` has one. */
  fix?: string;
}

export interface DoctorReport {
  profile: string;
  board: Board;
  roles: Role[];
  /** No check failed (warnings and skips allowed). */
  ok: boolean;
  counts: Record<CheckStatus, number>;
  checks: Check[];
}

export function makeReport(profile: string, board: Board, roles: Role[], checks: Check[]): DoctorReport {
  const counts: Record<CheckStatus, number> = { ok: 0, warn: 0, fail: 0, skip: 0 };
  for (const check of checks) counts[check.status]++;
  return { profile, board, roles, ok: counts.fail === 0, counts, checks };
}

const MARK: Record<CheckStatus, string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL', skip: 'skip' };

export function formatReport(report: DoctorReport): string {
  const lines = [`hsm doctor: profile ${report.profile} (${report.board})`];
  for (const role of report.roles) {
    lines.push('', role === 'hot' ? 'HSM-Hot' : 'HSM-Cold');
    const checks = report.checks.filter((c) => c.role === role);
    const width = Math.max(...checks.map((c) => c.title.length));
    for (const check of checks) {
      lines.push(`  ${MARK[check.status]}  ${check.title.padEnd(width)}  ${check.detail}`);
      if (check.fix !== undefined && check.status !== 'ok') lines.push(`        ${' '.repeat(width)}  fix: ${check.fix}`);
    }
  }
  const { ok, warn, fail, skip } = report.counts;
  lines.push('', `${ok} ok, ${warn} warnings, ${fail} failed, ${skip} skipped: ${report.ok ? 'all checks passed' : 'fix the failures above'}`);
  return lines.join('\n');
}
