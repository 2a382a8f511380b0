/**
 * What both firmwares' consoles show the same way: a machine state in full, and the serial
 * link's session state and statistics (shared/link/endpoint.ts `status()`).
 * @module
 */
import type { LinkStatus } from '../link/endpoint.ts';
import type { PairingRecord } from '../link/pairing.ts';
import { formatTime, type FieldValue } from './format.ts';

/** The machine state in full: `running {link:up, modems:usable, channel:open, upkeep:waiting}`. */
export function stateText(value: unknown): string {
  if (typeof value === 'string') return value;
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 1) {
    const [key, inner] = entries[0]!;
    return typeof inner === 'string' ? `${key}.${inner}` : `${key} {${stateText(inner)}}`;
  }
  return entries.map(([key, inner]) => `${key}:${stateText(inner)}`).join(', ');
}

/** The rows of the `link` command: session state, counters, round-trip times, the RPC layer. */
export function linkStatusRows(link: LinkStatus, pairing: PairingRecord | undefined): Array<readonly [string, FieldValue]> {
  const rtt = link.rttMs;
  return [
    ['state', link.state],
    ['port', link.port],
    ['peer identity', link.peerIdentity],
    ['paired', pairing === undefined ? undefined : `${formatTime(pairing.pairedAt)} (${pairing.method})`],
    ['epoch / peer', `${link.epoch} / ${link.peerEpoch ?? '-'}`],
    ['handshakes', link.handshakes],
    ['link downs', link.linkDowns],
    ['frames out / in', `${link.framesSent} / ${link.framesReceived}`],
    ['bytes out / in', `${link.bytesSent} / ${link.bytesReceived}`],
    ['messages out / in', `${link.messagesSent} / ${link.messagesReceived}`],
    ['retransmissions', link.retransmissions],
    ['duplicates', link.duplicates],
    ['CRC failures', link.crcFailures],
    ['decode failures', link.decodeFailures],
    ['resyncs', link.resyncs],
    ['auth failures', link.authFailures],
    ['stale frames', link.staleFrames],
    ['errors out / in', `${link.errorsSent} / ${link.errorsReceived}`],
    ['RTT ms last/avg/min/max', [rtt.last, rtt.smoothed, rtt.min, rtt.max].map((v) => (v === null ? '-' : Math.round(v))).join(' / ')],
    ['requests sent / replies', `${link.rpc.requestsSent} / ${link.rpc.repliesReceived}`],
    ['requests applied', link.rpc.requestsApplied],
    ['duplicates replayed', link.rpc.duplicatesReplayed],
    ['outbox', link.rpc.outbox],
  ];
}
