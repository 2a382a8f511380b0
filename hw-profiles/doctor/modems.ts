/**
 * The doctor's modem checks. Every candidate port of every modem is asked, once, what it is
 * (AT, `+CPIN?`, `+CIMI`, `+CCID`, `+CREG?`, `+CSQ`, `+COPS?`, `+CCLK?`), without the driver's
 * bring-up: no PIN is entered, nothing is written to the SIM. Then each modem of the profile is
 * matched to the port holding its SIM, as the firmware will match it, and its checks say what
 * was found: the port, an answer to AT, the SIM, registration, signal, network time.
 * @module
 */
import type { Clock } from '../../shared/clock.ts';
import { HsmError } from '../../shared/errors.ts';
import { AtDialog, type AtReply } from '../../shared/gsm/at-dialog.ts';
import { parseCclk, parseCops, parseCpin, parseCsq, parseDigits, parseRegistration, parseTextLine } from '../../shared/gsm/at-responses.ts';
import { openSerialPort, type Port } from '../../shared/port.ts';
import { MODEM_MODELS, expandCandidates, type ColdSection, type ModemSpec } from '../profile.ts';
import { readPin } from '../run-device.ts';
import type { Check } from './report.ts';
import { describeHolders, holderFix, inspectPort, type PortInspection } from './ports.ts';

export type SimState = 'ready' | 'absent' | 'pin' | 'puk' | 'failure' | 'unknown';

export interface ModemProbe {
  path: string;
  inspection: PortInspection;
  baudRate: number;
  /** Why the port could not be opened (another process's lock...). */
  openError: string | undefined;
  answers: boolean;
  sim: SimState | undefined;
  simDetail: string | undefined;
  manufacturer: string | undefined;
  model: string | undefined;
  imsi: string | undefined;
  iccid: string | undefined;
  regStat: number | undefined;
  rssi: number | undefined;
  operator: string | undefined;
  networkTime: number | undefined;
}

export interface ModemCheckOptions {
  clock: Clock;
  ignorePids: readonly number[];
  /** Per AT command. Default 2 s. */
  atTimeoutMs?: number;
  credentialsDirectory: string | undefined;
  /** The service user whose access to the ports counts. */
  user?: string;
}

/** Opens `path`, asks it what it is, closes it again. Never throws. */
export async function probeModemPort(path: string, baudRate: number, options: ModemCheckOptions): Promise<ModemProbe> {
  const probe: ModemProbe = {
    path,
    inspection: inspectPort(path, options.ignorePids, options.user),
    baudRate,
    openError: undefined,
    answers: false,
    sim: undefined,
    simDetail: undefined,
    manufacturer: undefined,
    model: undefined,
    imsi: undefined,
    iccid: undefined,
    regStat: undefined,
    rssi: undefined,
    operator: undefined,
    networkTime: undefined,
  };
  if (!probe.inspection.exists || !probe.inspection.accessible) return probe;
  let port: Port;
  try {
    port = await openSerialPort({ path, baudRate });
  } catch (error) {
    probe.openError = error instanceof Error ? error.message : String(error);
    return probe;
  }
  const dialog = new AtDialog(port, options.clock, options.atTimeoutMs ?? 2_000);
  const ask = async (line: string, prefix?: string): Promise<AtReply | undefined> => {
    try {
      return await dialog.ask(line, prefix === undefined ? {} : { responsePrefix: prefix });
    } catch {
      return undefined;
    }
  };
  const value = <T>(reply: AtReply | undefined, read: (lines: string[]) => T): T | undefined => {
    if (reply?.result.kind !== 'ok') return undefined;
    try {
      return read(reply.lines);
    } catch {
      return undefined;
    }
  };
  try {
    await dialog.escape();
    if ((await ask('AT'))?.result.kind !== 'ok' && (await ask('AT'))?.result.kind !== 'ok') return probe;
    probe.answers = true;
    await ask('ATE0');
    await ask('AT+CMEE=1');
    const cpin = await ask('AT+CPIN?', '+CPIN:');
    const state = value(cpin, parseCpin);
    if (state !== undefined) {
      probe.sim = state === 'READY' ? 'ready' : state === 'SIM PIN' ? 'pin' : state.startsWith('SIM PUK') ? 'puk' : 'unknown';
      probe.simDetail = `+CPIN: ${state}`;
    } else if (cpin?.result.kind === 'cme') {
      probe.sim = cpin.result.code === 10 ? 'absent' : cpin.result.code === 13 ? 'failure' : 'unknown';
      probe.simDetail = `+CME ERROR: ${cpin.result.text}`;
    } else {
      probe.sim = 'unknown';
      probe.simDetail = cpin === undefined ? 'no answer to AT+CPIN?' : 'ERROR';
    }
    probe.manufacturer = value(await ask('AT+CGMI'), (l) => parseTextLine(l, 'AT+CGMI'));
    probe.model = value(await ask('AT+CGMM'), (l) => parseTextLine(l, 'AT+CGMM'));
    if (probe.sim === 'ready') {
      probe.imsi = value(await ask('AT+CIMI'), (l) => parseDigits(l, 'AT+CIMI', 6, 15));
      for (const line of ['AT+CCID', 'AT^ICCID?', 'AT+QCCID']) {
        probe.iccid = value(await ask(line), (l) => parseDigits(l, line, 18, 20));
        if (probe.iccid !== undefined) break;
      }
    }
    probe.regStat = value(await ask('AT+CREG?', '+CREG:'), (l) => parseRegistration(l, '+CREG:').stat);
    probe.rssi = value(await ask('AT+CSQ', '+CSQ:'), (l) => parseCsq(l).rssi);
    if (probe.regStat === 1 || probe.regStat === 5) {
      await ask('AT+COPS=3,0');
      probe.operator = value(await ask('AT+COPS?', '+COPS:'), (l) => parseCops(l).operator);
    }
    probe.networkTime = value(await ask('AT+CCLK?', '+CCLK:'), (l) => parseCclk(l).at);
  } finally {
    dialog.close();
    await port.close().catch(() => undefined);
  }
  return probe;
}

const REGISTRATION: Record<number, { text: string; fix: string }> = {
  0: { text: 'not registered and not searching (+CREG stat 0)', fix: 'the radio may be off or the antenna missing: check the antenna; HSM-Cold turns the radio on (AT+CFUN=1) when it starts the modem' },
  2: {
    text: 'not registered, searching for a network (+CREG stat 2)',
    fix: 'check the antenna and the coverage where the modem sits, and that the SIM is active with credit; 2G-only modems (SIM800C) need a carrier that still runs GSM',
  },
  3: { text: 'registration denied (+CREG stat 3)', fix: 'the carrier refuses the SIM: have it activated, or check it is not barred' },
  4: { text: 'registration state unknown (+CREG stat 4)', fix: 'restart the modem (replug it, or power-cycle the hub) and run the doctor again' },
};

function dbm(rssi: number): string {
  return `${2 * rssi - 113} dBm`;
}

function portFix(spec: ModemSpec): string {
  return MODEM_MODELS[spec.model].transport === 'usb'
    ? 'plug the modem in through a powered USB hub (a stick draws up to 2 A while it transmits, more than a Pi port gives); check `dmesg` for it, and that an E3372 is in stick mode (12d1:1001 or 12d1:1506), not HiLink (12d1:14dc)'
    : 'check the modem is powered (SIM800C: 3.4-4.4 V able to give 2 A peaks) and the UART is enabled in /boot/firmware/config.txt';
}

function atFix(spec: ModemSpec): string {
  if (spec.model === 'ec25') return 'on an EC25 the AT commands go to interface 2 (ttyUSB2); if it answered before, it hangs: replug it or power-cycle the hub';
  if (spec.model === 'e3372') return 'an E3372 answers AT on its first ttyUSB in stick mode; if it answered before, it hangs: replug it or power-cycle the hub';
  return `check the wiring (modem TX to Pi RX, modem RX to Pi TX, GND to GND, 3.3 V logic), the modem's power and the baud rate (${spec.baudRate}); its status LED blinks when it is on`;
}

/** The checks of every modem of HSM-Cold's section. */
export async function modemChecks(section: ColdSection, options: ModemCheckOptions): Promise<Check[]> {
  const patternsOf = (spec: ModemSpec): string[] => (spec.match.by === 'path' ? [spec.match.value] : (spec.candidates ?? []));
  const pathsOf = new Map<ModemSpec, string[]>();
  const probes = new Map<string, ModemProbe>();
  for (const spec of section.modems) {
    const paths = expandCandidates(patternsOf(spec));
    pathsOf.set(spec, paths);
    for (const path of paths) if (!probes.has(path)) probes.set(path, await probeModemPort(path, spec.baudRate, options));
  }
  const matchOf = (spec: ModemSpec): ModemProbe | undefined => {
    const candidates = (pathsOf.get(spec) ?? []).map((p) => probes.get(p) as ModemProbe);
    if (spec.match.by === 'path') return candidates.find((p) => p.answers);
    const { by, value } = spec.match;
    return candidates.find((p) => (by === 'imsi' ? p.imsi : p.iccid) === value);
  };
  const matched = new Map(section.modems.map((spec) => [spec, matchOf(spec)]));
  const claimedBy = new Map<string, string>();
  for (const [spec, probe] of matched) if (probe !== undefined) claimedBy.set(probe.path, spec.name);

  const checks: Check[] = [];
  for (const spec of section.modems) {
    const check = (part: string, title: string, status: Check['status'], detail: string, fix?: string): void => {
      checks.push({ id: `cold.modem.${spec.name}.${part}`, role: 'cold', title: `${spec.name} ${title}`, status, detail, ...(fix === undefined ? {} : { fix }) });
    };
    const probe = matched.get(spec);
    const paths = pathsOf.get(spec) ?? [];
    const unclaimed = paths.filter((p) => !claimedBy.has(p)).map((p) => probes.get(p) as ModemProbe);
    const what = spec.match.by === 'path' ? spec.match.value : `${spec.match.by.toUpperCase()} ${spec.match.value}`;

    // The port.
    let portOk = false;
    const blocked = (p: ModemProbe): boolean => !p.inspection.accessible || p.inspection.holders.length > 0 || p.openError !== undefined;
    const usable = unclaimed.filter((p) => !blocked(p));
    if (probe !== undefined) {
      const holders = probe.inspection.holders;
      if (holders.length > 0) check('port', 'port', 'fail', `${probe.path} is also open in ${describeHolders(holders)}`, holderFix(holders, probe.inspection.device, 'cold'));
      else check('port', 'port', 'ok', `${probe.path}${probe.inspection.device !== probe.path ? ` → ${probe.inspection.device}` : ''}, read/write, nobody else holds it`);
      portOk = true; // it answered: the checks below say what it holds
    } else if (paths.length === 0) {
      check('port', 'port', 'fail', `no port matches ${patternsOf(spec).join(', ')} (modem unplugged?)`, portFix(spec));
    } else if (unclaimed.length === 0) {
      const missing = patternsOf(spec).filter((p) => !/[*?]/.test(p) && !paths.includes(p));
      const others = paths.map((p) => `${p} holds ${claimedBy.get(p)}'s SIM`);
      check('port', 'port', 'fail', `no port of its own (modem unplugged?): ${[...missing.map((p) => `${p} is missing`), ...others].join('; ')}`, portFix(spec));
    } else if (usable.length === 0) {
      const first = unclaimed[0] as ModemProbe;
      const detail = unclaimed
        .map((p) =>
          !p.inspection.accessible ? `${p.path}: no read/write access` : p.inspection.holders.length > 0 ? `${p.path}: open in ${describeHolders(p.inspection.holders)}` : `${p.path}: ${p.openError}`,
        )
        .join('; ');
      const fix = !first.inspection.accessible
        ? `add ${options.user ?? 'the service user'} to the dialout group (\`sudo usermod -aG dialout ${options.user ?? 'hsm'}\`) and install the udev rules`
        : holderFix(first.inspection.holders, first.inspection.device, 'cold');
      check('port', 'port', 'fail', detail, fix);
    } else {
      portOk = true;
      check('port', 'port', 'ok', `${usable.map((p) => p.path).join(', ')} can be opened`);
    }

    // AT.
    const answering = usable.filter((p) => p.answers);
    if (probe !== undefined) check('at', 'answers AT', 'ok', `${[probe.manufacturer, probe.model].filter(Boolean).join(' ') || 'a modem'} answers on ${probe.path}`);
    else if (!portOk) check('at', 'answers AT', 'skip', 'no port to ask');
    else if (answering.length === 0) check('at', 'answers AT', 'fail', `no answer to AT on ${usable.map((p) => p.path).join(', ')}`, atFix(spec));
    else check('at', 'answers AT', 'ok', `a modem answers on ${answering.map((p) => p.path).join(', ')}`);

    // The SIM.
    if (probe !== undefined) {
      const identity = [probe.imsi === undefined ? undefined : `IMSI ${probe.imsi}`, probe.iccid === undefined ? undefined : `ICCID ${probe.iccid}`].filter(Boolean).join(', ');
      check('sim', 'SIM', 'ok', `SIM ready${identity === '' ? '' : `, ${identity}`}`);
    } else if (answering.length === 0) {
      check('sim', 'SIM', 'skip', 'no modem answered');
    } else {
      const by = (state: SimState): ModemProbe | undefined => answering.find((p) => p.sim === state);
      const absent = by('absent');
      const locked = by('pin');
      const puk = by('puk');
      const broken = by('failure');
      const others = answering.filter((p) => p.sim === 'ready').map((p) => `${p.path} holds IMSI ${p.imsi ?? '?'}${p.iccid === undefined ? '' : ` (ICCID ${p.iccid})`}`);
      if (absent !== undefined) {
        check('sim', 'SIM', 'fail', `the modem at ${absent.path} has no SIM card (${absent.simDetail})`, 'power the modem off, insert the SIM (contacts down, cut corner first), and power it on again');
      } else if (locked !== undefined) {
        if (spec.pin !== undefined) check('sim', 'SIM', 'warn', `the modem at ${locked.path} waits for its SIM PIN; HSM-Cold enters it from the profile's reference when it starts`);
        else check('sim', 'SIM', 'fail', `the modem at ${locked.path} waits for a SIM PIN and the profile has no reference to one`, 'add "pin": {"credential": "<name>"} to the modem in the profile (and LoadCredential= to the unit), or turn the PIN off with a phone');
      } else if (puk !== undefined) {
        check('sim', 'SIM', 'fail', `the SIM at ${puk.path} is blocked (${puk.simDetail})`, 'unblock it with its PUK in a phone, then set the PIN the profile refers to');
      } else if (broken !== undefined) {
        check('sim', 'SIM', 'fail', `the SIM at ${broken.path} reports a failure (${broken.simDetail})`, 'power off, reseat the SIM (or try another one), power on');
      } else {
        check(
          'sim',
          'SIM',
          'fail',
          `no modem holds ${what}${others.length === 0 ? '' : `; ${others.join('; ')}`}`,
          `insert the SIM the profile names, or set match.value of ${spec.name} in the profile to the SIM that is there`,
        );
      }
    }

    // The PIN reference.
    if (spec.pin !== undefined) {
      if ('credential' in spec.pin && options.credentialsDirectory === undefined) {
        check('pin', 'SIM PIN reference', 'skip', `systemd hands the credential ${spec.pin.credential} to the service only (LoadCredential=${spec.pin.credential}:<file> in the unit)`);
      } else {
        try {
          readPin(spec.pin, `cold.modems.${spec.name}.pin`, options.credentialsDirectory);
          check('pin', 'SIM PIN reference', 'ok', 'readable, 4-8 digits');
        } catch (error) {
          const message = error instanceof HsmError ? error.message : 'cannot be read';
          check('pin', 'SIM PIN reference', 'fail', message, 'write the PIN alone into the file, owned by the service user, mode 0600 (or use a systemd credential)');
        }
      }
    }

    // Registration, signal, network time.
    if (probe === undefined) {
      check('registration', 'registration', 'skip', 'no modem with this SIM');
      check('signal', 'signal', 'skip', 'no modem with this SIM');
      if (section.time.sources.includes('modem')) check('time', 'network time', 'skip', 'no modem with this SIM');
      continue;
    }
    const stat = probe.regStat;
    if (stat === 1 || stat === 5) check('registration', 'registration', 'ok', `registered${stat === 5 ? ', roaming' : ''}${probe.operator === undefined ? '' : ` on ${probe.operator}`}`);
    else if (stat === undefined) check('registration', 'registration', 'fail', 'no answer to AT+CREG?', REGISTRATION[4]?.fix);
    else check('registration', 'registration', 'fail', REGISTRATION[stat]?.text ?? `+CREG stat ${stat}`, REGISTRATION[stat]?.fix ?? REGISTRATION[4]?.fix);

    const rssi = probe.rssi;
    if (rssi === undefined || rssi === 99) check('signal', 'signal', 'warn', 'no signal reading (+CSQ: 99)', 'check the antenna is connected');
    else if (rssi < 10) check('signal', 'signal', 'warn', `weak: rssi ${rssi} (${dbm(rssi)}); SMS may fail`, 'move the antenna (or use an external one) away from the Pi and its power supply');
    else check('signal', 'signal', 'ok', `rssi ${rssi} (${dbm(rssi)})`);

    if (section.time.sources.includes('modem')) checks.push(networkTimeCheck(spec.name, probe.networkTime, options.clock.now(), section.time.maxSkewSeconds));
  }
  return checks;
}

function networkTimeCheck(name: string, networkTime: number | undefined, now: number, maxSkewSeconds: number): Check {
  const base = { id: `cold.modem.${name}.time`, role: 'cold' as const, title: `${name} network time` };
  const nitzFix = 'let the network set the modem clock: AT+CTZU=1 (SIM800C, EC25) then restart the modem; it is set at registration';
  if (networkTime === undefined) return { ...base, status: 'warn', detail: 'the modem gives no time (AT+CCLK?)', fix: nitzFix };
  if (networkTime < Date.UTC(2020, 0, 1)) return { ...base, status: 'warn', detail: `the modem clock is unset (${new Date(networkTime).toISOString()}): no network time yet`, fix: nitzFix };
  const skew = Math.round((now - networkTime) / 1000);
  if (Math.abs(skew) > maxSkewSeconds) {
    return {
      ...base,
      status: 'fail',
      detail: `this machine's clock is ${Math.abs(skew)} s ${skew > 0 ? 'ahead of' : 'behind'} the network time ${new Date(networkTime).toISOString()}`,
      fix: `set it: sudo date -u -s '${new Date(networkTime).toISOString()}'; without a real-time clock it restarts from the last shutdown (docs/raspberry-pi.md, "Time without an RTC")`,
    };
  }
  return { ...base, status: 'ok', detail: `agrees with this machine's clock within ${Math.max(1, Math.abs(skew))} s` };
}
