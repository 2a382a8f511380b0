import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { parseControl } from '../../hw-profiles/sim/gsm/modem-control.ts';
import { hsm } from '../helpers/cli.ts';
import { expectHsmError } from '../helpers/errors.ts';
import { osTool } from '../helpers/os-tools.ts';
import { tempDir } from '../helpers/temp.ts';

const HSM = new URL('../../bin/hsm.mjs', import.meta.url).pathname;
/** The modem is served on a socat pty. */
const socat = osTool('socat', 'socat');

describe('hsm modem-sim', () => {
  it('refuses bad options with a typed error and exit code 2', async () => {
    const dir = tempDir();
    const cases: Array<[string[], string]> = [
      [['--pty', join(dir, 'm'), '--msisdn', '0049 170'], 'msisdn'],
      [['--pty', join(dir, 'm'), '--msisdn', '+4917', '--profile', 'nokia'], 'profile'],
      [['--pty', join(dir, 'm'), '--msisdn', '+4917', '--carrier', 'C'], 'carrier'],
      [['--pty', join(dir, 'm'), '--msisdn', '+4917', '--send-delay', 'fast'], 'send-delay'],
      [['--pty', join(dir, 'missing', 'm'), '--msisdn', '+4917'], 'pty'],
      [['--pty', join(dir, 'm'), '--msisdn', '+4917', '--peer', '+4917=/tmp/x'], 'peer'],
    ];
    writeFileSync(join(dir, 'taken'), '');
    cases.push([['--pty', join(dir, 'taken'), '--msisdn', '+4917'], 'pty']);
    for (const [args, field] of cases) {
      const result = await hsm(['modem-sim', ...args]);
      expect(result.code, args.join(' ')).toBe(2);
      expect(JSON.parse(result.stdout).error.field).toBe(field);
    }
    expect(existsSync(join(dir, 'm'))).toBe(false);
  });

  it.skipIf(!socat.available)('announces itself, answers control lines, and removes its pty on SIGTERM', async () => {
    const dir = tempDir();
    const pty = join(dir, 'modem');
    const child = spawn(process.execPath, [HSM, 'modem-sim', '--pty', pty, '--msisdn', '+4917000000001', '--profile', 'ec25'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines: Array<Record<string, unknown>> = [];
    const next = (): Promise<Record<string, unknown>> =>
      new Promise((resolve) => {
        const reader = createInterface({ input: child.stdout });
        reader.once('line', (text) => {
          reader.close();
          const parsed = JSON.parse(text) as Record<string, unknown>;
          lines.push(parsed);
          resolve(parsed);
        });
      });
    expect(await next()).toMatchObject({ event: 'ready', pty, msisdn: '+4917000000001', profile: 'ec25', imsi: expect.stringMatching(/^26201\d{10}$/) });
    expect(existsSync(pty)).toBe(true);
    child.stdin.write('{"signal":{"rssi":40}}\n');
    expect(await next()).toMatchObject({ event: 'error', error: { code: 'MODEM_BAD_ARGUMENT', field: 'rssi' } });
    child.stdin.write('not json\n');
    expect(await next()).toMatchObject({ event: 'error', error: { code: 'MODEM_BAD_CONTROL', field: 'line' } });
    child.stdin.write('{"registration":2}\n');
    expect(await next()).toEqual({ event: 'ok', command: 'registration' });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const stopped = next();
    child.kill('SIGTERM');
    expect(await stopped).toEqual({ event: 'stopped' });
    expect(await exited).toBe(0);
    expect(existsSync(pty)).toBe(false);
  }, 30_000);
});

describe('modem control lines', () => {
  it('are checked against a strict schema', () => {
    expect(parseControl('{"inject":{"from":"+4917","text":"hi","order":[2,1]}}')).toEqual({ inject: { from: '+4917', text: 'hi', order: [2, 1] } });
    expectHsmError(() => parseControl('{"inject":{"from":"+4917"}}'), 'MODEM_BAD_CONTROL', 'inject.text');
    expectHsmError(() => parseControl('{"inject":{"from":"+4917","text":"x","extra":1}}'), 'MODEM_BAD_CONTROL', 'inject');
    expectHsmError(() => parseControl('{"sendDelay":[1,2,3]}'), 'MODEM_BAD_CONTROL', 'sendDelay');
    expectHsmError(() => parseControl('{"unplug":true,"replug":true}'), 'MODEM_BAD_CONTROL', 'line');
    expectHsmError(() => parseControl('{"reboot":true}'), 'MODEM_BAD_CONTROL', 'line');
    expectHsmError(() => parseControl('{"hang":"forever"}'), 'MODEM_BAD_CONTROL', 'hang');
    expectHsmError(() => parseControl('[1]'), 'MODEM_BAD_CONTROL');
    expectHsmError(() => parseControl('x'.repeat(9_000)), 'MODEM_BAD_CONTROL', 'line');
  });
});
