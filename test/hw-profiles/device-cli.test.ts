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
import { tempDir } from '../helpers/temp.ts';

const HSM = new URL('../../bin/hsm.mjs', import.meta.url).pathname;
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

describe('hsm cold --profile sim', () => {
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
    expect(notes(log).slice(0, 2)).toEqual(['READY=1', 'STATUS=HSM-Cold booting']);
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
