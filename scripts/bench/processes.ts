/**
 * `hsm` as a process, measured from outside: the compiled CLI (dist/, what a device runs) started
 * with node, natively or under ARM emulation (scripts/pi/emulate.sh), its CPU seconds, resident
 * memory and wall time.
 *
 * Linux gives the figures: for a running process /proc/<pid>/stat (utime + stime, in USER_HZ
 * ticks of 1/100 s) and /proc/<pid>/status (VmRSS now, VmHWM its peak); for one that exits by
 * itself, its own getrusage(2), written at exit by a preloaded file (exit-usage.cjs). Under
 * qemu-user the process is the emulator running the ARM program, and the figures are its own.
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { PACKAGE_ROOT, packagePath } from '../../shared/package.ts';

/** How to start the compiled `hsm`: which node, from which install. */
export interface Runner {
  /** `x64`, or `arm64 (emulated)`. */
  label: string;
  emulated: boolean;
  /** The node binary, or the emulation's node wrapper. */
  node: string;
  nodeVersion: string;
  /** The install: bin/hsm.mjs, dist/, node_modules/. */
  root: string;
  env: NodeJS.ProcessEnv;
}

/** The environment a compiled `hsm` gets: never the sources (HSM_RUN_SOURCES, a test's setting). */
function compiledEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const { HSM_RUN_SOURCES: _sources, ...env } = process.env;
  return { ...env, NO_COLOR: '1', ...extra };
}

/** This machine's node, running this checkout's dist/. */
export function nativeRunner(): Runner {
  return { label: process.arch, emulated: false, node: process.execPath, nodeVersion: process.version, root: PACKAGE_ROOT, env: compiledEnv() };
}

export type EmulatedArch = 'arm64' | 'armv7';

/**
 * Node's ARM build under qemu-user with this checkout's dist/ installed by it
 * (`scripts/pi/emulate.sh <arch> setup`: fetched and installed once, then cached). Rejects with
 * the script's reason when the machine cannot emulate (qemu or the ARM C library missing).
 */
export async function emulatedRunner(arch: EmulatedArch): Promise<Runner> {
  const setup = spawn('bash', [packagePath('scripts', 'pi', 'emulate.sh'), arch, 'setup'], { stdio: ['ignore', 'pipe', 'pipe'], env: compiledEnv() });
  let stdout = '';
  let stderr = '';
  setup.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  setup.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => setup.once('close', resolve));
  if (code !== 0) throw new Error(`scripts/pi/emulate.sh ${arch} setup failed: ${stderr.trim().split('\n').slice(-3).join(' / ')}`);
  const where = Object.fromEntries(
    stdout
      .split('\n')
      .filter((line) => line.includes('='))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  ) as Record<string, string | undefined>;
  const node = where.HSM_EMULATED_NODE;
  const root = where.HSM_EMULATED_APP;
  if (node === undefined || root === undefined) throw new Error(`scripts/pi/emulate.sh ${arch} setup did not say where the emulated node is`);
  return {
    label: `${arch} (emulated)`,
    emulated: true,
    node,
    nodeVersion: where.HSM_EMULATED_NODE_VERSION ?? 'unknown',
    root,
    // The wrapper first in PATH: a `node` the code starts by name is the emulated one too.
    env: compiledEnv({ PATH: `${dirname(node)}${delimiter}${process.env.PATH ?? ''}` }),
  };
}

export interface ProcessUsage {
  /** User + system CPU seconds so far. */
  cpuS: number;
  rssMiB: number;
  /** Peak resident memory so far (VmHWM). */
  peakMiB: number;
}

/** USER_HZ: /proc counts CPU time in ticks of 1/100 s on Linux. */
const TICKS_PER_S = 100;

/** CPU time and memory of a running process, from /proc. */
export function processUsage(pid: number): ProcessUsage {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after "(comm)": state is field 3, utime field 14, stime field 15 (proc(5)).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { cpuS: ticks / TICKS_PER_S, rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024 };
}

/** Processes whose parent is `pid` and whose command line contains `marker`. */
export function childPids(pid: number, marker: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent === pid && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker)) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found.sort((a, b) => a - b);
}

/** A started `hsm` (or another script of the install): its output lines, its usage, and a clean stop. */
export class HsmProcess {
  readonly child: ChildProcess;
  readonly startedAt = performance.now();
  private readonly lines: string[] = [];
  private readonly wake = new Set<() => void>();
  private exitCode: number | null | undefined;
  readonly exited: Promise<number | null>;

  /**
   * Runs `script` (default bin/hsm.mjs of the runner's install) with `args`; `nodeFlags` go to
   * node before it (a device's DEVICE_NODE_FLAGS, as its unit starts it).
   */
  constructor(runner: Runner, args: string[], options: { env?: NodeJS.ProcessEnv; nodeFlags?: readonly string[]; script?: string } = {}) {
    const argv = [...(options.nodeFlags ?? []), options.script ?? join(runner.root, 'bin', 'hsm.mjs'), ...args];
    this.child = spawn(runner.node, argv, { cwd: runner.root, env: { ...runner.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of [this.child.stdout, this.child.stderr]) {
      if (stream === null) continue;
      createInterface({ input: stream }).on('line', (line) => {
        this.lines.push(line);
        for (const wake of [...this.wake]) wake();
      });
    }
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code) => {
        this.exitCode = code;
        for (const wake of [...this.wake]) wake();
        resolve(code);
      }),
    );
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error('hsm did not start');
    return this.child.pid;
  }

  /** Everything it printed so far (stdout and stderr, by line). */
  output(): string {
    return this.lines.join('\n');
  }

  /** Seconds since it was started. */
  elapsedS(): number {
    return (performance.now() - this.startedAt) / 1000;
  }

  /** The first line `predicate` accepts; rejects when the process exits first or after `limitMs`. */
  line(predicate: (line: string) => boolean, what: string, limitMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = this.lines.find(predicate);
        if (found !== undefined) return done(() => resolve(found));
        if (this.exitCode !== undefined) return done(() => reject(new Error(`hsm exited (${this.exitCode}) before ${what}:\n${this.tail()}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`no ${what} within ${limitMs} ms:\n${this.tail()}`))), limitMs);
      const done = (then: () => void): void => {
        clearTimeout(timer);
        this.wake.delete(check);
        then();
      };
      this.wake.add(check);
      check();
    });
  }

  /** Stops it with `signal`; SIGKILL after `limitMs`. Resolves with the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', limitMs = 60_000): Promise<number | null> {
    if (this.exitCode !== undefined) return this.exitCode;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), limitMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  private tail(): string {
    return this.lines.slice(-20).join('\n');
  }
}

/** CPU seconds and peak memory of a process that exited, as it reported them (getrusage(2)). */
export interface ExitUsage {
  pid: number;
  cpuS: number;
  peakMiB: number;
}

/**
 * Runs `hsm <args>` to its end with exit-usage.cjs preloaded in it and every node it starts.
 * Resolves with its exit code, wall seconds and each process's usage (the first is hsm's own).
 */
export async function runToExit(runner: Runner, args: string[], limitMs: number): Promise<{ code: number | null; wallS: number; usage: ExitUsage[]; output: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'hsm-bench-usage-'));
  const file = join(dir, 'usage.jsonl');
  try {
    const preload = packagePath('scripts', 'bench', 'exit-usage.cjs');
    const hsm = new HsmProcess(runner, args, { env: { HSM_BENCH_USAGE_FILE: file, NODE_OPTIONS: `--require=${preload} ${runner.env.NODE_OPTIONS ?? ''}`.trim() } });
    const timer = setTimeout(() => hsm.child.kill('SIGKILL'), limitMs);
    const code = await hsm.exited;
    clearTimeout(timer);
    const wallS = hsm.elapsedS();
    const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
    const usage = lines.map((l) => JSON.parse(l) as { pid: number; cpuUs: number; maxRssKiB: number }).map((u) => ({ pid: u.pid, cpuS: u.cpuUs / 1e6, peakMiB: u.maxRssKiB / 1024 }));
    usage.sort((a, b) => (a.pid === hsm.pid ? -1 : b.pid === hsm.pid ? 1 : 0));
    return { code, wallS, usage, output: hsm.output() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The READY line of `hsm sim` as JSON. */
export interface SimReady {
  control: string;
  stateDir: string;
  [field: string]: unknown;
}

export function parseReady(line: string): SimReady {
  return JSON.parse(line.slice('READY '.length)) as SimReady;
}

/** A payee of the simulated world's withdrawals (the seed's example address). */
export const BENCH_PAYEE = '1NbbvxBYxGGCBhaM8mow1HFWA7dB5yukmY';

/** Queues a withdrawal on the world's vweb (`POST /control/withdrawal`); resolves with its vtest id. */
export async function queueWithdrawal(control: string, value = 10_000): Promise<number> {
  const response = await fetch(`${control}/control/withdrawal`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ outs: `${BENCH_PAYEE},${value}`, dynamic: 0 }) });
  const body = (await response.json()) as { vtest_id?: number };
  if (response.status !== 200 || body.vtest_id === undefined) throw new Error(`the control server refused the withdrawal: ${JSON.stringify(body)}`);
  return body.vtest_id;
}

/** The vweb's withdrawals and address batch checks by state (`GET /status`): `{ done: 3, 'handed-out': 1 }`. */
export async function vwebStates(control: string): Promise<{ withdrawals: Record<string, number>; batches: Record<string, number> }> {
  const status = (await (await fetch(`${control}/status`)).json()) as { vweb?: { withdrawals?: Record<string, number>; batches?: Record<string, number> } };
  return { withdrawals: status.vweb?.withdrawals ?? {}, batches: status.vweb?.batches ?? {} };
}

/** Waits (polling `GET /status`) until `count` withdrawals are done; throws when one failed. */
export async function waitForWithdrawals(control: string, count: number, limitMs: number, pollMs = 1_000): Promise<void> {
  const deadline = performance.now() + limitMs;
  for (;;) {
    const states = (await vwebStates(control)).withdrawals;
    if ((states.failed ?? 0) > 0) throw new Error(`a withdrawal failed: ${JSON.stringify(states)}`);
    if ((states.done ?? 0) >= count) return;
    if (performance.now() > deadline) throw new Error(`${count} withdrawal(s) not done within ${limitMs} ms: ${JSON.stringify(states)}`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}
