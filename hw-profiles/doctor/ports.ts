/**
 * What `hsm doctor` finds out about a serial port before it opens it: does the path exist,
 * what device is behind it, may this user read and write it, and which other processes hold
 * it open (any of /proc/<pid>/fd pointing at the device). serialport takes an exclusive lock
 * (flock) when it opens a port, but a login console, ModemManager or a `cat` need not lock to
 * steal bytes, so holders are looked for whether or not the lock is free. Without root, only
 * the user's own processes can be seen.
 * @module
 */
import { accessSync, constants, readFileSync, readdirSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import type { PortKind } from '../profile.ts';

export interface PortHolder {
  pid: number;
  /** The program's name (/proc/<pid>/comm), never its arguments. */
  command: string;
}

export interface PortInspection {
  path: string;
  exists: boolean;
  /** The device behind symlinks (`/dev/hsm/uart0` → `/dev/ttyAMA0`). */
  device: string | undefined;
  isCharDevice: boolean;
  /** Read and write access for the service user (when named), else for the user running the check. */
  accessible: boolean;
  holders: PortHolder[];
}

export function inspectPort(path: string, ignorePids: readonly number[] = [], user?: string): PortInspection {
  const inspection: PortInspection = { path, exists: false, device: undefined, isCharDevice: false, accessible: false, holders: [] };
  try {
    const stats = statSync(path);
    inspection.exists = true;
    inspection.isCharDevice = stats.isCharacterDevice();
    inspection.device = realpathSync(path);
  } catch {
    return inspection;
  }
  inspection.accessible = user === undefined ? accessibleToMe(path) : accessibleTo(path, user);
  inspection.holders = portHolders(inspection.device as string, ignorePids);
  return inspection;
}

function accessibleToMe(path: string): boolean {
  try {
    accessSync(path, constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether `user` may read and write `path` by its mode, owner and group (the doctor may run as
 * root, for whom every access check passes, while the service runs as `user`).
 */
export function accessibleTo(path: string, user: string, etc = '/etc'): boolean {
  const account = userAccount(user, etc);
  if (account === undefined) return false;
  if (account.uid === 0) return true;
  const { mode, uid, gid } = statSync(path);
  const rw = (shift: number): boolean => ((mode >> shift) & 0o6) === 0o6;
  if (uid === account.uid) return rw(6);
  if (account.gids.includes(gid)) return rw(3);
  return rw(0);
}

/** uid and group ids (primary and supplementary) of `user`, from /etc/passwd and /etc/group. */
export function userAccount(user: string, etc = '/etc'): { uid: number; gids: number[] } | undefined {
  let passwd: string;
  let group: string;
  try {
    passwd = readFileSync(`${etc}/passwd`, 'utf8');
    group = readFileSync(`${etc}/group`, 'utf8');
  } catch {
    return undefined;
  }
  const entry = passwd
    .split('\n')
    .map((l) => l.split(':'))
    .find((f) => f[0] === user);
  if (entry === undefined) return undefined;
  const gids = [Number(entry[3])];
  for (const line of group.split('\n')) {
    const [, , gid, members] = line.split(':');
    if (gid !== undefined && (members ?? '').split(',').includes(user)) gids.push(Number(gid));
  }
  return { uid: Number(entry[2]), gids };
}

/** Processes with a descriptor on `device`, except `ignorePids`. */
export function portHolders(device: string, ignorePids: readonly number[] = [], procDir = '/proc'): PortHolder[] {
  const holders: PortHolder[] = [];
  let pids: string[];
  try {
    pids = readdirSync(procDir).filter((name) => /^[0-9]+$/.test(name));
  } catch {
    return holders;
  }
  for (const name of pids) {
    const pid = Number(name);
    if (ignorePids.includes(pid)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`${procDir}/${name}/fd`);
    } catch {
      continue; // gone, or not ours to look at
    }
    const holds = fds.some((fd) => {
      try {
        return readlinkSync(`${procDir}/${name}/fd/${fd}`) === device;
      } catch {
        return false;
      }
    });
    if (holds) holders.push({ pid, command: commandOf(procDir, name) });
  }
  return holders;
}

function commandOf(procDir: string, pid: string): string {
  try {
    return readFileSync(`${procDir}/${pid}/comm`, 'utf8').trim().replace(/[^\x20-\x7e]/g, '?').slice(0, 32);
  } catch {
    return 'unknown';
  }
}

export function describeHolders(holders: readonly PortHolder[]): string {
  return holders.map((h) => `pid ${h.pid} (${h.command})`).join(', ');
}

/** What to do about a process holding the port, by what it is. */
export function holderFix(holders: readonly PortHolder[], device: string | undefined, role: string): string {
  const names = holders.map((h) => h.command.toLowerCase());
  const tty = device?.replace(/^\/dev\//, '') ?? 'the port';
  if (names.some((n) => n.includes('modemmanager') || n === 'modemmanager')) {
    return 'ModemManager probes modems and steals their replies: install the udev rules (scripts/pi/install.sh sets ID_MM_DEVICE_IGNORE), or `sudo systemctl disable --now ModemManager`';
  }
  if (names.some((n) => n.includes('getty'))) {
    return `a login console runs on it: \`sudo systemctl disable --now serial-getty@${tty}\`, and remove console=serial0,115200 from /boot/firmware/cmdline.txt`;
  }
  if (names.some((n) => n.includes('hciattach') || n.includes('btattach') || n.includes('bluetooth'))) {
    return 'Bluetooth uses this UART: add dtoverlay=disable-bt to /boot/firmware/config.txt, `sudo systemctl disable hciuart`, and reboot';
  }
  if (names.some((n) => n === 'node' || n.startsWith('hsm'))) {
    return `an HSM process holds it: stop the service first (\`sudo systemctl stop hsm-${role}\`), then run the doctor again`;
  }
  return holders.length === 0 ? 'stop whichever process holds the lock (run the doctor as root to see which)' : `stop ${describeHolders(holders)}`;
}

/** Where the port should come from, when it is missing. */
export function missingPortFix(kind: PortKind, path: string): string {
  switch (kind) {
    case 'pl011':
      return 'enable the PL011 on GPIO 14/15: in /boot/firmware/config.txt set enable_uart=1 and dtoverlay=disable-bt (Pi 4, Zero 2 W) or dtparam=uart0=on (Pi 5), reboot; install the udev rules (scripts/pi/install.sh) for the /dev/hsm/ names';
    case 'uart':
      return `enable the UART's overlay in /boot/firmware/config.txt (dtoverlay=uart3 or uart5 on a Pi 4; the debug UART is always there on a Pi 5), reboot, and check \`ls -l /dev/hsm/\`; or correct the path ${path} in the profile`;
    case 'usb-serial':
      return 'plug the USB-serial adapter into the USB port the profile names (`ls -l /dev/serial/by-path/` shows where it is), or put its by-path name in the profile';
    case 'usb-gadget':
      return 'turn on the serial gadget: dtoverlay=dwc2 in /boot/firmware/config.txt, modules-load=dwc2,g_serial after rootwait in cmdline.txt, reboot, and connect the data port (not the power port) to the terminal';
    case 'pty':
      return 'the simulated hardware is not running (hsm doctor --profile sim starts it)';
    default:
      return `correct the path ${path}`;
  }
}
