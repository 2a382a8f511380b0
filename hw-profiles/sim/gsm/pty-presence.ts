/**
 * Whether some program holds the client end of a pty open: what a modem's UART cannot know,
 * but what decides whether its output is read or lost. A pty keeps what nobody read in its
 * buffer (a few KiB) and hands it to the next program that opens it, where a real serial line
 * would have dropped it; the modem asks this before printing an unsolicited line.
 *
 * Linux only: the holders are found in /proc/<pid>/fd, leaving out the processes and
 * descriptors that serve the pty itself (socat, the spare descriptors that keep it alive). Only
 * the pty's owner (and root) can open it (mode 0620), and /proc shows a process's descriptors
 * to its owner, so nothing that can hold the pty is missed. Without /proc every answer is
 * "held".
 * @module
 */
import { readdirSync, readlinkSync, realpathSync } from 'node:fs';

export interface PtyServer {
  pid: number;
  /** Descriptors of `pid` that are the server's own (all of them when undefined). */
  fds?: readonly number[];
}

export class PtyPresence {
  private readonly device: string | undefined;
  private lastHolder: string | undefined;

  /** `path`: the client end (a symlink to /dev/pts/N is resolved once, here). */
  constructor(
    path: string,
    private readonly servers: readonly PtyServer[],
  ) {
    try {
      this.device = realpathSync(path);
    } catch {
      this.device = undefined;
    }
  }

  /** True when a program other than the servers has the pty open. */
  held(): boolean {
    if (this.device === undefined) return true;
    if (this.lastHolder !== undefined && this.isHolder(this.lastHolder)) return true;
    let pids: string[];
    try {
      pids = readdirSync('/proc').filter((name) => /^[0-9]+$/.test(name));
    } catch {
      return true;
    }
    this.lastHolder = pids.find((pid) => this.isHolder(pid));
    return this.lastHolder !== undefined;
  }

  /** Descriptor path `/proc/<pid>/fd/<fd>` points at the pty and is not a server's. */
  private isHolder(pid: string): boolean {
    const server = this.servers.find((s) => String(s.pid) === pid);
    if (server !== undefined && server.fds === undefined) return false;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      return false;
    }
    return fds.some((fd) => {
      if (server?.fds?.includes(Number(fd))) return false;
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`) === this.device;
      } catch {
        return false;
      }
    });
  }
}
