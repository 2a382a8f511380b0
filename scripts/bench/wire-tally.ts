/**
 * What crossed the emulated link, per direction, read from the bytes one end received: the
 * frames by type, their bytes as framed (delimiters included), and how many DATA frames were
 * first transmissions. The frames stay sealed; only their headers are read.
 * @module
 */
import { FRAME_TYPE, FrameDecoder, encodeFrame, type Frame } from '../../shared/link/frame.ts';
import type { Port } from '../../shared/port.ts';

export type Direction = 'hot>cold' | 'cold>hot';

export interface DirectionTally {
  bytes: number;
  frames: number;
  dataFrames: number;
  /** DATA frames whose (epochs, seq) had not been seen before, and their bytes. */
  firstDataFrames: number;
  firstDataBytes: number;
  ackFrames: number;
  ackBytes: number;
}

function emptyTally(): DirectionTally {
  return { bytes: 0, frames: 0, dataFrames: 0, firstDataFrames: 0, firstDataBytes: 0, ackFrames: 0, ackBytes: 0 };
}

export class WireTally {
  private readonly tallies: Record<Direction, DirectionTally> = { 'hot>cold': emptyTally(), 'cold>hot': emptyTally() };
  private readonly seen: Record<Direction, Set<string>> = { 'hot>cold': new Set(), 'cold>hot': new Set() };

  /** Counts what `port` receives as traffic in `direction`; returns `port`. */
  watch(port: Port, direction: Direction): Port {
    const decoder = new FrameDecoder((frame) => this.count(direction, frame));
    port.onData((chunk) => {
      this.tallies[direction].bytes += chunk.length;
      decoder.push(chunk);
    });
    return port;
  }

  /** A copy of the counts so far (subtract two snapshots for a window of time). */
  snapshot(): Record<Direction, DirectionTally> {
    return { 'hot>cold': { ...this.tallies['hot>cold'] }, 'cold>hot': { ...this.tallies['cold>hot'] } };
  }

  private count(direction: Direction, frame: Frame): void {
    const tally = this.tallies[direction];
    const size = encodeFrame(frame).length;
    tally.frames++;
    if (frame.type === FRAME_TYPE.ACK) {
      tally.ackFrames++;
      tally.ackBytes += size;
    }
    if (frame.type === FRAME_TYPE.HELLO_ACK) {
      // A new session numbers its frames from 1 again.
      this.seen['hot>cold'].clear();
      this.seen['cold>hot'].clear();
    }
    if (frame.type !== FRAME_TYPE.DATA) return;
    tally.dataFrames++;
    const key = `${frame.srcEpoch}/${frame.dstEpoch}/${frame.seq}`;
    if (this.seen[direction].has(key)) return;
    this.seen[direction].add(key);
    tally.firstDataFrames++;
    tally.firstDataBytes += size;
  }
}

export function tallyDelta(after: Record<Direction, DirectionTally>, before: Record<Direction, DirectionTally>): Record<Direction, DirectionTally> {
  const delta = (a: DirectionTally, b: DirectionTally): DirectionTally => ({
    bytes: a.bytes - b.bytes,
    frames: a.frames - b.frames,
    dataFrames: a.dataFrames - b.dataFrames,
    firstDataFrames: a.firstDataFrames - b.firstDataFrames,
    firstDataBytes: a.firstDataBytes - b.firstDataBytes,
    ackFrames: a.ackFrames - b.ackFrames,
    ackBytes: a.ackBytes - b.ackBytes,
  });
  return { 'hot>cold': delta(after['hot>cold'], before['hot>cold']), 'cold>hot': delta(after['cold>hot'], before['cold>hot']) };
}
