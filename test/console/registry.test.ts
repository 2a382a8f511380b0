import { describe, expect, it } from 'vitest';
import { splitWords } from '../../shared/console/arguments.ts';
import { ConfirmationBook } from '../../shared/console/confirmations.ts';
import { CommandRegistry, type CommandSpec } from '../../shared/console/registry.ts';
import { fields, formatDuration, maskPhoneNumber, sanitize, shorten, table } from '../../shared/console/format.ts';
import { SimulatedClock } from '../../shared/clock.ts';
import { SeededRandom } from '../../shared/random.ts';
import { expectHsmError } from '../helpers/errors.ts';

const noop = (): void => undefined;

function registry(): CommandRegistry {
  const r = new CommandRegistry();
  r.registerAll([
    { path: 'status', summary: '', access: 'read', run: noop },
    { path: 'channel list', summary: '', access: 'read', run: noop },
    { path: 'channel open-window', summary: '', access: 'privileged', args: [{ name: 'minutes', kind: 'int', min: 1, max: 720 }], run: noop },
    {
      path: 'batch verify',
      summary: '',
      access: 'read',
      args: [
        { name: 'type', kind: 'enum', values: ['hot', 'cold'] },
        { name: 'batch', kind: 'int', min: 0, max: 2_147_482 },
        { name: 'coin', kind: 'word', pattern: /BTC|LTC|DOGE/i, expected: 'a coin code', optional: true },
      ],
      run: noop,
    },
  ]);
  return r;
}

describe('command registry', () => {
  it('resolves the longest path and parses typed arguments', () => {
    const r = registry();
    const { spec, args } = r.resolve(splitWords('batch  verify HOT 12 btc'));
    expect(spec.path).toBe('batch verify');
    expect(args.str('type')).toBe('hot');
    expect(args.int('batch')).toBe(12);
    expect(args.optionalStr('coin')).toBe('btc');
    expect(args.canonical()).toBe('type=hot batch=12 coin=btc');
    expect(r.resolve(['CHANNEL', 'LIST']).spec.path).toBe('channel list');
  });

  it('names the argument at fault and the usage', () => {
    const r = registry();
    expectHsmError(() => r.resolve(['channel', 'open-window']), 'CONSOLE_MISSING_ARGUMENT', 'minutes');
    const range = expectHsmError(() => r.resolve(['channel', 'open-window', '0']), 'CONSOLE_BAD_ARGUMENT', 'minutes');
    expect(range.message).toBe('minutes must be an integer in 1..720, got "0" (usage: channel open-window <minutes>)');
    expectHsmError(() => r.resolve(['channel', 'open-window', '1e3']), 'CONSOLE_BAD_ARGUMENT', 'minutes');
    expectHsmError(() => r.resolve(['channel', 'open-window', '15', '16']), 'CONSOLE_EXTRA_ARGUMENT');
    expect(expectHsmError(() => r.resolve(['batch', 'verify', 'warm', '1']), 'CONSOLE_BAD_ARGUMENT', 'type').message).toContain('one of hot, cold');
    expect(expectHsmError(() => r.resolve(['batch', 'verify', 'hot', '1', 'XRP']), 'CONSOLE_BAD_ARGUMENT', 'coin').message).toContain('a coin code');
    expect(expectHsmError(() => r.resolve(['channel', 'x']), 'CONSOLE_UNKNOWN_SUBCOMMAND').message).toBe('channel has no subcommand "x"; one of: list, open-window');
    expectHsmError(() => r.resolve(['reboot']), 'CONSOLE_UNKNOWN_COMMAND');
  });

  it('splits only printable ASCII, with bounded words', () => {
    expect(splitWords('  a  b ')).toEqual(['a', 'b']);
    expectHsmError(() => splitWords('a\tb'), 'CONSOLE_BAD_CHARACTER');
    expectHsmError(() => splitWords('caf\u00e9'), 'CONSOLE_BAD_CHARACTER');
    expectHsmError(() => splitWords('x '.repeat(30)), 'CONSOLE_TOO_MANY_WORDS');
    expectHsmError(() => splitWords('y'.repeat(129)), 'CONSOLE_WORD_TOO_LONG');
  });

  it('refuses duplicate paths, bad paths and required arguments after optional ones', () => {
    const r = registry();
    const spec: CommandSpec = { path: 'status', summary: '', access: 'read', run: noop };
    expect(() => r.register(spec)).toThrow(/registered twice/);
    expect(() => r.register({ ...spec, path: 'Bad Path' })).toThrow(/bad command path/);
    expect(() =>
      r.register({ ...spec, path: 'x', args: [{ name: 'a', kind: 'word', optional: true }, { name: 'b', kind: 'word' }] }),
    ).toThrow(/optional arguments must come last/);
    expect(() => r.register({ ...spec, path: 'y', preview: noop })).toThrow(/only destructive/);
  });
});

describe('confirmation ids', () => {
  it('one per command, random, expiring, removed once consumed', async () => {
    const clock = new SimulatedClock();
    const book = new ConfirmationBook(clock, new SeededRandom('ids'), 1000);
    const args = registry().resolve(['channel', 'open-window', '5']).args;
    const a = book.issue('zeroize', args);
    const b = book.issue('zeroize', args);
    expect(a).toMatch(/^[0-9a-f]{8}$/);
    expect(b).not.toBe(a);
    expectHsmError(() => book.peek(a), 'CONSOLE_CONFIRMATION', 'id');
    expect(book.peek(b.toUpperCase()).path).toBe('zeroize');
    book.consume(b);
    expectHsmError(() => book.peek(b), 'CONSOLE_CONFIRMATION');
    const c = book.issue('zeroize', args);
    await clock.advance(1000);
    expectHsmError(() => book.peek(c), 'CONSOLE_CONFIRMATION');
  });
});

describe('console formatting', () => {
  it('escapes control characters and masks numbers and keys', () => {
    expect(sanitize('ok\nnot\x1b[31mred\r\x9b\x7f')).toBe('ok\nnot\\x1b[31mred\\x0d\\x9b\\x7f');
    expect(maskPhoneNumber('+8613800000001')).toBe('…0001');
    expect(shorten('02' + 'AB'.repeat(32))).toBe('02ABAB…ABABAB');
    expect(formatDuration(3_723_000)).toBe('01:02:03');
    expect(formatDuration(90_061_000)).toBe('1d 01:01:01');
    expect(fields([['a', 1], ['long label', true], ['c', undefined]])).toEqual(['a           1', 'long label  yes', 'c           -']);
    expect(table(['x', 'yy'], [[1, 'a'], [22, null]])).toEqual(['x   yy', '1   a', '22  -']);
  });
});
