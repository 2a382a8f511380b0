/**
 * The rig restarts a device process as systemd restarts the Pi's units: the policy is read
 * back from scripts/pi/hsm-*.service, so the two cannot drift apart; on-failure semantics;
 * the start limit.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RESTART_POLICY, RestartBudget, restartsAfter } from '../../hw-profiles/sim/restart-policy.ts';

const PI = new URL('../../scripts/pi/', import.meta.url).pathname;

/** systemd time spans as the units write them: `5s`, `10min`. */
function span(text: string): number {
  const match = /^(\d+)(ms|s|min|h)$/.exec(text);
  if (match === null) throw new Error(`not a time span this test reads: ${text}`);
  return Number(match[1]) * { ms: 1, s: 1_000, min: 60_000, h: 3_600_000 }[match[2] as 'ms' | 's' | 'min' | 'h'];
}

function setting(unit: string, key: string): string {
  const values = [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1] as string);
  expect(values, key).toHaveLength(1);
  return values[0] as string;
}

describe('the restart policy of the supervised device processes', () => {
  it.each(['hot', 'cold'])('is the one hsm-%s.service gives systemd on a Pi', (role) => {
    const unit = readFileSync(`${PI}hsm-${role}.service`, 'utf8');
    expect(setting(unit, 'Restart')).toBe('on-failure');
    expect(span(setting(unit, 'RestartSec'))).toBe(RESTART_POLICY.delayMs);
    expect(Number(setting(unit, 'StartLimitBurst'))).toBe(RESTART_POLICY.burst);
    expect(span(setting(unit, 'StartLimitIntervalSec'))).toBe(RESTART_POLICY.intervalMs);
  });

  it('restarts on failure: a crash, a kill -9 or a non-zero exit; never after a clean stop', () => {
    expect(restartsAfter(null, 'SIGKILL')).toBe(true);
    expect(restartsAfter(null, 'SIGSEGV')).toBe(true);
    expect(restartsAfter(null, 'SIGABRT')).toBe(true);
    expect(restartsAfter(1, null)).toBe(true);
    expect(restartsAfter(0, null)).toBe(false);
    for (const clean of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGPIPE']) expect(restartsAfter(null, clean), clean).toBe(false);
  });

  it('allows 10 restarts within 10 minutes, then none until the oldest falls out of the interval', () => {
    const budget = new RestartBudget();
    const t0 = Date.UTC(2026, 2, 10);
    for (let i = 0; i < RESTART_POLICY.burst; i++) expect(budget.take(t0 + i * 5_000), `restart ${i + 1}`).toBe(true);
    expect(budget.take(t0 + 60_000)).toBe(false);
    expect(budget.take(t0 + RESTART_POLICY.intervalMs - 1)).toBe(false);
    // The first restart (at t0) leaves the interval: one more is allowed, and only one.
    expect(budget.take(t0 + RESTART_POLICY.intervalMs)).toBe(true);
    expect(budget.take(t0 + RESTART_POLICY.intervalMs + 1)).toBe(false);
  });
});
