/**
 * Is there a live link endpoint at the other end of this line? Asked without any key, so the
 * question needs no pairing, no PIN and no unlocked vault, and learns nothing a device on the
 * wire could not already learn (`hsm doctor`, the link hardware test).
 *
 * The probe sends an unencrypted PING frame naming a session nobody has
 * (srcEpoch = PROBE_EPOCH, dstEpoch = 0). A running peer answers any frame for an unknown
 * session with ERR{UNKNOWN_SESSION} addressed to the sender's epoch (session.ts, rate-limited to
 * one per hello interval) and changes nothing else: its session, keys and highest-seen epoch
 * move only on an authenticated HELLO or HELLO_ACK. A peer that is itself waiting for its
 * partner says HELLO every half second, which counts too. Either way the frame must decode
 * (COBS, length, CRC-32, version), so a line with the wrong baud rate or a login console on it
 * shows up as bytes without frames, and a looped-back line as our own probe coming back.
 *
 * PROBE_EPOCH is the one epoch a device never uses (epoch.ts reserves it), so the ERR can
 * be told from traffic of a real session, and a peer never sees the probe as stale (frames from
 * epochs below the highest it has seen are dropped unanswered).
 * @module
 */
import type { Clock, TimerHandle } from '../clock.ts';
import type { Port } from '../port.ts';
import { FRAME_TYPE, FrameDecoder, encodeFrame, type Frame } from './frame.ts';
import { LINK_ERROR } from './session.ts';

export const PROBE_EPOCH = 0xffffffff;

export interface LinkProbeResult {
  /** A link endpoint answered (ERR) or announced itself (HELLO). */
  answered: boolean;
  by: 'unknown-session' | 'hello' | undefined;
  /** The peer's boot epoch, from the frame it sent. */
  peerEpoch: number | undefined;
  /** Our own probe came back: TX is joined to RX (loopback) or something echoes the line. */
  echoed: boolean;
  /** Bytes received, frames decoded, blocks dropped as damaged. */
  bytes: number;
  frames: number;
  damaged: number;
  elapsedMs: number;
}

export interface LinkProbeOptions {
  clock: Clock;
  /** Give up after this long. Default 3 s (six hello intervals). */
  timeoutMs?: number;
  /** Probe repeat interval. Default 600 ms (above the peer's ERR rate limit). */
  intervalMs?: number;
}

export function probeFrame(): Uint8Array {
  return encodeFrame({ type: FRAME_TYPE.PING, flags: 0, srcEpoch: PROBE_EPOCH, dstEpoch: 0, seq: 0, ack: 0, payload: new Uint8Array() });
}

/** Probes the peer over `port` (which stays open); resolves at the first sign of life or at the timeout. */
export function probeLinkPeer(port: Port, options: LinkProbeOptions): Promise<LinkProbeResult> {
  const { clock } = options;
  const started = clock.monotonic();
  const result: LinkProbeResult = { answered: false, by: undefined, peerEpoch: undefined, echoed: false, bytes: 0, frames: 0, damaged: 0, elapsedMs: 0 };
  const wire = probeFrame();
  return new Promise((resolve) => {
    let repeat: TimerHandle | undefined;
    let deadline: TimerHandle | undefined;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clock.clearInterval(repeat);
      clock.clearTimeout(deadline);
      offData();
      offClose();
      result.elapsedMs = clock.monotonic() - started;
      resolve(result);
    };
    const onFrame = (frame: Frame): void => {
      result.frames++;
      if (frame.srcEpoch === PROBE_EPOCH && frame.type === FRAME_TYPE.PING) {
        result.echoed = true;
        return;
      }
      const answer = frame.type === FRAME_TYPE.ERR && frame.dstEpoch === PROBE_EPOCH && frame.payload[0] === LINK_ERROR.UNKNOWN_SESSION;
      if (answer || frame.type === FRAME_TYPE.HELLO) {
        result.answered = true;
        result.by = answer ? 'unknown-session' : 'hello';
        result.peerEpoch = frame.srcEpoch;
        finish();
      }
    };
    const decoder = new FrameDecoder(onFrame, () => result.damaged++);
    const offData = port.onData((chunk) => {
      result.bytes += chunk.length;
      decoder.push(chunk);
    });
    const offClose = port.onClose(() => finish());
    const send = (): void => {
      try {
        port.write(wire);
      } catch {
        finish();
      }
    };
    repeat = clock.setInterval(send, options.intervalMs ?? 600);
    deadline = clock.setTimeout(finish, options.timeoutMs ?? 3_000);
    send();
  });
}
