/**
 * One rig per world: `<state dir>/rig.pid` names the process that runs it (pid and start time,
 * lifeline.ts). A second rig on the same directory is refused while that process lives; the
 * file of a rig that died without stopping (SIGKILL, a power cut) is stale and simply taken
 * over, so a restart never trips over it.
 *
 *   const release = claimStateDir(dir);   // throws STATE_DIR_IN_USE
 *   ...
 *   release();
 * @module
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HsmError } from '../../shared/errors.ts';
import { processStart } from './lifeline.ts';

const LOCK_FILE = 'rig.pid';

interface Holder {
  pid: number;
  start: string | null;
}

function readHolder(file: string): Holder | undefined {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<Holder>;
    return typeof parsed.pid === 'number' ? { pid: parsed.pid, start: parsed.start ?? null } : undefined;
  } catch {
    return undefined;
  }
}

function running(holder: Holder): boolean {
  try {
    process.kill(holder.pid, 0);
  } catch {
    return false;
  }
  return holder.start === null || processStart(holder.pid) === holder.start;
}

/** Claims `dir` for this process; returns the release. */
export function claimStateDir(dir: string): () => void {
  const file = join(dir, LOCK_FILE);
  const holder = readHolder(file);
  if (holder !== undefined && running(holder)) {
    const who = holder.pid === process.pid ? 'another rig in this process' : `hsm sim (pid ${holder.pid})`;
    throw new HsmError('STATE_DIR_IN_USE', `${dir} is in use by ${who}: stop it first, or use another --state-dir`, { field: 'state-dir' });
  }
  const mine: Holder = { pid: process.pid, start: processStart(process.pid) };
  writeFileSync(`${file}.tmp`, `${JSON.stringify(mine)}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
  return () => {
    const now = readHolder(file);
    if (now?.pid === mine.pid && now.start === mine.start) rmSync(file, { force: true });
  };
}
