import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeSubmit } from '../../shared/gsm/pdu.ts';
import { openSerialPort } from '../../shared/port.ts';
import { parseControl, parseControlLine } from '../../hw-profiles/sim/gsm/modem-control.ts';
import { hsm } from '../helpers/cli.ts';
import { expectHsmError } from '../helpers/errors.ts';
import { startModemSim } from '../helpers/modem-sim-process.ts';
import { osTool } from '../helpers/os-tools.ts';
import { tempDir } from '../helpers/temp.ts';

const socat = osTool('socat', 'socat');

/** Sends one SMS through the modem at `path` in PDU mode and returns the `+CMGS` message reference. */
async function sendOne(path: string): Promise<number> {
  const port = await openSerialPort({ path, baudRate: 115_200 });
  let text = '';
  port.onData((chunk) => (text += Buffer.from(chunk).toString('latin1')));
  const pdu = encodeSubmit({ to: '+15550000009', text: 'mr' })[0] as { hex: string; tpduLength: number };
  port.write(Buffer.from(`ATE0\rAT+CMGS=${pdu.tpduLength}\r${pdu.hex}\x1a`, 'latin1'));
  const deadline = Date.now() + 15_000;
  while (!/\+CMGS: \d+\r\n\r\nOK\r\n/.test(text)) {
    if (Date.now() > deadline) throw new Error(`no +CMGS; got ${JSON.stringify(text)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await port.close();
  return Number(/\+CMGS: (\d+)/.exec(text)?.[1]);
}

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
      [['--pty', join(dir, 'm'), '--msisdn', '+4917', '--peer-profile', 'nokia'], 'peer-profile'],
    ];
    writeFileSync(join(dir, 'taken'), '');
    cases.push([['--pty', join(dir, 'taken'), '--msisdn', '+4917'], 'pty']);
    // Side by side: each is a process of its own, and each refuses before serving anything.
    const results = await Promise.all(cases.map(([args]) => hsm(['modem-sim', ...args])));
    results.forEach((result, i) => {
      const [args, field] = cases[i] as [string[], string];
      expect(result.code, args.join(' ')).toBe(2);
      expect(JSON.parse(result.stdout).error.field, args.join(' ')).toBe(field);
    });
    expect(existsSync(join(dir, 'm'))).toBe(false);
  }, 120_000);

  it.skipIf(!socat.available)('announces itself, answers control lines, and removes its pty on SIGTERM (needs socat)', async () => {
    const dir = tempDir();
    const pty = join(dir, 'modem');
    const sim = startModemSim(['--pty', pty, '--msisdn', '+4917000000001', '--profile', 'ec25', '--state-dir', join(dir, 'sims')]);
    expect(await sim.waitFor((l) => l.event === 'ready')).toMatchObject({ event: 'ready', pty, msisdn: '+4917000000001', profile: 'ec25', imsi: expect.stringMatching(/^00101\d{10}$/) });
    expect(existsSync(pty)).toBe(true);
    expect(await sim.control({ signal: { rssi: 40 } })).toMatchObject({ event: 'error', error: { code: 'MODEM_BAD_ARGUMENT', field: 'rssi' } });
    expect(await sim.control('not json')).toMatchObject({ event: 'error', error: { code: 'MODEM_BAD_CONTROL', field: 'line' } });
    expect(await sim.control({ registration: 2 })).toEqual({ event: 'ok', command: 'registration' });
    expect(await sim.stop()).toBe(0);
    expect(await sim.waitFor((l) => l.event === 'stopped')).toEqual({ event: 'stopped' });
    expect(existsSync(pty)).toBe(false);
  }, 90_000);
});

describe.skipIf(!socat.available)('hsm modem-sim with peers and SIM files', () => {
  it('peers run --profile and take control lines by number; the message reference goes on across restarts in --state-dir', async () => {
    const dir = tempDir();
    const args = ['--pty', join(dir, 'modem'), '--msisdn', '+4917000000001', '--profile', 'ec25', '--peer', `+4917000000002=${join(dir, 'peer')}`, '--send-delay', '100', '--state-dir', join(dir, 'sims')];
    const first = startModemSim(args);
    const ready = await first.waitFor((l) => l.event === 'ready');
    expect(ready).toMatchObject({ profile: 'ec25', peers: [{ msisdn: '+4917000000002', profile: 'ec25', imei: expect.stringMatching(/^86280704\d{7}$/) }] });
    expect(await first.control({ modem: '+4917000000002', inject: { from: '+15550000001', text: 'to the peer' } })).toMatchObject({ event: 'ok', modem: '+4917000000002', result: { indexes: [0] } });
    expect(await first.control({ messages: true })).toMatchObject({ event: 'ok', result: { messages: [] } });
    expect(await first.control({ modem: '+4917000000002', messages: true })).toMatchObject({ result: { messages: [{ index: 0 }] } });
    expect(await first.control({ modem: '+4917000000009', messages: true })).toMatchObject({ event: 'error', error: { code: 'MODEM_BAD_CONTROL', field: 'modem' } });
    expect([await sendOne(join(dir, 'modem')), await sendOne(join(dir, 'modem'))]).toEqual([0, 1]);
    expect(await first.stop()).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'sims', `sim-${String(ready.imsi)}.json`), 'utf8'))).toEqual({ lastMessageReference: 1 });
    const second = startModemSim(args);
    await second.waitFor((l) => l.event === 'ready');
    expect(await sendOne(join(dir, 'modem'))).toBe(2);
    await second.stop();
    writeFileSync(join(dir, 'sims', `sim-${String(ready.imsi)}.json`), '{"lastMessageReference":300}');
    const broken = await hsm(['modem-sim', ...args]);
    expect(broken.code).toBe(2);
    expect(JSON.parse(broken.stdout).error).toMatchObject({ code: 'SIM_FILE', field: 'lastMessageReference' });
  }, 120_000);
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
    expect(parseControlLine('{"modem":"+4917","fillStorage":true}')).toEqual({ modem: '+4917', command: { fillStorage: true } });
    expectHsmError(() => parseControlLine('{"modem":"two","fillStorage":true}'), 'MODEM_BAD_CONTROL', 'modem');
    expectHsmError(() => parseControlLine('{"modem":"+4917"}'), 'MODEM_BAD_CONTROL', 'line');
  });
});
