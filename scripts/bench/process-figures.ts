/**
 * Process figures of `hsm bench`, each against its budget: the compiled CLI's help, each
 * device started on the simulated profile up to ready, the PIN key derivation apart, the
 * device processes' resident memory while the world serves a withdrawal every second, and,
 * under ARM emulation, the simulated world, a withdrawal and the demo end to end.
 *
 * Budgets are for a Raspberry Pi Zero 2 W class machine (4 × Cortex-A53, 512 MB shared with the
 * OS). Emulated figures are the emulator's (qemu-user on this machine): upper bounds, labelled.
 * @module
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEVICE_NODE_FLAGS } from '../../shared/package.ts';
import { HsmProcess, childPids, median, parseReady, processUsage, queueWithdrawal, runToExit, vwebStates, waitForWithdrawals, type Runner, type SimReady } from './processes.ts';

export const BUDGETS = {
  helpCpuS: 0.35,
  helpPeakMiB: 70,
  readyCpuS: 1.5,
  deviceRssMiB: 100,
} as const;

/** Every run's value and their median. */
export interface Spread {
  median: number;
  runs: number[];
}

/** One figure held against one budget. */
export interface BudgetCheck {
  figure: string;
  on: string;
  measure: string;
  value: number;
  budget: number;
  met: boolean;
}

export interface ProcessFigure {
  name: string;
  [measure: string]: unknown;
}

const round = (n: number, digits = 3): number => Math.round(n * 10 ** digits) / 10 ** digits;

function spread(values: number[]): Spread {
  return { median: round(median(values)), runs: values.map((v) => round(v)) };
}

function check(checks: BudgetCheck[], figure: string, runner: Runner, measure: string, value: number, budget: number): void {
  checks.push({ figure, on: runner.label, measure, value: round(value), budget, met: value <= budget });
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'hsm-bench-'));
}

/** `hsm --help`, to its exit: CPU and peak memory against the help budget. */
export async function helpFigure(runner: Runner, runs: number, checks: BudgetCheck[]): Promise<ProcessFigure> {
  const cpu: number[] = [];
  const peak: number[] = [];
  const wall: number[] = [];
  for (let i = 0; i < runs; i++) {
    const run = await runToExit(runner, ['--help'], 600_000);
    const own = run.usage[0];
    if (run.code !== 0 || own === undefined) throw new Error(`hsm --help failed (${run.code}): ${run.output}`);
    cpu.push(own.cpuS);
    peak.push(own.peakMiB);
    wall.push(run.wallS);
  }
  const name = 'hsm --help';
  check(checks, name, runner, 'cpuS', median(cpu), BUDGETS.helpCpuS);
  check(checks, name, runner, 'peakMiB', median(peak), BUDGETS.helpPeakMiB);
  return { name, cpuS: spread(cpu), peakMiB: spread(peak), wallS: spread(wall), budget: { cpuS: BUDGETS.helpCpuS, peakMiB: BUDGETS.helpPeakMiB } };
}

/**
 * `hsm hot|cold --profile sim` on a new state directory, started as its systemd unit starts it
 * (DEVICE_NODE_FLAGS), to `device started` (sd_notify READY): the simulated hardware and the
 * device up, waiting to be provisioned, so no PIN key derivation is in it (kdfFigure measures
 * that apart).
 */
export async function readyFigure(runner: Runner, role: 'hot' | 'cold', runs: number, checks: BudgetCheck[]): Promise<ProcessFigure> {
  const cpu: number[] = [];
  const peak: number[] = [];
  const wall: number[] = [];
  for (let i = 0; i < runs; i++) {
    const dir = tempDir();
    const device = new HsmProcess(runner, [role, '--profile', 'sim', '--state-dir', join(dir, 'state')], { nodeFlags: DEVICE_NODE_FLAGS });
    try {
      await device.line((line) => line.includes('"msg":"device started"'), `HSM-${role} to start`, 900_000);
      const usage = processUsage(device.pid);
      wall.push(device.elapsedS());
      cpu.push(usage.cpuS);
      peak.push(usage.peakMiB);
    } finally {
      await device.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const name = `hsm ${role} --profile sim to ready`;
  check(checks, name, runner, 'cpuS', median(cpu), BUDGETS.readyCpuS);
  return { name, cpuS: spread(cpu), peakMiB: spread(peak), wallS: spread(wall), budget: { cpuS: BUDGETS.readyCpuS } };
}

/** One PIN key derivation at the vault's cost (scrypt, shared/store/vault.ts), in its own process. */
export function kdfFigure(runner: Runner, runs: number): ProcessFigure {
  const vault = join(runner.root, 'dist', 'shared', 'store', 'vault.js');
  const script = `
    const { DEFAULT_KDF_COST: k } = await import(process.argv[1]);
    const { scryptSync } = await import('node:crypto');
    const before = process.cpuUsage();
    scryptSync('123456', Buffer.alloc(16), 32, { N: k.N, r: k.r, p: k.p, maxmem: 256 * k.N * k.r + 1024 * 1024 });
    const used = process.cpuUsage(before);
    console.log(JSON.stringify({ cpuS: (used.user + used.system) / 1e6, cost: k }));`;
  const cpu: number[] = [];
  let cost: unknown;
  for (let i = 0; i < runs; i++) {
    const run = spawnSync(runner.node, ['--input-type=module', '-e', script, vault], { env: runner.env, encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`the KDF measurement failed: ${run.stderr}`);
    const result = JSON.parse(run.stdout) as { cpuS: number; cost: unknown };
    cpu.push(result.cpuS);
    cost = result.cost;
  }
  return { name: 'PIN key derivation (reported apart from ready)', cost, cpuS: spread(cpu) };
}

interface World {
  sim: HsmProcess;
  control: string;
  readyWallS: number;
}

/** `hsm sim` ended before READY. */
class WorldStartError extends Error {}

/** Runs `body` on `hsm sim` (with `args`) started on a new world, from READY; stops it after. */
async function withWorld<T>(runner: Runner, args: string[], limitMs: number, body: (world: World) => Promise<T>): Promise<T> {
  const dir = tempDir();
  const sim = new HsmProcess(runner, ['sim', ...args, '--state-dir', join(dir, 'world')]);
  try {
    let ready: SimReady;
    try {
      ready = parseReady(await sim.line((line) => line.startsWith('READY '), 'the READY line', limitMs));
    } catch (error) {
      throw new WorldStartError((error as Error).message);
    }
    return await body({ sim, control: ready.control, readyWallS: sim.elapsedS() });
  } finally {
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Queues one withdrawal and waits until it is done: the real seconds it took. */
async function timedWithdrawal(control: string, limitMs: number): Promise<number> {
  const t0 = performance.now();
  await queueWithdrawal(control);
  await waitForWithdrawals(control, 1, limitMs, 2_000);
  return round((performance.now() - t0) / 1000, 1);
}

/** The device processes of `hsm sim --processes`, HSM-Cold (started first) and HSM-Hot. */
function devicePids(simPid: number): { cold: number; hot: number } {
  const started = (pid: number): number => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[19]);
  const pids = childPids(simPid, 'device-process').sort((a, b) => started(a) - started(b));
  if (pids.length !== 2) throw new Error(`expected two device processes under hsm sim, found ${pids.length}`);
  return { cold: pids[0] as number, hot: pids[1] as number };
}

/**
 * World time runs this much faster than real time while the steady state is measured, so the
 * devices have a withdrawal's worth of world time (SMS, the V-Device's polls) every second.
 * Emulated, less: the rig waits for HSM-Cold's xpubs for 300 s of world time while they cross
 * the link in real time, which emulation slows down.
 */
const STEADY_TIME_SCALE = { native: 30, emulated: 3 } as const;

/**
 * `hsm sim --processes` at STEADY_TIME_SCALE: once the world's first address batches are
 * checked, for `seconds` a withdrawal is queued every second while both device processes'
 * resident memory is sampled; the steady state is the second half of the samples. How many
 * withdrawals were done meanwhile says how much of that load the devices served. A world
 * that fails to start is started once more, and the failure is reported with the figure.
 */
export async function steadyFigure(runner: Runner, seconds: number, checks: BudgetCheck[]): Promise<ProcessFigure> {
  const timeScale = runner.emulated ? STEADY_TIME_SCALE.emulated : STEADY_TIME_SCALE.native;
  const startFailures: string[] = [];
  const measure = (): Promise<ProcessFigure> => withWorld(runner, ['--processes', '--time-scale', String(timeScale)], 1_800_000, async (world) => {
    const pids = devicePids(world.sim.pid);
    const idleBy = performance.now() + 1_800_000;
    while ((await vwebStates(world.control)).batches.passed !== 2) {
      if (performance.now() > idleBy) throw new Error('the world did not check its first address batches within 30 minutes');
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    const samples = { hot: [] as number[], cold: [] as number[] };
    const t0 = performance.now();
    for (let s = 0; s < seconds; s++) {
      await queueWithdrawal(world.control);
      samples.hot.push(processUsage(pids.hot).rssMiB);
      samples.cold.push(processUsage(pids.cold).rssMiB);
      const next = t0 + (s + 1) * 1000;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - performance.now())));
    }
    const served = (await vwebStates(world.control)).withdrawals;
    const name = `device processes while a withdrawal is queued every second for ${seconds} s`;
    const device = (role: 'hot' | 'cold'): Record<string, unknown> => {
      const steady = samples[role].slice(Math.floor(samples[role].length / 2));
      check(checks, `${name}: HSM-${role} steady RSS`, runner, 'rssMiB', Math.max(...steady), BUDGETS.deviceRssMiB);
      return { steadyRssMiB: { median: round(median(steady), 1), max: round(Math.max(...steady), 1) }, peakMiB: round(processUsage(pids[role]).peakMiB, 1) };
    };
    return {
      name,
      timeScale,
      nodeFlags: DEVICE_NODE_FLAGS,
      withdrawals: { requested: seconds, byState: served },
      hot: device('hot'),
      cold: device('cold'),
      budget: { steadyRssMiB: BUDGETS.deviceRssMiB },
      ...(startFailures.length === 0 ? {} : { startFailures }),
    };
  });
  try {
    return await measure();
  } catch (error) {
    if (!(error instanceof WorldStartError)) throw error;
    startFailures.push(error.message.split('\n').at(-1) ?? error.message);
    return measure();
  }
}

/** `hsm sim` (in process) to READY, then one withdrawal to done: wall times and memory. */
export async function simFigure(runner: Runner, limitMs: number): Promise<ProcessFigure> {
  return withWorld(runner, [], limitMs, async (world) => {
    const readyCpuS = round(processUsage(world.sim.pid).cpuS, 1);
    const withdrawalWallS = await timedWithdrawal(world.control, limitMs);
    return { name: 'hsm sim to READY, then a withdrawal', readyWallS: round(world.readyWallS, 1), readyCpuS, withdrawalWallS, peakMiB: round(processUsage(world.sim.pid).peakMiB, 1) };
  });
}

/** `hsm sim --processes` to READY, then one withdrawal to done: wall times and each process's memory. */
export async function processesFigure(runner: Runner, limitMs: number): Promise<ProcessFigure> {
  return withWorld(runner, ['--processes'], limitMs, async (world) => {
    const pids = devicePids(world.sim.pid);
    const withdrawalWallS = await timedWithdrawal(world.control, limitMs);
    const peak = (pid: number): number => round(processUsage(pid).peakMiB, 1);
    return {
      name: 'hsm sim --processes to READY, then a withdrawal',
      readyWallS: round(world.readyWallS, 1),
      withdrawalWallS,
      peakMiB: { rig: peak(world.sim.pid), hot: peak(pids.hot), cold: peak(pids.cold) },
    };
  });
}

/** `hsm demo` (the whole story, in process) to its end. */
export async function demoFigure(runner: Runner, limitMs: number): Promise<ProcessFigure> {
  const run = await runToExit(runner, ['demo'], limitMs);
  const own = run.usage[0];
  return {
    name: 'hsm demo',
    passed: run.code === 0,
    ...(run.code === 0 ? {} : { failure: run.output.split('\n').filter((l) => l.includes('FAIL')).join(' / ') }),
    wallS: round(run.wallS, 1),
    cpuS: round(own?.cpuS ?? Number.NaN, 1),
    peakMiB: round(own?.peakMiB ?? Number.NaN, 1),
  };
}
