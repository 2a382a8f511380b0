/**
 * `hsm doctor --profile <name|file> [--role hot|cold] [--json]`: checks the machine against its
 * hardware profile (hw-profiles/doctor/) and prints each check, with a fix for each failure.
 * Exit 0 when nothing failed, 1 when a check failed, 2 when the doctor could not run.
 *
 * With the simulated profile it starts the simulated hardware, and, as no other device runs
 * there, puts a link stand-in on the far end of the link for the peer check. `--inject` breaks
 * the simulated hardware first, to see what the doctor says about it:
 *   unplug:<modem>  no-sim:<modem>  no-registration:<modem>  hang:<modem>  weak-signal:<modem>  link-peer-down
 * @module
 */
import type { Command } from 'commander';
import { RealClock } from '../../shared/clock.ts';
import { HsmError } from '../../shared/errors.ts';
import { formatReport, runDoctor, type Check } from '../../hw-profiles/doctor/index.ts';
import { makeReport } from '../../hw-profiles/doctor/report.ts';
import { profileRoles, type Role } from '../../hw-profiles/profile.ts';
import type { SimHardware } from '../../hw-profiles/sim/hardware.ts';
import { openMachine } from './machine.ts';
import { EXIT, report, run } from './output.ts';

interface DoctorCliOptions {
  profile: string;
  role?: string;
  json?: boolean;
  user?: string;
  inject: string[];
  linkTimeout: string;
  seed: string;
}

const FAULTS = ['unplug', 'no-sim', 'no-registration', 'hang', 'weak-signal', 'link-peer-down'] as const;

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseFaults(faults: readonly string[]): Array<{ kind: (typeof FAULTS)[number]; modem: string | undefined }> {
  return faults.map((fault) => {
    const [kind, modem, ...rest] = fault.split(':') as [string, string | undefined];
    const known = (FAULTS as readonly string[]).includes(kind);
    if (!known || rest.length > 0 || (kind === 'link-peer-down') !== (modem === undefined)) {
      throw new HsmError('BAD_OPTION', `--inject ${fault}: expected one of ${FAULTS.map((f) => (f === 'link-peer-down' ? f : `${f}:<modem>`)).join(', ')}`, { field: 'inject' });
    }
    return { kind: kind as (typeof FAULTS)[number], modem };
  });
}

/** Breaks the simulated hardware as asked; true when the link peer is to stay away. */
async function inject(hardware: SimHardware, faults: ReturnType<typeof parseFaults>): Promise<boolean> {
  let peerDown = false;
  for (const { kind, modem } of faults) {
    if (modem === undefined) {
      peerDown = true;
      continue;
    }
    if (kind === 'unplug') await hardware.faults.unplugModem(modem);
    else if (kind === 'no-sim') hardware.faults.removeSim(modem);
    else if (kind === 'no-registration') hardware.faults.deregister(modem);
    else if (kind === 'hang') hardware.faults.hangModem(modem);
    else hardware.faults.setSignal(modem, 4);
  }
  return peerDown;
}

function parseRole(value: string | undefined): Role | undefined {
  if (value === undefined) return undefined;
  if (value !== 'hot' && value !== 'cold') throw new HsmError('BAD_OPTION', '--role must be hot or cold', { field: 'role' });
  return value;
}

export function configureDoctor(command: Command): void {
  command
    .requiredOption('--profile <name|file>', 'a shipped profile (hw-profiles/profiles/) or a profile file')
    .option('--role <hot|cold>', 'check one device of the profile only')
    .option('--user <name>', 'the service user that must own the state directories')
    .option('--link-timeout <ms>', 'how long the link peer has to answer', '3000')
    .option('--inject <fault>', `simulated profile only: break the hardware first (${FAULTS.join(', ')}); repeatable`, collect, [])
    .option('--seed <text>', 'seed of the simulated hardware', 'hsm-doctor')
    .option('--json', 'print JSON')
    .action((options: DoctorCliOptions) =>
      run(options, async () => {
        const role = parseRole(options.role);
        const linkTimeoutMs = Number(options.linkTimeout);
        if (!Number.isInteger(linkTimeoutMs) || linkTimeoutMs < 100 || linkTimeoutMs > 60_000) {
          throw new HsmError('BAD_OPTION', '--link-timeout is 100-60000 ms', { field: 'link-timeout' });
        }
        const faults = parseFaults(options.inject);
        const clock = new RealClock();
        const machine = await openMachine(options.profile, { clock, seed: options.seed });
        try {
          const { hardware, profile } = machine;
          if (hardware === undefined && faults.length > 0) throw new HsmError('BAD_OPTION', '--inject works on the simulated profile only', { field: 'inject' });
          const roles = role === undefined ? profileRoles(profile) : [role];
          const base = { profile, clock, linkTimeoutMs, ...(options.user === undefined ? {} : { user: options.user }) };
          let checks: Check[] = [];
          if (hardware === undefined) {
            checks = (await runDoctor({ ...base, roles })).checks;
          } else {
            const peerDown = await inject(hardware, faults);
            for (const r of roles) {
              const standIn = peerDown ? undefined : await hardware.startLinkStandIn(r === 'hot' ? 'cold' : 'hot');
              try {
                const found = (await runDoctor({ ...base, roles: [r], ignorePids: hardware.ownPids() })).checks;
                checks.push(...found.map((c) => (c.id.endsWith('.link.peer') && c.status === 'ok' ? { ...c, detail: `${c.detail} (the simulated hardware's link stand-in)` } : c)));
              } finally {
                await standIn?.stop();
              }
            }
          }
          const result = makeReport(profile.name, profile.board, roles, checks);
          report(options, result, () => formatReport(result));
          return result.ok ? EXIT.ok : EXIT.invalid;
        } finally {
          await machine.stop();
        }
      }).then(() => {
        // Closed serial ports can keep a read pending (serialport#2776): leave once reported.
        process.exit(process.exitCode ?? 0);
      }),
    );
}
