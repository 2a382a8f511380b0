/**
 * `hsm sim` as a separate process, started the way `npm start` starts it (`node bin/hsm.mjs
 * sim`, the real PIN key derivation, real time): its READY line, its event lines (`--events`),
 * and a clean stop by signal.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, afterEach } from 'vitest';
import type { ReadyInfo } from '../../hw-profiles/sim/rig.ts';

const HSM = new URL('../../bin/hsm.mjs', import.meta.url).pathname;
const ROOT = new URL('../..', import.meta.url).pathname;

export interface SimEvent {
  type: string;
  seq: number;
  [field: string]: any;
}

export interface SimProcess {
  child: ChildProcessWithoutNullStreams;
  /** Resolves with the READY json and the real milliseconds it took to appear. */
  ready(limitMs: number): Promise<{ ready: ReadyInfo; elapsedMs: number }>;
  events: SimEvent[];
  /** Waits (in real time) for an event line matching `predicate`. */
  event(predicate: (event: SimEvent) => boolean, what: string, limitMs?: number): Promise<SimEvent>;
  /** Sends `signal` and resolves with the exit code, or rejects after `limitMs`. */
  stop(signal: NodeJS.Signals, limitMs: number): Promise<number | null>;
  stderr(): string;
}

const running: ChildProcessWithoutNullStreams[] = [];
const runningForFile: ChildProcessWithoutNullStreams[] = [];

async function killAll(children: ChildProcessWithoutNullStreams[]): Promise<void> {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
  }
}

afterEach(() => killAll(running));
afterAll(() => killAll(runningForFile));

/**
 * Starts `hsm sim`; it is killed after the test, or with `scope: 'file'` after the file's tests
 * (a world several tests share). `env` replaces variables of this process's environment (PATH...).
 */
export function startSim(args: string[], options: { scope?: 'test' | 'file'; env?: NodeJS.ProcessEnv } = {}): SimProcess {
  const started = Date.now();
  const child = spawn(process.execPath, [HSM, 'sim', ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', ...options.env } });
  (options.scope === 'file' ? runningForFile : running).push(child);
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const events: SimEvent[] = [];
  let ready: { ready: ReadyInfo; elapsedMs: number } | undefined;
  const wake = new Set<() => void>();
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line.startsWith('READY ')) ready = { ready: JSON.parse(line.slice('READY '.length)) as ReadyInfo, elapsedMs: Date.now() - started };
    else if (line.startsWith('{')) events.push(JSON.parse(line) as SimEvent);
    for (const w of [...wake]) w();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  exited.then(() => {
    for (const w of [...wake]) w();
  });

  /** Resolves with `probe()` once it is defined; rejects after `limitMs` or when the process exits. */
  const until = <T>(probe: () => T | undefined, what: string, limitMs: number): Promise<T> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const value = probe();
        if (value !== undefined) return done(() => resolve(value));
        if (child.exitCode !== null || child.signalCode !== null) return done(() => reject(new Error(`hsm sim exited (${child.exitCode ?? child.signalCode}) before ${what}; stderr:\n${stderr}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`no ${what} within ${limitMs} ms; stderr:\n${stderr}`))), limitMs);
      const done = (then: () => void): void => {
        clearTimeout(timer);
        wake.delete(check);
        then();
      };
      wake.add(check);
      check();
    });

  return {
    child,
    events,
    ready: (limitMs) => until(() => ready, 'READY line', limitMs),
    event: (predicate, what, limitMs = 60_000) => until(() => events.find(predicate), what, limitMs),
    async stop(signal, limitMs) {
      child.kill(signal);
      return until(() => (child.exitCode === null && child.signalCode === null ? undefined : { code: child.exitCode }), `exit after ${signal}`, limitMs).then((r) => r.code);
    },
    stderr: () => stderr,
  };
}
