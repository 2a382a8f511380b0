import { describe, expect, it } from 'vitest';
import { FRAME_FLAG, FRAME_TYPE, encodeFrame } from '../../shared/link/frame.ts';
import { FRAGMENT_SIZE, type LinkSession } from '../../shared/link/session.ts';
import { SeededRandom } from '../../shared/random.ts';
import { FrameRelay, collectMessages, directRig, endFirstSessionWithErr, makeSession, relayedPair, until } from './harness.ts';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array): string => new TextDecoder().decode(b);

describe('link session: handshake and delivery', () => {
  it('hand-shakes, then delivers messages both ways in order', async () => {
    const { clock, hotPort, coldPort } = directRig();
    const hot = makeSession(clock, hotPort, 'hot', 3);
    const cold = makeSession(clock, coldPort, 'cold', 9);
    const atCold = collectMessages(cold);
    const atHot = collectMessages(hot);
    hot.start();
    cold.start();
    await until(clock, () => hot.isUp && cold.isUp);
    expect(hot.stats().peerEpoch).toBe(9);
    expect(cold.stats().peerEpoch).toBe(3);
    for (let i = 0; i < 5; i++) expect(hot.send(text(`h${i}`))).toBe(true);
    expect(cold.send(text('c0'))).toBe(true);
    await until(clock, () => atCold.length === 5 && atHot.length === 1);
    expect(atCold.map(str)).toEqual(['h0', 'h1', 'h2', 'h3', 'h4']);
    expect(atHot.map(str)).toEqual(['c0']);
    expect(hot.stats().retransmissions).toBe(0);
    expect(hot.stats().rttMs.last).toBeGreaterThan(0);
  });

  it('splits and reassembles a message larger than one frame', async () => {
    const { clock, hotPort, coldPort } = directRig();
    const hot = makeSession(clock, hotPort, 'hot', 1);
    const cold = makeSession(clock, coldPort, 'cold', 1);
    const atCold = collectMessages(cold);
    hot.start();
    cold.start();
    await until(clock, () => hot.isUp && cold.isUp);
    const big = new SeededRandom('big').bytes(FRAGMENT_SIZE * 7 + 123);
    hot.send(big);
    hot.send(new Uint8Array()); // an empty message is a message too
    await until(clock, () => atCold.length === 2);
    expect(Buffer.from(atCold[0]!).equals(Buffer.from(big))).toBe(true);
    expect(atCold[1]).toHaveLength(0);
  });

  it('does not queue while down: send() returns false', () => {
    const { clock, hotPort } = directRig();
    const hot = makeSession(clock, hotPort, 'hot', 1);
    hot.start();
    expect(hot.send(text('x'))).toBe(false);
  });

  it('resolves a HELLO race: both start at once and agree on one session', async () => {
    const relay = new FrameRelay();
    const hot = makeSession(relay.clock, relay.hotPort, 'hot', 4);
    const cold = makeSession(relay.clock, relay.coldPort, 'cold', 4);
    const atCold = collectMessages(cold);
    hot.start();
    cold.start();
    await until(relay.clock, () => hot.isUp && cold.isUp);
    expect(relay.framesOf('hot>cold', FRAME_TYPE.HELLO).length).toBeGreaterThanOrEqual(1);
    expect(relay.framesOf('cold>hot', FRAME_TYPE.HELLO).length).toBeGreaterThanOrEqual(1);
    expect(relay.framesOf('hot>cold', FRAME_TYPE.HELLO_ACK)).toHaveLength(0); // hot answered no HELLO
    hot.send(text('agreed'));
    await until(relay.clock, () => atCold.length === 1);
    expect(hot.stats().authFailures + cold.stats().authFailures).toBe(0);
  });
});

describe('link session: reboots, epochs and stale sessions', () => {
  it('a peer reboot (higher epoch) resets the session and traffic resumes', async () => {
    const { clock, wire, hotPort, coldPort } = directRig();
    const hot = makeSession(clock, hotPort, 'hot', 10);
    let cold = makeSession(clock, coldPort, 'cold', 20);
    const downs: string[] = [];
    hot.onDown(({ reason }) => downs.push(reason));
    hot.start();
    cold.start();
    await until(clock, () => hot.isUp && cold.isUp);
    cold.stop();
    await coldPort.close();
    const coldPort2 = wire.open('b');
    cold = makeSession(clock, coldPort2, 'cold', 21);
    const atCold = collectMessages(cold);
    cold.start();
    await until(clock, () => cold.isUp && hot.stats().peerEpoch === 21);
    expect(downs).toEqual(['peer started a new session']);
    hot.send(text('after reboot'));
    await until(clock, () => atCold.length === 1);
  });

  it('frames from an older boot are dropped as stale; a frame naming a lost session gets ERR and a new handshake', async () => {
    const relay = new FrameRelay();
    const hot = makeSession(relay.clock, relay.hotPort, 'hot', 5);
    const cold = makeSession(relay.clock, relay.coldPort, 'cold', 7);
    hot.start();
    cold.start();
    await until(relay.clock, () => hot.isUp && cold.isUp);
    const oldHello = relay.framesOf('hot>cold', FRAME_TYPE.HELLO)[0]!;
    // Replay a HELLO from an older boot: stale, ignored.
    relay.inject('cold', encodeFrame({ ...oldHello, srcEpoch: 4 }));
    await relay.clock.advance(50);
    expect(cold.stats().staleFrames + cold.stats().authFailures).toBeGreaterThan(0);
    expect(cold.stats().handshakes).toBe(1);
    // Hot believes cold is at epoch 6 for one frame: cold answers ERR, hot re-handshakes.
    const handshakesBefore = hot.stats().handshakes;
    relay.filter = (dir, frame) => (dir === 'hot>cold' && frame.type === FRAME_TYPE.DATA ? encodeFrame({ ...frame, dstEpoch: 6 }) : 'forward');
    hot.send(text('to a session cold does not have'));
    await until(relay.clock, () => relay.framesOf('cold>hot', FRAME_TYPE.ERR).length > 0);
    relay.filter = () => 'forward';
    await until(relay.clock, () => hot.stats().handshakes > handshakesBefore && hot.isUp && cold.isUp);
    expect(cold.stats().errorsSent).toBeGreaterThan(0);
    expect(hot.stats().errorsReceived).toBeGreaterThan(0);
  });

  it('after the retry limit the link goes down and hand-shakes again when the cable returns', async () => {
    const { clock, wire, hotPort, coldPort } = directRig();
    const hot = makeSession(clock, hotPort, 'hot', 1, { timings: { maxRetries: 4 } });
    const cold = makeSession(clock, coldPort, 'cold', 1);
    const atCold = collectMessages(cold);
    const downs: string[] = [];
    hot.onDown(({ reason }) => downs.push(reason));
    hot.start();
    cold.start();
    await until(clock, () => hot.isUp && cold.isUp);
    wire.setFaults({ dropRate: 1 });
    hot.send(text('lost'));
    await until(clock, () => downs.length === 1, 120_000);
    expect(downs[0]).toContain('no acknowledgement after 4 attempts');
    expect(hot.stats().retransmissions).toBe(3);
    expect(hot.state).toBe('handshaking');
    wire.setFaults({});
    await until(clock, () => hot.isUp && cold.isUp, 120_000);
    hot.send(text('back'));
    await until(clock, () => atCold.map(str).includes('back'));
  });

  it('keepalive pings an idle link and declares it down when the peer goes silent', async () => {
    const { clock, wire, hotPort, coldPort } = directRig();
    const hot = makeSession(clock, hotPort, 'hot', 1);
    const cold = makeSession(clock, coldPort, 'cold', 1);
    hot.start();
    cold.start();
    await until(clock, () => hot.isUp && cold.isUp);
    await clock.advance(30_000);
    expect(hot.isUp && cold.isUp).toBe(true);
    // The side whose keepalive fires first pings; the other hears it and stays quiet.
    expect(hot.stats().rttMs.last ?? cold.stats().rttMs.last).not.toBeNull();
    expect(hot.stats().framesSent + cold.stats().framesSent).toBeGreaterThan(10);
    wire.unplug('b');
    await until(clock, () => !hot.isUp, 60_000);
    expect(hot.stats().linkDowns).toBe(1);
  });
});

describe('link session: authentication', () => {
  it('an impostor with another link key cannot open a session; its frames are counted and dropped', async () => {
    const { clock, hotPort, coldPort } = directRig();
    const hot = makeSession(clock, hotPort, 'hot', 1);
    const impostor = makeSession(clock, coldPort, 'cold', 1, { linkKey: new Uint8Array(32).fill(1) });
    hot.start();
    impostor.start();
    await clock.advance(10_000);
    expect(hot.isUp).toBe(false);
    expect(impostor.isUp).toBe(false);
    expect(hot.stats().authFailures).toBeGreaterThan(5);
    expect(impostor.stats().authFailures).toBeGreaterThan(5);
  });

  it("a device's own HELLO reflected back to it is not taken for its peer's", async () => {
    const relay = new FrameRelay();
    const hot = makeSession(relay.clock, relay.hotPort, 'hot', 2);
    const cold = makeSession(relay.clock, relay.coldPort, 'cold', 3);
    hot.start();
    cold.start();
    await until(relay.clock, () => hot.isUp && cold.isUp);
    const coldHello = relay.captured.find((c) => c.dir === 'cold>hot' && c.frame.type === FRAME_TYPE.HELLO)!;
    const downs: string[] = [];
    cold.onDown(({ reason }) => downs.push(reason));
    const failures = cold.stats().authFailures;
    relay.inject('cold', coldHello.wire);
    await relay.clock.advance(100);
    expect(downs).toEqual([]);
    expect(cold.stats().peerEpoch).toBe(2);
    expect(cold.stats().authFailures).toBe(failures + 1);
  });

  it('a tampered sealed frame (valid CRC) is rejected, then the original gets through by retransmission', async () => {
    const relay = new FrameRelay();
    const hot = makeSession(relay.clock, relay.hotPort, 'hot', 2);
    const cold = makeSession(relay.clock, relay.coldPort, 'cold', 2);
    const atCold = collectMessages(cold);
    hot.start();
    cold.start();
    await until(relay.clock, () => hot.isUp && cold.isUp);
    let tampered = 0;
    relay.filter = (dir, frame) => {
      if (dir === 'hot>cold' && frame.type === FRAME_TYPE.DATA && tampered < 2) {
        tampered++;
        const payload = Uint8Array.from(frame.payload);
        payload[0] = (payload[0] ?? 0) ^ 0x01;
        return encodeFrame({ ...frame, payload }); // CRC recomputed: only the AEAD tag can tell
      }
      return 'forward';
    };
    hot.send(text('pay 1 BTC'));
    await until(relay.clock, () => atCold.length === 1);
    expect(str(atCold[0]!)).toBe('pay 1 BTC');
    expect(cold.stats().authFailures).toBe(2);
    expect(hot.stats().retransmissions).toBe(2);
  });

  it('a header change (flags, seq) breaks the tag too', async () => {
    const relay = new FrameRelay();
    const hot = makeSession(relay.clock, relay.hotPort, 'hot', 2);
    const cold = makeSession(relay.clock, relay.coldPort, 'cold', 2);
    const atCold = collectMessages(cold);
    hot.start();
    cold.start();
    await until(relay.clock, () => hot.isUp && cold.isUp);
    let changed = false;
    relay.filter = (dir, frame) => {
      if (dir === 'hot>cold' && frame.type === FRAME_TYPE.DATA && !changed) {
        changed = true;
        return encodeFrame({ ...frame, flags: frame.flags | FRAME_FLAG.MORE });
      }
      return 'forward';
    };
    hot.send(text('whole'));
    await until(relay.clock, () => atCold.length === 1);
    expect(str(atCold[0]!)).toBe('whole');
    expect(cold.stats().authFailures).toBe(1);
  });

  it('replayed frames deliver nothing twice, within a session or after a re-key', async () => {
    const relay = new FrameRelay();
    const hot = makeSession(relay.clock, relay.hotPort, 'hot', 3);
    const cold = makeSession(relay.clock, relay.coldPort, 'cold', 3);
    const atCold = collectMessages(cold);
    hot.start();
    cold.start();
    await until(relay.clock, () => hot.isUp && cold.isUp);
    hot.send(text('once'));
    await until(relay.clock, () => atCold.length === 1);
    const data = relay.captured.find((c) => c.dir === 'hot>cold' && c.frame.type === FRAME_TYPE.DATA)!.wire;
    relay.inject('cold', data);
    await relay.clock.advance(100);
    expect(atCold).toHaveLength(1);
    expect(cold.stats().duplicates).toBe(1);
    // New session (hot reboots): the old frame no longer opens under the new keys.
    hot.stop();
    const hot2 = makeSession(relay.clock, relay.hotPort, 'hot', 4);
    hot2.start();
    await until(relay.clock, () => hot2.isUp && cold.isUp && cold.stats().peerEpoch === 4);
    const staleBefore = cold.stats().staleFrames;
    relay.inject('cold', data);
    await relay.clock.advance(100);
    expect(atCold).toHaveLength(1);
    expect(cold.stats().staleFrames).toBe(staleBefore + 1);
  });
});

describe('link session: control frames cannot end a session unless the peer sent them for it', () => {
  /** Injects `wire` toward `side`: it must be counted as stale and end nothing. */
  async function expectStale(relay: FrameRelay, side: 'hot' | 'cold', session: LinkSession, wire: Uint8Array): Promise<void> {
    const downs: string[] = [];
    session.onDown(({ reason }) => downs.push(reason));
    const stale = session.stats().staleFrames;
    const handshakes = session.stats().handshakes;
    relay.inject(side, wire);
    await relay.clock.advance(100);
    expect(downs).toEqual([]);
    expect(session.stats().staleFrames).toBe(stale + 1);
    expect(session.stats().handshakes).toBe(handshakes);
    expect(session.isUp).toBe(true);
  }

  it('a forged ERR{UNKNOWN_SESSION} with a valid CRC and the right epochs is counted and ignored', async () => {
    const { relay, hot, cold } = await relayedPair(5, 7);
    const atCold = collectMessages(cold);
    const downs: string[] = [];
    hot.onDown(({ reason }) => downs.push(reason));
    const failures = hot.stats().authFailures;
    // What anyone on the wire can write: the code, and even the tag of a frame hot really sent.
    const sealed = relay.framesOf('hot>cold').find((f) => f.type === FRAME_TYPE.ACK || f.type === FRAME_TYPE.DATA);
    const quoted = sealed?.payload ?? new Uint8Array(16);
    for (const payload of [Uint8Array.of(1), Uint8Array.of(1, ...quoted), Uint8Array.of(1, ...quoted, ...new Uint8Array(16))]) {
      relay.inject('hot', encodeFrame({ type: FRAME_TYPE.ERR, flags: 0, srcEpoch: 7, dstEpoch: 5, seq: 0, ack: 0, payload }));
    }
    await relay.clock.advance(100);
    expect(downs).toEqual([]);
    expect(hot.stats().handshakes).toBe(1);
    expect(hot.stats().authFailures).toBe(failures + 3);
    hot.send(text('still up'));
    await until(relay.clock, () => atCold.length === 1);
  });

  it('a genuine ERR recorded in an earlier session and replayed does not end the current one', async () => {
    const pair = await relayedPair(5, 7);
    await endFirstSessionWithErr(pair);
    const err = pair.relay.captured.find((c) => c.dir === 'cold>hot' && c.frame.type === FRAME_TYPE.ERR)!;
    await expectStale(pair.relay, 'hot', pair.hot, err.wire);
  });

  it('a HELLO of an earlier handshake, replayed, is stale: it does not start a new session', async () => {
    const pair = await relayedPair(5, 7);
    await endFirstSessionWithErr(pair);
    const hellos = pair.relay.captured.filter((c) => c.dir === 'hot>cold' && c.frame.type === FRAME_TYPE.HELLO);
    const first = hellos[0]!;
    expect(hellos.some((h) => Buffer.compare(h.frame.payload.subarray(0, 16), first.frame.payload.subarray(0, 16)) !== 0)).toBe(true);
    await expectStale(pair.relay, 'cold', pair.cold, first.wire);
  });

  it("a peer's HELLO that lost the race, replayed after the session is up, is stale", async () => {
    const { relay, hot, cold } = await relayedPair(4, 4);
    const coldHello = relay.captured.find((c) => c.dir === 'cold>hot' && c.frame.type === FRAME_TYPE.HELLO)!;
    await expectStale(relay, 'hot', hot, coldHello.wire);
    expect(cold.isUp).toBe(true);
  });
});
