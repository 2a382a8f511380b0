/**
 * Backoff and lockout after failed authentications (passwords and TOTP codes count alike).
 * After failure n of a run the next attempt waits `backoffBaseMs * 2^(n-1)` (capped); the
 * `maxFailures`-th failure locks the console for `lockoutMs`, doubling with each lockout up to
 * `lockoutMaxMs`. A success clears everything. Times are wall-clock (Unix ms), persisted with
 * the operator record, so neither a reboot nor a new session resets them.
 * @module
 */
import { HsmError } from '../errors.ts';
import { formatTime } from './format.ts';

export interface LockoutPolicy {
  maxFailures: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  lockoutMs: number;
  lockoutMaxMs: number;
}

export const DEFAULT_LOCKOUT: LockoutPolicy = {
  maxFailures: 5,
  backoffBaseMs: 1_000,
  backoffMaxMs: 30_000,
  lockoutMs: 15 * 60_000,
  lockoutMaxMs: 24 * 3_600_000,
};

export interface FailureState {
  /** Consecutive failures since the last success or lockout. */
  failures: number;
  /** Lockouts since the last success. */
  lockouts: number;
  notBefore?: number;
  lockedUntil?: number;
}

export const NO_FAILURES: FailureState = { failures: 0, lockouts: 0 };

/** Throws CONSOLE_LOCKED_OUT or CONSOLE_BACKOFF when no attempt may be made at `now`. */
export function assertMayAttempt(state: FailureState, now: number): void {
  if (state.lockedUntil !== undefined && now < state.lockedUntil) {
    throw new HsmError('CONSOLE_LOCKED_OUT', `too many failed attempts; the console is locked until ${formatTime(state.lockedUntil)}`);
  }
  if (state.notBefore !== undefined && now < state.notBefore) {
    const seconds = Math.ceil((state.notBefore - now) / 1000);
    throw new HsmError('CONSOLE_BACKOFF', `wait ${seconds} s before the next attempt`);
  }
}

/** The state after one more failure at `now`. */
export function afterFailure(state: FailureState, now: number, policy: LockoutPolicy): FailureState {
  const failures = state.failures + 1;
  if (failures >= policy.maxFailures) {
    const lockouts = state.lockouts + 1;
    const span = Math.min(policy.lockoutMs * 2 ** (lockouts - 1), policy.lockoutMaxMs);
    return { failures: 0, lockouts, lockedUntil: now + span };
  }
  const wait = Math.min(policy.backoffBaseMs * 2 ** (failures - 1), policy.backoffMaxMs);
  return { failures, lockouts: state.lockouts, notBefore: now + wait };
}

export function isLockedOut(state: FailureState, now: number): boolean {
  return state.lockedUntil !== undefined && now < state.lockedUntil;
}
