/**
 * `hsm profile list` and `hsm profile check <name|file> [--role hot|cold]`: the shipped hardware
 * profiles, and whether a profile is valid (an error names the bad field and exits 2). The
 * install script checks the profile it installs with the latter.
 * @module
 */
import type { Command } from 'commander';
import { HsmError } from '../../shared/errors.ts';
import { loadProfile, profileNames, profileRoles, profileSection, type Profile, type Role } from '../../hw-profiles/profile.ts';
import { report, run } from './output.ts';

function summary(profile: Profile): string[] {
  const lines = [`${profile.name} (${profile.board}): ${profile.description}`];
  for (const role of profileRoles(profile)) {
    const section = profileSection(profile, role);
    lines.push(`  HSM-${role === 'hot' ? 'Hot' : 'Cold'}: state ${section.stateDir}; link ${section.link.path} (${section.link.kind}, ${section.link.baudRate} baud)`);
    if (section.console !== undefined) lines.push(`    console ${section.console.path} (${section.console.kind})`);
    lines.push(`    time from ${section.time.sources.join(', ')}`);
    if (role === 'hot') lines.push(`    host API ${profileSection(profile, 'hot').hostApi.host}:${profileSection(profile, 'hot').hostApi.port}`);
    for (const modem of profile.cold?.modems ?? []) {
      if (role !== 'cold') break;
      const where = modem.match.by === 'path' ? `at ${modem.match.value}` : `${modem.match.by.toUpperCase()} ${modem.match.value} among ${(modem.candidates ?? []).join(', ')}`;
      lines.push(`    modem ${modem.name}: ${modem.model}, ${where}${modem.pin === undefined ? '' : ', SIM PIN by reference'}`);
    }
  }
  return lines;
}

export function configureProfile(profile: Command): void {
  profile
    .command('list')
    .description('the shipped hardware profiles')
    .option('--json', 'print JSON')
    .action((options: { json?: boolean }) =>
      run(options, () => {
        const profiles = profileNames().map((name) => {
          const p = loadProfile(name);
          return { name, board: p.board, roles: profileRoles(p), description: p.description };
        });
        report(options, profiles, () => profiles.map((p) => `${p.name.padEnd(22)} ${p.board.padEnd(7)} ${p.roles.join('+').padEnd(9)} ${p.description}`).join('\n'));
      }),
    );

  profile
    .command('check')
    .description('validate a profile (a shipped name or a file); errors name the bad field')
    .argument('<profile>', 'a shipped profile name or a profile file')
    .option('--role <hot|cold>', 'the profile must describe this device')
    .option('--json', 'print the validated profile as JSON')
    .action((nameOrFile: string, options: { role?: string; json?: boolean }) =>
      run(options, () => {
        const loaded = loadProfile(nameOrFile);
        if (options.role !== undefined) {
          if (options.role !== 'hot' && options.role !== 'cold') throw new HsmError('BAD_OPTION', '--role must be hot or cold', { field: 'role' });
          profileSection(loaded, options.role as Role);
        }
        report(options, loaded, () => ['valid', ...summary(loaded)].join('\n'));
      }),
    );
}
