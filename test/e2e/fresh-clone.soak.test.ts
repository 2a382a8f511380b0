/**
 * What the README promises a newcomer, tried as one: a clean clone of the committed tree, on a
 * machine with Node, npm and the base system only (no socat, no gammu, none of the programs
 * the conformance tests drive), and no CI variable. `npm ci && npm start` reaches READY, the
 * Open API answers, a console answers `status` through the endpoint READY lists, Ctrl-C exits
 * 0 and leaves nothing running; `npm ci && npm test` passes, with every test that needs a
 * missing program skipped and the program named.
 *
 * The base system is what Debian marks Essential (coreutils, bash, dash, grep, sed, tar,
 * util-linux...), read from dpkg where there is one.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, symlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import type { ReadyInfo } from '../../hw-profiles/sim/rig.ts';
import { runCommand } from '../helpers/cli.ts';
import { eventually } from '../helpers/eventually.ts';
import { findOnPath, osTool } from '../helpers/os-tools.ts';
import { descendants, running } from '../helpers/processes.ts';
import { tempDir } from '../helpers/temp.ts';

const ROOT = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
const git = osTool('git', 'git');
/** Programs some test needs and a fresh machine lacks. */
const OS_TOOLS = ['socat', 'gammu', 'gammu-smsd', 'smsd', 'picocom', 'tio', 'tmux', 'expect', 'shellcheck', 'systemd-analyze', 'udevadm', 'chromium'];
/** Without dpkg: the base tools a POSIX system has. */
const BASE_TOOLS = ['sh', 'bash', 'env', 'cat', 'cp', 'mv', 'rm', 'ln', 'ls', 'mkdir', 'chmod', 'install', 'id', 'sleep', 'grep', 'sed', 'tar', 'gzip', 'dirname', 'basename', 'uname', 'tr', 'cut', 'head', 'tail', 'sort', 'printf', 'test', 'true', 'false', 'script'];

/** A bin directory with node, npm, npx and the base system's programs; the PATH of the sandbox. */
function sandboxBin(): string {
  const bin = tempDir('hsm-fresh-bin-');
  const link = (path: string): void => {
    const name = basename(path);
    if (!existsSync(join(bin, name))) symlinkSync(path, join(bin, name));
  };
  link(process.execPath);
  for (const tool of ['npm', 'npx']) link(findOnPath(tool) as string);
  const essential = spawnSync('dpkg-query', ['-W', '-f', '${Package} ${Essential}\\n'], { encoding: 'utf8' });
  if (essential.status === 0) {
    const packages = essential.stdout.split('\n').filter((l) => l.endsWith(' yes')).map((l) => l.split(' ')[0] as string);
    const files = spawnSync('dpkg', ['-L', ...packages], { encoding: 'utf8' }).stdout.split('\n');
    for (const file of files) if (/^\/(usr\/)?s?bin\/[^/]+$/.test(file) && existsSync(file)) link(file);
  } else {
    for (const tool of BASE_TOOLS) {
      const path = findOnPath(tool);
      if (path !== undefined) link(path);
    }
  }
  return bin;
}

/** The environment of a newcomer's shell: no CI, no test runner's variables. */
function newcomerEnv(bin: string): NodeJS.ProcessEnv {
  return { PATH: bin, HOME: process.env.HOME, LANG: 'C.UTF-8', ...(process.env.npm_config_cache === undefined ? {} : { npm_config_cache: process.env.npm_config_cache }) };
}

describe.skipIf(!git.available)('a newcomer on a machine with only Node and npm', () => {
  it('npm ci && npm start: READY, the API and a console answer, Ctrl-C exits 0; npm ci && npm test passes with the tool tests skipped and named', async () => {
    const bin = sandboxBin();
    for (const tool of OS_TOOLS) expect(existsSync(join(bin, tool)), `${tool} in the sandbox`).toBe(false);
    const env = newcomerEnv(bin);
    const clone = join(tempDir('hsm-fresh-clone-'), 'hsm');
    const cloned = spawnSync(git.path as string, ['clone', '--quiet', '--no-hardlinks', ROOT, clone], { encoding: 'utf8' });
    expect(cloned.status, cloned.stderr).toBe(0);

    const ci = await runCommand('npm', ['ci', '--no-audit', '--no-fund'], { cwd: clone, env });
    expect(ci.code, ci.stderr).toBe(0);

    // npm start, in a process group of its own as a terminal would run it; Ctrl-C goes to the group.
    const start = spawn('npm', ['start'], { cwd: clone, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    start.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => start.once('exit', (code) => resolve(code)));
    const ready = await new Promise<ReadyInfo>((resolve, reject) => {
      createInterface({ input: start.stdout }).on('line', (line) => {
        if (line.startsWith('READY ')) resolve(JSON.parse(line.slice('READY '.length)) as ReadyInfo);
      });
      void exited.then((code) => reject(new Error(`npm start exited (${code}) before READY:\n${stderr}`)));
    });
    try {
      expect(ready.consoles).toEqual({});
      const time = await fetch(`${ready.api.url}/time`, { headers: { token: ready.api.tokens.hotSending.token } });
      expect(time.status).toBe(200);
      const console_ = await runCommand('npx', ['hsm', 'console', 'hot', '--socket', ready.consoleSockets.hot as string], { cwd: clone, env, stdin: `login\n${ready.consolePassword}\nstatus\n` });
      expect(console_.code, console_.stderr).toBe(0);
      expect(console_.stdout).toMatch(/device +hsm-hot\r\nstate +running /);
    } finally {
      const started = descendants(start.pid as number);
      process.kill(-(start.pid as number), 'SIGINT');
      expect(await exited).toBe(0);
      await eventually(() => started.every((p) => !running(p.pid, p.start)), 'everything npm start started to end', 60_000);
    }
    expect(stderr).toContain('stopped.');
    expect(existsSync(ready.stateDir)).toBe(false);

    const results = join(tempDir('hsm-fresh-results-'), 'results.json');
    const test = await runCommand('npm', ['test', '--', '--reporter=default', '--reporter=json', `--outputFile=${results}`], { cwd: clone, env });
    const report = JSON.parse(readFileSync(results, 'utf8')) as { numFailedTests: number; numPassedTests: number; numPendingTests: number; testResults: Array<{ status: string; message?: string }> };
    console.info(`npm test in the clean clone: ${report.numPassedTests} passed, ${report.numFailedTests} failed, ${report.numPendingTests} skipped`);
    expect(test.code, `${test.stdout.slice(-4000)}\n${test.stderr.slice(-4000)}`).toBe(0);
    expect(report.numFailedTests).toBe(0);
    expect(report.testResults.filter((f) => f.status === 'failed').map((f) => f.message)).toEqual([]);
    expect(report.numPendingTests).toBeGreaterThan(0);
    for (const [tool, apt] of [['socat', 'socat'], ['gammu', 'gammu'], ['tmux', 'tmux'], ['shellcheck', 'shellcheck'], ['systemd-analyze', 'systemd']]) {
      expect(test.stdout + test.stderr, tool).toContain(`skipped: needs ${tool}: apt-get install ${apt}`);
    }
  }, 7_200_000);
});
