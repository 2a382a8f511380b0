/**
 * What the simulation starts must not outlive it, even when it is killed with SIGKILL and runs
 * no clean-up of its own: its socat pty pairs, its device processes, its temporary directories.
 *
 * A small watcher process (plain Node, started once per process on first use, in a session of
 * its own so a Ctrl-C at the terminal does not reach it) holds the list. This process tells it
 * each change as one JSON line on its stdin; when that pipe closes, which happens however this
 * process ends, the watcher stops every process still listed (SIGTERM, then SIGKILL after a
 * grace period) and removes every directory still listed, then exits.
 *
 *   const untie = tieProcess(child.pid);   // when the child ends normally: untie()
 *   const forget = tieDirectory(dir);      // after removing it: forget()
 *
 * A process is identified by its pid and its start time (/proc/<pid>/stat, field 22), so a pid
 * reused after the process ended is never signalled.
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** How long the watcher lets listed processes stop on SIGTERM before it sends SIGKILL. */
const GRACE_MS = 5_000;

/** The watcher, run as `node -e`: it needs no file, no loader and no dependency. */
const WATCHER = `
process.title = 'hsm-sim-lifeline';
const { readFileSync, rmSync } = require('node:fs');
const processes = new Map();
const directories = new Set();
const startOf = (pid) => {
  try {
    const stat = readFileSync('/proc/' + pid + '/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' ? null : fields[19];
  } catch { return null; }
};
const alive = (pid, start) => {
  if (start !== null) return startOf(pid) === start;
  try { process.kill(pid, 0); return true; } catch { return false; }
};
const signal = (pid, name) => { try { process.kill(pid, name); } catch {} };
let pending = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  pending += chunk;
  for (let end = pending.indexOf('\\n'); end >= 0; end = pending.indexOf('\\n')) {
    const line = pending.slice(0, end);
    pending = pending.slice(end + 1);
    let change;
    try { change = JSON.parse(line); } catch { continue; }
    if (change.op === 'process') processes.set(change.pid, change.start);
    else if (change.op === 'release-process') processes.delete(change.pid);
    else if (change.op === 'directory') directories.add(change.path);
    else if (change.op === 'release-directory') directories.delete(change.path);
  }
});
let reaping = false;
const reap = async () => {
  if (reaping) return;
  reaping = true;
  const left = [...processes].filter(([pid, start]) => alive(pid, start));
  for (const [pid] of left) signal(pid, 'SIGTERM');
  const deadline = Date.now() + ${GRACE_MS};
  while (Date.now() < deadline && left.some(([pid, start]) => alive(pid, start))) await new Promise((r) => setTimeout(r, 20));
  for (const [pid, start] of left) if (alive(pid, start)) signal(pid, 'SIGKILL');
  for (const path of directories) { try { rmSync(path, { recursive: true, force: true }); } catch {} }
  process.exit(0);
};
process.stdin.on('end', reap);
process.stdin.on('error', reap);
`;

type Change =
  | { op: 'process'; pid: number; start: string | null }
  | { op: 'release-process'; pid: number }
  | { op: 'directory'; path: string }
  | { op: 'release-directory'; path: string };

let watcher: ChildProcess | undefined;
const processes = new Map<number, string | null>();
const directories = new Set<string>();

/** The start time of `pid` in clock ticks since boot, or null where /proc cannot tell. */
export function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** The running watcher; a new one (told everything listed so far) if there is none. */
function ensureWatcher(): ChildProcess {
  if (watcher !== undefined) return watcher;
  const child = spawn(process.execPath, ['-e', WATCHER], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
  // It must never keep this process alive, nor take it down if it goes first.
  child.unref();
  child.on('error', () => undefined);
  const stdin = child.stdin as NonNullable<ChildProcess['stdin']> & { unref?: () => void };
  stdin.unref?.();
  stdin.on('error', () => undefined);
  child.on('exit', () => {
    if (watcher === child) watcher = undefined;
  });
  watcher = child;
  for (const [pid, start] of processes) tell({ op: 'process', pid, start });
  for (const path of directories) tell({ op: 'directory', path });
  return child;
}

function tell(change: Change): void {
  const child = watcher ?? ensureWatcher();
  if (child.stdin?.writable === true) child.stdin.write(`${JSON.stringify(change)}\n`);
}

/** Stops `pid` if this process ends without releasing it. Returns the release. */
export function tieProcess(pid: number | undefined): () => void {
  if (pid === undefined) return () => undefined;
  const start = processStart(pid);
  processes.set(pid, start);
  ensureWatcher();
  tell({ op: 'process', pid, start });
  return () => {
    if (processes.get(pid) !== start || !processes.delete(pid)) return;
    tell({ op: 'release-process', pid });
  };
}

/** Removes `path` (recursively) if this process ends without releasing it. Returns the release. */
export function tieDirectory(path: string): () => void {
  directories.add(path);
  ensureWatcher();
  tell({ op: 'directory', path });
  return () => {
    if (!directories.delete(path)) return;
    tell({ op: 'release-directory', path });
  };
}

/** The watcher's pid (tests check it is gone once its work is done). */
export function watcherPid(): number | undefined {
  return watcher?.pid;
}
