/**
 * The console operator's credentials, kept in the device store (`console.operator`):
 *
 *   K        = scrypt(NFKD(password), salt(16), N, r, p, 64)      RFC 7914
 *   verifier = K[0..32]    stored; compared in constant time with the one a login derives
 *   sealKey  = K[32..64]   never stored; seals the TOTP secret (AES-256-GCM, AAD below)
 *
 * so the password is never stored, and the TOTP secret can be read only after a login with
 * the password. Login follows Bit.ac's token flow with scrypt and HMAC-SHA256 for md5: a fresh
 * random challenge per attempt, answered either by typing the password (the device derives
 * the verifier) or, from a script that knows the verifier, by
 *
 *   response = "hmac:" ‖ hex(HMAC-SHA256(verifier, ASCII(challenge hex)))
 *
 * A response login proves the verifier but cannot unseal the TOTP secret, so such a session
 * runs read-only commands only. Every attempt is counted durably before it is checked (a cut
 * power after a wrong guess still counts), with backoff and lockout (lockout.ts); every
 * success and failure is audited, never with the password, a code or the verifier.
 * @module
 */
import { createCipheriv, createDecipheriv, createHmac, scrypt, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { Clock } from '../clock.ts';
import { HsmError } from '../errors.ts';
import type { RandomSource } from '../random.ts';
import { defineCollection } from '../store/collection.ts';
import type { AuditDetails } from '../store/audit.ts';
import type { DeviceStore, WriteTx } from '../store/store.ts';
import { sealedSchema } from '../store/system-collections.ts';
import { formatTime } from './format.ts';
import { DEFAULT_LOCKOUT, NO_FAILURES, afterFailure, assertMayAttempt, isLockedOut, type FailureState, type LockoutPolicy } from './lockout.ts';
import { checkTotp } from './totp.ts';

export interface ConsoleKdfCost {
  N: number;
  r: number;
  p: number;
}

/** About 100 ms on a desktop core, 1-2 s on a Pi Zero 2 W. */
export const DEFAULT_CONSOLE_KDF: ConsoleKdfCost = { N: 2 ** 15, r: 8, p: 1 };
export const RESPONSE_PREFIX = 'hmac:';
export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 128;
const TOTP_AAD = Buffer.from('hsm-console/totp/v1');

const bytes = z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'expected bytes');

export const totpSettingsSchema = z.strictObject({
  /** A code is asked at login too. */
  login: z.boolean(),
  /** Read-only top-level commands that also ask for a code. */
  commands: z.array(z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/)).max(32),
});
export type TotpSettings = z.infer<typeof totpSettingsSchema>;

export const operatorRecordSchema = z.strictObject({
  kdf: z.strictObject({ name: z.literal('scrypt'), N: z.number().int().positive(), r: z.number().int().positive(), p: z.number().int().positive(), salt: bytes }),
  verifier: bytes,
  createdAt: z.number(),
  passwordChangedAt: z.number(),
  totp: z
    .strictObject({
      sealed: sealedSchema,
      enabledAt: z.number(),
      /** Last TOTP time step accepted; codes of this step or earlier are refused. */
      lastStep: z.number().int().nonnegative(),
      settings: totpSettingsSchema,
    })
    .optional(),
  failures: z.number().int().nonnegative(),
  lockouts: z.number().int().nonnegative(),
  notBefore: z.number().optional(),
  lockedUntil: z.number().optional(),
});
export type OperatorRecord = z.infer<typeof operatorRecordSchema>;

export const CONSOLE_OPERATOR = defineCollection('console.operator', operatorRecordSchema);
const OPERATOR_KEY = 'operator';

export interface OperatorKeys {
  verifier: Buffer;
  sealKey: Buffer;
}

/** scrypt off the event loop (libuv pool), so the link and the modems stay served meanwhile. */
export function deriveOperatorKeys(password: string, kdf: ConsoleKdfCost & { salt: Uint8Array }): Promise<OperatorKeys> {
  return new Promise((resolve, reject) => {
    scrypt(Buffer.from(password.normalize('NFKD'), 'utf8'), kdf.salt, 64, { N: kdf.N, r: kdf.r, p: kdf.p, maxmem: 256 * kdf.N * kdf.r + 1024 * 1024 }, (error, key) => {
      if (error !== null) {
        reject(new HsmError('CONSOLE_KDF', 'the password key could not be derived', { cause: error }));
        return;
      }
      resolve({ verifier: Buffer.from(key.subarray(0, 32)), sealKey: Buffer.from(key.subarray(32, 64)) });
      key.fill(0);
    });
  });
}

/** What a scripted client sends instead of the password (see the module comment). */
export function loginResponse(verifier: Uint8Array, challenge: string): string {
  return `${RESPONSE_PREFIX}${createHmac('sha256', verifier).update(challenge, 'ascii').digest('hex')}`;
}

export function checkNewPassword(password: string, field = 'password'): void {
  const length = [...password].length;
  if (length < MIN_PASSWORD_LENGTH || length > MAX_PASSWORD_LENGTH) {
    throw new HsmError('CONSOLE_PASSWORD_FORMAT', `the password must be ${MIN_PASSWORD_LENGTH}-${MAX_PASSWORD_LENGTH} characters`, { field });
  }
  if (password.startsWith(RESPONSE_PREFIX)) {
    throw new HsmError('CONSOLE_PASSWORD_FORMAT', `the password may not start with "${RESPONSE_PREFIX}" (that marks a login response)`, { field });
  }
  if (/^\s|\s$/.test(password)) throw new HsmError('CONSOLE_PASSWORD_FORMAT', 'the password may not start or end with a space', { field });
}

function sealSecret(key: Uint8Array, secret: Uint8Array, random: RandomSource): z.infer<typeof sealedSchema> {
  const iv = random.bytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(TOTP_AAD);
  const ciphertext = Buffer.concat([cipher.update(secret), cipher.final()]);
  return { iv, ciphertext: new Uint8Array(ciphertext), tag: new Uint8Array(cipher.getAuthTag()) };
}

function openSecret(key: Uint8Array, sealed: z.infer<typeof sealedSchema>): Uint8Array | undefined {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, sealed.iv);
    decipher.setAAD(TOTP_AAD);
    decipher.setAuthTag(sealed.tag);
    return new Uint8Array(Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]));
  } catch {
    return undefined;
  }
}

function failureState(record: OperatorRecord): FailureState {
  return {
    failures: record.failures,
    lockouts: record.lockouts,
    ...(record.notBefore !== undefined ? { notBefore: record.notBefore } : {}),
    ...(record.lockedUntil !== undefined ? { lockedUntil: record.lockedUntil } : {}),
  };
}

function withFailureState(record: OperatorRecord, state: FailureState): OperatorRecord {
  const { notBefore: _n, lockedUntil: _l, ...rest } = record;
  return {
    ...rest,
    failures: state.failures,
    lockouts: state.lockouts,
    ...(state.notBefore !== undefined ? { notBefore: state.notBefore } : {}),
    ...(state.lockedUntil !== undefined ? { lockedUntil: state.lockedUntil } : {}),
  };
}

export interface OperatorCredentialsOptions {
  store: DeviceStore;
  clock: Clock;
  random: RandomSource;
  kdf?: ConsoleKdfCost;
  lockout?: LockoutPolicy;
}

/** What an authentication is for, recorded in the audit entries. */
export interface Purpose {
  /** `login`, `2fa enable`, `channel open-window`... */
  action: string;
  /** Audit kind written on success (nothing when omitted). */
  successKind?: string;
  successDetails?: AuditDetails;
}

export class OperatorCredentials {
  readonly store: DeviceStore;
  private readonly clock: Clock;
  private readonly random: RandomSource;
  private readonly kdf: ConsoleKdfCost;
  readonly lockout: LockoutPolicy;

  constructor(options: OperatorCredentialsOptions) {
    this.store = options.store;
    this.clock = options.clock;
    this.random = options.random;
    this.kdf = options.kdf ?? DEFAULT_CONSOLE_KDF;
    this.lockout = options.lockout ?? DEFAULT_LOCKOUT;
  }

  record(): OperatorRecord | undefined {
    return this.store.get(CONSOLE_OPERATOR, OPERATOR_KEY);
  }

  exists(): boolean {
    return this.record() !== undefined;
  }

  /** Public KDF parameters, printed with each challenge for scripted clients. */
  kdfParameters(): (ConsoleKdfCost & { salt: Uint8Array }) | undefined {
    const kdf = this.record()?.kdf;
    return kdf === undefined ? undefined : { N: kdf.N, r: kdf.r, p: kdf.p, salt: kdf.salt };
  }

  /** Sets the first operator password (console `setup`); refuses when one exists. */
  async create(password: string): Promise<void> {
    checkNewPassword(password);
    if (this.exists()) throw new HsmError('CONSOLE_OPERATOR_EXISTS', 'an operator password is already set; change it with passwd');
    const kdf = { name: 'scrypt' as const, ...this.kdf, salt: this.random.bytes(16) };
    const keys = await deriveOperatorKeys(password, kdf);
    keys.sealKey.fill(0);
    const now = this.clock.now();
    this.store.transact((tx) => {
      if (tx.get(CONSOLE_OPERATOR, OPERATOR_KEY) !== undefined) throw new HsmError('CONSOLE_OPERATOR_EXISTS', 'an operator password is already set');
      tx.put(CONSOLE_OPERATOR, OPERATOR_KEY, { kdf, verifier: new Uint8Array(keys.verifier), createdAt: now, passwordChangedAt: now, ...NO_FAILURES });
      tx.audit('console.setup', { kdfN: kdf.N });
    });
    keys.verifier.fill(0);
  }

  /** Throws CONSOLE_LOCKED_OUT / CONSOLE_BACKOFF / CONSOLE_NO_OPERATOR when no attempt may be made now. */
  assertMayAttempt(): OperatorRecord {
    const record = this.requireRecord();
    assertMayAttempt(failureState(record), this.clock.now());
    return record;
  }

  isLockedOut(): boolean {
    const record = this.record();
    return record !== undefined && isLockedOut(failureState(record), this.clock.now());
  }

  /** Checks the password; resolves with the derived keys (the caller zeroises them). */
  async checkPassword(password: string, purpose: Purpose): Promise<OperatorKeys> {
    const record = this.beginAttempt();
    const keys = await deriveOperatorKeys(password, record.kdf);
    const ok = keys.verifier.length === record.verifier.length && timingSafeEqual(keys.verifier, record.verifier);
    if (!ok) {
      keys.verifier.fill(0);
      keys.sealKey.fill(0);
      throw this.failed('console.auth-failed', purpose, 'wrong password');
    }
    this.succeeded(purpose);
    return keys;
  }

  /** Checks a scripted client's `hmac:` response to `challenge`. */
  checkResponse(challenge: string, response: string, purpose: Purpose): void {
    const record = this.beginAttempt();
    const expected = Buffer.from(loginResponse(record.verifier, challenge), 'ascii');
    const given = Buffer.from(response.toLowerCase(), 'ascii');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw this.failed('console.auth-failed', purpose, 'wrong response');
    this.succeeded(purpose);
  }

  /** The TOTP secret, when 2FA is on and `sealKey` is the password's. */
  unsealTotp(sealKey: Uint8Array): Uint8Array | undefined {
    const totp = this.record()?.totp;
    return totp === undefined ? undefined : openSecret(sealKey, totp.sealed);
  }

  totpSettings(): (TotpSettings & { enabledAt: number }) | undefined {
    const totp = this.record()?.totp;
    return totp === undefined ? undefined : { ...totp.settings, enabledAt: totp.enabledAt };
  }

  /**
   * Checks a TOTP code against `secret` (the enabled one, or a pending one being confirmed)
   * and records its time step, so the same code never works twice.
   */
  checkCode(secret: Uint8Array, code: string, purpose: Purpose): number {
    const record = this.beginAttempt();
    const check = checkTotp(secret, code, this.clock.now(), record.totp?.lastStep);
    if (!check.ok) {
      const reason = check.reason === 'format' ? 'a code has 6 digits' : check.reason === 'reused' ? 'that code was already used; wait for the next one' : 'wrong code';
      throw this.failed('console.2fa-failed', purpose, reason);
    }
    this.succeeded(purpose, (r) => (r.totp === undefined ? r : { ...r, totp: { ...r.totp, lastStep: check.step } }));
    return check.step;
  }

  /** Turns 2FA on with `secret`, once the first code from it checked out. */
  enableTotp(secret: Uint8Array, code: string, sealKey: Uint8Array): void {
    if (this.record()?.totp !== undefined) throw new HsmError('CONSOLE_2FA_ON', '2FA is already on; disable it first');
    const step = this.checkCode(secret, code, { action: '2fa confirm' });
    const sealed = sealSecret(sealKey, secret, this.random);
    this.update((record) => ({ ...record, totp: { sealed, enabledAt: this.clock.now(), lastStep: step, settings: { login: false, commands: [] } } }), '2fa-enabled', {});
  }

  /** Turns 2FA off; the caller has checked a code from the current secret first. */
  removeTotp(): void {
    this.update(({ totp: _removed, ...record }) => record, '2fa-disabled', {});
  }

  setTotpSettings(settings: TotpSettings): void {
    const parsed = totpSettingsSchema.parse(settings);
    this.update(
      (record) => {
        if (record.totp === undefined) throw new HsmError('CONSOLE_2FA_OFF', '2FA is off; enable it first');
        return { ...record, totp: { ...record.totp, settings: parsed } };
      },
      '2fa-settings',
      { login: parsed.login, commands: parsed.commands.join(',') },
    );
  }

  /** Replaces the password (the old one already checked by the caller), re-sealing the TOTP secret. */
  async changePassword(oldKeys: OperatorKeys, newPassword: string): Promise<void> {
    checkNewPassword(newPassword, 'new password');
    const current = this.requireRecord();
    const secret = current.totp === undefined ? undefined : openSecret(oldKeys.sealKey, current.totp.sealed);
    if (current.totp !== undefined && secret === undefined) throw new HsmError('CONSOLE_2FA_SEAL', 'the TOTP secret could not be opened; nothing was changed');
    const kdf = { name: 'scrypt' as const, ...this.kdf, salt: this.random.bytes(16) };
    const keys = await deriveOperatorKeys(newPassword, kdf);
    try {
      this.update(
        (record) => ({
          ...record,
          kdf,
          verifier: new Uint8Array(keys.verifier),
          passwordChangedAt: this.clock.now(),
          ...(record.totp !== undefined && secret !== undefined ? { totp: { ...record.totp, sealed: sealSecret(keys.sealKey, secret, this.random) } } : {}),
        }),
        'password-changed',
        {},
      );
    } finally {
      keys.verifier.fill(0);
      keys.sealKey.fill(0);
      secret?.fill(0);
    }
  }

  /** Writes an audit entry for an operator action (commands, logout). */
  audit(kind: string, details: AuditDetails): void {
    this.store.transact((tx) => tx.audit(`console.${kind}`, details));
  }

  private requireRecord(): OperatorRecord {
    const record = this.record();
    if (record === undefined) throw new HsmError('CONSOLE_NO_OPERATOR', 'no operator password is set; run setup first');
    return record;
  }

  /** Checks the gate, then records the attempt as a failure before anything is compared. */
  private beginAttempt(): OperatorRecord {
    const record = this.assertMayAttempt();
    const now = this.clock.now();
    this.store.transact((tx) => {
      const current = tx.get(CONSOLE_OPERATOR, OPERATOR_KEY) ?? record;
      tx.put(CONSOLE_OPERATOR, OPERATOR_KEY, withFailureState(current, afterFailure(failureState(current), now, this.lockout)));
    });
    return record;
  }

  private succeeded(purpose: Purpose, change: (r: OperatorRecord) => OperatorRecord = (r) => r): void {
    this.store.transact((tx) => {
      const current = tx.get(CONSOLE_OPERATOR, OPERATOR_KEY);
      if (current === undefined) return;
      tx.put(CONSOLE_OPERATOR, OPERATOR_KEY, withFailureState(change(current), NO_FAILURES));
      if (purpose.successKind !== undefined) tx.audit(purpose.successKind, purpose.successDetails ?? {});
    });
  }

  private failed(kind: string, purpose: Purpose, reason: string): HsmError {
    const state = failureState(this.requireRecord());
    const now = this.clock.now();
    this.store.transact((tx) => {
      tx.audit(kind, { action: purpose.action, reason, failures: state.failures });
      if (state.lockedUntil !== undefined && state.lockedUntil > now && state.failures === 0) {
        tx.audit('console.locked-out', { action: purpose.action, until: state.lockedUntil, lockouts: state.lockouts });
      }
    });
    if (isLockedOut(state, now)) {
      return new HsmError('CONSOLE_LOCKED_OUT', `${reason}; too many failed attempts: the console is locked until ${formatTime(state.lockedUntil)}`, { field: purpose.action });
    }
    const left = this.lockout.maxFailures - state.failures;
    const code = kind === 'console.2fa-failed' ? 'CONSOLE_2FA_INVALID' : 'CONSOLE_AUTH_FAILED';
    return new HsmError(code, `${reason}; ${left} more failure${left === 1 ? ' locks' : 's lock'} the console`, { field: purpose.action });
  }

  private update(change: (record: OperatorRecord) => OperatorRecord, kind: string, details: AuditDetails): void {
    this.store.transact((tx: WriteTx) => {
      const current = tx.get(CONSOLE_OPERATOR, OPERATOR_KEY);
      if (current === undefined) throw new HsmError('CONSOLE_NO_OPERATOR', 'no operator password is set; run setup first');
      tx.put(CONSOLE_OPERATOR, OPERATOR_KEY, change(current));
      tx.audit(`console.${kind}`, details);
    });
  }
}
