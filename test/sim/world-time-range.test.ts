/**
 * A world never runs outside the times the firmware can represent (SMS time stamps cover
 * 2000-2089, world-config.ts): a rig asked to start there, or holding a world saved there, is
 * refused before anything starts, naming the time, and the saved world is left as it was.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RealClock } from '../../shared/clock.ts';
import { LEDGER_RECORDS } from '../../hw-profiles/sim/host/gateway-ledger.ts';
import { Rig } from '../../hw-profiles/sim/rig.ts';
import { WORLD_TIME_RANGE } from '../../hw-profiles/sim/world-config.ts';
import { WorldStore } from '../../hw-profiles/sim/world-store.ts';
import { tempDir } from '../helpers/temp.ts';

const IN_2100 = Date.UTC(2100, 0, 1);

async function savedWorld(dir: string, now: number): Promise<void> {
  const world = WorldStore.open(join(dir, 'world'), new RealClock(), Object.values(LEDGER_RECORDS));
  world.saveOrigin({ seed: 'late', start: Date.UTC(2089, 11, 1), createdAt: Date.UTC(2089, 11, 1) });
  world.saveTime(now);
  await world.close();
}

async function lastTime(dir: string): Promise<number | undefined> {
  const world = WorldStore.open(join(dir, 'world'), new RealClock(), Object.values(LEDGER_RECORDS));
  try {
    return world.lastTime();
  } finally {
    await world.close();
  }
}

describe('world time range', () => {
  it('refuses to start a world in 2100 or in 1999', async () => {
    for (const start of [IN_2100, Date.UTC(1999, 11, 31)]) {
      await expect(Rig.start({ seed: 'early-late', start, stateDir: tempDir() })).rejects.toMatchObject({
        code: 'WORLD_TIME',
        field: 'start',
        message: expect.stringContaining(new Date(start).toISOString()),
      });
    }
  });

  it('refuses to resume a world saved past the last representable time, and leaves it as it was', async () => {
    const dir = tempDir();
    await savedWorld(dir, IN_2100);
    await expect(Rig.start({ stateDir: dir })).rejects.toMatchObject({ code: 'WORLD_TIME', field: 'start', message: expect.stringContaining('2100-01-01T00:00:00.000Z') });
    expect(await lastTime(dir)).toBe(IN_2100);
    expect(IN_2100).toBeGreaterThan(WORLD_TIME_RANGE.last);
  });
});
