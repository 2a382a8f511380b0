/**
 * runDevice on the simulated hardware behind sim.json: both devices over a socat pty pair with
 * the real serialport bindings, HSM-Cold's modems found by SIM identity (sim1 by IMSI, sim2 by
 * ICCID, each searching both modem ports), provisioning and pairing as an operator will do them,
 * the service notifications, a restart that finds the store locked, and the doctor reaching the
 * real HSM-Hot over the link while HSM-Cold is stopped.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RealClock } from '../../shared/clock.ts';
import { HsmError } from '../../shared/errors.ts';
import { createPairingFile } from '../../shared/link/pairing.ts';
import { SeededRandom } from '../../shared/random.ts';
import { identityPublicKey } from '../../shared/store/identity.ts';
import { runDoctor } from '../../hw-profiles/doctor/index.ts';
import { loadProfile, type Profile } from '../../hw-profiles/profile.ts';
import { readPin, runDevice, type RunningDevice } from '../../hw-profiles/run-device.ts';
import { startSimHardware, type SimHardware } from '../../hw-profiles/sim/hardware.ts';
import { FAST_KDF, MNEMONIC, baseConfig } from '../cold/fixture.ts';
import { HOT_MNEMONIC, PLATFORM, TEST_KDF } from '../hot/wallet-fixture.ts';
import { eventually } from '../helpers/eventually.ts';
import { osTool } from '../helpers/os-tools.ts';
import { tempDir } from '../helpers/temp.ts';

const clock = new RealClock();
/** The simulated hardware's ports are socat ptys. */
const socat = osTool('socat', 'socat');
const COLD_PIN = '2468';
const HOT_PIN = '482916';
const HOT_CONFIG = { coins: [{ coin: 'BTC' as const, network: 'btc-main' as const, types: ['p2pkh' as const], fee: { maxFee: 100_000, dynamic: { maxRate: 50 }, fixed: { minRate: 2, maxRate: 20 } } }] };

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function hardware(seed: string): Promise<SimHardware> {
  const hw = await startSimHardware({ profile: loadProfile('sim'), clock, random: new SeededRandom(seed) });
  cleanups.push(() => hw.stop());
  return hw;
}

function track(device: RunningDevice): RunningDevice {
  cleanups.push(() => device.stop());
  return device;
}

describe('runDevice on the simulated hardware', () => {
  it.skipIf(!socat.available)('runs HSM-Cold and HSM-Hot over real ptys: provisioned, paired, link up, modems found by SIM; a restart waits for the PIN', async () => {
    const hw = await hardware('run-device');
    const random = new SeededRandom('run-device/devices');
    const coldNotes: string[] = [];
    const hotNotes: string[] = [];

    const cold = track(await runDevice('cold', hw.profile, { clock, random: random.fork('cold'), notify: (s) => coldNotes.push(s), watchdogIntervalMs: 100 }));
    const coldDevice = cold.cold!;
    await eventually(() => coldNotes.includes('STATUS=HSM-Cold provisioning'), 'HSM-Cold waits to be provisioned');
    expect(coldNotes[0]).toBe('READY=1');
    await coldDevice.provision({ pin: COLD_PIN, mnemonic: MNEMONIC, config: baseConfig(), kdf: FAST_KDF });
    await eventually(() => coldDevice.snapshot.matches({ running: { modems: 'usable' } }), 'HSM-Cold runs with usable modems');
    // Usable takes one ready modem; the other may still be coming up.
    await eventually(() => coldDevice.status().modems.every((m) => m.state === 'ready'), 'both modems ready');
    const modems = [...coldDevice.status().modems].sort((a, b) => a.name.localeCompare(b.name));
    expect(modems.map((m) => [m.name, m.state, m.registered, m.imsiTail])).toEqual([
      ['sim1', 'ready', true, hw.modems.sim1!.sim.imsi.slice(-4)],
      ['sim2', 'ready', true, hw.modems.sim2!.sim.imsi.slice(-4)],
    ]);

    const hot = track(await runDevice('hot', hw.profile, { clock, random: random.fork('hot'), kdf: TEST_KDF, hotConfig: HOT_CONFIG, notify: (s) => hotNotes.push(s), watchdogIntervalMs: 100 }));
    const hotDevice = hot.hot!;
    expect(hot.state()).toBe('uninitialised');
    const coldIdentity = identityPublicKey(coldDevice.store) as string;
    let imported: Promise<void> | undefined;
    const provisioned = await hotDevice.provision({
      pin: HOT_PIN,
      mnemonic: { restore: HOT_MNEMONIC },
      platformKeys: [{ key: PLATFORM.publicKey, scopes: ['address:read', 'tx:create', 'tx:read', 'events:read'], label: 'platform' }],
      pairing: {
        method: 'file',
        file: (hotIdentity) => {
          const file = createPairingFile(hotIdentity, coldIdentity, random.fork('pairing'));
          imported = coldDevice.importPairing(file);
          return file;
        },
      },
    });
    expect(provisioned.paired).toBe(true);
    await imported;
    await eventually(() => hotDevice.linkUp && coldDevice.snapshot.matches({ running: { link: 'up' } }), 'the link comes up over the socat ptys');
    expect(coldDevice.status().link).toMatchObject({ state: 'up', port: hw.paths['link-cold'], authFailures: 0 });
    expect(hotDevice.hostUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
    await eventually(() => coldNotes.includes('WATCHDOG=1') && hotNotes.includes('WATCHDOG=1'), 'both devices feed the watchdog');
    expect(coldNotes).toContain('STATUS=HSM-Cold running');
    expect(hotNotes).toContain('STATUS=HSM-Hot running');
    for (const note of [...coldNotes, ...hotNotes]) expect(note).not.toMatch(new RegExp(`${COLD_PIN}|${HOT_PIN}|abandon|legal`));

    // HSM-Cold stops; the doctor, run for HSM-Cold, reaches the real HSM-Hot over the link.
    await cold.stop();
    expect(coldNotes.at(-1)).toBe('STOPPING=1');
    const report = await runDoctor({ profile: hw.profile, roles: ['cold'], clock, ignorePids: hw.ownPids(), linkTimeoutMs: 3_000 });
    expect(report.checks.find((c) => c.id === 'cold.link.peer')).toMatchObject({ status: 'ok', detail: expect.stringMatching(/^HSM-Hot (answered|announced)/) });
    expect(report.ok).toBe(true);

    // Started again, HSM-Cold finds its store locked, and runs after the PIN.
    const again = track(await runDevice('cold', hw.profile, { clock, random: random.fork('cold-2') }));
    await eventually(() => again.cold!.snapshot.matches('locked'), 'HSM-Cold waits for its PIN');
    expect(again.healthy()).toBe(true);
    again.cold!.unlock(COLD_PIN);
    await eventually(() => again.cold!.snapshot.matches({ running: { link: 'up', modems: 'usable' } }), 'HSM-Cold runs again with the link up', 45_000);
    expect(again.cold!.status().link?.peerIdentity).toBe(hotDevice.identity);

    // Locking stops the services and releases the link port, so unlocking can take it again.
    again.cold!.lock();
    await eventually(() => again.cold!.snapshot.matches('locked'), 'HSM-Cold locks');
    again.cold!.unlock(COLD_PIN);
    await eventually(() => again.cold!.snapshot.matches({ running: { link: 'up' } }), 'the link comes up after a lock and unlock', 45_000);
  }, 120_000);

  it.skipIf(!socat.available)('a device whose machine fails stops feeding the watchdog', async () => {
    const hw = await hardware('run-device-fail');
    const first = await runDevice('cold', hw.profile, { clock, random: new SeededRandom('fail/1') });
    await eventually(() => first.cold!.snapshot.matches('provisioning'), 'provisioning');
    await first.cold!.provision({ pin: COLD_PIN, mnemonic: MNEMONIC, config: baseConfig(), kdf: FAST_KDF });
    await eventually(() => first.cold!.snapshot.matches('running'), 'running');
    await first.cold!.importPairing(createPairingFile(PLATFORM.publicKey, identityPublicKey(first.cold!.store) as string, new SeededRandom('fail/pairing')));
    await first.stop();

    // Paired now, it opens the link port when it starts its services: a port that is gone fails it.
    const cold = hw.profile.cold as NonNullable<Profile['cold']>;
    const broken: Profile = { ...hw.profile, cold: { ...cold, link: { ...cold.link, path: join(hw.dir, 'no-such-link') } } };
    const notes: string[] = [];
    const device = track(await runDevice('cold', broken, { clock, random: new SeededRandom('fail/2'), notify: (s) => notes.push(s), watchdogIntervalMs: 50 }));
    await eventually(() => device.cold!.snapshot.matches('locked'), 'locked');
    await eventually(() => notes.includes('WATCHDOG=1'), 'a locked device is healthy');
    device.cold!.unlock(COLD_PIN);
    await eventually(() => !device.healthy(), 'the machine fails without its link port');
    expect(device.state()).toBe('failed');
    await eventually(() => notes.includes('STATUS=HSM-Cold failed'), 'the failure is reported');
    const count = notes.filter((n) => n === 'WATCHDOG=1').length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(notes.filter((n) => n === 'WATCHDOG=1').length).toBe(count);
  });

  it('refuses a profile without the device, or with simulated paths nobody resolved', async () => {
    await expect(runDevice('hot', loadProfile('rpi4-cold-sim800c'))).rejects.toMatchObject({ code: 'PROFILE_ROLE', field: 'hot' });
    await expect(runDevice('cold', loadProfile('sim'))).rejects.toMatchObject({ code: 'PROFILE_SIM_PATH', field: 'cold.stateDir' });
  });
});

describe('SIM PIN references', () => {
  it('reads a PIN from a file only its owner can read, or from a systemd credential; errors never carry it', () => {
    const dir = tempDir();
    const file = join(dir, 'sim1.pin');
    writeFileSync(file, '8642\n', { mode: 0o600 });
    expect(readPin({ file }, 'cold.modems[0].pin', undefined)).toBe('8642');
    writeFileSync(join(dir, 'sim2-pin'), '97531');
    expect(readPin({ credential: 'sim2-pin' }, 'f', dir)).toBe('97531');

    const failures: HsmError[] = [];
    const attempt = (fn: () => unknown): void => {
      try {
        fn();
      } catch (error) {
        failures.push(error as HsmError);
      }
    };
    chmodSync(file, 0o640);
    attempt(() => readPin({ file }, 'cold.modems[0].pin', undefined));
    chmodSync(file, 0o600);
    writeFileSync(file, 'PIN=8642');
    attempt(() => readPin({ file }, 'cold.modems[0].pin', undefined));
    attempt(() => readPin({ file: join(dir, 'missing') }, 'cold.modems[0].pin', undefined));
    attempt(() => readPin({ credential: 'sim2-pin' }, 'cold.modems[1].pin', undefined));
    expect(failures.map((e) => [e.code, e.field])).toEqual([
      ['PIN_FILE_MODE', 'cold.modems[0].pin'],
      ['PIN_FORMAT', 'cold.modems[0].pin'],
      ['PIN_UNREADABLE', 'cold.modems[0].pin'],
      ['PIN_UNREADABLE', 'cold.modems[1].pin'],
    ]);
    expect(failures[3]?.message).toMatch(/LoadCredential=sim2-pin/);
    for (const error of failures) expect(JSON.stringify(error.toJSON())).not.toContain('8642');
  });
});
