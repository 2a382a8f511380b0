/**
 * The lifeline: what a process ties to it ends with the process, however the process ends,
 * SIGKILL included; what it released stays. The watcher goes once its work is done.
 */
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.ts';
import { running } from '../helpers/processes.ts';

const HOLDER = new URL('./fixtures/lifeline-holder.ts', import.meta.url).pathname;

interface Held {
  tied: { child: number; dir: string };
  released: { child: number; dir: string };
  watcher: number;
}

it('a process killed with SIGKILL takes its tied child and directory along, and leaves what it released', async () => {
  const holder = spawn(process.execPath, ['--import', 'tsx', HOLDER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve) => createInterface({ input: holder.stdout }).once('line', resolve));
  const held = JSON.parse(line) as Held;
  try {
    for (const pid of [held.tied.child, held.released.child, held.watcher]) expect(running(pid), String(pid)).toBe(true);
    for (const dir of [held.tied.dir, held.released.dir]) expect(existsSync(dir), dir).toBe(true);

    holder.kill('SIGKILL');
    await eventually(() => !running(held.watcher), 'the watcher to finish');
    expect(running(held.tied.child)).toBe(false);
    expect(existsSync(held.tied.dir)).toBe(false);
    expect(running(held.released.child)).toBe(true);
    expect(existsSync(held.released.dir)).toBe(true);
  } finally {
    for (const pid of [held.tied.child, held.released.child]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    for (const dir of [held.tied.dir, held.released.dir]) rmSync(dir, { recursive: true, force: true });
  }
});
