/**
 * `hsm sim` (= `npm start`): the whole simulated system (hw-profiles/sim/rig.ts) until
 * Ctrl-C. stdout gets one readiness line, `READY {json}`, then (with `--events`) one JSON
 * line per world event; a human summary and logs go to stderr, the logs as human lines on a
 * terminal and as JSON otherwise (`--log-format`).
 * @module
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { HsmError } from '../../shared/errors.ts';
import { createLogger } from '../../shared/log.ts';
import { defaultLogFormat, type LogFormat } from '../../shared/log-format.ts';
import { channelLines } from '../../hw-profiles/sim/channel-summary.ts';
import { Rig, type ReadyInfo, type RigOptions } from '../../hw-profiles/sim/rig.ts';
import { parseIntegerOption, run } from './output.ts';
import { WORLD_TIME_RANGE_TEXT, representableWorldTime } from '../../hw-profiles/sim/world-config.ts';

interface SimOptions {
  stateDir?: string;
  seed?: string;
  timeScale: string;
  apiPort: string;
  controlPort: string;
  processes?: boolean;
  vDevice: string;
  adminModem?: string;
  readyFile?: string;
  events?: boolean;
  logLevel: string;
  logFormat?: string;
}

/** A seed file holds the seed as text, or JSON `{"seed": "...", "start": "<ISO time>"}`. */
export function readSeedFile(path: string): { seed: string; start?: number } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch (cause) {
    throw new HsmError('BAD_OPTION', `--seed: cannot read ${path}`, { field: 'seed', cause });
  }
  if (text === '') throw new HsmError('BAD_OPTION', `--seed: ${path} is empty`, { field: 'seed' });
  if (!text.startsWith('{')) return { seed: text };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new HsmError('BAD_OPTION', `--seed: ${path} starts with "{" but is not JSON`, { field: 'seed' });
  }
  const { seed, start } = json as { seed?: unknown; start?: unknown };
  if (typeof seed !== 'string' || seed === '') throw new HsmError('BAD_OPTION', `--seed: ${path} needs a non-empty "seed" string`, { field: 'seed' });
  if (start === undefined) return { seed };
  const at = typeof start === 'string' ? Date.parse(start) : Number.NaN;
  if (!Number.isFinite(at)) throw new HsmError('BAD_OPTION', `--seed: "start" in ${path} must be an ISO 8601 time`, { field: 'seed.start' });
  if (!representableWorldTime(at)) {
    throw new HsmError('BAD_OPTION', `--seed: "start" in ${path} must lie in ${WORLD_TIME_RANGE_TEXT}, the times the firmware can represent`, { field: 'seed.start' });
  }
  return { seed, start: at };
}

export function parseTimeScale(text: string): number | 'manual' {
  if (text === 'manual') return 'manual';
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || n > 10_000) throw new HsmError('BAD_OPTION', `--time-scale must be a number in (0, 10000] or "manual", got "${text}"`, { field: 'time-scale' });
  return n;
}

export function parseVDeviceOption(text: string): RigOptions['vDevice'] {
  if (text === 'emulated' || text === 'emulated+sim2-failover') return text;
  if (text.startsWith('external:') && text.length > 'external:'.length) return { external: text.slice('external:'.length) };
  throw new HsmError('BAD_OPTION', `--v-device must be "emulated", "emulated+sim2-failover" or "external:<pty path>", got "${text}"`, { field: 'v-device' });
}

export async function rigOptionsFrom(options: SimOptions): Promise<RigOptions> {
  const seed = options.seed === undefined ? undefined : readSeedFile(options.seed);
  const level = options.logLevel;
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(level)) {
    throw new HsmError('BAD_OPTION', `--log-level must be one of fatal, error, warn, info, debug, trace, silent`, { field: 'log-level' });
  }
  const format = options.logFormat ?? defaultLogFormat(process.stderr);
  if (format !== 'json' && format !== 'pretty') throw new HsmError('BAD_OPTION', `--log-format must be json or pretty, got "${format}"`, { field: 'log-format' });
  return {
    ...(options.stateDir === undefined ? {} : { stateDir: options.stateDir }),
    ...(seed === undefined ? {} : { seed: seed.seed }),
    ...(seed?.start === undefined ? {} : { start: seed.start }),
    timeScale: parseTimeScale(options.timeScale),
    apiPort: parseIntegerOption(options.apiPort, 'api-port'),
    controlPort: parseIntegerOption(options.controlPort, 'control-port'),
    processes: options.processes === true,
    vDevice: parseVDeviceOption(options.vDevice),
    ...(options.adminModem === undefined ? {} : { adminModem: options.adminModem }),
    ...(options.readyFile === undefined ? {} : { readyFile: options.readyFile }),
    log: createLogger({ name: 'hsm-sim', level: level as 'info', destination: process.stderr, format }),
    logFormat: format satisfies LogFormat,
  };
}

/** Two signals this close together are one key press delivered twice (npm forwards what its process group got). */
const SAME_KEY_PRESS_MS = 1_000;

function summary(ready: ReadyInfo, temporary: boolean): string {
  const token = ready.api.tokens.hotSending.token;
  return [
    `HSM simulation running (world time ${ready.worldTime}, time scale ${ready.timeScale}${ready.processes ? ', devices in separate processes' : ''})`,
    `  dashboard    ${ready.dashboard}  (open it in a browser)`,
    `  Open API     ${ready.api.url}`,
    `  token        ${token}  (Hot Sending; the Cold Receiving credential signs requests, see the ready line)`,
    `  try          curl -H 'token: ${token}' ${ready.api.url}/time`,
    `  events       curl -N ${ready.events}`,
    `  control      ${ready.control}  (POST /control/withdrawal, /control/fault, /control/advance)`,
    `  host API     ${ready.hostApi.url}  (HSM-Hot ${ready.hostApi.identity})`,
    `  numbers      HSM-Cold SIM1 ${ready.numbers.coldSim1}, SIM2 ${ready.numbers.coldSim2}; V-Device ${ready.numbers.vDevice}; admin ${ready.numbers.admin}`,
    ...(ready.vDevice.mode === 'external'
      ? [
          `  V-Device     external AT client on ${ready.vDevice.pty}`,
          `  app settings HSM numbers ${ready.app.hsmPhone1} / ${ready.app.hsmPhone2}, admin ${ready.app.adminPhone}, transfer password ${ready.app.transferPassword}, vweb ${ready.app.vwebDomain}`,
        ]
      : []),
    ...(ready.adminModem === null ? [] : [`  admin phone  ${ready.adminModem.pty}`]),
    ...channelLines(ready.channel, Date.parse(ready.worldTime)),
    ...Object.entries(ready.consoleSockets).map(([name, socket]) => {
      const pty = ready.consoles[name];
      return `  console      ${name}: npx hsm console ${name} --socket ${socket}${pty === undefined ? '' : `  (or picocom -b 115200 ${pty})`}`;
    }),
    ...(ready.consolePassword === null ? [] : [`  console login password ${ready.consolePassword}  (2fa enable turns on the codes privileged commands need)`]),
    `  state        ${ready.stateDir}${temporary ? ' (removed at exit; --state-dir keeps a world)' : ''}${ready.resumed ? ' (resumed)' : ''}`,
    'Ctrl-C stops.',
  ].join('\n');
}

export function configureSim(command: Command): void {
  command
    .option('--state-dir <dir>', 'where the world lives (default: a fresh temporary directory); an existing world is resumed')
    .option('--seed <file>', 'seed file for deterministic keys and randomness (text, or JSON {"seed","start"})')
    .option('--time-scale <n>', 'world time runs n times faster than real time, or "manual"', '1')
    .option('--api-port <port>', 'Open API port (0: any free port)', '0')
    .option('--control-port <port>', 'control and event-stream port (0: any free port)', '0')
    .option('--processes', 'run HSM-Hot and HSM-Cold as separate processes over socat ptys (needs socat)')
    .option('--v-device <mode>', '"emulated" (the released app), "emulated+sim2-failover" (with our SIM2 extension) or "external:<pty>" (an emulated phone modem on that pty for a real app or any AT client; needs socat)', 'emulated')
    .option('--admin-modem <pty>', "serve the administrator's phone as an emulated modem on this pty (needs socat)")
    .option('--ready-file <path>', 'write the ready information (JSON) to this file')
    .option('--events', 'print every world event as a JSON line on stdout')
    .option('--log-level <level>', 'log level on stderr', 'warn')
    .option('--log-format <format>', 'logs as "pretty" human lines or "json" (default: pretty on a terminal, json otherwise)')
    .action((options: SimOptions) =>
      run({}, async () => {
        const rigOptions = await rigOptionsFrom(options);
        const rig = await Rig.start(rigOptions);
        // The signal handlers go in before READY is printed: whoever reads READY may signal at once.
        const stopped = new Promise<void>((resolve) => {
          let stopping: number | undefined;
          const stop = (signal: string): void => {
            if (stopping !== undefined) {
              // `npm start` forwards the Ctrl-C its process group already got: the same key press.
              if (performance.now() - stopping < SAME_KEY_PRESS_MS) return;
              process.stderr.write(`${signal} again: exiting without a clean shutdown\n`);
              process.exit(130);
            }
            stopping = performance.now();
            process.stderr.write(`${signal}: stopping the simulation...\n`);
            void rig.stop().then(resolve, resolve);
          };
          process.on('SIGINT', () => stop('SIGINT'));
          process.on('SIGTERM', () => stop('SIGTERM'));
        });
        process.stdout.write(`READY ${JSON.stringify(rig.ready)}\n`);
        process.stderr.write(`${summary(rig.ready, options.stateDir === undefined)}\n`);
        if (options.events === true) rig.events.subscribe((event) => void process.stdout.write(`${JSON.stringify(event)}\n`));
        await stopped;
        process.stderr.write('stopped.\n');
      }),
    );
}
