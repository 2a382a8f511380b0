/**
 * `hsm doctor`: checks that a machine is what its hardware profile says, before (or instead of)
 * starting the device on it, and says how to fix whatever is not. Per device in the profile:
 *
 * - the state directory exists, only its owner can enter it (0700), and it is writable;
 * - the link and console ports exist, may be read and written, and nobody else holds them;
 * - the link peer answers: the keyless probe (shared/link/probe.ts) gets an answer from the
 *   other HSM's link layer. No pairing record, PIN or key is used, and the peer's session is
 *   not disturbed, so the check weakens nothing; it shows the peer runs (paired and unlocked)
 *   and the wire between carries frames both ways intact, not that the peer is the one paired
 *   with this device (only the authenticated handshake shows that, when the device starts);
 * - HSM-Hot: the host API's address is free; HSM-Cold: each modem is found by its SIM and
 *   answers AT, its SIM is ready, it is registered, its signal, and its network time;
 * - the time sources the profile names (NTP synchronised, the RTC present and right).
 *
 * The device itself must not run meanwhile (the doctor opens its ports; a port the service
 * holds is reported with the command to stop it).
 * @module
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync, statSync, statfsSync } from 'node:fs';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import type { Clock } from '../../shared/clock.ts';
import { probeLinkPeer } from '../../shared/link/probe.ts';
import { openSerialPort, type Port } from '../../shared/port.ts';
import { profileRoles, profileSection, simPlaceholders, type HotSection, type PortSpec, type Profile, type Role } from '../profile.ts';
import { modemChecks } from './modems.ts';
import { describeHolders, holderFix, inspectPort, missingPortFix, userAccount } from './ports.ts';
import { makeReport, type Check, type DoctorReport } from './report.ts';

export { formatReport, type Check, type CheckStatus, type DoctorReport } from './report.ts';

export interface DoctorOptions {
  /** A profile with real paths (a simulated one resolved by its hardware). */
  profile: Profile;
  /** Which devices to check; default every device of the profile. */
  roles?: Role[];
  clock: Clock;
  /** Processes whose descriptors on a port are expected (the simulated hardware's own). */
  ignorePids?: number[];
  /** The service user that must own the state directories; unchecked when absent. */
  user?: string;
  /** How long the link peer has to answer. Default 3 s. */
  linkTimeoutMs?: number;
  /** Per AT command. Default 2 s. */
  atTimeoutMs?: number;
  /** Where systemd credentials are (only inside the service); default `$CREDENTIALS_DIRECTORY`. */
  credentialsDirectory?: string;
}

const MIN_FREE_BYTES = 64 * 1024 * 1024;

export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  const { profile } = options;
  const roles = options.roles ?? profileRoles(profile);
  const checks: Check[] = [];
  const pending = simPlaceholders(profile);
  if (pending.length > 0) {
    checks.push({
      id: 'profile',
      role: roles[0] ?? 'cold',
      title: 'profile',
      status: 'fail',
      detail: `${pending[0]?.field} is still sim:${pending[0]?.name}`,
      fix: 'run the doctor through `hsm doctor --profile sim`, which starts the simulated hardware',
    });
    return makeReport(profile.name, profile.board, roles, checks);
  }
  for (const role of roles) {
    const section = profileSection(profile, role);
    checks.push(stateDirCheck(role, section.stateDir, options.user));
    checks.push(...(await linkChecks(role, section.link, options)));
    if (section.console !== undefined) checks.push((await portCheck(role, 'console', 'console port', section.console, options, false)).check);
    if (role === 'hot') checks.push(await hostApiCheck(profileSection(profile, 'hot')));
    checks.push(...timeChecks(role, section.time.sources, section.time.maxSkewSeconds, options.clock, profile.board));
    if (role === 'cold') {
      checks.push(
        ...(await modemChecks(profileSection(profile, 'cold'), {
          clock: options.clock,
          ignorePids: options.ignorePids ?? [],
          credentialsDirectory: options.credentialsDirectory ?? process.env.CREDENTIALS_DIRECTORY,
          ...(options.user === undefined ? {} : { user: options.user }),
          ...(options.atTimeoutMs === undefined ? {} : { atTimeoutMs: options.atTimeoutMs }),
        })),
      );
    }
  }
  return makeReport(profile.name, profile.board, roles, checks);
}

// ---------------------------------------------------------------------------------------------

function stateDirCheck(role: Role, dir: string, user: string | undefined): Check {
  const base = { id: `${role}.state-dir`, role, title: 'state directory' };
  const create = `sudo install -d -m 0700 -o ${user ?? 'hsm'} -g ${user ?? 'hsm'} ${dir} (scripts/pi/install.sh does it)`;
  let stats;
  try {
    stats = statSync(dir);
  } catch {
    return { ...base, status: 'fail', detail: `${dir} does not exist`, fix: create };
  }
  if (!stats.isDirectory()) return { ...base, status: 'fail', detail: `${dir} is not a directory`, fix: `move it away, then ${create}` };
  const mode = stats.mode & 0o777;
  const octal = `0${mode.toString(8)}`;
  if ((mode & 0o077) !== 0) return { ...base, status: 'fail', detail: `${dir} has mode ${octal}: other users can look into the device store`, fix: `sudo chmod 700 ${dir}` };
  if (user !== undefined) {
    const uid = uidOf(user);
    if (uid === undefined) return { ...base, status: 'fail', detail: `there is no user ${user}`, fix: 'run scripts/pi/install.sh, which creates the service user' };
    if (stats.uid !== uid) return { ...base, status: 'fail', detail: `${dir} belongs to uid ${stats.uid}, not ${user}`, fix: `sudo chown -R ${user}:${user} ${dir}` };
  } else if (process.getuid?.() !== 0) {
    try {
      accessSync(dir, constants.W_OK | constants.X_OK);
    } catch {
      return { ...base, status: 'fail', detail: `${dir} is not writable by ${userInfo().username}`, fix: `run the doctor as the service user, or sudo chown -R hsm:hsm ${dir}` };
    }
  }
  let free: number | undefined;
  try {
    const fs = statfsSync(dir);
    free = fs.bavail * fs.bsize;
  } catch {
    free = undefined;
  }
  const space = free === undefined ? '' : `, ${(free / 1e9).toFixed(1)} GB free`;
  if (free !== undefined && free < MIN_FREE_BYTES) return { ...base, status: 'warn', detail: `${dir}: only ${Math.round(free / 1e6)} MB free`, fix: 'free space on the SD card: the store and its audit log grow' };
  return { ...base, status: 'ok', detail: `${dir}: mode ${octal}${user === undefined ? '' : `, owned by ${user}`}${space}` };
}

function uidOf(user: string): number | undefined {
  return userAccount(user)?.uid;
}

/** Checks a serial port; with `keepOpen` it stays open for the caller (the link probe). */
async function portCheck(role: Role, name: 'link' | 'console', title: string, spec: PortSpec, options: DoctorOptions, keepOpen: boolean): Promise<{ check: Check; port?: Port }> {
  const base = { id: `${role}.${name}.port`, role, title };
  const found = inspectPort(spec.path, options.ignorePids ?? [], options.user);
  if (!found.exists) return { check: { ...base, status: 'fail', detail: `${spec.path} does not exist`, fix: missingPortFix(spec.kind, spec.path) } };
  if (!found.isCharDevice) return { check: { ...base, status: 'fail', detail: `${spec.path} is not a serial device`, fix: `correct ${role}.${name}.path in the profile` } };
  if (!found.accessible) {
    return {
      check: { ...base, status: 'fail', detail: `${spec.path}: no read/write access for ${options.user ?? userInfo().username}`, fix: `add ${options.user ?? 'the service user'} to the dialout group (\`sudo usermod -aG dialout ${options.user ?? 'hsm'}\`) and install the udev rules` },
    };
  }
  if (found.holders.length > 0) {
    return { check: { ...base, status: 'fail', detail: `${spec.path} is open in ${describeHolders(found.holders)}`, fix: holderFix(found.holders, found.device, role) } };
  }
  let port: Port;
  try {
    port = await openSerialPort({ path: spec.path, baudRate: spec.baudRate });
  } catch (error) {
    const detail = `${spec.path} cannot be opened: ${error instanceof Error ? error.message.replace(/^cannot open [^:]+: /, '') : String(error)}`;
    return { check: { ...base, status: 'fail', detail, fix: holderFix([], found.device, role) } };
  }
  const device = found.device !== spec.path ? ` → ${found.device}` : '';
  const check: Check = { ...base, status: 'ok', detail: `${spec.path}${device}, read/write, nobody else holds it` };
  if (keepOpen) return { check, port };
  await port.close();
  return { check };
}

async function linkChecks(role: Role, spec: PortSpec, options: DoctorOptions): Promise<Check[]> {
  const peer = role === 'hot' ? 'HSM-Cold' : 'HSM-Hot';
  const { check, port } = await portCheck(role, 'link', 'link port', spec, options, true);
  const base = { id: `${role}.link.peer`, role, title: 'link peer' };
  if (port === undefined) return [check, { ...base, status: 'skip', detail: 'the link port cannot be used' }];
  try {
    const result = await probeLinkPeer(port, { clock: options.clock, timeoutMs: options.linkTimeoutMs ?? 3_000 });
    if (result.answered) {
      const how = result.by === 'hello' ? 'announced itself (HELLO)' : 'answered the probe (ERR, unknown session)';
      return [check, { ...base, status: 'ok', detail: `${peer} ${how}, boot epoch ${result.peerEpoch}, after ${Math.round(result.elapsedMs)} ms` }];
    }
    if (result.echoed) {
      return [check, { ...base, status: 'fail', detail: 'what this end sends comes straight back: TX is joined to RX', fix: `cross the wires: this TX to ${peer}'s RX, this RX to its TX, and GND to GND (no loopback plug)` }];
    }
    if (result.bytes > 0) {
      return [
        check,
        {
          ...base,
          status: 'fail',
          detail: `${result.bytes} bytes arrived but no frame decoded (${result.damaged} damaged)`,
          fix: `both ends must run at ${spec.baudRate} baud; and no console may write to the line: remove console=serial0,115200 from /boot/firmware/cmdline.txt and disable serial-getty@ on both machines`,
        },
      ];
    }
    return [
      check,
      {
        ...base,
        status: 'fail',
        detail: `${peer} did not answer within ${Math.round(result.elapsedMs / 100) / 10} s`,
        fix: `check that ${peer} runs, is paired and unlocked (\`systemctl status hsm-${role === 'hot' ? 'cold' : 'hot'}\` there; its link starts only then), and the cable: TX to RX, RX to TX, GND to GND, 3.3 V levels`,
      },
    ];
  } finally {
    await port.close();
  }
}

function hostApiCheck(hot: HotSection): Promise<Check> {
  const base = { id: 'hot.host-api', role: 'hot' as const, title: 'host API address' };
  const { host, port } = hot.hostApi;
  if (port === 0) return Promise.resolve({ ...base, status: 'ok', detail: `${host}: a free port is picked at start` });
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') {
        resolve({ ...base, status: 'fail', detail: `${host}:${port} is taken by another program`, fix: `stop it (\`sudo ss -ltnp 'sport = :${port}'\` shows which), or choose another hot.hostApi.port` });
      } else {
        resolve({ ...base, status: 'fail', detail: `${host}:${port} cannot be listened on (${error.code ?? error.message})`, fix: 'use 0.0.0.0 or an address of this machine in hot.hostApi.host' });
      }
    });
    server.listen({ host, port, exclusive: true }, () => {
      server.close(() => resolve({ ...base, status: 'ok', detail: `${host}:${port} is free` }));
    });
  });
}

function timeChecks(role: Role, sources: readonly string[], maxSkewSeconds: number, clock: Clock, board: Profile['board']): Check[] {
  const checks: Check[] = [];
  if (sources.includes('ntp')) {
    const base = { id: `${role}.time.ntp`, role, title: 'time from NTP' };
    const run = spawnSync('timedatectl', ['show', '-p', 'NTPSynchronized', '--value'], { encoding: 'utf8', timeout: 5_000 });
    const answer = run.status === 0 ? run.stdout.trim() : undefined;
    if (answer === 'yes') checks.push({ ...base, status: 'ok', detail: 'the clock is synchronised' });
    else if (answer === 'no') checks.push({ ...base, status: 'fail', detail: 'the clock is not synchronised', fix: 'check the network and `systemctl status systemd-timesyncd`' });
    else checks.push({ ...base, status: 'skip', detail: 'timedatectl cannot tell here (no systemd)' });
  }
  if (sources.includes('rtc')) {
    const base = { id: `${role}.time.rtc`, role, title: 'real-time clock' };
    const fit =
      board === 'rpi5'
        ? 'the Pi 5 has an RTC: fit its battery to the BAT connector so it keeps time without power'
        : 'add an RTC module (a DS3231: dtoverlay=i2c-rtc,ds3231 in /boot/firmware/config.txt) and remove fake-hwclock';
    let seconds: number | undefined;
    try {
      seconds = Number(readFileSync('/sys/class/rtc/rtc0/since_epoch', 'utf8').trim());
    } catch {
      seconds = undefined;
    }
    if (seconds === undefined || !Number.isFinite(seconds)) {
      checks.push({ ...base, status: 'fail', detail: 'no RTC (/sys/class/rtc/rtc0)', fix: fit });
    } else {
      const skew = Math.round(clock.now() / 1000 - seconds);
      if (Math.abs(skew) > maxSkewSeconds) {
        checks.push({ ...base, status: 'fail', detail: `the RTC is ${Math.abs(skew)} s off this machine's clock`, fix: 'once the clock is right, `sudo hwclock --systohc`; if it drifts again, replace the RTC battery' });
      } else {
        checks.push({ ...base, status: 'ok', detail: `agrees with this machine's clock within ${Math.max(1, Math.abs(skew))} s` });
      }
    }
  }
  return checks;
}
