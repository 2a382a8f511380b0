import { afterEach, describe, expect, it } from 'vitest';
import { bytesToHex } from '../../shared/crypto/hash.ts';
import { auditTail } from '../../shared/store/audit.ts';
import { CONSOLE_OPERATOR, OperatorCredentials, deriveOperatorKeys, loginResponse } from '../../shared/console/operator.ts';
import { afterFailure, DEFAULT_LOCKOUT, assertMayAttempt } from '../../shared/console/lockout.ts';
import { ConsoleHarness, FAST_CONSOLE_KDF, PASSWORD, counterCommands } from './harness.ts';
import { expectHsmError } from '../helpers/errors.ts';

let harness: ConsoleHarness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

async function withOperator(): Promise<ConsoleHarness> {
  harness = new ConsoleHarness({ commands: counterCommands });
  await harness.createOperator();
  harness.fresh();
  return harness;
}

function auditKinds(h: ConsoleHarness, count = 50): string[] {
  return auditTail(h.store, count).map((e) => e.kind);
}

describe('lockout policy', () => {
  it('backs off 1, 2, 4, 8 s, then locks for 15 min, doubling with each lockout', () => {
    let state = { failures: 0, lockouts: 0 } as ReturnType<typeof afterFailure>;
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      state = afterFailure(state, 1000, DEFAULT_LOCKOUT);
      waits.push((state.notBefore ?? 0) - 1000);
    }
    expect(waits).toEqual([1000, 2000, 4000, 8000]);
    state = afterFailure(state, 1000, DEFAULT_LOCKOUT);
    expect(state).toEqual({ failures: 0, lockouts: 1, lockedUntil: 1000 + 15 * 60_000 });
    expectHsmError(() => assertMayAttempt(state, 2000), 'CONSOLE_LOCKED_OUT');
    for (let i = 0; i < 5; i++) state = afterFailure(state, 0, DEFAULT_LOCKOUT);
    expect(state.lockedUntil).toBe(30 * 60_000);
  });
});

describe('operator login', () => {
  it('first setup: a password typed twice, never echoed; then login with a fresh challenge each time', async () => {
    const h = (harness = new ConsoleHarness());
    expect(h.fresh()).toContain('no operator password is set yet: type setup');
    await h.enter('setup');
    await h.enter(PASSWORD);
    const set = await h.enter(PASSWORD);
    expect(set).toContain('operator password set');
    expect(h.screen()).not.toContain(PASSWORD);
    const first = await h.enter('login');
    expect(first).toMatch(/challenge [0-9a-f]{32} {2}\(scrypt N=1024 r=8 p=1 salt=[0-9a-f]{32}\)\npassword: $/);
    const done = await h.enter(PASSWORD);
    expect(done).toContain('logged in');
    expect(done).toMatch(/hsm-test\(running\)\$ $/);
    expect(h.screen()).not.toContain(PASSWORD);
    await h.enter('logout');
    const second = await h.enter('login');
    expect(/challenge ([0-9a-f]{32})/.exec(second)?.[1]).not.toBe(/challenge ([0-9a-f]{32})/.exec(first)?.[1]);
    await h.enter('\x03');
    expect(auditKinds(h)).toEqual(expect.arrayContaining(['console.setup', 'console.login', 'console.logout']));
  });

  it('setup is refused once a password exists, and asks the host first', async () => {
    const h = await withOperator();
    expect(await h.enter('setup')).toContain('[CONSOLE_OPERATOR_EXISTS]');
    await h.close();
    let asked = 0;
    harness = new ConsoleHarness({
      host: {
        authorizeSetup: async (ctx) => {
          asked++;
          if ((await ctx.ask('device PIN: ', { secret: true })) !== '2468') throw new Error('wrong PIN');
        },
      },
    });
    await harness.enter('setup');
    const refused = await harness.enter('1111');
    expect(asked).toBe(1);
    expect(refused).toContain('[INTERNAL]');
    expect(harness.server.credentials.exists()).toBe(false);
  });

  it('refuses short passwords and mismatches, changing nothing', async () => {
    const h = (harness = new ConsoleHarness());
    await h.enter('setup');
    expect(await h.enter('short')).toContain('[CONSOLE_PASSWORD_FORMAT]');
    await h.enter('setup');
    await h.enter(PASSWORD);
    expect(await h.enter(`${PASSWORD}!`)).toContain('[CONSOLE_PASSWORD_MISMATCH]');
    await h.enter('setup');
    expect(await h.enter('hmac:0123456789')).toContain('[CONSOLE_PASSWORD_FORMAT]');
    expect(h.server.credentials.exists()).toBe(false);
  });

  it('brute force: backoff between attempts, lockout after 5 failures, even the right password is refused until it ends', async () => {
    const h = await withOperator();
    for (let i = 1; i <= 4; i++) {
      await h.enter('login');
      const out = await h.enter(`wrong-password-${i}`);
      expect(out).toContain('wrong password');
      expect(out).toContain('[CONSOLE_AUTH_FAILED]');
      expect(await h.enter('login')).toContain('[CONSOLE_BACKOFF]');
      await h.clock.advance(2 ** (i - 1) * 1000);
    }
    await h.enter('login');
    expect(await h.enter('wrong-password-5')).toContain('[CONSOLE_LOCKED_OUT]');
    const record = h.store.get(CONSOLE_OPERATOR, 'operator');
    expect(record?.lockedUntil).toBe(h.clock.now() + 15 * 60_000);
    await h.clock.advance(14 * 60_000);
    expect(await h.enter('login')).toContain('[CONSOLE_LOCKED_OUT]');
    expect(h.session.loggedIn).toBe(false);
    await h.clock.advance(60_000);
    expect(await h.login()).toContain('logged in');
    expect(h.store.get(CONSOLE_OPERATOR, 'operator')).toMatchObject({ failures: 0, lockouts: 0 });
    const kinds = auditKinds(h);
    expect(kinds.filter((k) => k === 'console.auth-failed')).toHaveLength(5);
    expect(kinds).toContain('console.locked-out');
  });

  it('the failure count survives a restart: a new console on the same store keeps the lockout', async () => {
    const h = await withOperator();
    for (let i = 0; i < 5; i++) {
      await h.enter('login');
      await h.enter('nope-nope');
      await h.clock.advance(10_000);
    }
    const credentials = new OperatorCredentials({ store: h.store, clock: h.clock, random: h.random, kdf: FAST_CONSOLE_KDF });
    expectHsmError(() => credentials.assertMayAttempt(), 'CONSOLE_LOCKED_OUT');
  });

  it('an attempt is counted before the password is checked', async () => {
    const h = await withOperator();
    const credentials = h.server.credentials;
    const check = credentials.checkPassword('not-the-password', { action: 'login' });
    expect(h.store.get(CONSOLE_OPERATOR, 'operator')?.failures).toBe(1);
    await expect(check).rejects.toMatchObject({ code: 'CONSOLE_AUTH_FAILED' });
  });

  it('stores no password: only the salt, the scrypt parameters and the verifier', async () => {
    const h = await withOperator();
    const record = h.store.get(CONSOLE_OPERATOR, 'operator')!;
    const keys = await deriveOperatorKeys(PASSWORD, record.kdf);
    expect(bytesToHex(record.verifier)).toBe(bytesToHex(keys.verifier));
    const raw = JSON.stringify(record, (_k, v: unknown) => (v instanceof Uint8Array ? bytesToHex(v) : v));
    expect(raw).not.toContain(PASSWORD);
    expect(raw).not.toContain(bytesToHex(keys.sealKey));
  });

  it('response mode: hmac:HMAC-SHA256(verifier, challenge) logs in read-only; a replayed response fails', async () => {
    const h = await withOperator();
    const record = h.store.get(CONSOLE_OPERATOR, 'operator')!;
    const { verifier } = await deriveOperatorKeys(PASSWORD, record.kdf);
    const challenge = /challenge ([0-9a-f]{32})/.exec(await h.enter('login'))![1]!;
    const response = loginResponse(verifier, challenge);
    expect(await h.enter(response)).toContain('logged in (response)');
    expect(h.session.operator?.method).toBe('response');
    expect(await h.enter('count show')).toContain('counter 0');
    await h.enter('logout');
    await h.enter('login');
    expect(await h.enter(response)).toContain('[CONSOLE_AUTH_FAILED]');
    expect(h.screen()).not.toContain(bytesToHex(verifier));
  });

  it('read-only commands need a login; unknown commands and bad characters get clear errors', async () => {
    const h = await withOperator();
    expect(await h.enter('count show')).toContain('count show needs a login: type login [CONSOLE_LOGIN_REQUIRED]');
    expect(await h.enter('frobnicate')).toContain('unknown command "frobnicate"; type help for the list [CONSOLE_UNKNOWN_COMMAND]');
    expect(await h.enter('help')).not.toContain('count show');
    await h.login();
    expect(await h.enter('help')).toContain('count add <n>');
    expect(await h.enter('count')).toContain('count needs a subcommand: add, reset, show [CONSOLE_UNKNOWN_SUBCOMMAND]');
    expect(await h.enter('count show\u00e9')).toContain('[CONSOLE_BAD_CHARACTER]');
  });

  it('passwd changes the password; the old one no longer works', async () => {
    const h = await withOperator();
    await h.login();
    await h.enter('passwd');
    await h.enter(PASSWORD);
    await h.enter('another good password');
    expect(await h.enter('another good password')).toContain('password changed');
    await h.enter('logout');
    await h.enter('login');
    expect(await h.enter(PASSWORD)).toContain('[CONSOLE_AUTH_FAILED]');
    await h.clock.advance(1000);
    expect(await h.login('another good password')).toContain('logged in');
    expect(auditKinds(h)).toContain('console.password-changed');
  });

  it('audit entries never hold the password', async () => {
    const h = await withOperator();
    await h.enter('login');
    await h.enter('wrong-guess-123');
    await h.clock.advance(1000);
    await h.login();
    const text = JSON.stringify(auditTail(h.store, 100));
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain('wrong-guess-123');
  });
});
