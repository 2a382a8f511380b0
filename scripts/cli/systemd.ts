/**
 * sd_notify(3) for `hsm hot|cold` under systemd (Type=notify, WatchdogSec=).
 *
 * Node has no unix datagram sockets (dgram speaks UDP only), and a native addon would be a new
 * dependency with an install script. So each state line is handed to the `systemd-notify`
 * binary, which ships with systemd. Two things make that reliable:
 * - the units set NotifyAccess=all, since the sender is a child of the main process;
 * - systemd-notify (v246 and later) waits, with a barrier, until PID 1 has processed the message
 *   before it exits (we never pass --no-block), so PID 1 can still tell which unit the
 *   short-lived sender belongs to (the race systemd-notify(1) warns about).
 * Lines are sent one after another, in order; while one is in flight a newer WATCHDOG=1 or
 * STATUS= replaces any of its kind still waiting.
 * @module
 */
import { spawn } from 'node:child_process';
import type { Logger } from '../../shared/log.ts';

export interface SystemdNotifier {
  notify(state: string): void;
  /** Half of WATCHDOG_USEC when the watchdog is on for this process. */
  watchdogIntervalMs: number | undefined;
  /** Resolves when every queued line has been handed over. */
  flush(): Promise<void>;
}

/** A notifier when systemd asked for notifications (NOTIFY_SOCKET), else undefined. */
export function systemdNotifier(log: Logger, env: NodeJS.ProcessEnv = process.env): SystemdNotifier | undefined {
  if (env.NOTIFY_SOCKET === undefined || env.NOTIFY_SOCKET === '') return undefined;
  const usec = Number(env.WATCHDOG_USEC);
  const forUs = env.WATCHDOG_PID === undefined || env.WATCHDOG_PID === '' || Number(env.WATCHDOG_PID) === process.pid;
  const watchdogIntervalMs = Number.isFinite(usec) && usec > 0 && forUs ? Math.max(100, Math.floor(usec / 2000)) : undefined;
  const queue: string[] = [];
  let running: Promise<void> | undefined;
  let warned = false;
  const send = (state: string): Promise<void> =>
    new Promise((resolve) => {
      const child = spawn('systemd-notify', [state], { stdio: ['ignore', 'ignore', 'pipe'], env });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', (error) => {
        if (!warned) log.warn({ err: error.message }, 'systemd-notify cannot run; service notifications are off');
        warned = true;
        resolve();
      });
      child.on('close', (code) => {
        if (code !== 0 && !warned) log.warn({ code, err: stderr.trim().slice(0, 200) }, 'systemd-notify failed');
        resolve();
      });
    });
  const pump = (): void => {
    if (running !== undefined) return;
    const next = queue.shift();
    if (next === undefined) return;
    running = send(next).then(() => {
      running = undefined;
      pump();
    });
  };
  return {
    watchdogIntervalMs,
    notify(state) {
      const kind = state.slice(0, state.indexOf('=') + 1);
      if (kind === 'WATCHDOG=' || kind === 'STATUS=') {
        const waiting = queue.findIndex((s) => s.startsWith(kind));
        if (waiting >= 0) queue.splice(waiting, 1);
      }
      queue.push(state);
      pump();
    },
    async flush() {
      while (running !== undefined || queue.length > 0) {
        pump();
        await running;
      }
    },
  };
}
