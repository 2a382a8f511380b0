import { describe, expect, it } from 'vitest';
import { FRAME_TYPE, FrameDecoder, MAX_ENCODED, encodeFrame, type Frame } from '../../shared/link/frame.ts';
import { SeededRandom } from '../../shared/random.ts';
import { collectMessages, relayedPair, until } from '../link/harness.ts';
import { soakCount } from '../helpers/soak.ts';

const STREAMS = soakCount(25_000, 100_000);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const SESSION_STREAMS = soakCount(4_000, 10_000);

function validFrames(random: SeededRandom): Uint8Array[] {
  const frames: Frame[] = [];
  for (let i = 0; i < 8; i++) {
    frames.push({
      type: random.pick([FRAME_TYPE.HELLO, FRAME_TYPE.DATA, FRAME_TYPE.ACK, FRAME_TYPE.PING, FRAME_TYPE.ERR, FRAME_TYPE.PAIR]),
      flags: random.int(8),
      srcEpoch: random.uint32(),
      dstEpoch: random.uint32(),
      seq: random.int(0x10000),
      ack: random.int(0x10000),
      payload: random.bytes(random.int(300)),
    });
  }
  return frames.map(encodeFrame);
}

/** One hostile stream: random bytes, or valid frames mutated in the ways lines damage them. */
function hostileStream(random: SeededRandom, seeds: Uint8Array[]): Uint8Array {
  if (random.chance(0.3)) return random.bytes(random.int(2500));
  const parts: number[] = [];
  const count = random.between(1, 4);
  for (let i = 0; i < count; i++) {
    const frame = Array.from(random.pick(seeds));
    const mutations = random.between(1, 6);
    for (let m = 0; m < mutations; m++) {
      const at = random.int(frame.length);
      switch (random.int(7)) {
        case 0:
          frame[at] = (frame[at] ?? 0) ^ (1 << random.int(8)); // bit flip
          break;
        case 1:
          frame[at] = random.int(256); // byte substitution
          break;
        case 2:
          frame.splice(at, random.between(1, 20)); // deletion
          break;
        case 3:
          frame.splice(at, 0, ...random.bytes(random.between(1, 40))); // insertion
          break;
        case 4:
          frame.splice(at, 0, 0); // a stray delimiter
          break;
        case 5:
          frame.length = at; // truncation
          break;
        default:
          frame.splice(at, 0, ...frame.slice(0, random.int(frame.length))); // duplicated run
      }
    }
    parts.push(...frame);
  }
  if (random.chance(0.05)) parts.push(...new Uint8Array(random.between(MAX_ENCODED, 3 * MAX_ENCODED)).fill(0x41)); // runaway
  return Uint8Array.from(parts);
}

describe('fuzz: link decoder (seeded, fixed counts)', () => {
  it(`${STREAMS} random and mutated byte streams: no crash, runaways cut off, only frames that were sent come out`, () => {
    const random = new SeededRandom('fuzz-link-decoder');
    const seeds = validFrames(random);
    const sent = new Set(seeds.map(hex));
    let frames = 0;
    const corrupted: string[] = [];
    const decoder = new FrameDecoder((frame) => {
      frames++;
      // Whatever comes out is, byte for byte, a frame that was sent: damage is never delivered.
      const wire = hex(encodeFrame(frame));
      if (!sent.has(wire) && corrupted.length < 5) corrupted.push(wire);
    });
    let bytes = 0;
    for (let i = 0; i < STREAMS; i++) {
      const stream = hostileStream(random, seeds);
      bytes += stream.length;
      let offset = 0;
      while (offset < stream.length) {
        const n = random.between(1, 512);
        decoder.push(stream.subarray(offset, offset + n));
        offset += n;
      }
    }
    expect(corrupted).toEqual([]);
    expect(bytes).toBeGreaterThan(STREAMS * 100);
    expect(decoder.stats.resyncs).toBeGreaterThan(STREAMS / 2);
    expect(frames).toBeGreaterThan(STREAMS / 1000); // intact frames between the damaged ones still get through
    expect(frames).toBeLessThan(decoder.stats.resyncs);
    // Runaway blocks were cut at MAX_ENCODED (the decoder's fixed buffer) and their bytes discarded.
    expect(decoder.stats.dropped.FRAME_OVERSIZE).toBeGreaterThan(0);
    expect(decoder.stats.overrunBytes).toBeGreaterThan(MAX_ENCODED);
  });

  it(`${SESSION_STREAMS} hostile streams into an up session change nothing but its error counters`, async () => {
    const { relay, hot, cold } = await relayedPair(7, 8);
    const delivered = collectMessages(cold);
    hot.send(Uint8Array.of(42));
    await until(relay.clock, () => delivered.length === 1);
    // Mutate the frames really exchanged (tagged HELLOs, sealed DATA and ACKs) and synthetic ones.
    const random = new SeededRandom('fuzz-link-session');
    const seeds = [...relay.captured.map((c) => c.wire), ...validFrames(random)];
    const downs: string[] = [];
    cold.onDown(({ reason }) => downs.push(reason));
    const before = cold.stats();
    for (let i = 0; i < SESSION_STREAMS; i++) {
      relay.inject('cold', hostileStream(random, seeds).subarray(0, 600));
      if (i % 100 === 99) await relay.clock.advance(6000);
    }
    await relay.clock.advance(10_000);
    const after = cold.stats();
    expect(delivered).toHaveLength(1);
    expect(downs).toEqual([]);
    expect(after.state).toBe('up');
    expect(after.peerEpoch).toBe(before.peerEpoch);
    expect(after.messagesReceived).toBe(before.messagesReceived);
    expect(after.decodeFailures + after.authFailures + after.staleFrames + after.duplicates).toBeGreaterThan(SESSION_STREAMS / 2);
    // The link still works.
    hot.send(Uint8Array.of(43));
    await until(relay.clock, () => delivered.length === 2);
  });
});
