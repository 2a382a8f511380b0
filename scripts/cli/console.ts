/**
 * `hsm console hot|cold`: a terminal for a simulated device's diagnostics console on its Unix
 * socket (hw-profiles/sim/console-socket.ts), which needs nothing outside npm. On a terminal it
 * behaves as picocom does on a serial port: the terminal goes raw, every key (Ctrl-C, arrows)
 * reaches the device, and Ctrl-] leaves. With input from a pipe it sends the input, shows
 * the answers, and exits when the console has answered everything:
 *
 *   npx hsm console hot --socket /tmp/hsm-sim-x/consoles/hot.sock
 *   printf 'login\n%s\nstatus\n' "$PASSWORD" | npx hsm console cold --state-dir world
 *
 * The socket: `--socket`, or `<state dir>/consoles/<device>.sock` with `--state-dir`, or the
 * one a ready file lists (`--ready-file`, `hsm sim --ready-file`).
 * @module
 */
import { readFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import type { Command } from 'commander';
import { HsmError } from '../../shared/errors.ts';
import { consoleSocketAddress } from '../../hw-profiles/sim/console-socket.ts';
import { consoleSocketPath } from '../../hw-profiles/sim/rig-consoles.ts';
import { run } from './output.ts';

/** Ctrl-] (GS), telnet's escape: leaves the console. */
const LEAVE_KEY = 0x1d;

interface ConsoleOptions {
  socket?: string;
  stateDir?: string;
  readyFile?: string;
}

/** Where the console of `device` listens, from the options. */
export function consoleSocketFor(device: string, options: ConsoleOptions): string {
  if (device !== 'hot' && device !== 'cold') throw new HsmError('BAD_OPTION', `the device must be hot or cold, got "${device}"`, { field: 'device' });
  const given = [options.socket, options.stateDir, options.readyFile].filter((o) => o !== undefined).length;
  if (given !== 1) throw new HsmError('BAD_OPTION', 'name the console with one of --socket, --state-dir or --ready-file (hsm sim prints the command)', { field: 'socket' });
  if (options.socket !== undefined) return options.socket;
  if (options.stateDir !== undefined) return consoleSocketPath(`${options.stateDir}/consoles`, device);
  let ready: { consoleSockets?: Record<string, string> };
  try {
    ready = JSON.parse(readFileSync(options.readyFile as string, 'utf8')) as typeof ready;
  } catch (cause) {
    throw new HsmError('BAD_OPTION', `--ready-file: cannot read ${options.readyFile} as JSON`, { field: 'ready-file', cause });
  }
  const path = ready.consoleSockets?.[device];
  if (typeof path !== 'string') throw new HsmError('BAD_OPTION', `--ready-file: ${options.readyFile} lists no ${device} console socket`, { field: 'ready-file' });
  return path;
}

function connect(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ path: consoleSocketAddress(path), allowHalfOpen: true });
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', (error: NodeJS.ErrnoException) =>
      reject(new HsmError('CONSOLE_UNREACHABLE', `no console answers on ${path} (${error.code ?? error.message}): is hsm sim running?`, { field: 'socket', cause: error })),
    );
  });
}

/** Passes bytes between the user's terminal (or pipe) and the console until either side ends. */
async function attach(socket: Socket, device: string): Promise<void> {
  const stdin = process.stdin;
  const raw = stdin.isTTY === true;
  if (raw) {
    stdin.setRawMode(true);
    process.stderr.write(`connected to the hsm-${device} console; Ctrl-] leaves\r\n`);
  }
  await new Promise<void>((resolve) => {
    const finish = (): void => {
      stdin.off('data', onInput);
      stdin.pause();
      if (raw) stdin.setRawMode(false);
      resolve();
    };
    const onInput = (chunk: Buffer): void => {
      const leave = raw ? chunk.indexOf(LEAVE_KEY) : -1;
      if (leave < 0) {
        socket.write(chunk);
        return;
      }
      if (leave > 0) socket.write(chunk.subarray(0, leave));
      socket.destroy();
    };
    stdin.on('data', onInput);
    // The input ended (a pipe): the console finishes what it was given, then hangs up.
    stdin.once('end', () => socket.end());
    socket.on('data', (chunk: Buffer) => process.stdout.write(chunk));
    socket.once('close', finish);
    socket.on('error', () => socket.destroy());
  });
  if (raw) process.stderr.write(`\r\nleft the hsm-${device} console\r\n`);
}

export function configureConsole(command: Command): void {
  command
    .argument('<device>', 'hot or cold')
    .option('--socket <path>', 'the console socket (READY lists it: consoleSockets)')
    .option('--state-dir <dir>', "the world's state directory (its consoles/<device>.sock)")
    .option('--ready-file <path>', 'the ready file of hsm sim --ready-file')
    .action((device: string, options: ConsoleOptions) =>
      run({}, async () => {
        const socket = await connect(consoleSocketFor(device, options));
        await attach(socket, device);
      }),
    );
}
