import { afterEach, describe, expect, it } from 'vitest';
import { checkTotp, totpSecretText, totpStep, totpUri } from '../../shared/console/totp.ts';
import { CONSOLE_OPERATOR, deriveOperatorKeys } from '../../shared/console/operator.ts';
import { auditTail } from '../../shared/store/audit.ts';
import { bytesToHex } from '../../shared/crypto/hash.ts';
import { createLogger } from '../../shared/log.ts';
import { ConsoleHarness, PASSWORD, counterCommands } from './harness.ts';

let harness: ConsoleHarness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

async function loggedIn(): Promise<ConsoleHarness> {
  harness = new ConsoleHarness({ commands: counterCommands });
  await harness.createOperator();
  await harness.login();
  harness.fresh();
  return harness;
}

describe('TOTP codes', () => {
  // RFC 6238 appendix B, SHA-1, secret "12345678901234567890"; the 6-digit codes are the last
  // six digits of the table's 8-digit values.
  const rfcSecret = new TextEncoder().encode('12345678901234567890');

  it('matches RFC 6238 appendix B (6 digits) with one step of tolerance either way', () => {
    expect(checkTotp(rfcSecret, '287082', 59_000, undefined)).toEqual({ ok: true, step: 1 });
    expect(checkTotp(rfcSecret, '081804', 1_111_111_109_000, undefined)).toEqual({ ok: true, step: totpStep(1_111_111_109_000) });
    expect(checkTotp(rfcSecret, '081804', 1_111_111_109_000 + 30_000, undefined).ok).toBe(true);
    expect(checkTotp(rfcSecret, '081804', 1_111_111_109_000 + 61_000, undefined)).toEqual({ ok: false, reason: 'wrong' });
  });

  it('refuses malformed codes before checking, and a code of a step already used', () => {
    expect(checkTotp(rfcSecret, '28708', 59_000, undefined)).toEqual({ ok: false, reason: 'format' });
    expect(checkTotp(rfcSecret, '2870822', 59_000, undefined)).toEqual({ ok: false, reason: 'format' });
    expect(checkTotp(rfcSecret, '287082', 59_000, 1)).toEqual({ ok: false, reason: 'reused' });
  });

  it('gives the authenticator app a base32 secret and an otpauth URI', () => {
    expect(totpSecretText(rfcSecret)).toBe('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
    expect(totpUri(rfcSecret, 'hsm-cold', 'operator')).toBe('otpauth://totp/hsm-cold:operator?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=hsm-cold');
  });
});

describe('2FA life cycle (enable → confirm → settings → disable)', () => {
  it('privileged commands are refused while 2FA is off', async () => {
    const h = await loggedIn();
    expect(await h.enter('count add 3')).toContain('[CONSOLE_2FA_REQUIRED]');
    expect(h.counter()).toBe(0);
  });

  it('enable needs the password, shows the secret once, and changes nothing until a first code confirms it', async () => {
    const h = await loggedIn();
    await h.enter('2fa enable');
    expect(await h.enter('wrong password')).toContain('[CONSOLE_AUTH_FAILED]');
    await h.clock.advance(1000);
    await h.enter('2fa enable');
    const shown = await h.enter(PASSWORD);
    expect(shown).toMatch(/secret {2}[A-Z2-7]{32}/);
    expect(h.store.get(CONSOLE_OPERATOR, 'operator')?.totp).toBeUndefined();
    const secret = Uint8Array.from(h.session.enrollment!.secret);
    expect(await h.enter('2fa confirm 000000')).toMatch(/wrong code.*\[CONSOLE_2FA_INVALID\]/);
    expect(h.store.get(CONSOLE_OPERATOR, 'operator')?.totp).toBeUndefined();
    expect(await h.enter(`2fa confirm ${h.code(secret)}`)).toContain('wait 1 s before the next attempt [CONSOLE_BACKOFF]');
    await h.clock.advance(1000);
    expect(await h.enter(`2fa confirm ${h.code(secret)}`)).toContain('2FA is on');
    const record = h.store.get(CONSOLE_OPERATOR, 'operator')!;
    // Sealed under the password-derived key: it opens with that key and is not stored in clear.
    expect(bytesToHex(record.totp!.sealed.ciphertext)).not.toBe(bytesToHex(secret));
    const keys = await deriveOperatorKeys(PASSWORD, record.kdf);
    expect(h.server.credentials.unsealTotp(keys.sealKey)).toEqual(secret);
    expect(h.server.credentials.unsealTotp(new Uint8Array(32))).toBeUndefined();
    // Shown once: a new login does not show it again.
    await h.enter('logout');
    await h.login();
    expect(h.fresh()).not.toContain(totpSecretText(secret));
    expect(h.screen().split(totpSecretText(secret)).length - 1).toBe(2);
  });

  it('a privileged command asks a code; the right one runs it once, and the same code does not work twice', async () => {
    const h = await loggedIn();
    const secret = await h.enableTotp();
    await h.nextStep();
    expect(await h.enter('count add 3')).toMatch(/2FA code: $/);
    expect(await h.enter(h.code(secret))).toContain('added');
    expect(h.counter()).toBe(3);
    await h.enter('count add 3');
    expect(await h.enter(h.code(secret))).toContain('that code was already used');
    expect(h.counter()).toBe(3);
    const kinds = auditTail(h.store, 20).map((e) => e.kind);
    expect(kinds).toContain('console.privileged');
    expect(kinds).toContain('console.2fa-failed');
  });

  it('a wrong code refuses the command and changes nothing but the failure count and the audit log', async () => {
    const h = await loggedIn();
    const secret = await h.enableTotp();
    await h.nextStep();
    const before = h.store.get(CONSOLE_OPERATOR, 'operator')!;
    await h.enter('count add 5');
    const wrong = String((Number(h.code(secret)) + 1) % 1_000_000).padStart(6, '0');
    expect(await h.enter(wrong)).toContain('wrong code; 4 more failures lock the console [CONSOLE_2FA_INVALID]');
    expect(h.counter()).toBe(0);
    const after = h.store.get(CONSOLE_OPERATOR, 'operator')!;
    expect({ ...after, failures: 0, notBefore: undefined }).toEqual({ ...before, notBefore: undefined });
    expect(after.failures).toBe(1);
    const last = auditTail(h.store, 1)[0]!;
    expect(last).toMatchObject({ kind: 'console.2fa-failed', details: { action: 'count add', reason: 'wrong code', failures: 1 } });
    expect(JSON.stringify(last)).not.toContain(wrong);
  });

  it('bad arguments are refused before a code is asked', async () => {
    const h = await loggedIn();
    await h.enableTotp();
    const out = await h.enter('count add 500');
    expect(out).toContain('n must be an integer in 1..100, got "500" (usage: count add <n>) [CONSOLE_BAD_ARGUMENT]');
    expect(out).not.toContain('2FA code');
    expect(h.session.asking).toBeUndefined();
  });

  it('five wrong codes lock the console and end the session', async () => {
    const h = await loggedIn();
    await h.enableTotp();
    let last = '';
    for (let i = 0; i < 5; i++) {
      await h.clock.advance(20_000);
      await h.enter('count add 1');
      last = await h.enter('999999');
    }
    expect(last).toContain('[CONSOLE_LOCKED_OUT]');
    expect(last).toMatch(/hsm-test\(running\)> $/);
    expect(h.session.loggedIn).toBe(false);
    expect(h.counter()).toBe(0);
  });

  it('settings: a code at login, a code for a read-only command; changing them needs a code', async () => {
    const h = await loggedIn();
    const secret = await h.enableTotp();
    await h.nextStep();
    expect(await h.enter('2fa settings shutdown on')).toContain('[CONSOLE_BAD_ARGUMENT]');
    await h.enter('2fa settings login on');
    expect(await h.enter(h.code(secret))).toContain('code asked for login');
    await h.nextStep();
    await h.enter('2fa settings count on');
    expect(await h.enter(h.code(secret))).toContain('code asked for count');
    await h.nextStep();
    expect(await h.enter('count show')).toMatch(/2FA code: $/);
    expect(await h.enter(h.code(secret))).toContain('counter 0');
    await h.enter('logout');
    await h.nextStep();
    await h.enter('login');
    expect(await h.enter(PASSWORD)).toMatch(/2FA code: $/);
    expect(await h.enter(h.code(secret))).toContain('logged in');
    expect(auditTail(h.store, 1)[0]).toMatchObject({ kind: 'console.login', details: { method: 'password', twoFactor: true } });
  });

  it('disable needs a code; afterwards privileged commands are refused again', async () => {
    const h = await loggedIn();
    const secret = await h.enableTotp();
    await h.nextStep();
    await h.enter('2fa disable');
    expect(await h.enter('123')).toContain('[CONSOLE_2FA_INVALID]');
    expect(h.server.credentials.totpSettings()).toBeDefined();
    await h.clock.advance(1000);
    await h.enter('2fa disable');
    expect(await h.enter(h.code(secret))).toContain('2FA is off');
    expect(h.server.credentials.totpSettings()).toBeUndefined();
    expect(await h.enter('count add 1')).toContain('[CONSOLE_2FA_REQUIRED]');
  });

  it('changing the password needs a code while 2FA is on, and re-seals the TOTP secret under the new one', async () => {
    const h = await loggedIn();
    const secret = await h.enableTotp();
    await h.nextStep();
    expect(await h.enter('passwd')).toMatch(/2FA code: $/);
    expect(await h.enter(h.code(secret))).toMatch(/current password: $/);
    await h.enter(PASSWORD);
    await h.enter('a brand new password');
    await h.enter('a brand new password');
    const record = h.store.get(CONSOLE_OPERATOR, 'operator')!;
    const keys = await deriveOperatorKeys('a brand new password', record.kdf);
    expect(h.server.credentials.unsealTotp(keys.sealKey)).toEqual(secret);
  });

  it('no password, code, TOTP secret or verifier reaches the log', async () => {
    const lines: string[] = [];
    const log = createLogger({ name: 'test', level: 'debug', destination: { write: (line: string) => void lines.push(line) } });
    harness = new ConsoleHarness({ commands: counterCommands, log });
    const h = harness;
    await h.createOperator();
    await h.enter('login');
    await h.enter('wrong-password-x');
    await h.clock.advance(1000);
    await h.login();
    const secret = await h.enableTotp();
    await h.nextStep();
    const code = h.code(secret);
    await h.enter('count add 2');
    await h.enter(code);
    await h.enter('logout');
    // Log lines without their (real-time) timestamps, where six digits could turn up by chance.
    const text = lines.map((line) => JSON.stringify({ ...(JSON.parse(line) as object), time: undefined })).join('\n');
    expect(text).toContain('privileged console command done');
    const record = h.store.get(CONSOLE_OPERATOR, 'operator')!;
    for (const secretText of [PASSWORD, 'wrong-password-x', totpSecretText(secret), bytesToHex(record.verifier), code]) expect(text).not.toContain(secretText);
  });
});
