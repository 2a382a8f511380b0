import { afterEach, describe, expect, it } from 'vitest';
import { auditTail } from '../../shared/store/audit.ts';
import { ConsoleHarness, PASSWORD, counterCommands } from './harness.ts';

let harness: ConsoleHarness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

async function withTotp(options: ConstructorParameters<typeof ConsoleHarness>[0] = {}): Promise<{ h: ConsoleHarness; secret: Uint8Array }> {
  const h = (harness = new ConsoleHarness({ commands: counterCommands, ...options }));
  await h.createOperator();
  await h.login();
  const secret = await h.enableTotp();
  await h.nextStep();
  await h.enter('count add 7');
  await h.enter(h.code(secret));
  await h.nextStep();
  h.fresh();
  return { h, secret };
}

describe('two-step destructive commands', () => {
  it('the first call previews and returns an id; confirm <id> with a fresh code runs it once', async () => {
    const { h, secret } = await withTotp();
    const first = await h.enter('count reset');
    expect(first).toContain('this sets the counter to zero');
    const step1 = await h.enter(h.code(secret));
    const id = /confirm ([0-9a-f]{8})/.exec(step1)?.[1];
    expect(id).toBeDefined();
    expect(h.counter()).toBe(7);
    // The code used for the first step is spent: the second step needs the next one.
    await h.enter(`confirm ${id}`);
    expect(await h.enter(h.code(secret))).toContain('that code was already used');
    expect(h.counter()).toBe(7);
    await h.nextStep();
    await h.enter(`confirm ${id}`);
    expect(await h.enter(h.code(secret))).toContain('counter reset');
    expect(h.counter()).toBe(0);
    await h.nextStep();
    expect(await h.enter(`confirm ${id}`)).toContain('[CONSOLE_CONFIRMATION]');
    const details = auditTail(h.store, 30).filter((e) => e.kind === 'console.confirmation-issued' || e.kind === 'console.privileged');
    expect(details.map((e) => e.details.outcome ?? 'issued')).toEqual(['done', 'issued', 'done']);
  });

  it('ids expire after two minutes and are forgotten at logout', async () => {
    const { h, secret } = await withTotp();
    await h.enter('count reset');
    const id = /confirm ([0-9a-f]{8})/.exec(await h.enter(h.code(secret)))![1];
    await h.clock.advance(121_000);
    expect(await h.enter(`confirm ${id}`)).toContain('no pending action has confirmation id');
    await h.nextStep();
    await h.enter('count reset');
    const id2 = /confirm ([0-9a-f]{8})/.exec(await h.enter(h.code(secret)))![1];
    await h.enter('logout');
    await h.login();
    expect(await h.enter(`confirm ${id2}`)).toContain('[CONSOLE_CONFIRMATION]');
    expect(await h.enter('confirm nothex!!')).toContain('id must be the 8-character confirmation id');
    expect(h.counter()).toBe(7);
  });
});

describe('terminal behaviour', () => {
  it('prompts show the device and its state, > before login and $ after', async () => {
    let state = 'locked';
    const h = (harness = new ConsoleHarness({ host: { name: 'hsm-cold', state: () => state } }));
    await h.createOperator();
    expect(h.fresh()).toMatch(/hsm-cold\(locked\)> $/);
    await h.enter('login');
    state = 'running/link:up';
    expect(await h.enter(PASSWORD)).toMatch(/hsm-cold\(running\/link:up\)\$ $/);
  });

  it('the password is not echoed; a line typed ahead of a password prompt is discarded, not taken', async () => {
    let release!: () => void;
    const h = (harness = new ConsoleHarness({
      commands: () => [
        {
          path: 'slow-secret',
          summary: 'works, then asks a secret',
          access: 'public',
          run: async (ctx) => {
            await new Promise<void>((r) => (release = r));
            ctx.out.line(`got ${(await ctx.ask('secret: ', { secret: true })).length} characters`);
          },
        },
      ],
    }));
    await h.createOperator();
    await h.enter('login');
    expect(await h.enter(PASSWORD)).toContain('logged in');
    expect(h.screen()).not.toContain(PASSWORD);
    h.port.type('slow-secret\r');
    h.port.type('typed-ahead\r');
    release();
    await h.settle();
    expect(h.session.asking).toBe('secret: ');
    expect(await h.enter('abc')).toContain('got 3 characters');
  });

  it('^C cancels a question and the command; ^D logs out; Enter alone shows the prompt again', async () => {
    const { h } = await withTotp();
    await h.enter('count add 1');
    expect(h.session.asking).toBe('2FA code: ');
    h.port.type('12\x03');
    await h.settle();
    expect(h.fresh()).toContain('12^C\ncancelled\n');
    expect(h.counter()).toBe(7);
    expect(await h.enter('')).toMatch(/^\nhsm-test\(running\)\$ $/);
    h.port.type('\x04');
    await h.settle();
    expect(h.fresh()).toContain('logout\nhsm-test(running)> ');
    expect(h.session.loggedIn).toBe(false);
    expect(auditTail(h.store, 1)[0]).toMatchObject({ kind: 'console.logout', details: { reason: 'eof' } });
  });

  it('an over-long line is discarded whole with a clear error', async () => {
    const h = (harness = new ConsoleHarness({ maxLineBytes: 64 }));
    await h.createOperator();
    await h.login();
    const out = await h.enter(`status ${'x'.repeat(200)}`);
    expect(out).toContain('the line was 207 bytes, longer than the console takes; it was discarded [CONSOLE_LINE_TOO_LONG]');
    expect(await h.enter('whoami')).toContain('method        password');
  });

  it('lines typed while a command runs are queued and run in order', async () => {
    let release!: () => void;
    const h = (harness = new ConsoleHarness({
      commands: () => [
        {
          path: 'slow',
          summary: 'waits',
          access: 'public',
          run: async (ctx) => {
            await new Promise<void>((r) => (release = r));
            ctx.out.line('slow done');
          },
        },
        { path: 'fast', summary: 'prints', access: 'public', run: (ctx) => ctx.out.line('fast done') },
      ],
    }));
    h.port.type('slow\r');
    h.port.type('fast\r');
    h.port.type('fast\r');
    await new Promise((r) => setImmediate(r));
    expect(h.screen()).not.toContain('fast done');
    release();
    await h.settle();
    const text = h.screen();
    expect(text.indexOf('slow done')).toBeLessThan(text.indexOf('fast done'));
    expect(text.split('fast done').length - 1).toBe(2);
  });

  it('^C aborts a running command through its signal', async () => {
    const h = (harness = new ConsoleHarness({
      commands: ({ clock }) => [
        {
          path: 'wait',
          summary: 'waits on the clock',
          access: 'public',
          run: async (ctx) => {
            await clock.sleep(60_000, ctx.signal);
            ctx.out.line('waited');
          },
        },
      ],
    }));
    h.port.type('wait\r');
    h.port.type('\x03');
    await h.settle();
    expect(h.fresh()).toContain('^C\ncancelled\n');
  });

  it('logs out after the idle timeout on the device clock, also from a pending question', async () => {
    const { h } = await withTotp({ idleTimeoutMs: 60_000 });
    await h.enter('whoami');
    await h.clock.advance(59_000);
    expect(h.session.loggedIn).toBe(true);
    await h.enter('whoami');
    await h.clock.advance(59_000);
    expect(h.session.loggedIn).toBe(true);
    await h.clock.advance(2_000);
    expect(h.session.loggedIn).toBe(false);
    expect(h.fresh()).toContain('no input for 1 min; logged out\nhsm-test(running)> ');
    await h.login();
    await h.enter('count add 1');
    await h.clock.advance(61_000);
    await h.settle();
    expect(h.fresh()).toContain('no input for 1 min; logged out [CONSOLE_IDLE]');
    expect(h.session.loggedIn).toBe(false);
    expect(h.counter()).toBe(7);
  });

  it('no colour unless asked; colour on wraps errors in SGR red', async () => {
    const h = (harness = new ConsoleHarness());
    expect(h.screen()).not.toContain('\x1b');
    await h.enter('nothing');
    expect(h.screen()).not.toContain('\x1b');
    await h.enter('color on');
    expect(await h.enter('nothing')).toContain('\x1b[31merror: unknown command');
    await h.enter('color off');
    expect(await h.enter('nothing')).not.toContain('\x1b');
  });

  it('output from a command is sanitized: control characters never reach the terminal raw', async () => {
    const h = (harness = new ConsoleHarness({
      commands: () => [{ path: 'evil', summary: 'prints escapes', access: 'public', run: (ctx) => ctx.out.line('a\x1b[2Jb\rc\x07') }],
    }));
    const out = await h.enter('evil');
    expect(out).toContain('a\\x1b[2Jb\\x0dc\\x07');
    expect(h.port.output().includes(Buffer.from('\x1b[2J'))).toBe(false);
  });

  it('every line ends in CR LF', async () => {
    const h = (harness = new ConsoleHarness());
    await h.enter('help');
    const raw = h.port.output().toString('latin1');
    expect(raw).toMatch(/\r\n/);
    expect(raw.replace(/\r\n/g, '')).not.toMatch(/\n/);
  });
});
