/**
 * Hardware profiles: every shipped profile validates, and a broken one fails with an error
 * naming the JSON path of the bad field.
 */
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HsmError } from '../../shared/errors.ts';
import {
  PROFILES_DIR,
  expandCandidates,
  loadProfile,
  parseProfile,
  profileNames,
  profileRoles,
  profileSection,
  resolveSimPaths,
  simPlaceholders,
} from '../../hw-profiles/profile.ts';
import { tempDir } from '../helpers/temp.ts';

function shipped(name: string): Record<string, any> {
  return JSON.parse(readFileSync(join(PROFILES_DIR, `${name}.json`), 'utf8')) as Record<string, any>;
}

function failure(json: unknown): HsmError {
  try {
    parseProfile(json, 'test.json');
  } catch (error) {
    expect(error).toBeInstanceOf(HsmError);
    return error as HsmError;
  }
  throw new Error('the profile was accepted');
}

describe('shipped profiles', () => {
  it('are the Pi 4, Pi 5, Zero 2 W and simulated machines, and every one validates', () => {
    const names = profileNames();
    expect(names).toEqual(['rpi4-cold-e3372x2', 'rpi4-cold-sim800c', 'rpi5-cold-ec25-e3372', 'rpi5-hot', 'rpiz2w-hot', 'sim']);
    const boards = new Set<string>();
    const models = new Set<string>();
    const kinds = new Set<string>();
    for (const name of names) {
      const profile = loadProfile(name);
      expect(profile.name).toBe(name);
      boards.add(profile.board);
      for (const role of profileRoles(profile)) {
        const section = profileSection(profile, role);
        kinds.add(`link:${section.link.kind}`);
        if (section.console !== undefined) kinds.add(`console:${section.console.kind}`);
      }
      for (const modem of profile.cold?.modems ?? []) models.add(modem.model);
    }
    expect([...boards].sort()).toEqual(['rpi4', 'rpi5', 'rpiz2w', 'sim']);
    expect([...models].sort()).toEqual(['e3372', 'ec25', 'sim800c']);
    for (const kind of ['link:pl011', 'link:usb-serial', 'console:uart', 'console:usb-gadget']) expect(kinds).toContain(kind);
  });

  it('the simulated profile holds both devices, two modems on two carriers, and only placeholders for paths', () => {
    const sim = loadProfile('sim');
    expect(profileRoles(sim)).toEqual(['hot', 'cold']);
    expect(sim.cold?.modems.map((m) => [m.name, m.match.by, m.emulated?.carrier])).toEqual([
      ['sim1', 'imsi', 'A'],
      ['sim2', 'iccid', 'B'],
    ]);
    expect(simPlaceholders(sim).map((p) => p.name).sort()).toEqual(
      ['console-cold', 'console-hot', 'link-cold', 'link-hot', 'modem-sim1', 'modem-sim1', 'modem-sim1', 'modem-sim2', 'modem-sim2', 'modem-sim2', 'state-cold', 'state-hot'].sort(),
    );
  });

  it('a profile file by path loads as the name does, and unknown names list the shipped ones', () => {
    expect(loadProfile(join(PROFILES_DIR, 'rpi5-hot.json'))).toEqual(loadProfile('rpi5-hot'));
    expect(() => loadProfile('rpi9')).toThrow(/no profile rpi9 \(shipped profiles: rpi4-cold-e3372x2, .*sim\)/);
    expect(() => loadProfile('../etc/passwd')).toThrow(HsmError);
    const dir = tempDir();
    writeFileSync(join(dir, 'broken.json'), '{"name": "x",');
    expect(() => loadProfile(join(dir, 'broken.json'))).toThrow(expect.objectContaining({ code: 'PROFILE_INVALID', message: expect.stringContaining('not valid JSON') }));
    writeFileSync(join(dir, 'huge.json'), `{"description": "${'x'.repeat(70_000)}"}`);
    expect(() => loadProfile(join(dir, 'huge.json'))).toThrow(/larger than 65536 bytes/);
  });
});

describe('broken profiles name the bad field', () => {
  type Case = [string, string, (p: Record<string, any>) => void, string, RegExp];
  const cases: Case[] = [
    ['an unknown field', 'sim', (p) => (p.colour = 'red'), 'colour', /colour: is not a known field/],
    ['neither device', 'rpi5-hot', (p) => delete p.hot, 'profile', /needs a "hot" or a "cold" section/],
    ['a bad IMSI', 'sim', (p) => (p.cold.modems[0].match.value = '26201'), 'cold.modems[0].match.value', /an IMSI of 6-15 digits/],
    ['a bad ICCID', 'sim', (p) => (p.cold.modems[1].match.value = '12'), 'cold.modems[1].match.value', /an ICCID of 18-20 digits/],
    ['an unknown match kind', 'sim', (p) => (p.cold.modems[0].match.by = 'imei'), 'cold.modems[0].match.by', /must be imsi, iccid or path/],
    ['no modem', 'rpi4-cold-sim800c', (p) => (p.cold.modems = []), 'cold.modems', /one or two modems/],
    ['three modems', 'sim', (p) => p.cold.modems.push({ ...p.cold.modems[0], name: 'sim3' }), 'cold.modems', /one or two modems/],
    ['an unknown modem model', 'rpi4-cold-sim800c', (p) => (p.cold.modems[0].model = 'sim900'), 'cold.modems[0].model', /sim800c/],
    ['a non-standard baud rate', 'rpi5-hot', (p) => (p.hot.link.baudRate = 12345), 'hot.link.baudRate', /one of the standard rates .*115200/],
    ['a gadget port for the link', 'rpi5-hot', (p) => (p.hot.link.kind = 'usb-gadget'), 'hot.link.kind', /needs a UART or a USB-serial adapter/],
    ['a pty on real hardware', 'rpi5-hot', (p) => (p.hot.console.kind = 'pty'), 'hot.console.kind', /simulated profile only/],
    ['the console on the link', 'rpi5-hot', (p) => (p.hot.console.path = p.hot.link.path), 'hot.console.path', /a port of its own/],
    ['a relative path', 'rpi5-hot', (p) => (p.hot.link.path = 'ttyAMA0'), 'hot.link.path', /an absolute path/],
    ['a missing state directory', 'rpi4-cold-sim800c', (p) => delete p.cold.stateDir, 'cold.stateDir', /cold.stateDir: is required \(must be an absolute path/],
    ['a PIN instead of a reference', 'rpi4-cold-sim800c', (p) => (p.cold.modems[0].pin = '1234'), 'cold.modems[0].pin', /never the PIN itself/],
    ['two modems with one name', 'sim', (p) => (p.cold.modems[1].name = 'sim1'), 'cold.modems[1].name', /already the name of modems\[0\]/],
    ['two modems for one SIM', 'rpi4-cold-e3372x2', (p) => (p.cold.modems[1].match = p.cold.modems[0].match), 'cold.modems[1].match.value', /already matches imsi/],
    ['candidates for a by-path modem', 'rpi4-cold-sim800c', (p) => (p.cold.modems[0].candidates = ['/dev/ttyS*']), 'cold.modems[0].candidates', /matched by path has no candidates/],
    ['no candidates for an IMSI', 'rpi4-cold-e3372x2', (p) => delete p.cold.modems[0].candidates, 'cold.modems[0].candidates', /ports to search for the IMSI/],
    ['a wildcard in a directory', 'rpi4-cold-e3372x2', (p) => (p.cold.modems[0].candidates = ['/dev/*/ttyUSB0']), 'cold.modems[0].candidates[0]', /only in its last segment/],
    ['an emulated modem on real hardware', 'rpi4-cold-e3372x2', (p) => (p.cold.modems[0].emulated = { model: 'e3372', carrier: 'A', msisdn: '+4917000000001', port: 'sim:x' }), 'cold.modems[0].emulated', /only the simulated profile/],
    ['a simulated modem without its emulation', 'sim', (p) => delete p.cold.modems[0].emulated, 'cold.modems[0].emulated', /which emulated modem/],
    ['a placeholder on real hardware', 'rpi5-hot', (p) => (p.hot.stateDir = 'sim:state-hot'), 'hot.stateDir', /placeholders belong to the simulated profile/],
    ['NTP on HSM-Cold', 'rpi4-cold-sim800c', (p) => p.cold.time.sources.push('ntp'), 'cold.time.sources[2]', /no network, so no NTP/],
    ['modem time on HSM-Hot', 'rpi5-hot', (p) => (p.hot.time.sources = ['modem']), 'hot.time.sources[0]', /no modems/],
    ['a time source twice', 'rpi5-hot', (p) => (p.hot.time.sources = ['ntp', 'ntp']), 'hot.time.sources', /each source once/],
    ['a bad host API port', 'rpi5-hot', (p) => (p.hot.hostApi.port = 70000), 'hot.hostApi.port', /65535/],
    ['a bad HSM-Hot config', 'rpi5-hot', (p) => (p.hot.config = { coins: [{ coin: 'XRP' }] }), 'hot.config.coins[0].coin', /Invalid option/],
    ['a bad SMSC', 'rpi5-cold-ec25-e3372', (p) => (p.cold.modems[0].smsc = 'SMSC'), 'cold.modems[0].smsc', /"\+" and 1-20 digits/],
    ['an unknown board', 'rpi5-hot', (p) => (p.board = 'rpi3'), 'board', /rpi4/],
  ];

  it.each(cases)('%s', (_label, base, mutate, field, message) => {
    const json = shipped(base);
    mutate(json);
    const error = failure(json);
    expect(error.code).toBe('PROFILE_INVALID');
    expect(error.field).toBe(field);
    expect(error.message).toMatch(/^profile test\.json: /);
    expect(error.message).toMatch(message);
  });

  it('a PIN written into the profile by mistake is refused without repeating it', () => {
    const json = shipped('rpi4-cold-sim800c');
    json.cold.modems[0].pin = { file: '/etc/hsm/sim1.pin', pin: '4711' };
    const error = failure(json);
    expect(error.field).toBe('cold.modems[0].pin.pin');
    expect(JSON.stringify(error.toJSON())).not.toContain('4711');
  });

  it('a valid HSM-Hot config in the profile is accepted', () => {
    const json = shipped('rpi5-hot');
    json.hot.config = { coins: [{ coin: 'BTC', network: 'btc-main', types: ['p2wpkh'], fee: { maxFee: 100000, dynamic: { maxRate: 50 }, fixed: { minRate: 1, maxRate: 20 } } }] };
    expect(parseProfile(json, 'test.json').hot?.config).toEqual(json.hot.config);
  });
});

describe('simulated paths and candidate ports', () => {
  it('resolveSimPaths replaces every placeholder, and names the field of one it cannot', () => {
    const sim = loadProfile('sim');
    const paths = Object.fromEntries(simPlaceholders(sim).map((p) => [p.name, `/tmp/sim/${p.name}`]));
    const resolved = resolveSimPaths(sim, paths);
    expect(simPlaceholders(resolved)).toEqual([]);
    expect(resolved.cold?.modems[1]?.candidates).toEqual(['/tmp/sim/modem-sim1', '/tmp/sim/modem-sim2']);
    expect(resolved.hot?.link.path).toBe('/tmp/sim/link-hot');
    expect(sim.hot?.link.path).toBe('sim:link-hot'); // the original is untouched
    const { 'console-cold': _, ...missing } = paths;
    expect(() => resolveSimPaths(sim, missing)).toThrow(expect.objectContaining({ code: 'PROFILE_SIM_PATH', field: 'cold.console.path' }));
  });

  it('a resolved simulated profile, written to a file, loads as it is: a rig serving the hardware runs devices on it', async () => {
    const { openMachine } = await import('../../scripts/cli/machine.ts');
    const { RealClock } = await import('../../shared/clock.ts');
    const sim = loadProfile('sim');
    const resolved = resolveSimPaths(sim, Object.fromEntries(simPlaceholders(sim).map((p) => [p.name, `/tmp/rig/${p.name}`])));
    const file = join(tempDir(), 'sim-resolved.json');
    writeFileSync(file, JSON.stringify(resolved));
    expect(loadProfile(file)).toEqual(resolved);
    const machine = await openMachine(file, { clock: new RealClock(), seed: 'unused' });
    expect(machine.hardware).toBeUndefined();
    expect(machine.profile.cold?.modems[0]?.emulated?.port).toBe('/tmp/rig/modem-sim1');
    await machine.stop();
  });

  it('expandCandidates lists what exists now, each glob sorted, without duplicates', () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'serial'));
    for (const name of ['ttyUSB2', 'ttyUSB0', 'ttyACM0', 'ttyUSB10']) writeFileSync(join(dir, name), '');
    symlinkSync(join(dir, 'ttyUSB2'), join(dir, 'serial', 'hsm-e3372-1.3-if00'));
    expect(expandCandidates([`${dir}/ttyUSB?`, `${dir}/ttyUSB*`, `${dir}/serial/hsm-e3372-*`, `${dir}/missing`, `${dir}/ttyACM0`])).toEqual([
      `${dir}/ttyUSB0`,
      `${dir}/ttyUSB2`,
      `${dir}/ttyUSB10`,
      `${dir}/serial/hsm-e3372-1.3-if00`,
      `${dir}/ttyACM0`,
    ]);
    expect(expandCandidates([`${dir}/nothing-*`, '/no/such/dir/*'])).toEqual([]);
  });
});

describe('hsm profile, the command', () => {
  it('lists the shipped profiles, checks one, and names the bad field of a broken one', async () => {
    const { hsm } = await import('../helpers/cli.ts');
    const list = await hsm(['profile', 'list', '--json']);
    expect(list.code, list.stderr).toBe(0);
    expect((JSON.parse(list.stdout) as Array<{ name: string; roles: string[] }>).find((p) => p.name === 'sim')?.roles).toEqual(['hot', 'cold']);

    const ok = await hsm(['profile', 'check', 'rpi5-cold-ec25-e3372', '--role', 'cold']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^valid\nrpi5-cold-ec25-e3372 \(rpi5\)/);
    expect(ok.stdout).toContain('modem sim2: e3372, ICCID 89860112345678901234 among /dev/hsm/e3372-*, SIM PIN by reference');

    const file = join(tempDir(), 'mine.json');
    const broken = shipped('rpi4-cold-sim800c');
    broken.cold.link.baudRate = 100000;
    writeFileSync(file, JSON.stringify(broken));
    const bad = await hsm(['profile', 'check', file, '--json']);
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.stdout)).toEqual({
      error: { code: 'PROFILE_INVALID', field: 'cold.link.baudRate', message: expect.stringMatching(/cold\.link\.baudRate: must be one of the standard rates/) },
    });
    const role = await hsm(['profile', 'check', 'rpi5-hot', '--role', 'cold']);
    expect(role.code).toBe(2);
    expect(role.stderr).toMatch(/describes no HSM-Cold \(it has hot\) \[PROFILE_ROLE\]/);
  });
});
