/**
 * The machine a profile describes, for the commands that run on one (`hsm hot|cold`,
 * `hsm doctor`): a real board as it is, or, for the simulated profile, the simulated hardware
 * started here first (hw-profiles/sim/hardware.ts) with the profile's placeholders resolved;
 * a simulated profile whose paths are already resolved runs on the hardware someone else serves.
 * @module
 */
import type { Clock } from '../../shared/clock.ts';
import { SeededRandom } from '../../shared/random.ts';
import { loadProfile, simPlaceholders, type Profile } from '../../hw-profiles/profile.ts';
import { startSimHardware, type SimHardware } from '../../hw-profiles/sim/hardware.ts';

export interface Machine {
  /** The profile with real paths. */
  profile: Profile;
  /** The simulated hardware, for a simulated profile. */
  hardware: SimHardware | undefined;
  stop(): Promise<void>;
}

export async function openMachine(nameOrFile: string, options: { clock: Clock; seed: string }): Promise<Machine> {
  const profile = loadProfile(nameOrFile);
  // A simulated profile already resolved (written out by a rig that serves the hardware itself)
  // is used as it is, like a real board's.
  if (profile.board !== 'sim' || simPlaceholders(profile).length === 0) return { profile, hardware: undefined, stop: async () => undefined };
  const hardware = await startSimHardware({ profile, clock: options.clock, random: new SeededRandom(options.seed) });
  return { profile: hardware.profile, hardware, stop: () => hardware.stop() };
}
