/**
 * How the rig restarts a device process that died on its own: as systemd restarts
 * `hsm-hot.service` and `hsm-cold.service` on a Raspberry Pi (scripts/pi/*.service):
 *
 *   Restart=on-failure         a non-zero exit, or death by a signal other than SIGHUP, SIGINT,
 *                              SIGTERM or SIGPIPE (those and exit 0 are a clean stop)
 *   RestartSec=5s              the wait before each restart
 *   StartLimitBurst=10         at most 10 restarts within
 *   StartLimitIntervalSec=10min   10 minutes; past that the unit stays failed
 *
 * The test of this module reads the unit files, so the two cannot drift apart.
 * @module
 */

export const RESTART_POLICY = {
  delayMs: 5_000,
  burst: 10,
  intervalMs: 10 * 60_000,
} as const;

const CLEAN_SIGNALS: readonly string[] = ['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGPIPE'];

/** `Restart=on-failure`: whether an exit calls for a restart. */
export function restartsAfter(code: number | null, signal: string | null): boolean {
  if (signal !== null) return !CLEAN_SIGNALS.includes(signal);
  return code !== 0;
}

/** The start limit: restarts are allowed while fewer than `burst` fell within the last interval. */
export class RestartBudget {
  private readonly times: number[] = [];

  constructor(private readonly policy: { burst: number; intervalMs: number } = RESTART_POLICY) {}

  /** Records a restart at `now` (world time, ms) if the budget allows it; false when exhausted. */
  take(now: number): boolean {
    while (this.times.length > 0 && (this.times[0] as number) <= now - this.policy.intervalMs) this.times.shift();
    if (this.times.length >= this.policy.burst) return false;
    this.times.push(now);
    return true;
  }
}
