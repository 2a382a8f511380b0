/**
 * Processes as /proc shows them, for tests that check what a process leaves behind: whether a
 * pid still runs (a zombie does not), and a process's descendants with their command lines.
 */
import { readFileSync, readdirSync } from 'node:fs';

export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** Start time in clock ticks since boot: with the pid, names the process for good. */
  start: string;
  cmdline: string[];
}

function stat(pid: number): { state: string; ppid: number; start: string } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] as string, ppid: Number(fields[1]), start: fields[19] as string };
  } catch {
    return undefined;
  }
}

/** Whether `pid` runs (and, given its start time, is still that process); a zombie has ended. */
export function running(pid: number, start?: string): boolean {
  const s = stat(pid);
  return s !== undefined && s.state !== 'Z' && (start === undefined || s.start === start);
}

/** Every process below `root`, children first. */
export function descendants(root: number): ProcessInfo[] {
  const all: ProcessInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const s = stat(pid);
    if (s === undefined || s.state === 'Z') continue;
    let cmdline: string[] = [];
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
    } catch {
      continue;
    }
    all.push({ pid, ppid: s.ppid, start: s.start, cmdline });
  }
  const below: ProcessInfo[] = [];
  const parents = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of all) {
      if (parents.has(p.ppid) && !parents.has(p.pid)) {
        parents.add(p.pid);
        below.push(p);
        grew = true;
      }
    }
  }
  return below;
}
