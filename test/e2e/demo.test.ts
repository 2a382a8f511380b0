/**
 * `hsm demo` (= `npm run demo`) end to end, as a user runs it: the whole story with the
 * devices in the CLI's process, and a broken first step, which must stop the story with a
 * non-zero exit. The same story with the devices as separate processes runs in the soak
 * (demo-processes.soak.test.ts); npm test covers that mode with test/sim/processes.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { Rig } from '../../hw-profiles/sim/rig.ts';
import { tempDir } from '../helpers/temp.ts';
import { FAST_KDF } from '../sim/rig-helpers.ts';
import { demo, expectWholeStory } from './demo-run.ts';

describe('hsm demo', () => {
  it('tells the whole story with both devices in one process', async () => {
    expectWholeStory(await demo([]), false);
  }, 600_000);

  it('stops at the first broken step with a non-zero exit, and says which', async () => {
    // A state directory holding another seed's world: the rig refuses it, so step 1 breaks.
    const stateDir = tempDir('hsm-demo-other-');
    const other = await Rig.start({ stateDir, seed: 'another world', timeScale: 'manual', kdf: FAST_KDF });
    await other.stop();
    const run = await demo(['--state-dir', stateDir]);
    expect(run.code).not.toBe(0);
    expect(run.summary.ok).toBe(false);
    expect(run.summary.steps).toHaveLength(1);
    expect(run.summary.steps[0]).toMatchObject({ step: 1, name: 'rig up', ok: false });
    expect(run.summary.steps[0]?.error).toMatch(/another seed/);
    expect(run.stdout).toMatch(/\[1\/9\] FAIL rig up/);
    expect(run.stdout).toMatch(/demo FAILED/);
  }, 300_000);
});
