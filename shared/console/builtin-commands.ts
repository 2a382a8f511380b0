/**
 * Commands every console has, whatever the firmware: help, login and logout, the first
 * password (setup), passwd, the 2FA life cycle after Bit.ac's settings API (enable with the
 * password → confirm with a first code → per-command settings → disable with a code),
 * `confirm <id>` for two-step commands, colour and whoami.
 * @module
 */
import { bytesToHex } from '../crypto/hash.ts';
import { HsmError } from '../errors.ts';
import type { Args } from './arguments.ts';
import { CONFIRMATION_ID } from './confirmations.ts';
import { fields, formatDuration, formatTime } from './format.ts';
import { RESPONSE_PREFIX, checkNewPassword } from './operator.ts';
import type { CommandContext, CommandSpec } from './registry.ts';
import type { ConsoleSession } from './session.ts';
import { newTotpSecret, totpSecretText, totpUri } from './totp.ts';

const ACCESS_MARK = { public: '', read: '', privileged: '  [2FA]', destructive: '  [2FA, two-step]' } as const;

function help(session: ConsoleSession): CommandSpec {
  return {
    path: 'help',
    summary: 'the commands you can run now, or the subcommands of one',
    access: 'public',
    args: [{ name: 'command', kind: 'word', pattern: /[a-z0-9-]{1,32}/, expected: 'a command name', optional: true }],
    run: (ctx, args) => {
      const topic = args.optionalStr('command')?.toLowerCase();
      const visible = session.registry.list().filter((c) => session.loggedIn || c.access === 'public');
      const shown = topic === undefined ? visible : visible.filter((c) => c.path === topic || c.path.startsWith(`${topic} `));
      if (shown.length === 0) throw new HsmError('CONSOLE_UNKNOWN_COMMAND', `no command "${topic}"${session.loggedIn ? '' : ' before login'}`, { field: 'command' });
      const width = Math.max(...shown.map((c) => session.registry.usage(c).length));
      ctx.out.lines(shown.map((c) => `${session.registry.usage(c).padEnd(width)}  ${c.summary}${ACCESS_MARK[c.access]}`));
      if (!session.loggedIn) ctx.out.line('log in to see every command');
    },
  };
}

function loginCommand(session: ConsoleSession): CommandSpec {
  return {
    path: 'login',
    summary: 'log in: answer the challenge with the operator password',
    access: 'public',
    run: async (ctx) => {
      const { credentials } = session;
      if (session.loggedIn) throw new HsmError('CONSOLE_LOGGED_IN', 'already logged in (logout first)');
      credentials.assertMayAttempt();
      const kdf = credentials.kdfParameters();
      if (kdf === undefined) throw new HsmError('CONSOLE_NO_OPERATOR', 'no operator password is set; run setup first');
      const challenge = bytesToHex(session.random.bytes(16));
      ctx.out.line(`challenge ${challenge}  (scrypt N=${kdf.N} r=${kdf.r} p=${kdf.p} salt=${bytesToHex(kdf.salt)})`);
      const answer = await ctx.ask('password: ', { secret: true });
      const settings = credentials.totpSettings();
      if (answer.startsWith(RESPONSE_PREFIX)) {
        if (settings?.login === true) throw new HsmError('CONSOLE_2FA_UNAVAILABLE', '2FA at login is on: log in with the password');
        credentials.checkResponse(challenge, answer, { action: 'login', successKind: 'console.login', successDetails: { method: 'response' } });
        session.login({ method: 'response', since: session.clock.now() }, undefined);
        ctx.out.ok('logged in (response): read-only commands; log in with the password for privileged ones');
        return;
      }
      const needsCode = settings?.login === true;
      const success = { successKind: 'console.login', successDetails: { method: 'password', twoFactor: needsCode } };
      const keys = await credentials.checkPassword(answer, { action: 'login', ...(needsCode ? {} : success) });
      const secret = credentials.unsealTotp(keys.sealKey);
      keys.verifier.fill(0);
      keys.sealKey.fill(0);
      if (needsCode) {
        if (secret === undefined) throw new HsmError('CONSOLE_2FA_SEAL', 'the TOTP secret could not be opened');
        try {
          credentials.checkCode(secret, (await ctx.ask('2FA code: ')).trim(), { action: 'login', ...success });
        } catch (error) {
          secret.fill(0);
          throw error;
        }
      }
      session.login({ method: 'password', since: session.clock.now() }, secret);
      ctx.out.ok('logged in');
      if (settings === undefined) ctx.out.line('2FA is off: privileged commands stay refused until you run 2fa enable');
    },
  };
}

function logoutCommand(session: ConsoleSession, path: 'logout' | 'exit'): CommandSpec {
  return {
    path,
    summary: 'log out (so does ^D on an empty line)',
    access: 'public',
    run: (ctx) => {
      if (!session.loggedIn) throw new HsmError('CONSOLE_NOT_LOGGED_IN', 'not logged in');
      session.logout('operator');
      ctx.out.line('logged out');
    },
  };
}

async function askNewPassword(ctx: CommandContext, label: string): Promise<string> {
  const first = await ctx.ask(`${label}: `, { secret: true });
  checkNewPassword(first);
  const again = await ctx.ask(`${label} again: `, { secret: true });
  if (again !== first) throw new HsmError('CONSOLE_PASSWORD_MISMATCH', 'the two passwords differ; nothing was changed', { field: 'password' });
  return first;
}

function setupCommand(session: ConsoleSession): CommandSpec {
  return {
    path: 'setup',
    summary: 'set the first operator password (only while none is set)',
    access: 'public',
    run: async (ctx) => {
      if (session.credentials.exists()) throw new HsmError('CONSOLE_OPERATOR_EXISTS', 'an operator password is already set; change it with passwd');
      await session.host.authorizeSetup?.(ctx);
      const password = await askNewPassword(ctx, 'new operator password');
      await session.credentials.create(password);
      ctx.out.ok('operator password set; log in with: login');
    },
  };
}

function passwdCommand(session: ConsoleSession): CommandSpec {
  return {
    path: 'passwd',
    summary: 'change the operator password (with a 2FA code while 2FA is on)',
    access: 'read',
    run: async (ctx) => {
      if (session.credentials.totpSettings() !== undefined) await session.requireCode(ctx, 'passwd');
      const current = await ctx.ask('current password: ', { secret: true });
      const keys = await session.credentials.checkPassword(current, { action: 'passwd' });
      try {
        const password = await askNewPassword(ctx, 'new password');
        await session.credentials.changePassword(keys, password);
      } finally {
        keys.verifier.fill(0);
        keys.sealKey.fill(0);
      }
      ctx.out.ok('password changed');
    },
  };
}

function twoFactorCommands(session: ConsoleSession): CommandSpec[] {
  const { credentials } = session;
  const settingItem = (args: Args): string => args.str('item').toLowerCase();
  return [
    {
      path: '2fa',
      summary: 'whether 2FA is on, and its settings',
      access: 'read',
      run: (ctx) => {
        const settings = credentials.totpSettings();
        ctx.out.lines(
          fields([
            ['2FA', settings === undefined ? 'off' : 'on'],
            ['enabled at', settings === undefined ? undefined : formatTime(settings.enabledAt)],
            ['code at login', settings?.login],
            ['code for', settings === undefined ? undefined : ['privileged commands', ...settings.commands].join(', ')],
            ['this session', session.canUseCodes ? 'can check codes' : 'cannot check codes'],
            ['pending enrolment', session.enrollment !== undefined ? 'yes: 2fa confirm <code>' : 'no'],
          ]),
        );
      },
    },
    {
      path: '2fa enable',
      summary: 'start 2FA: the password again, then the secret for the authenticator app (shown once)',
      access: 'read',
      run: async (ctx) => {
        if (credentials.totpSettings() !== undefined) throw new HsmError('CONSOLE_2FA_ON', '2FA is already on; disable it first');
        if (session.operator?.method !== 'password') throw new HsmError('CONSOLE_2FA_UNAVAILABLE', 'log in with the password to enable 2FA');
        const password = await ctx.ask('password: ', { secret: true });
        const keys = await credentials.checkPassword(password, { action: '2fa enable' });
        keys.verifier.fill(0);
        const secret = newTotpSecret(session.random);
        session.setEnrollment(secret, keys.sealKey);
        ctx.out.warn('add this secret to the authenticator app now; it is shown only this once:');
        ctx.out.line(`  secret  ${totpSecretText(secret)}`);
        ctx.out.line(`  uri     ${totpUri(secret, session.host.name, 'operator')}`);
        ctx.out.line('then turn 2FA on with: 2fa confirm <code>');
      },
    },
    {
      path: '2fa confirm',
      summary: 'turn 2FA on with the first code from the app',
      access: 'read',
      args: [{ name: 'code', kind: 'word', pattern: /[0-9]{6}/, expected: 'a 6-digit code' }],
      run: (ctx, args) => {
        const pending = session.enrollment;
        if (pending === undefined) throw new HsmError('CONSOLE_2FA_NOT_PENDING', 'no 2FA enrolment is pending; start with 2fa enable');
        credentials.enableTotp(pending.secret, args.str('code'), pending.sealKey);
        session.enrollmentConfirmed();
        ctx.out.ok('2FA is on: privileged commands now ask for a code');
      },
    },
    {
      path: '2fa settings',
      summary: 'ask a code at login too (item login), or for a read-only command (item: its name)',
      access: 'read',
      args: [
        { name: 'item', kind: 'word', pattern: /[a-z0-9-]{1,32}/, expected: 'login or a command name' },
        { name: 'state', kind: 'enum', values: ['on', 'off'] },
      ],
      run: async (ctx, args) => {
        const current = credentials.totpSettings();
        if (current === undefined) throw new HsmError('CONSOLE_2FA_OFF', '2FA is off; enable it first');
        const item = settingItem(args);
        const on = args.str('state') === 'on';
        const next = { login: current.login, commands: [...current.commands] };
        if (item === 'login') {
          next.login = on;
        } else {
          const read = session.registry.list().filter((c) => c.access === 'read' && c.path.split(' ')[0] === item && !c.path.startsWith('2fa'));
          if (read.length === 0) throw new HsmError('CONSOLE_BAD_ARGUMENT', `item must be login or a read-only command, got "${item}"`, { field: 'item' });
          next.commands = on ? [...new Set([...next.commands, item])].sort() : next.commands.filter((c) => c !== item);
        }
        await session.requireCode(ctx, '2fa settings');
        credentials.setTotpSettings(next);
        ctx.out.ok(`code ${on ? 'asked' : 'no longer asked'} for ${item}`);
      },
    },
    {
      path: '2fa disable',
      summary: 'turn 2FA off (needs a code)',
      access: 'read',
      run: async (ctx) => {
        if (credentials.totpSettings() === undefined) throw new HsmError('CONSOLE_2FA_OFF', '2FA is already off');
        await session.requireCode(ctx, '2fa disable');
        credentials.removeTotp();
        session.totpDisabled();
        ctx.out.ok('2FA is off: privileged commands are refused until it is on again');
      },
    },
  ];
}

function confirmCommand(session: ConsoleSession): CommandSpec {
  return {
    path: 'confirm',
    summary: 'go ahead with a two-step command, with a fresh 2FA code',
    access: 'read',
    args: [{ name: 'id', kind: 'word', pattern: CONFIRMATION_ID, expected: 'the 8-character confirmation id' }],
    run: async (ctx, args) => {
      const id = args.str('id');
      const action = session.confirmations.peek(id);
      const spec = session.registry.get(action.path);
      if (spec === undefined) throw new Error('invariant failed: a confirmation names an unregistered command');
      await session.requireCode(ctx, `${action.path} (confirm)`);
      session.confirmations.consume(id);
      await session.runPrivileged(spec, ctx, action.args);
    },
  };
}

function colorCommand(session: ConsoleSession): CommandSpec {
  return {
    path: 'color',
    summary: 'colour in the output, on or off (off by default)',
    access: 'public',
    args: [{ name: 'state', kind: 'enum', values: ['on', 'off'] }],
    run: (ctx, args) => {
      session.terminal.color = args.str('state') === 'on';
      ctx.out.ok(`colour ${session.terminal.color ? 'on' : 'off'}`);
    },
  };
}

function whoamiCommand(session: ConsoleSession): CommandSpec {
  return {
    path: 'whoami',
    summary: 'this session: how and when it logged in, idle timeout',
    access: 'read',
    run: (ctx) => {
      const operator = session.operator;
      ctx.out.lines(
        fields([
          ['operator', 'logged in'],
          ['method', operator?.method],
          ['since', formatTime(operator?.since)],
          ['for', operator === undefined ? undefined : formatDuration(session.clock.now() - operator.since)],
          ['idle timeout', formatDuration(session.idleTimeoutMs)],
          ['2FA codes', session.canUseCodes ? 'available' : 'not available'],
        ]),
      );
    },
  };
}

export function builtinCommands(session: ConsoleSession): CommandSpec[] {
  return [
    help(session),
    loginCommand(session),
    logoutCommand(session, 'logout'),
    logoutCommand(session, 'exit'),
    setupCommand(session),
    passwdCommand(session),
    ...twoFactorCommands(session),
    confirmCommand(session),
    colorCommand(session),
    whoamiCommand(session),
  ];
}
