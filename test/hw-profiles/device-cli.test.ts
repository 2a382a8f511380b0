/**
 * `hsm hot|cold --profile`: the device as a service would run it. Under systemd the notify
 * socket and the watchdog come from the environment and each notification goes through the
 * systemd-notify binary; here a stand-in binary on PATH records what it was asked to send.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../shared/log.ts';
import { systemdNotifier } from '../../scripts/cli/systemd.ts';
import { hsm } from '../helpers/cli.ts';
import { eventually } from '../helpers/eventually.ts';
import { osTool } from '../helpers/os-tools.ts';
import { SerialTerminal } from '../helpers/serial-terminal.ts';
import { tempDir } from '../helpers/temp.ts';

const HSM = new URL('../../bin/hsm.mjs', import.meta.url).pathname;
/** `--profile sim` serves its simulated hardware on socat ptys. */
const socat = osTool('socat', 'socat');
const children: ChildProcessWithoutNullStreams[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
  }
});

/** A directory with a `systemd-notify` that appends its argument to `log`. */
function fakeSystemdNotify(): { bin: string; log: string } {
  const bin = tempDir('hsm-fake-systemd-');
  const log = join(bin, 'notify.log');
  writeFileSync(join(bin, 'systemd-notify'), `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\n`);
  chmodSync(join(bin, 'systemd-notify'), 0o755);
  return { bin, log };
}

function notes(log: string): string[] {
  return existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
}

describe.skipIf(!socat.available)('hsm cold --profile sim', () => {
  it('runs under a service manager: READY, STATUS, WATCHDOG while healthy, and a clean stop on SIGTERM', async () => {
    const { bin, log } = fakeSystemdNotify();
    const child = spawn(process.execPath, [HSM, 'cold', '--profile', 'sim', '--seed', 'device-cli'], {
      env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`, NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '400000', HSM_LOG_LEVEL: 'info' },
    });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await eventually(() => notes(log).filter((n) => n === 'WATCHDOG=1').length >= 3, `watchdog notifications (stderr: ${stderr})`);
    // READY goes out once the console is attached too; by then the machine may have left booting.
    expect(notes(log)[0]).toBe('READY=1');
    expect(notes(log)[1]).toMatch(/^STATUS=HSM-Cold (booting|provisioning)$/);
    await eventually(() => notes(log).includes('STATUS=HSM-Cold provisioning'), 'the state as STATUS');
    const lines = stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg: string; paths?: Record<string, string>; state?: string });
    expect(lines.find((l) => l.msg === 'simulated hardware ready')?.paths).toHaveProperty('console-cold-terminal');
    expect(lines.find((l) => l.msg === 'device started')).toBeDefined();

    const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(notes(log).at(-1)).toBe('STOPPING=1');
    expect(stdout).toContain('"msg":"stopped"');
  }, 60_000);

  it('sends nothing without NOTIFY_SOCKET, and refuses a profile without the device', async () => {
    const { bin, log } = fakeSystemdNotify();
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` };
    delete env.NOTIFY_SOCKET;
    const child = spawn(process.execPath, [HSM, 'hot', '--profile', 'sim', '--seed', 'device-cli-2'], { env });
    children.push(child);
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    await eventually(() => stdout.includes('"msg":"device started"'), 'HSM-Hot starts');
    const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    expect(await exit).toBe(0);
    expect(notes(log)).toEqual([]);

    const wrong = await hsm(['hot', '--profile', 'rpi4-cold-sim800c']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/profile rpi4-cold-sim800c describes no HSM-Hot \(it has cold\) \[PROFILE_ROLE\]/);
  }, 60_000);
});

describe.skipIf(!socat.available)('hsm hot|cold --profile sim: the operator console', () => {
  /** Starts the device; returns the terminal end of its console and the child's output so far. */
  async function start(role: 'hot' | 'cold', seed: string): Promise<{ terminal: string; output: () => string }> {
    const child = spawn(process.execPath, [HSM, role, '--profile', 'sim', '--seed', seed], { env: { ...process.env, HSM_LOG_LEVEL: 'info' } });
    children.push(child);
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    await eventually(() => stdout.includes('"msg":"device started"'), `HSM-${role} starts`);
    const ready = stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg: string; paths?: Record<string, string> }).find((l) => l.msg === 'simulated hardware ready');
    const terminal = ready?.paths?.[`console-${role}-terminal`];
    if (terminal === undefined) throw new Error(`no console-${role}-terminal in ${stdout}`);
    return { terminal, output: () => stdout };
  }

  it('HSM-Hot serves its own console on the profile console port: setup, login, status', async () => {
    const { terminal, output } = await start('hot', 'device-cli-console-hot');
    const term = await SerialTerminal.open(terminal);
    try {
      term.line('');
      await term.waitFor('hsm-hot(uninitialised)> ');
      term.line('setup');
      await term.waitFor('new operator password: ');
      term.line('a console password');
      await term.waitFor('new operator password again: ');
      term.line('a console password');
      await term.waitFor('operator password set; log in with: login');
      term.line('login');
      await term.waitFor('password: ');
      term.line('a console password');
      await term.waitFor('logged in');
      term.line('status');
      const status = await term.waitFor(/node +\d+\.\d+\.\d+\nhsm-hot\(uninitialised\)\$ /);
      expect(status).toMatch(/device +hsm-hot\nstate +uninitialised\n/);
      expect(status).toMatch(/host API +not listening\n/);
      term.line('link');
      expect(await term.waitFor('hsm-hot(uninitialised)$ ')).toContain('not paired with HSM-Cold (pair)');
      expect(term.screen()).not.toContain('a console password');
      expect(output()).not.toContain('a console password');
    } finally {
      await term.close();
    }
  }, 60_000);

  it("HSM-Cold serves its own console, whose prompt shows HSM-Cold's state", async () => {
    const { terminal } = await start('cold', 'device-cli-console-cold');
    const term = await SerialTerminal.open(terminal);
    try {
      term.line('');
      await term.waitFor('hsm-cold(provisioning)> ');
      term.line('help');
      expect(await term.waitFor('log in to see every command')).toMatch(/setup +set the first operator password/);
    } finally {
      await term.close();
    }
  }, 60_000);
});

describe('systemdNotifier', () => {
  it('reads the watchdog interval for this process only, and keeps the order of what it sends', async () => {
    expect(systemdNotifier(silentLogger, {})).toBeUndefined();
    expect(systemdNotifier(silentLogger, { NOTIFY_SOCKET: '/run/n' })?.watchdogIntervalMs).toBeUndefined();
    expect(systemdNotifier(silentLogger, { NOTIFY_SOCKET: '/run/n', WATCHDOG_USEC: '30000000' })?.watchdogIntervalMs).toBe(15_000);
    expect(systemdNotifier(silentLogger, { NOTIFY_SOCKET: '/run/n', WATCHDOG_USEC: '30000000', WATCHDOG_PID: String(process.pid + 1) })?.watchdogIntervalMs).toBeUndefined();

    const { bin, log } = fakeSystemdNotify();
    const notifier = systemdNotifier(silentLogger, { NOTIFY_SOCKET: '/run/n', PATH: `${bin}:${process.env.PATH ?? ''}` });
    for (const state of ['READY=1', 'STATUS=a', 'WATCHDOG=1', 'STATUS=b', 'WATCHDOG=1', 'STATUS=c', 'STOPPING=1']) notifier?.notify(state);
    await notifier?.flush();
    // READY went out at once; of what waited meanwhile, only the latest STATUS and WATCHDOG are kept.
    expect(notes(log)).toEqual(['READY=1', 'WATCHDOG=1', 'STATUS=c', 'STOPPING=1']);
  });
});
