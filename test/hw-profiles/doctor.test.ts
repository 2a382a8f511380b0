/**
 * `hsm doctor` against the simulated hardware behind sim.json: real ptys, the real serialport
 * bindings, emulated modems on a simulated network. All green first; then each fault an
 * operator meets (a modem unplugged, no SIM, no registration, a hung modem, the link peer down,
 * a port held by another program, a state directory others can read, a PIN file others can
 * read) is reported with its fix, and nothing else turns red. Which modem is broken is drawn
 * from a seeded stream.
 */
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, openSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RealClock } from '../../shared/clock.ts';
import { SeededRandom } from '../../shared/random.ts';
import { formatReport, runDoctor, type DoctorReport } from '../../hw-profiles/doctor/index.ts';
import { accessibleTo, userAccount } from '../../hw-profiles/doctor/ports.ts';
import { loadProfile, type Profile, type Role } from '../../hw-profiles/profile.ts';
import { startSimHardware, type SimHardware } from '../../hw-profiles/sim/hardware.ts';
import { hsm } from '../helpers/cli.ts';
import { osTool } from '../helpers/os-tools.ts';
import { tempDir } from '../helpers/temp.ts';

const clock = new RealClock();
const random = new SeededRandom('doctor-faults');
/** The simulated hardware's ports are socat ptys. */
const socat = osTool('socat', 'socat');
let hw: SimHardware;

beforeAll(async () => {
  if (socat.available) hw = await startSimHardware({ profile: loadProfile('sim'), clock, random: random.fork('hardware') });
});
afterAll(async () => {
  await hw?.stop();
});

/** Runs the doctor for one role, with a stand-in at the other end of the link unless `peer` is false. */
async function doctor(role: Role, options: { peer?: boolean; profile?: Profile } = {}): Promise<DoctorReport> {
  const standIn = options.peer === false ? undefined : await hw.startLinkStandIn(role === 'hot' ? 'cold' : 'hot');
  try {
    return await runDoctor({ profile: options.profile ?? hw.profile, roles: [role], clock, ignorePids: hw.ownPids(), linkTimeoutMs: 1_500 });
  } finally {
    await standIn?.stop();
  }
}

function status(report: DoctorReport): Record<string, string> {
  return Object.fromEntries(report.checks.map((c) => [c.id, c.status]));
}

/** Every failure carries a fix; `failed` are exactly the failing ids. */
function expectFailures(report: DoctorReport, failed: string[]): void {
  expect(report.checks.filter((c) => c.status === 'fail').map((c) => c.id)).toEqual(failed);
  for (const check of report.checks.filter((c) => c.status === 'fail')) expect(check.fix, check.id).toMatch(/\w{3,}/);
  expect(report.ok).toBe(failed.length === 0);
}

function check(report: DoctorReport, id: string): { status: string; detail: string; fix?: string } {
  const found = report.checks.find((c) => c.id === id);
  expect(found, id).toBeDefined();
  return found as { status: string; detail: string; fix?: string };
}

const MODEM_PARTS = ['port', 'at', 'sim', 'registration', 'signal', 'time'];

describe.skipIf(!socat.available)('hsm doctor on the simulated hardware', () => {
  it('is all green for both devices', async () => {
    const cold = await doctor('cold');
    expect(Object.keys(status(cold))).toEqual([
      'cold.state-dir',
      'cold.link.port',
      'cold.link.peer',
      'cold.console.port',
      ...MODEM_PARTS.map((p) => `cold.modem.sim1.${p}`),
      ...MODEM_PARTS.map((p) => `cold.modem.sim2.${p}`),
    ]);
    expect(Object.values(status(cold)).every((s) => s === 'ok'), formatReport(cold)).toBe(true);
    expect(check(cold, 'cold.modem.sim1.sim').detail).toContain(`IMSI ${hw.modems.sim1?.sim.imsi}`);
    expect(check(cold, 'cold.modem.sim2.sim').detail).toContain(`ICCID ${hw.modems.sim2?.sim.iccid}`);
    expect(check(cold, 'cold.link.peer').detail).toMatch(/^HSM-Hot (answered|announced)/);

    const hot = await doctor('hot');
    expect(status(hot)).toEqual({ 'hot.state-dir': 'ok', 'hot.link.port': 'ok', 'hot.link.peer': 'ok', 'hot.console.port': 'ok', 'hot.host-api': 'ok' });
  });

  it('an unplugged modem: no port of its own, with how to plug it in; the other modem stays green', async () => {
    const victim = random.fork('unplug').pick(['sim1', 'sim2']);
    const other = victim === 'sim1' ? 'sim2' : 'sim1';
    await hw.faults.unplugModem(victim);
    try {
      const report = await doctor('cold');
      expectFailures(report, [`cold.modem.${victim}.port`]);
      expect(check(report, `cold.modem.${victim}.port`).detail).toMatch(/no port of its own \(modem unplugged\?\): .*modem-\w+ is missing/);
      for (const part of MODEM_PARTS.slice(1)) expect(check(report, `cold.modem.${victim}.${part}`).status).toBe('skip');
      for (const part of MODEM_PARTS) expect(check(report, `cold.modem.${other}.${part}`).status).toBe('ok');
    } finally {
      await hw.faults.replugModem(victim);
    }
    expect((await doctor('cold')).ok).toBe(true);
  });

  it('no SIM in a modem: the modem answers, the SIM check says so, and how to insert one', async () => {
    const victim = random.fork('no-sim').pick(['sim1', 'sim2']);
    hw.faults.removeSim(victim);
    try {
      const report = await doctor('cold');
      expectFailures(report, [`cold.modem.${victim}.sim`]);
      expect(check(report, `cold.modem.${victim}.at`).status).toBe('ok');
      const sim = check(report, `cold.modem.${victim}.sim`);
      expect(sim.detail).toMatch(/has no SIM card \(\+CME ERROR: 10\)/);
      expect(sim.fix).toMatch(/insert the SIM/);
      expect(check(report, `cold.modem.${victim}.registration`).status).toBe('skip');
    } finally {
      hw.faults.insertSim(victim);
    }
  });

  it('no registration: searching, with what to check', async () => {
    const victim = random.fork('no-registration').pick(['sim1', 'sim2']);
    hw.faults.deregister(victim);
    try {
      const report = await doctor('cold');
      expectFailures(report, [`cold.modem.${victim}.registration`]);
      const registration = check(report, `cold.modem.${victim}.registration`);
      expect(registration.detail).toMatch(/searching for a network \(\+CREG stat 2\)/);
      expect(registration.fix).toMatch(/antenna/);
    } finally {
      hw.faults.reregister(victim);
    }
  });

  it('a hung modem does not answer AT; a weak one is a warning, not a failure', async () => {
    const [hung, weak] = random.fork('hang').pick([true, false]) ? ['sim1', 'sim2'] : ['sim2', 'sim1'];
    hw.faults.hangModem(hung as string);
    hw.faults.setSignal(weak as string, 6);
    try {
      const report = await doctor('cold');
      expectFailures(report, [`cold.modem.${hung}.at`]);
      expect(check(report, `cold.modem.${hung}.at`).detail).toMatch(/no answer to AT/);
      expect(check(report, `cold.modem.${weak}.signal`)).toMatchObject({ status: 'warn', detail: 'weak: rssi 6 (-101 dBm); SMS may fail' });
    } finally {
      hw.faults.unhangModem(hung as string);
      hw.faults.setSignal(weak as string, 21);
    }
  });

  it('the link peer down: no answer, with what to check on the other machine', async () => {
    const report = await doctor('cold', { peer: false });
    expectFailures(report, ['cold.link.peer']);
    const peer = check(report, 'cold.link.peer');
    expect(peer.detail).toBe('HSM-Hot did not answer within 1.5 s');
    expect(peer.fix).toMatch(/runs, is paired and unlocked.*TX to RX/);
    const hot = await doctor('hot', { peer: false });
    expectFailures(hot, ['hot.link.peer']);
  });

  it('a port another program holds is reported with that program', async () => {
    const path = hw.profile.cold?.console?.path as string;
    const fd = openSync(path, 'r+');
    const holder = spawn('sleep', ['30'], { stdio: [fd, 'ignore', 'ignore'] });
    closeSync(fd);
    try {
      const report = await doctor('cold');
      expectFailures(report, ['cold.console.port']);
      const port = check(report, 'cold.console.port');
      expect(port.detail).toContain(`open in pid ${holder.pid} (sleep)`);
      expect(port.fix).toBe(`stop pid ${holder.pid} (sleep)`);
    } finally {
      holder.kill();
    }
  });

  it('a state directory others can read, and a SIM PIN file others can read, never showing the PIN', async () => {
    const dir = hw.profile.cold?.stateDir as string;
    chmodSync(dir, 0o755);
    const pinFile = join(tempDir(), 'sim2.pin');
    writeFileSync(pinFile, '4711\n', { mode: 0o644 });
    chmodSync(pinFile, 0o644);
    const cold = hw.profile.cold as NonNullable<Profile['cold']>;
    const profile: Profile = { ...hw.profile, cold: { ...cold, modems: cold.modems.map((m) => (m.name === 'sim2' ? { ...m, pin: { file: pinFile } } : m)) } };
    try {
      const report = await doctor('cold', { profile });
      expectFailures(report, ['cold.state-dir', 'cold.modem.sim2.pin']);
      expect(check(report, 'cold.state-dir')).toMatchObject({ detail: `${dir} has mode 0755: other users can look into the device store`, fix: `sudo chmod 700 ${dir}` });
      expect(check(report, 'cold.modem.sim2.pin').detail).toMatch(/readable by others; chmod 600 it/);
      chmodSync(pinFile, 0o600);
      chmodSync(dir, 0o700);
      const fixed = await doctor('cold', { profile });
      expectFailures(fixed, []);
      expect(check(fixed, 'cold.modem.sim2.pin').status).toBe('ok');
      for (const r of [report, fixed]) {
        expect(JSON.stringify(r)).not.toContain('4711');
        expect(formatReport(r)).not.toContain('4711');
      }
    } finally {
      chmodSync(dir, 0o700);
    }
  });
});

describe('access for the service user', () => {
  it('is judged by owner, group membership and mode, as the kernel would for that user', () => {
    const etc = tempDir();
    writeFileSync(join(etc, 'passwd'), 'root:x:0:0::/root:/bin/sh\nhsm:x:990:990::/var/lib/hsm:/usr/sbin/nologin\nother:x:991:991::/:/bin/sh\n');
    writeFileSync(join(etc, 'group'), 'root:x:0:\ndialout:x:20:hsm,pi\nhsm:x:990:\n');
    expect(userAccount('hsm', etc)).toEqual({ uid: 990, gids: [990, 20] });
    expect(userAccount('nobody-here', etc)).toBeUndefined();
    const file = join(tempDir(), 'ttyFAKE');
    writeFileSync(file, '');
    const gid = statSync(file).gid;
    // The file belongs to this process's user and group; judge it for users who are neither.
    const groupOf = (user: string, ids: number[]): string => `${user}:x:${ids[0]}:${ids[1]}::/:/bin/sh\n`;
    writeFileSync(join(etc, 'passwd'), groupOf('member', [5001, gid]) + groupOf('stranger', [5002, 5002]));
    writeFileSync(join(etc, 'group'), '');
    chmodSync(file, 0o660);
    expect(accessibleTo(file, 'member', etc)).toBe(true);
    expect(accessibleTo(file, 'stranger', etc)).toBe(false);
    chmodSync(file, 0o640);
    expect(accessibleTo(file, 'member', etc)).toBe(false);
    chmodSync(file, 0o666);
    expect(accessibleTo(file, 'stranger', etc)).toBe(true);
    expect(accessibleTo(file, 'unknown', etc)).toBe(false);
  });

  it.skipIf(!socat.available)('the doctor run for another user than the one running it reports what that user cannot reach', async () => {
    const report = await runDoctor({ profile: hw.profile, roles: ['hot'], clock, ignorePids: hw.ownPids(), linkTimeoutMs: 500, user: 'nobody' });
    expect(check(report, 'hot.state-dir')).toMatchObject({ status: 'fail', detail: expect.stringMatching(/belongs to uid \d+, not nobody/), fix: expect.stringContaining('chown -R nobody:nobody') });
    expect(check(report, 'hot.link.port')).toMatchObject({ status: 'fail', detail: expect.stringMatching(/no read\/write access for nobody/), fix: expect.stringContaining('usermod -aG dialout nobody') });
  });
});

describe.skipIf(!socat.available)('hsm doctor, the command', () => {
  it('--profile sim: all green on the simulated rig, as text and as JSON', async () => {
    const text = await hsm(['doctor', '--profile', 'sim', '--link-timeout', '2000']);
    expect(text.code, text.stdout + text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^hsm doctor: profile sim \(sim\)/);
    expect(text.stdout).toContain('21 ok, 0 warnings, 0 failed, 0 skipped: all checks passed');
    const json = await hsm(['doctor', '--profile', 'sim', '--role', 'hot', '--json']);
    expect(json.code, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as DoctorReport;
    expect(report).toMatchObject({ profile: 'sim', roles: ['hot'], ok: true, counts: { ok: 5, warn: 0, fail: 0, skip: 0 } });
  });

  it('reports injected faults with their fixes and exits 1', async () => {
    const result = await hsm(['doctor', '--profile', 'sim', '--role', 'cold', '--inject', 'no-sim:sim2', '--inject', 'link-peer-down', '--link-timeout', '1000', '--json']);
    expect(result.code, result.stderr).toBe(1);
    const report = JSON.parse(result.stdout) as DoctorReport;
    expectFailures(report, ['cold.link.peer', 'cold.modem.sim2.sim']);
    const bad = await hsm(['doctor', '--profile', 'sim', '--inject', 'melt:sim1']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--inject melt:sim1: expected one of unplug:<modem>/);
    const real = await hsm(['doctor', '--profile', 'rpi4-cold-sim800c', '--inject', 'no-sim:sim1']);
    expect(real.code).toBe(2);
    expect(real.stderr).toMatch(/simulated profile only/);
  });
});
