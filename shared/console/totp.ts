/**
 * TOTP second factor (RFC 6238 over RFC 4226; otplib): SHA-1, 6 digits, 30-second steps, the
 * parameters every authenticator app uses. Codes are checked against the device clock with one
 * step of tolerance either way, and a code is accepted only for a time step later than the last
 * one used (RFC 6238 §5.2), so each code works once and a "fresh" code means a later step.
 * @module
 */
import { base32nopad } from '@scure/base';
import { generateURI, verifySync } from 'otplib';
import type { RandomSource } from '../random.ts';

export const TOTP_PERIOD_S = 30;
export const TOTP_SECRET_BYTES = 20;
const TOLERANCE_S = TOTP_PERIOD_S;

export type TotpCheck = { ok: true; step: number } | { ok: false; reason: 'format' | 'wrong' | 'reused' };

export function newTotpSecret(random: RandomSource): Uint8Array {
  return random.bytes(TOTP_SECRET_BYTES);
}

/** Base32 without padding, as authenticator apps take it. */
export function totpSecretText(secret: Uint8Array): string {
  return base32nopad.encode(secret);
}

export function totpUri(secret: Uint8Array, issuer: string, label: string): string {
  return generateURI({ issuer, label, secret: totpSecretText(secret) });
}

/** The time step a wall-clock instant falls in. */
export function totpStep(nowMs: number): number {
  return Math.floor(nowMs / 1000 / TOTP_PERIOD_S);
}

/**
 * Checks `code` at `nowMs`. `afterStep`: the last step already used; a code of that step or an
 * earlier one is `reused` even if it is otherwise right.
 */
export function checkTotp(secret: Uint8Array, code: string, nowMs: number, afterStep: number | undefined): TotpCheck {
  if (!/^[0-9]{6}$/.test(code)) return { ok: false, reason: 'format' };
  const base = { secret: totpSecretText(secret), token: code, epoch: Math.floor(nowMs / 1000), epochTolerance: TOLERANCE_S };
  const step = matchedStep(verifySync(base));
  if (step === undefined) return { ok: false, reason: 'wrong' };
  if (afterStep === undefined || step > afterStep) return { ok: true, step };
  const later = matchedStep(verifySync({ ...base, afterTimeStep: afterStep }));
  return later === undefined ? { ok: false, reason: 'reused' } : { ok: true, step: later };
}

/** The time step a TOTP verification matched (the functional API types HOTP results too). */
function matchedStep(result: ReturnType<typeof verifySync>): number | undefined {
  return result.valid && 'timeStep' in result && typeof result.timeStep === 'number' ? result.timeStep : undefined;
}
