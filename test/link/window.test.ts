/**
 * The session's send window (link protocol 2, docs/link-protocol.md): several DATA frames in
 * flight, selective repeat of a lost frame to a version-2 peer, go-back-N to a version-1 peer.
 * Figures are read on the simulated clock: line time is exact and processing costs nothing.
 */
import { describe, expect, it } from 'vitest';
import { dataFrameBytes } from '../../scripts/bench/link.ts';
import { FRAME_TYPE } from '../../shared/link/frame.ts';
import { SeededRandom } from '../../shared/random.ts';
import type { LinkSession } from '../../shared/link/session.ts';
import { BAUD, FrameRelay, collectMessages, directRig, makeSession, until } from './harness.ts';

const MESSAGES = 300;
const message = (i: number): Uint8Array => new Uint8Array(60).fill(i & 0xff);
const label = (m: Uint8Array): number => m[0] as number;

/** The line bytes of one message's DATA frame (sealed: random-looking bytes). */
const DATA_FRAME_BYTES = dataFrameBytes(new SeededRandom('sealed').bytes(60));

/** Each message hot sends is echoed by cold; returns the share of the line each direction spent on the messages' frames. */
async function echoUtilisation(window: number): Promise<{ lineShare: number; echoed: number }> {
  const { clock, hotPort, coldPort } = directRig({ seed: 'window' });
  const hot = makeSession(clock, hotPort, 'hot', 1, { timings: { window } });
  const cold = makeSession(clock, coldPort, 'cold', 1, { timings: { window } });
  cold.onMessage((m) => cold.send(m));
  const echoed = collectMessages(hot);
  hot.start();
  cold.start();
  await until(clock, () => hot.isUp && cold.isUp);
  const start = clock.monotonic();
  for (let i = 0; i < MESSAGES; i++) hot.send(message(i));
  await until(clock, () => echoed.length === MESSAGES, 60_000, 1);
  const elapsed = clock.monotonic() - start;
  const messagesLineMs = (MESSAGES * DATA_FRAME_BYTES * 10_000) / BAUD;
  expect(hot.stats().retransmissions + cold.stats().retransmissions).toBe(0);
  return {
    lineShare: messagesLineMs / elapsed,
    echoed: echoed.filter((m, i) => label(m) === (i & 0xff)).length,
  };
}

/** Hot sends `count` messages through a relay that drops hot's second DATA frame once. */
async function withOneLostFrame(coldProtocol: number, count: number): Promise<{ relay: FrameRelay; hot: LinkSession; cold: LinkSession; received: Uint8Array[] }> {
  const relay = new FrameRelay();
  const hot = makeSession(relay.clock, relay.hotPort, 'hot', 1);
  const cold = makeSession(relay.clock, relay.coldPort, 'cold', 1, { protocol: coldProtocol });
  const received = collectMessages(cold);
  hot.start();
  cold.start();
  await until(relay.clock, () => hot.isUp && cold.isUp);
  let dataFrames = 0;
  relay.filter = (dir, frame) => (dir === 'hot>cold' && frame.type === FRAME_TYPE.DATA && ++dataFrames === 2 ? 'drop' : 'forward');
  for (let i = 0; i < count; i++) hot.send(message(i));
  await until(relay.clock, () => received.length === count);
  return { relay, hot, cold, received };
}

/** How many times hot put each DATA frame (seq 1..6) on the line. */
function timesSent(relay: FrameRelay): number[] {
  const seqs = relay.framesOf('hot>cold', FRAME_TYPE.DATA).map((f) => f.seq);
  return [1, 2, 3, 4, 5, 6].map((seq) => seqs.filter((s) => s === seq).length);
}

describe('link session: send window', () => {
  it(`${MESSAGES} small messages echoed over a clean 115200-baud line take 0.8 of each direction's line or more (window of 8)`, async () => {
    const { lineShare, echoed } = await echoUtilisation(8);
    expect(echoed).toBe(MESSAGES);
    expect(lineShare).toBeGreaterThanOrEqual(0.8);
    expect(lineShare).toBeLessThan(1);
  });

  it('a frame lost inside the window: a version-2 peer keeps the frames after it, and only the lost one is sent again', async () => {
    const { relay, hot, cold, received } = await withOneLostFrame(2, 6);
    expect(hot.stats().protocol).toBe(2);
    expect(received.map(label)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(timesSent(relay)).toEqual([1, 2, 1, 1, 1, 1]);
    expect(hot.stats().retransmissions).toBe(1);
    expect(cold.stats().naksSent).toBeGreaterThanOrEqual(1);
    expect(cold.stats().duplicates).toBe(0);
  });

  it('a version-1 peer: the session runs version 1 and a lost frame is sent again with every frame after it', async () => {
    const { relay, hot, cold, received } = await withOneLostFrame(1, 6);
    expect(hot.stats().protocol).toBe(1);
    expect(cold.stats().protocol).toBe(1);
    expect(relay.framesOf('cold>hot', FRAME_TYPE.HELLO).concat(relay.framesOf('cold>hot', FRAME_TYPE.HELLO_ACK)).map((f) => f.seq)).not.toContain(2);
    expect(received.map(label)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(timesSent(relay)).toEqual([1, 2, 2, 2, 2, 1]); // 1-5 were in flight when 2 was found lost; 6 was still queued
  });

  it('refuses a protocol version it does not speak, naming it', () => {
    const { clock, hotPort } = directRig();
    expect(() => makeSession(clock, hotPort, 'hot', 1, { protocol: 3 })).toThrow(/link protocol must be in 1\.\.2, got 3/);
  });
});
