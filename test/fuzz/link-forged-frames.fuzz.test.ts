/**
 * Frames an attacker on the wire can write: every one passes the decoder (COBS, length, CRC,
 * version, type, flags are all right) and names the epochs, sequence numbers and even the AEAD
 * tags it has seen on the line, but none carries a tag made with the link key. Replays of the
 * genuine frames of this and of an earlier session are mixed in. A live session must survive
 * all of them: no link down, no new handshake, every real message delivered once and in order.
 */
import { describe, expect, it } from 'vitest';
import { FRAME_FLAG, FRAME_TYPE, MAX_PAYLOAD, encodeFrame, type Frame, type FrameType } from '../../shared/link/frame.ts';
import { TAG_SIZE } from '../../shared/link/link-crypto.ts';
import { PROBE_EPOCH } from '../../shared/link/probe.ts';
import { ERR_BODY, HELLO_ACK_BODY, HELLO_BODY, LINK_ERROR } from '../../shared/link/session.ts';
import { SeededRandom } from '../../shared/random.ts';
import { BAUD, collectMessages, endFirstSessionWithErr, relayedPair, until, type Direction } from '../link/harness.ts';
import { soakCount } from '../helpers/soak.ts';

const FORGED = soakCount(4_000, 40_000);
const HOT_EPOCH = 11;
const COLD_EPOCH = 23;
const ALL_TYPES = Object.values(FRAME_TYPE) as FrameType[];

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array): string => new TextDecoder().decode(b);

/** The payload size a genuine frame of `type` has (what a careful forger copies). */
function plausibleSize(random: SeededRandom, type: FrameType): number {
  switch (type) {
    case FRAME_TYPE.HELLO:
      return HELLO_BODY + TAG_SIZE;
    case FRAME_TYPE.HELLO_ACK:
      return HELLO_ACK_BODY + TAG_SIZE;
    case FRAME_TYPE.ERR:
      return random.pick([1, ERR_BODY, ERR_BODY + TAG_SIZE]);
    case FRAME_TYPE.DATA:
      return TAG_SIZE + random.int(MAX_PAYLOAD - TAG_SIZE + 1);
    case FRAME_TYPE.PAIR:
      return random.int(200);
    default:
      return TAG_SIZE; // ACK, PING, PONG: a sealed empty plaintext
  }
}

describe('fuzz: forged and replayed frames against a live session (seeded, fixed counts)', () => {
  it(`${FORGED} CRC-valid frames of every type without the link key, and replays, change nothing but counters`, async () => {
    const random = new SeededRandom('fuzz-link-forged');
    const pair = await relayedPair(HOT_EPOCH, COLD_EPOCH);
    const { relay, hot, cold } = pair;
    const atCold = collectMessages(cold);
    const atHot = collectMessages(hot);
    // An earlier session ended by a genuine ERR, so the capture holds one, and HELLOs of two handshakes.
    await endFirstSessionWithErr(pair);
    expect(relay.captured.some((c) => c.frame.type === FRAME_TYPE.ERR)).toBe(true);

    const downs: string[] = [];
    hot.onDown(({ reason }) => downs.push(`hot: ${reason}`));
    cold.onDown(({ reason }) => downs.push(`cold: ${reason}`));
    const before = { hot: hot.stats(), cold: cold.stats() };
    const deliveredBefore = { cold: atCold.length, hot: atHot.length };
    const sent = { hot: [] as string[], cold: [] as string[] };
    const injected = { forged: 0, replayed: 0 };
    const byType = new Map<number, number>();

    /** Header fields from what the line shows: both epochs, nearby numbers, and a few odd ones. */
    const epoch = (): number => random.pick([HOT_EPOCH, COLD_EPOCH, HOT_EPOCH + 1, COLD_EPOCH + 1, 0, PROBE_EPOCH, random.uint32()]);
    const small = (): number => random.pick([0, 1, 2, 3, random.int(40), random.int(0x10000)]);
    /** What the line has shown so far, by direction (the relay's capture, read as it grows). */
    const seen: Record<Direction, Array<(typeof relay.captured)[number]>> = { 'hot>cold': [], 'cold>hot': [] };
    let read = 0;
    const look = (): void => {
      for (; read < relay.captured.length; read++) {
        const c = relay.captured[read]!;
        seen[c.dir].push(c);
      }
    };
    const seenTag = (toward: 'hot' | 'cold'): Uint8Array => {
      const own: Direction = toward === 'hot' ? 'hot>cold' : 'cold>hot';
      const sealed = seen[own].slice(-40).filter((c) => c.frame.payload.length >= TAG_SIZE && (c.frame.flags & FRAME_FLAG.ENC) !== 0);
      const frame = sealed.length > 0 ? random.pick(sealed).frame : undefined;
      return frame === undefined ? random.bytes(TAG_SIZE) : frame.payload.subarray(frame.payload.length - TAG_SIZE);
    };

    const forge = (toward: 'hot' | 'cold'): Frame => {
      const type = random.pick(ALL_TYPES);
      const towardEpoch = toward === 'hot' ? HOT_EPOCH : COLD_EPOCH;
      const fromEpoch = toward === 'hot' ? COLD_EPOCH : HOT_EPOCH;
      const payload = random.bytes(plausibleSize(random, type));
      if (type === FRAME_TYPE.ERR) {
        payload[0] = random.chance(0.9) ? LINK_ERROR.UNKNOWN_SESSION : random.int(256);
        if (payload.length >= ERR_BODY) payload.set(seenTag(toward), 1); // quotes a frame the target really sent
      }
      const sessionish = random.chance(0.7);
      return {
        type,
        flags: type === FRAME_TYPE.DATA || random.chance(0.5) ? FRAME_FLAG.ENC | (random.chance(0.5) ? FRAME_FLAG.ACK_VALID : 0) | (random.chance(0.2) ? FRAME_FLAG.MORE : 0) : random.int(8),
        srcEpoch: sessionish ? fromEpoch : epoch(),
        dstEpoch: sessionish ? towardEpoch : epoch(),
        seq: small(),
        ack: small(),
        payload,
      };
    };

    const replay = (toward: 'hot' | 'cold'): Uint8Array => {
      const from: Direction = toward === 'cold' ? 'hot>cold' : 'cold>hot';
      const reflected: Direction = from === 'hot>cold' ? 'cold>hot' : 'hot>cold';
      const original = random.pick(seen[random.chance(0.1) ? reflected : from]); // the target's own frames reflected, too
      if (random.chance(0.6)) return original.wire;
      // The genuine payload (tag included) under a header the forger changed.
      return encodeFrame({ ...original.frame, seq: random.chance(0.5) ? small() : original.frame.seq, ack: random.chance(0.5) ? small() : original.frame.ack, srcEpoch: random.chance(0.2) ? epoch() : original.frame.srcEpoch });
    };

    let lineMs = 0;
    for (let i = 0; i < FORGED; i++) {
      look();
      const toward = random.chance(0.5) ? 'hot' : 'cold';
      let wire: Uint8Array;
      if (random.chance(0.25)) {
        wire = replay(toward);
        injected.replayed++;
      } else {
        const frame = forge(toward);
        byType.set(frame.type, (byType.get(frame.type) ?? 0) + 1);
        wire = encodeFrame(frame);
        injected.forged++;
      }
      relay.inject(toward, wire);
      lineMs += (wire.length * 10_000) / BAUD;
      if (i % 25 === 0) {
        // Real traffic keeps flowing both ways through all of it.
        const m = `m${i}`;
        if (hot.send(text(`h-${m}`))) sent.hot.push(`h-${m}`);
        if (cold.send(text(`c-${m}`))) sent.cold.push(`c-${m}`);
      }
      // Time passes as the forged bytes cross the line, plus as much again for real traffic.
      if (i % 10 === 9) {
        await relay.clock.advance(lineMs + random.between(1, 60));
        lineMs = 0;
      }
    }
    await until(relay.clock, () => atCold.length - deliveredBefore.cold === sent.hot.length && atHot.length - deliveredBefore.hot === sent.cold.length);
    await relay.clock.advance(20_000); // keepalives, retransmissions, anything pending

    expect(downs).toEqual([]);
    const after = { hot: hot.stats(), cold: cold.stats() };
    for (const side of ['hot', 'cold'] as const) {
      expect(after[side].state).toBe('up');
      expect(after[side].handshakes).toBe(before[side].handshakes);
      expect(after[side].linkDowns).toBe(before[side].linkDowns);
      expect(after[side].peerEpoch).toBe(before[side].peerEpoch);
    }
    // Every real message arrived once, in order; nothing forged was delivered.
    expect(atCold.slice(deliveredBefore.cold).map(str)).toEqual(sent.hot);
    expect(atHot.slice(deliveredBefore.hot).map(str)).toEqual(sent.cold);
    expect(sent.hot.length).toBeGreaterThan(FORGED / 30);
    // Each type was forged, and the forgeries were seen and dropped, not missed.
    expect([...byType.keys()].sort()).toEqual([...ALL_TYPES].sort());
    const rejected = (s: typeof after.hot, b: typeof before.hot): number => s.authFailures - b.authFailures + (s.staleFrames - b.staleFrames) + (s.duplicates - b.duplicates);
    expect(rejected(after.hot, before.hot) + rejected(after.cold, before.cold)).toBeGreaterThan(injected.forged * 0.75);
  }, 600_000);
});
