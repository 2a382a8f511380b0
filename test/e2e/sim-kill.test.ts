/**
 * `hsm sim` killed with SIGKILL, which lets it clean up nothing itself: every process it
 * started (socat pty pairs, device processes, the lifeline's watcher) ends and every
 * temporary directory it made goes; a restart on the same state directory resumes the world.
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.ts';
import { osTool } from '../helpers/os-tools.ts';
import { descendants, running, type ProcessInfo } from '../helpers/processes.ts';
import { tempDir } from '../helpers/temp.ts';
import { startSim, type SimProcess } from './sim-process.ts';

const READY_LIMIT_MS = 120_000;
/** The watcher gives processes 5 s to stop on SIGTERM; leave room on a busy machine. */
const CLEANUP_LIMIT_MS = 60_000;
const socat = osTool('socat', 'socat');

/** Temporary directories the processes' command lines name (socat's pty links), outside `keep`. */
function temporaryDirs(processes: ProcessInfo[], keep: string | undefined): string[] {
  const dirs = processes.flatMap((p) => p.cmdline.flatMap((arg) => [...arg.matchAll(/link=([^,]+)/g)].map((m) => dirname(m[1] as string))));
  return [...new Set(dirs)].filter((dir) => dir.startsWith(tmpdir()) && (keep === undefined || !dir.startsWith(keep)));
}

/** SIGKILL, then waits until nothing the sim started runs and its temporary directories are gone. */
async function killAndCheck(sim: SimProcess, extraDirs: string[], keep?: string): Promise<ProcessInfo[]> {
  const left = descendants(sim.child.pid as number);
  const dirs = [...temporaryDirs(left, keep), ...extraDirs];
  sim.child.kill('SIGKILL');
  await eventually(() => left.every((p) => !running(p.pid, p.start)), 'every process hsm sim started to end', CLEANUP_LIMIT_MS);
  await eventually(() => dirs.every((dir) => !existsSync(dir)), `${dirs.join(', ')} to be removed`, CLEANUP_LIMIT_MS);
  return left;
}

const names = (processes: ProcessInfo[]): string[] => processes.map((p) => p.cmdline.join(' ')).map((c) => (c.includes('socat') ? 'socat' : c.includes('device-process') ? 'device' : c.includes('hsm-sim-lifeline') ? 'lifeline' : 'other'));

describe('hsm sim killed with SIGKILL', () => {
  it('in one process: its temporary world and everything it started go with it', async () => {
    const sim = startSim([]);
    const { ready } = await sim.ready(READY_LIMIT_MS);
    const started = await killAndCheck(sim, [ready.stateDir]);
    expect(names(started)).toContain('lifeline');
    if (socat.available) expect(names(started).filter((n) => n === 'socat')).toHaveLength(2);
  }, 300_000);

  it.skipIf(!socat.available)('with --processes: no socat, device process or port directory is left, and a restart on the same state directory resumes', async () => {
    const stateDir = join(tempDir('hsm-sim-kill-'), 'world');
    const first = startSim(['--processes', '--state-dir', stateDir]);
    const { ready } = await first.ready(READY_LIMIT_MS);
    const started = await killAndCheck(first, [], stateDir);
    // Two link pairs, two console pairs, two modems; HSM-Hot and HSM-Cold.
    expect(names(started).filter((n) => n === 'socat')).toHaveLength(6);
    expect(names(started).filter((n) => n === 'device')).toHaveLength(2);
    expect(temporaryDirs(started, stateDir).length).toBeGreaterThanOrEqual(3);

    const second = startSim(['--processes', '--state-dir', stateDir]);
    const resumed = await second.ready(READY_LIMIT_MS);
    expect(resumed.ready).toMatchObject({ resumed: true, seed: ready.seed, processes: true, hostApi: { identity: ready.hostApi.identity } });
    const time = await fetch(`${resumed.ready.api.url}/time`, { headers: { token: resumed.ready.api.tokens.hotSending.token } });
    expect(time.status).toBe(200);
    const running_ = descendants(second.child.pid as number);
    expect(await second.stop('SIGINT', 60_000)).toBe(0);
    await eventually(() => running_.every((p) => !running(p.pid, p.start)), 'everything to stop after Ctrl-C', CLEANUP_LIMIT_MS);
    expect(existsSync(join(stateDir, 'rig.pid'))).toBe(false);
  }, 600_000);
});
