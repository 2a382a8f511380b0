/**
 * `hsm sim` on a machine with Node and nothing else: no socat on PATH. The world comes up, its
 * consoles on sockets that `hsm console` reaches, the first screen tells the channel and its
 * window, a normal start logs no warning, and Ctrl-C stops it cleanly. The options that need
 * ptys are refused before anything starts, naming the package to install.
 */
import { existsSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { socatInstalled } from '../../hw-profiles/sim/uart/pty-pair.ts';
import { hsm } from '../helpers/cli.ts';
import { tempDir } from '../helpers/temp.ts';
import { startSim } from './sim-process.ts';

/** A PATH that holds node and nothing else. */
function nodeOnlyPath(): string {
  const bin = tempDir('hsm-node-only-');
  symlinkSync(process.execPath, join(bin, 'node'));
  return bin;
}

interface LogEntry {
  level: number;
  msg: string;
  [field: string]: unknown;
}

describe('hsm sim on a machine without socat', () => {
  it('comes up with its consoles on sockets; the first screen shows the channel and its window; no warnings; Ctrl-C exits 0', async () => {
    const PATH = nodeOnlyPath();
    expect(socatInstalled(PATH)).toBe(false);
    const dir = tempDir('hsm-fresh-');
    const readyFile = join(dir, 'ready.json');
    // Debug level, so a line that should be a warning cannot hide; JSON, as stderr is no terminal.
    const sim = startSim(['--state-dir', join(dir, 'world'), '--ready-file', readyFile, '--log-level', 'debug'], { env: { PATH } });
    const { ready } = await sim.ready(120_000);
    expect(ready.consoles).toEqual({});
    expect(ready.consoleSockets).toEqual({ hot: join(dir, 'world/consoles/hot.sock'), cold: join(dir, 'world/consoles/cold.sock') });
    expect(ready.channel.window).toMatchObject({ from: '23:00', to: '04:00', timeZone: 'Asia/Shanghai' });

    const time = await fetch(`${ready.api.url}/time`, { headers: { token: ready.api.tokens.hotSending.token } });
    expect(time.status).toBe(200);

    // The console, through the terminal client that needs nothing outside npm.
    const session = await hsm(['console', 'hot', '--ready-file', readyFile], `login\n${ready.consolePassword}\nstatus\n`, { PATH });
    expect(session.code, session.stderr).toBe(0);
    expect(session.stdout).toMatch(/device +hsm-hot\r\nstate +running /);
    expect(session.stdout).not.toContain(ready.consolePassword as string);

    expect(await sim.stop('SIGINT', 60_000)).toBe(0);
    const stderr = sim.stderr();
    expect(stderr).toContain('stopped.');
    const summaryAt = stderr.indexOf('HSM simulation running');
    expect(summaryAt).toBeGreaterThanOrEqual(0);
    const summary = stderr.slice(summaryAt);
    expect(summary).toMatch(/^ {2}channel {6}(open \(c_id \d+\)|opening \(c_id \d+\)|none yet: .*|none open: .*)$/m);
    expect(summary).toMatch(/^ {2}window {7}new channels 23:00-04:00 Asia\/Shanghai: (open now, until 04:00 \(Asia\/Shanghai\)|opens at 23:00 Asia\/Shanghai \(in (\d+ h )?\d+ min of world time\))$/m);
    expect(summary).toContain(`  console      hot: npx hsm console hot --socket ${ready.consoleSockets.hot}`);

    // Every log line is JSON (stderr is not a terminal); none is a warning or worse.
    const entries = stderr
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as LogEntry);
    expect(entries.length).toBeGreaterThan(10);
    expect(entries.filter((e) => e.level >= 40).map((e) => `${e.msg} ${JSON.stringify(e)}`)).toEqual([]);
  }, 300_000);

  it('refuses --processes, --v-device external: and --admin-modem before anything starts, naming the package', async () => {
    const PATH = nodeOnlyPath();
    const dir = tempDir('hsm-fresh-');
    const cases: Array<[string[], string]> = [
      [['--processes'], 'processes'],
      [['--v-device', `external:${join(dir, 'phone')}`], 'v-device'],
      [['--admin-modem', join(dir, 'admin')], 'admin-modem'],
    ];
    for (const [args, field] of cases) {
      const stateDir = join(dir, field);
      const run = await hsm(['sim', '--state-dir', stateDir, ...args], undefined, { PATH });
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr).toMatch(/needs socat for its ptys, and socat is not installed: sudo apt-get install socat \[NEEDS_SOCAT\]/);
      expect(run.stdout).not.toContain('READY');
      expect(existsSync(stateDir), stateDir).toBe(false);
    }
  });
});
