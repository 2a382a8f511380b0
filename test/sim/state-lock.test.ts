/**
 * One rig per world: a second claim on a state directory is refused while the first holder
 * lives; a holder that died without releasing (SIGKILL) leaves a stale claim that the next
 * start takes over.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { processStart } from '../../hw-profiles/sim/lifeline.ts';
import { claimStateDir } from '../../hw-profiles/sim/state-lock.ts';
import { expectHsmError } from '../helpers/errors.ts';
import { tempDir } from '../helpers/temp.ts';

it('refuses a second rig on a state directory while the first lives, and takes over a dead one', () => {
  const dir = tempDir('hsm-state-lock-');
  const release = claimStateDir(dir);
  expect(JSON.parse(readFileSync(join(dir, 'rig.pid'), 'utf8'))).toEqual({ pid: process.pid, start: processStart(process.pid) });
  expectHsmError(() => claimStateDir(dir), 'STATE_DIR_IN_USE', 'state-dir');
  release();
  expect(existsSync(join(dir, 'rig.pid'))).toBe(false);

  // A rig that was killed: its pid no longer runs.
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  writeFileSync(join(dir, 'rig.pid'), JSON.stringify({ pid: Number(dead.stdout), start: '1' }));
  const again = claimStateDir(dir);
  expect(JSON.parse(readFileSync(join(dir, 'rig.pid'), 'utf8')).pid).toBe(process.pid);
  // A live pid with another start time is another process that got the number: stale too.
  again();
  writeFileSync(join(dir, 'rig.pid'), JSON.stringify({ pid: process.pid, start: 'not-this-one' }));
  expect(() => claimStateDir(dir)()).not.toThrow();
});
