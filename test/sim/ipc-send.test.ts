/**
 * A message to a child process that has just died: the child still looks connected (this
 * process has not handled its exit yet), the write fails with EPIPE, and the failure must reach
 * the sender's callback, never an 'error' event that ends the process (it took the whole rig
 * down when a device process died during a clock step).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { sendToChild } from '../../hw-profiles/sim/ipc-send.ts';
import { eventually } from '../helpers/eventually.ts';

/** Waits, without yielding to the event loop, until `pid` is a zombie: dead, its exit not yet handled here. */
function untilZombie(pid: number): void {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return;
    if (Date.now() > deadline) throw new Error(`pid ${pid} did not die`);
  }
}

it('sends to a child that died a moment ago report EPIPE to the sender, and nothing else (5 sends of 1 MB)', async () => {
  const child = spawn(process.execPath, ['-e', 'process.on("message", () => {}); process.send("up")'], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
  await new Promise((resolve) => child.once('message', resolve));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  untilZombie(child.pid as number);
  expect(child.connected).toBe(true);

  const dropped: string[] = [];
  // Large enough that the writes finish asynchronously, where the EPIPE is reported.
  for (let i = 0; i < 5; i++) sendToChild(child, { type: 'clock', pad: 'x'.repeat(1 << 20) }, (error) => dropped.push((error as NodeJS.ErrnoException).code ?? error.message));
  await exited;
  // The failed writes are reported when libuv gets to them, which a busy machine may delay.
  await eventually(() => dropped.length > 0, 'an EPIPE reported to the sender', 10_000);
  expect(new Set(dropped)).toEqual(new Set(['EPIPE']));
  // Once the exit is handled, nothing more is tried.
  expect(sendToChild(child, { type: 'clock' }, () => dropped.push('late'))).toBe(false);
});
