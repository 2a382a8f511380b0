/**
 * Sending to a child process over its IPC channel when the child may be gone. A child that
 * died still looks connected until this process has handled its exit; a send meanwhile fails
 * with EPIPE, and without a callback Node reports that as an 'error' event on the child, which
 * nothing expects and which ends this process. Here the failure goes to `onDropped` instead.
 *
 *   if (!sendToChild(child, { type: 'clock', now }, (error) => log.debug(...))) resolveNow();
 * @module
 */
import type { ChildProcess, Serializable } from 'node:child_process';

/** Sends `message` if the channel is open; returns false when it was not even tried. */
export function sendToChild(child: ChildProcess, message: Serializable, onDropped: (error: Error) => void): boolean {
  if (!child.connected) return false;
  child.send(message, (error: Error | null) => {
    if (error !== null) onDropped(error);
  });
  return true;
}
