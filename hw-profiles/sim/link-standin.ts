/**
 * A link stand-in: the real link session (shared/link/session.ts) on one end of a serial line,
 * with a link key of its own that pairs it with nobody. It behaves on the wire as a running
 * HSM whose pairing the other side does not share: it says HELLO every half second and answers
 * frames for sessions it does not have with ERR{UNKNOWN_SESSION}. The simulated hardware puts
 * one on the far end of a link so `hsm doctor` has a peer to reach when no real device runs
 * there.
 * @module
 */
import type { Clock } from '../../shared/clock.ts';
import type { LinkRole } from '../../shared/link/link-crypto.ts';
import { LinkSession } from '../../shared/link/session.ts';
import { openSerialPort } from '../../shared/port.ts';
import type { RandomSource } from '../../shared/random.ts';

export interface LinkStandIn {
  readonly role: LinkRole;
  readonly path: string;
  readonly epoch: number;
  stop(): Promise<void>;
}

export async function startLinkStandIn(options: { path: string; role: LinkRole; baudRate: number; clock: Clock; random: RandomSource; epoch?: number }): Promise<LinkStandIn> {
  const port = await openSerialPort({ path: options.path, baudRate: options.baudRate });
  const epoch = options.epoch ?? 1;
  const session = new LinkSession({ port, clock: options.clock, random: options.random, role: options.role, linkKey: options.random.bytes(32), epoch, baudRate: options.baudRate });
  session.start();
  let stopped = false;
  return {
    role: options.role,
    path: options.path,
    epoch,
    async stop() {
      if (stopped) return;
      stopped = true;
      session.stop();
      await port.close();
    },
  };
}
