/**
 * Gammu against `hsm modem-sim` as a user starts it: a SIM800C modem and a peer phone on the
 * other carrier, each on its own pty, both driven with Gammu. (The per-profile client matrix
 * serves its modems in-process: clients.test.ts, clients.soak.test.ts.)
 *
 * Observed with Gammu 1.42: before it knows the model it writes one byte per millisecond and
 * pauses 400 ms after each command, so every invocation spends about 4 s in its init; the
 * number of invocations is kept small for that reason.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { osTool, osTools } from '../helpers/os-tools.ts';
import { startModemSim } from '../helpers/modem-sim-process.ts';
import { tempDir } from '../helpers/temp.ts';
import { parseGammuMessages } from './clients.ts';

const tools = osTools(osTool('socat', 'socat'), osTool('gammu', 'gammu'));
const MAIN = '+15550000001';
const PEER = '+15550000002';

function gammu(config: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('gammu', ['-c', config, ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

function gammurc(dir: string, name: string, device: string): string {
  const path = join(dir, `${name}.gammurc`);
  writeFileSync(path, `[gammu]\ndevice = ${device}\nconnection = at115200\n`);
  return path;
}

describe.skipIf(!tools.available)('Gammu against hsm modem-sim', () => {
  it('a SIM800C and its peer: identify, sendsms from one, getallsms on the other, a control line for the peer', async () => {
    const dir = tempDir();
    const sim = startModemSim(['--pty', join(dir, 'sim800'), '--msisdn', MAIN, '--profile', 'sim800c', '--peer', `${PEER}=${join(dir, 'peer')}`, '--peer-profile', 'default', '--send-delay', '300', '--seed', 'gammu-cli', '--state-dir', join(dir, 'sims')]);
    const ready = await sim.waitFor((l) => l.event === 'ready');
    const main = gammurc(dir, 'main', join(dir, 'sim800'));
    const peer = gammurc(dir, 'peer', join(dir, 'peer'));

    const identify = await gammu(main, ['identify']);
    expect(identify.code, identify.stderr).toBe(0);
    expect(identify.stdout).toMatch(/Manufacturer\s+: SIMCOM_Ltd/);
    expect(identify.stdout).toContain(`IMEI                 : ${String(ready.imei)}`);
    expect(identify.stdout).toContain(`SIM IMSI             : ${String(ready.imsi)}`);

    const text = 'From the SIM800C: _@$ ok';
    const sent = await gammu(main, ['sendsms', 'TEXT', PEER, '-text', text]);
    expect(sent.code, sent.stderr).toBe(0);
    await sim.waitFor((l) => l.event === 'delivered' && l.to === PEER && l.text === text);
    expect(await sim.control({ modem: PEER, inject: { from: '+15550000009', text: 'Grüße aus Köln – ж' } })).toMatchObject({ event: 'ok', modem: PEER, result: { indexes: [2] } });

    const all = await gammu(peer, ['getallsms']);
    expect(all.code, all.stderr).toBe(0);
    expect(parseGammuMessages(all.stdout).map((m) => [m.fields['Remote number'], m.text])).toEqual([
      [`"${MAIN}"`, text],
      ['"+15550000009"', 'Grüße aus Köln – ж'],
    ]);
  }, 180_000);
});
