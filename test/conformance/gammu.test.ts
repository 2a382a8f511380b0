/**
 * Gammu, a real AT client, against `hsm modem-sim` over a socat pty.
 *
 * Observed with Gammu 1.42: before it knows the model it writes one byte per millisecond and
 * pauses 400 ms after each command, so every invocation spends about 4 s in its init
 * (ESC, AT, ATE1, AT+MODE=2 → ERROR, AT+CMEE=1, AT+CSCS..., AT+CGMM, AT+CGMI, ...). The number
 * of invocations is kept small for that reason. `getallsms` lists the parts of a concatenated
 * message one by one; `geteachsms` links them.
 */
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { osTool, osTools } from '../helpers/os-tools.ts';
import { tempDir } from '../helpers/temp.ts';

/** Gammu talks to the modem on a socat pty. */
const tools = osTools(osTool('gammu', 'gammu'), osTool('socat', 'socat'));

const HSM = new URL('../../bin/hsm.mjs', import.meta.url).pathname;
const MSISDN = '+4917000000001';

interface Served {
  child: ChildProcessWithoutNullStreams;
  lines: Array<Record<string, unknown>>;
  waitFor(predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  control(command: unknown): Promise<Record<string, unknown>>;
}

const running: ChildProcessWithoutNullStreams[] = [];

afterEach(async () => {
  for (const child of running.splice(0)) {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  }
});

function serveModem(args: string[]): Served {
  const child = spawn(process.execPath, [HSM, 'modem-sim', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  running.push(child);
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<{ predicate: (line: Record<string, unknown>) => boolean; resolve: (line: Record<string, unknown>) => void }> = [];
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  createInterface({ input: child.stdout }).on('line', (text) => {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    lines.push(parsed);
    for (const waiter of [...waiters]) {
      if (waiter.predicate(parsed)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(parsed);
      }
    }
  });
  const waitFor = (predicate: (line: Record<string, unknown>) => boolean, timeoutMs = 20_000): Promise<Record<string, unknown>> => {
    const found = lines.find(predicate);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching line within ${timeoutMs} ms; stdout ${JSON.stringify(lines)}; stderr ${stderr}`)), timeoutMs);
      waiters.push({ predicate, resolve: (line) => (clearTimeout(timer), resolve(line)) });
    });
  };
  const replies = (): Array<Record<string, unknown>> => lines.filter((l) => l.event === 'ok' || l.event === 'error');
  let sent = 0;
  const control = async (command: unknown): Promise<Record<string, unknown>> => {
    const index = sent++;
    child.stdin.write(`${JSON.stringify(command)}\n`);
    await waitFor(() => replies().length > index);
    return replies()[index] as Record<string, unknown>;
  };
  return { child, lines, waitFor, control };
}

function gammu(config: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('gammu', ['-c', config, ...args], { timeout: 45_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

describe.skipIf(!tools.available)('Gammu against hsm modem-sim over a socat pty', () => {
  it('identify, sendsms, getallsms (with a multipart and a UCS-2 message), geteachsms and deletesms', async () => {
    const dir = tempDir();
    const pty = join(dir, 'modem');
    const served = serveModem(['--pty', pty, '--msisdn', MSISDN, '--send-delay', '300', '--seed', 'gammu-conformance']);
    const ready = await served.waitFor((l) => l.event === 'ready');
    const config = join(dir, 'gammurc');
    writeFileSync(config, `[gammu]\ndevice = ${pty}\nconnection = at115200\n`);

    const identify = await gammu(config, ['identify']);
    expect(identify.code, identify.stderr).toBe(0);
    expect(identify.stdout).toMatch(/Manufacturer\s+: ChainCloud/);
    expect(identify.stdout).toMatch(/Model\s+: .*GSM-EMU-1/);
    expect(identify.stdout).toContain(`IMEI                 : ${String(ready.imei)}`);
    expect(identify.stdout).toContain(`SIM IMSI             : ${String(ready.imsi)}`);

    const sent = await gammu(config, ['sendsms', 'TEXT', '+4917099887766', '-text', 'Hello from Gammu']);
    expect(sent.code, sent.stderr).toBe(0);
    expect(sent.stdout + sent.stderr).toMatch(/OK, message reference=0/);
    const delivered = await served.waitFor((l) => l.event === 'delivered' && l.to === '+4917099887766');
    expect(delivered).toMatchObject({ from: MSISDN, text: 'Hello from Gammu', external: true });

    const long = `${'The quick brown fox jumps over the lazy dog. '.repeat(4)}END`;
    expect(await served.control({ inject: { from: '+4917011111111', text: 'single part' } })).toMatchObject({ event: 'ok', result: { indexes: [1] } });
    expect(await served.control({ inject: { from: '+4917022222222', text: long, order: 'reverse', concatReference: 42 } })).toMatchObject({ event: 'ok', result: { indexes: [2, 3] } });
    expect(await served.control({ inject: { from: '+4917033333333', text: 'Grüße aus Köln – ж' } })).toMatchObject({ event: 'ok', result: { indexes: [4] } });
    expect(await served.control({ inject: { from: 'nobody', text: 'x' } })).toMatchObject({ event: 'error', error: { code: 'PDU_BAD_ADDRESS', field: 'from' } });

    const all = await gammu(config, ['getallsms']);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toContain('4 SMS parts in 4 SMS sequences');
    expect(all.stdout).toContain('single part');
    expect(all.stdout).toContain('Grüße aus Köln – ж');
    expect(all.stdout).toMatch(/Coding\s+: Unicode/);
    expect(all.stdout).toContain('Concatenated (linked) message, ID (8 bit) 42, part 1 of 2');
    expect(all.stdout).toContain('Concatenated (linked) message, ID (8 bit) 42, part 2 of 2');

    const linked = await gammu(config, ['geteachsms']);
    expect(linked.code, linked.stderr).toBe(0);
    expect(linked.stdout).toContain(long);
    expect(linked.stdout).toContain('4 SMS parts in 3 SMS sequences');

    const deleted = await gammu(config, ['deletesms', '1', '1', '2']);
    expect(deleted.code, deleted.stderr).toBe(0);
    const left = (await served.control({ messages: true })).result as { messages: Array<{ index: number }> };
    expect(left.messages.map((m) => m.index)).toEqual([3, 4]);
  }, 180_000);

  it('a SIM800C profile (boot messages, SIMCom identity): identify and getallsms', async () => {
    const dir = tempDir();
    const pty = join(dir, 'sim800');
    const served = serveModem(['--pty', pty, '--msisdn', MSISDN, '--profile', 'sim800c', '--carrier', 'B']);
    await served.waitFor((l) => l.event === 'ready');
    const config = join(dir, 'gammurc');
    writeFileSync(config, `[gammu]\ndevice = ${pty}\nconnection = at115200\n`);
    const identify = await gammu(config, ['identify']);
    expect(identify.code, identify.stderr).toBe(0);
    expect(identify.stdout).toMatch(/Manufacturer\s+: SIMCOM_Ltd/);
    expect(identify.stdout).toMatch(/Firmware\s+: Revision:1418B04SIM800C24/);
    expect((await served.control({ inject: { from: '+4917011111111', text: 'after boot' } })).event).toBe('ok');
    const all = await gammu(config, ['getallsms']);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toContain('after boot');
    expect(all.stdout).toContain('1 SMS parts in 1 SMS sequences');
  }, 120_000);
});
