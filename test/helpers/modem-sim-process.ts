/**
 * `hsm modem-sim` as a child process, as a user runs it: its JSON lines on stdout, control
 * lines on stdin, and SIGTERM at the end of the test (the child's ptys go with it).
 *
 *   const sim = startModemSim(['--pty', path, '--msisdn', '+4917...', '--state-dir', dir]);
 *   const ready = await sim.waitFor((l) => l.event === 'ready');
 *   await sim.control({ inject: { from: '+4917...', text: 'hi' } });
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterEach } from 'vitest';

const HSM = new URL('../../bin/hsm.mjs', import.meta.url).pathname;

export type JsonLine = Record<string, unknown>;

export interface ModemSimProcess {
  child: ChildProcessWithoutNullStreams;
  lines: JsonLine[];
  waitFor(predicate: (line: JsonLine) => boolean, timeoutMs?: number): Promise<JsonLine>;
  /** Sends one control line (an object, or raw text) and resolves with its reply. */
  control(command: unknown): Promise<JsonLine>;
  /** SIGTERM; resolves with the exit code. */
  stop(): Promise<number | null>;
}

const running: ChildProcessWithoutNullStreams[] = [];

afterEach(async () => {
  for (const child of running.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  }
});

export function startModemSim(args: string[]): ModemSimProcess {
  const child = spawn(process.execPath, [HSM, 'modem-sim', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  running.push(child);
  const lines: JsonLine[] = [];
  const waiters: Array<{ predicate: (line: JsonLine) => boolean; resolve: (line: JsonLine) => void }> = [];
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  createInterface({ input: child.stdout }).on('line', (text) => {
    let parsed: JsonLine;
    try {
      parsed = JSON.parse(text) as JsonLine;
    } catch {
      // Not an event line (an error printed as indented JSON spans lines): kept, never thrown here.
      parsed = { event: 'unparsed', text } as JsonLine;
    }
    lines.push(parsed);
    for (const waiter of [...waiters]) {
      if (waiter.predicate(parsed)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(parsed);
      }
    }
  });
  // A bound on hanging, not a pause: starting tsx, socat and the modems takes long on a loaded machine.
  const waitFor = (predicate: (line: JsonLine) => boolean, timeoutMs = 60_000): Promise<JsonLine> => {
    const found = lines.find(predicate);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching line within ${timeoutMs} ms; stdout ${JSON.stringify(lines)}; stderr ${stderr}`)), timeoutMs);
      waiters.push({ predicate, resolve: (line) => (clearTimeout(timer), resolve(line)) });
    });
  };
  const replies = (): JsonLine[] => lines.filter((l) => l.event === 'ok' || l.event === 'error');
  let sent = 0;
  const control = async (command: unknown): Promise<JsonLine> => {
    const index = sent++;
    child.stdin.write(`${typeof command === 'string' ? command : JSON.stringify(command)}\n`);
    await waitFor(() => replies().length > index);
    return replies()[index] as JsonLine;
  };
  const stop = async (): Promise<number | null> => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    return exited;
  };
  return { child, lines, waitFor, control, stop };
}
