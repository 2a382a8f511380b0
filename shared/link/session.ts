/**
 * The link session (layers 2-3; notes/serial-link.md §1 "ARQ" and "Session setup"):
 * handshake, windowed ARQ, fragmentation, keepalive and re-keying over one `Port`.
 *
 * - Handshake: HELLO{nonce, number} every ~500 ms (±20 %) until a HELLO_ACK{echo, nonce, number}
 *   arrives; both are tagged with the pairing's control key. If both sides say HELLO at once,
 *   HSM-Cold answers HSM-Hot's and drops its own. A HELLO with a higher epoch means the peer
 *   rebooted: the session resets. Epochs only go up; lower ones are stale and dropped. Within
 *   one boot, handshake numbers only go up too: a recorded HELLO replayed later is stale, and
 *   cannot end the session it once started (docs/link-protocol.md).
 * - ARQ: a window of up to `window` DATA frames in flight per direction, 16-bit sequence
 *   numbers, cumulative ACKs (piggybacked when a reply is ready, bare otherwise), one
 *   retransmission timer for the oldest frame with RFC 6298 RTT estimation, exponential backoff
 *   and jitter; after `maxRetries` transmissions of the oldest frame the link is reported down
 *   and a new handshake starts. Messages are delivered in order. A version-2 receiver keeps up
 *   to `RECEIVE_AHEAD` frames beyond a gap and the sender repeats only the lost frame
 *   (selective repeat); to a version-1 receiver, which drops them, it repeats the window from
 *   the lost frame on (go-back-N).
 * - Loss feedback: a receiver that drops a damaged frame, or a frame after a gap, answers at
 *   once (rate limited) with an ACK whose `seq` names the frame it waits for (a NAK); a sender
 *   whose oldest frame is named, and has left the line, sends the window again without waiting
 *   for the timeout (once per transmission).
 * - Protocol version: HELLO and HELLO_ACK carry the sender's link protocol version in `seq`
 *   (first-generation firmware sends 0, which is version 1). The session runs the lower of the
 *   two. A version-1 peer keeps working: it takes windowed frames in order and ignores the
 *   NAK's `seq`.
 * - A frame naming a session the receiver does not have gets ERR{UNKNOWN_SESSION}, tagged with
 *   the control key and quoting the frame's tag; it makes the sender handshake again only when
 *   it quotes a frame the sender sent in the session it holds. Nothing unauthenticated changes
 *   session state: such frames are dropped and counted (`authFailures`).
 * - Messages larger than one frame travel as consecutive DATA frames with the MORE flag.
 * - Nothing here is durable: queued messages are dropped when a session ends. Exactly-once
 *   delivery is the RPC layer's job (rpc.ts), which re-sends on every new session.
 * @module
 */
import type { Clock, TimerHandle } from '../clock.ts';
import { HsmError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { silentLogger } from '../log.ts';
import type { Port } from '../port.ts';
import type { RandomSource } from '../random.ts';
import { FRAME_FLAG, FRAME_TYPE, FrameDecoder, MAX_ENCODED, MAX_PAYLOAD, encodeFrame, encodeHeader, type Frame } from './frame.ts';
import {
  NONCE_SIZE,
  TAG_SIZE,
  deriveSessionKeys,
  controlKey,
  controlTag,
  controlTagValid,
  open,
  otherRole,
  seal,
  type LinkRole,
  type SessionKeys,
} from './link-crypto.ts';

/** ERR frame payload codes. */
export const LINK_ERROR = { UNKNOWN_SESSION: 1 } as const;
/** HELLO body: nonce(16) ‖ handshake number (u32 BE); the control tag follows. */
export const HELLO_BODY = NONCE_SIZE + 4;
/** HELLO_ACK body: echoed nonce(16) ‖ nonce(16) ‖ the responder's handshake number (u32 BE). */
export const HELLO_ACK_BODY = 2 * NONCE_SIZE + 4;
/** ERR body: code(1) ‖ the last 16 payload bytes of the frame it answers (its AEAD tag). */
export const ERR_BODY = 1 + TAG_SIZE;
/** Sealed frames remembered per session, so an ERR can be checked against what was really sent. */
const SENT_TAGS_KEPT = 32;
/** Largest message the session reassembles (fragments beyond this are a protocol error). */
export const MAX_MESSAGE = 256 * 1024;
/** Data bytes one DATA frame carries once sealed. */
export const FRAGMENT_SIZE = MAX_PAYLOAD - TAG_SIZE;
const LAST_SEQ = 0xffff;
/**
 * The link protocol this firmware speaks (docs/link-protocol.md): 2 adds the window, NAKs and
 * selective repeat. Sent in the `seq` field of HELLO and HELLO_ACK; 0 there means version 1.
 */
export const LINK_PROTOCOL = 2;
/** Frames beyond a gap a receiver keeps (version 2), waiting for the lost one. */
const RECEIVE_AHEAD = 32;
/** The next frame is written when the one before has at most this many bytes left on the line. */
const PACE_SLACK_BYTES = 16;
/** The longest frame on the wire (delimiters included): an ACK may wait behind one on the peer's line. */
const MAX_FRAME_BYTES = MAX_ENCODED + 2;

export interface LinkTimings {
  helloIntervalMs: number;
  /** Initial retransmission timeout, before any RTT is measured. */
  initialRtoMs: number;
  maxRtoMs: number;
  maxRetries: number;
  /** DATA frames in flight at once per direction, unacknowledged. */
  window: number;
  keepaliveMs: number;
  /** Keepalive intervals without any frame from the peer before the link is declared down. */
  keepaliveMisses: number;
}

export const DEFAULT_TIMINGS: LinkTimings = {
  helloIntervalMs: 500,
  initialRtoMs: 250,
  maxRtoMs: 2000,
  maxRetries: 10,
  window: 8,
  keepaliveMs: 5000,
  keepaliveMisses: 3,
};

export interface LinkSessionOptions {
  port: Port;
  clock: Clock;
  random: RandomSource;
  role: LinkRole;
  linkKey: Uint8Array;
  /** This boot's epoch (see epoch.ts); strictly greater than any earlier boot's. */
  epoch: number;
  /** Line rate, used to size timeouts to the time frames take on the wire. */
  baudRate: number;
  timings?: Partial<LinkTimings>;
  /** The link protocol version this side offers (default `LINK_PROTOCOL`; 1 speaks as first-generation firmware). */
  protocol?: number;
  log?: Logger;
}

export type LinkState = 'handshaking' | 'up' | 'stopped';

export interface LinkStats {
  state: LinkState;
  epoch: number;
  peerEpoch: number | null;
  /** The link protocol version of the current session (the lower of the two sides'). */
  protocol: number | null;
  handshakes: number;
  linkDowns: number;
  framesSent: number;
  framesReceived: number;
  bytesSent: number;
  bytesReceived: number;
  messagesSent: number;
  messagesReceived: number;
  retransmissions: number;
  duplicates: number;
  /** ACKs sent naming a frame that was lost or damaged, and those received. */
  naksSent: number;
  naksReceived: number;
  crcFailures: number;
  decodeFailures: number;
  resyncs: number;
  authFailures: number;
  staleFrames: number;
  errorsSent: number;
  errorsReceived: number;
  rttMs: { last: number | null; smoothed: number | null; min: number | null; max: number | null };
}

interface Fragment {
  data: Uint8Array;
  more: boolean;
}

interface InFlight {
  seq: number;
  fragment: Fragment;
  transmissions: number;
  /** The transmission a NAK last answered (a NAK makes a frame go again once per transmission). */
  nakAnswered: number;
  /** When the latest transmission's first byte goes onto the line (after what was queued before it). */
  sentAt: number;
  /** When the latest transmission has fully left the line. */
  leftLineAt: number;
}

type Listener<T> = (value: T) => void;

export class LinkSession {
  readonly role: LinkRole;
  readonly epoch: number;
  private readonly port: Port;
  private readonly clock: Clock;
  private readonly random: RandomSource;
  private readonly linkKey: Uint8Array;
  /** Tags our HELLO / HELLO_ACK / ERR frames. */
  private readonly ownControlKey: Uint8Array;
  /** Checks the peer's. */
  private readonly peerControlKey: Uint8Array;
  private readonly timings: LinkTimings;
  private readonly byteTimeMs: number;
  private readonly log: Logger;
  private readonly decoder: FrameDecoder;
  private readonly unsubscribe: Array<() => void> = [];

  private stateValue: LinkState = 'handshaking';
  private peerEpoch: number | null = null;
  private highestPeerEpoch = 0;
  private keys: SessionKeys | undefined;
  private helloNonce: Uint8Array | undefined;
  private helloTimer: TimerHandle | undefined;
  /** Handshakes this side started in this boot; its HELLOs carry the number. */
  private handshakeNumber = 0;
  /** The newest handshake of the peer this side took part in: older HELLOs are replays. */
  private peerHandshake: { epoch: number; number: number } | undefined;
  /** The HELLO_ACK last sent, replayed when the same HELLO arrives again. */
  private lastHelloAck: { peerNonce: string; peerEpoch: number; wire: Uint8Array } | undefined;
  /** AEAD tags of the frames sent in this session, oldest first (an ERR must quote one). */
  private sentTags: string[] = [];

  private nextSeq = 1;
  private lastDelivered = 0;
  /** Sent and not yet acknowledged, oldest first. */
  private inFlight: InFlight[] = [];
  private retransmitTimer: TimerHandle | undefined;
  /** Runs `pump` when the line is about to be free (see `pump`). */
  private lineTimer: TimerHandle | undefined;
  /** When this side's own line is free again (what was written before has left it). */
  private lineFreeAt = 0;
  private peerProtocol = 1;
  private readonly ownProtocol: number;
  private readonly queue: Fragment[] = [];
  /** Frames received beyond a gap, by sequence number (version 2). */
  private readonly outOfOrder = new Map<number, Fragment>();
  private reassembly: Uint8Array[] = [];
  private reassemblySize = 0;
  private ackOwed = false;
  private ackTimer: TimerHandle | undefined;

  private srtt: number | undefined;
  private rttvar: number | undefined;
  private lastHeardAt = 0;
  private keepaliveTimer: TimerHandle | undefined;
  private pingCounter = 0;
  private pingSentAt = new Map<number, number>();
  private lastErrAt = -Infinity;
  private lastNak: { seq: number; at: number } | undefined;

  private readonly listeners = {
    message: new Set<Listener<Uint8Array>>(),
    up: new Set<Listener<{ peerEpoch: number; protocol: number }>>(),
    down: new Set<Listener<{ reason: string }>>(),
    ready: new Set<Listener<void>>(),
  };
  private readonly counters: Omit<LinkStats, 'state' | 'epoch' | 'peerEpoch' | 'protocol' | 'rttMs' | 'crcFailures' | 'decodeFailures' | 'resyncs'> = {
    handshakes: 0,
    linkDowns: 0,
    framesSent: 0,
    framesReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    messagesSent: 0,
    messagesReceived: 0,
    retransmissions: 0,
    duplicates: 0,
    naksSent: 0,
    naksReceived: 0,
    authFailures: 0,
    staleFrames: 0,
    errorsSent: 0,
    errorsReceived: 0,
  };
  private rtt = { last: null as number | null, min: null as number | null, max: null as number | null };

  constructor(options: LinkSessionOptions) {
    if (options.linkKey.length !== 32) throw new HsmError('LINK_KEY', 'the link key must be 32 bytes');
    if (!Number.isInteger(options.epoch) || options.epoch < 1 || options.epoch > 0xffffffff) {
      throw new HsmError('LINK_EPOCH', `boot epoch must be in 1..2^32-1, got ${options.epoch}`);
    }
    this.role = options.role;
    this.epoch = options.epoch;
    this.port = options.port;
    this.clock = options.clock;
    this.random = options.random;
    this.linkKey = Uint8Array.from(options.linkKey);
    this.ownControlKey = controlKey(options.linkKey, options.role);
    this.peerControlKey = controlKey(options.linkKey, otherRole(options.role));
    this.timings = { ...DEFAULT_TIMINGS, ...options.timings };
    this.ownProtocol = options.protocol ?? LINK_PROTOCOL;
    if (!Number.isInteger(this.ownProtocol) || this.ownProtocol < 1 || this.ownProtocol > LINK_PROTOCOL) {
      throw new HsmError('LINK_PROTOCOL', `link protocol must be in 1..${LINK_PROTOCOL}, got ${this.ownProtocol}`);
    }
    this.byteTimeMs = 10_000 / options.baudRate;
    this.log = options.log ?? silentLogger;
    this.decoder = new FrameDecoder(
      (frame) => this.onFrame(frame),
      () => this.onDamage(),
    );
    this.unsubscribe.push(
      this.port.onData((chunk) => {
        this.counters.bytesReceived += chunk.length;
        this.decoder.push(chunk);
      }),
    );
  }

  get state(): LinkState {
    return this.stateValue;
  }

  get isUp(): boolean {
    return this.stateValue === 'up';
  }

  onMessage(listener: Listener<Uint8Array>): () => void {
    this.listeners.message.add(listener);
    return () => this.listeners.message.delete(listener);
  }

  onUp(listener: Listener<{ peerEpoch: number; protocol: number }>): () => void {
    this.listeners.up.add(listener);
    return () => this.listeners.up.delete(listener);
  }

  /** Called when every queued fragment has gone into the window (`backlog` is 0 again). */
  onReady(listener: Listener<void>): () => void {
    this.listeners.ready.add(listener);
    return () => this.listeners.ready.delete(listener);
  }

  /** The `seq` of this side's HELLO and HELLO_ACK: its protocol version, 0 for version 1 (as first-generation firmware sends). */
  private get helloVersion(): number {
    return this.ownProtocol === 1 ? 0 : this.ownProtocol;
  }

  /** Fragments queued behind a full window, not yet sent. */
  get backlog(): number {
    return this.queue.length;
  }

  /** The link protocol version of the current session (1 until a session is up). */
  get protocol(): number {
    return Math.min(this.ownProtocol, this.peerProtocol);
  }

  onDown(listener: Listener<{ reason: string }>): () => void {
    this.listeners.down.add(listener);
    return () => this.listeners.down.delete(listener);
  }

  start(): void {
    this.startHandshake();
  }

  /** Stops all timers and detaches from the port (the port itself stays open). */
  stop(): void {
    if (this.stateValue === 'stopped') return;
    this.stateValue = 'stopped';
    this.clearSessionTimers();
    this.clock.clearTimeout(this.helloTimer);
    for (const off of this.unsubscribe.splice(0)) off();
  }

  /**
   * Queues a message for the peer. Returns false (and queues nothing) when the link is not up:
   * the caller sends again after the next `up`.
   */
  send(message: Uint8Array): boolean {
    if (this.stateValue !== 'up') return false;
    if (message.length > MAX_MESSAGE) {
      throw new HsmError('LINK_MESSAGE_SIZE', `message of ${message.length} bytes exceeds ${MAX_MESSAGE}`);
    }
    for (let offset = 0; offset === 0 || offset < message.length; offset += FRAGMENT_SIZE) {
      const data = message.subarray(offset, offset + FRAGMENT_SIZE);
      this.queue.push({ data, more: offset + FRAGMENT_SIZE < message.length });
      if (message.length === 0) break;
    }
    this.counters.messagesSent++;
    this.pump();
    return true;
  }

  stats(): LinkStats {
    const d = this.decoder.stats;
    return {
      state: this.stateValue,
      epoch: this.epoch,
      peerEpoch: this.peerEpoch,
      protocol: this.stateValue === 'up' ? this.protocol : null,
      ...this.counters,
      crcFailures: d.dropped.FRAME_CRC,
      decodeFailures: Object.values(d.dropped).reduce((a, b) => a + b, 0),
      resyncs: d.resyncs,
      rttMs: { last: this.rtt.last, smoothed: this.srtt ?? null, min: this.rtt.min, max: this.rtt.max },
    };
  }

  // ---------------------------------------------------------------------------------------
  // Handshake

  private startHandshake(): void {
    if (this.stateValue === 'stopped') return;
    this.stateValue = 'handshaking';
    this.helloNonce = this.random.bytes(NONCE_SIZE);
    this.counters.handshakes++;
    this.handshakeNumber++;
    this.sendHello();
  }

  private sendHello(): void {
    if (this.stateValue !== 'handshaking' || this.helloNonce === undefined) return;
    const header = { type: FRAME_TYPE.HELLO, flags: 0, srcEpoch: this.epoch, dstEpoch: 0, seq: this.helloVersion, ack: 0 } as const;
    this.transmit(this.controlFrame(header, concat(this.helloNonce, u32be(this.handshakeNumber))));
    const jitter = 1 + (this.randomUnit() * 0.4 - 0.2);
    this.helloTimer = this.clock.setTimeout(() => this.sendHello(), this.timings.helloIntervalMs * jitter);
  }

  private onHello(frame: Frame): void {
    const body = this.authenticControlBody(frame, HELLO_BODY);
    if (body === undefined) return;
    if (frame.srcEpoch < this.highestPeerEpoch) {
      this.counters.staleFrames++;
      return;
    }
    const peerNonce = body.subarray(0, NONCE_SIZE);
    const number = readU32be(body, NONCE_SIZE);
    const answered = this.lastHelloAck;
    const sameAsAnswered = answered?.peerNonce === hex(peerNonce) && answered.peerEpoch === frame.srcEpoch;
    // A repeated HELLO (our HELLO_ACK was lost): answer it again, byte for byte.
    if (answered !== undefined && sameAsAnswered && this.stateValue === 'up') {
      this.writeWire(answered.wire);
      return;
    }
    // A handshake of the peer older than one this side already took part in: a replay. (The
    // HELLO this side answered last may come again while this side is down: the peer still
    // waits for an answer, so it gets a new session.)
    if (!sameAsAnswered && !this.isNewPeerHandshake(frame.srcEpoch, number)) {
      this.counters.staleFrames++;
      return;
    }
    // Both sides said HELLO at once: HSM-Hot's wins, HSM-Cold answers it.
    if (this.stateValue === 'handshaking' && this.role === 'hot') return;
    const ownNonce = this.random.bytes(NONCE_SIZE);
    const header = { type: FRAME_TYPE.HELLO_ACK, flags: 0, srcEpoch: this.epoch, dstEpoch: frame.srcEpoch, seq: this.helloVersion, ack: 0 } as const;
    const wire = encodeFrame(this.controlFrame(header, concat(peerNonce, ownNonce, u32be(this.handshakeNumber))));
    this.establish(frame.srcEpoch, { initiator: peerNonce, responder: ownNonce }, number, frame.seq);
    this.lastHelloAck = { peerNonce: hex(peerNonce), peerEpoch: frame.srcEpoch, wire };
    this.writeWire(wire);
  }

  private onHelloAck(frame: Frame): void {
    const body = this.authenticControlBody(frame, HELLO_ACK_BODY);
    if (body === undefined) return;
    const echo = body.subarray(0, NONCE_SIZE);
    if (this.stateValue !== 'handshaking' || this.helloNonce === undefined || frame.dstEpoch !== this.epoch || hex(echo) !== hex(this.helloNonce)) {
      this.counters.staleFrames++;
      return;
    }
    if (frame.srcEpoch < this.highestPeerEpoch) {
      this.counters.staleFrames++;
      return;
    }
    this.lastHelloAck = undefined; // this session is the answer to our HELLO: no older HELLO of the peer waits for one
    this.establish(frame.srcEpoch, { initiator: this.helloNonce, responder: body.subarray(NONCE_SIZE, 2 * NONCE_SIZE) }, readU32be(body, 2 * NONCE_SIZE), frame.seq);
  }

  /** Whether (epoch, number) names a handshake of the peer newer than any this side took part in. */
  private isNewPeerHandshake(epoch: number, number: number): boolean {
    const known = this.peerHandshake;
    return known === undefined || epoch > known.epoch || (epoch === known.epoch && number > known.number);
  }

  /** A control frame (HELLO, HELLO_ACK, ERR): body ‖ tag under this side's control key. */
  private controlFrame(header: Omit<Frame, 'payload'>, body: Uint8Array): Frame {
    const tag = controlTag(this.ownControlKey, encodeHeader(header, body.length + TAG_SIZE), body);
    return { ...header, payload: concat(body, tag) };
  }

  /** The body of a peer's control frame of the expected size whose tag verifies; else counted and undefined. */
  private authenticControlBody(frame: Frame, bodySize: number): Uint8Array | undefined {
    const body = frame.payload.subarray(0, bodySize);
    const tag = frame.payload.subarray(bodySize);
    if (frame.payload.length === bodySize + TAG_SIZE && controlTagValid(this.peerControlKey, encodeHeader(frame, frame.payload.length), body, tag)) return body;
    this.counters.authFailures++;
    return undefined;
  }

  /** `peerVersion`: the `seq` of the peer's HELLO or HELLO_ACK (0 from a version-1 peer). */
  private establish(peerEpoch: number, nonces: { initiator: Uint8Array; responder: Uint8Array }, peerHandshakeNumber: number, peerVersion: number): void {
    const wasUp = this.stateValue === 'up';
    this.clearSessionTimers();
    this.clock.clearTimeout(this.helloTimer);
    this.helloNonce = undefined;
    if (wasUp) this.reportDown('peer started a new session');
    const epochs = this.role === 'hot' ? { hot: this.epoch, cold: peerEpoch } : { hot: peerEpoch, cold: this.epoch };
    this.keys = deriveSessionKeys(this.linkKey, this.role, nonces, epochs);
    this.peerEpoch = peerEpoch;
    this.highestPeerEpoch = Math.max(this.highestPeerEpoch, peerEpoch);
    if (this.isNewPeerHandshake(peerEpoch, peerHandshakeNumber)) this.peerHandshake = { epoch: peerEpoch, number: peerHandshakeNumber };
    this.resetArq();
    this.peerProtocol = Math.max(1, peerVersion);
    this.stateValue = 'up';
    this.lastHeardAt = this.clock.monotonic();
    this.armKeepalive();
    this.log.info({ epoch: this.epoch, peerEpoch, peer: otherRole(this.role), protocol: this.protocol }, 'link up');
    for (const l of [...this.listeners.up]) l({ peerEpoch, protocol: this.protocol });
  }

  private linkDown(reason: string): void {
    if (this.stateValue !== 'up') return;
    this.clearSessionTimers();
    this.keys = undefined;
    this.reportDown(reason);
    this.startHandshake();
  }

  private reportDown(reason: string): void {
    this.counters.linkDowns++;
    // The peer re-handshaking (both ends booting at once, or the peer restarted) is the protocol
    // at work, not a fault: only a silent or failing link is worth a warning.
    const resync = reason === 'peer does not know this session' || reason === 'peer started a new session';
    this.log[resync ? 'debug' : 'warn']({ reason }, 'link down');
    for (const l of [...this.listeners.down]) l({ reason });
  }

  // ---------------------------------------------------------------------------------------
  // Receiving

  private onFrame(frame: Frame): void {
    if (this.stateValue === 'stopped') return;
    this.counters.framesReceived++;
    switch (frame.type) {
      case FRAME_TYPE.HELLO:
        this.onHello(frame);
        return;
      case FRAME_TYPE.HELLO_ACK:
        this.onHelloAck(frame);
        return;
      case FRAME_TYPE.ERR:
        this.onErr(frame);
        return;
      case FRAME_TYPE.PAIR:
        return; // pairing frames are handled by the pairing exchange, not a session
      default:
        this.onSessionFrame(frame);
    }
  }

  /** A damaged frame arrived: tell the peer which frame we wait for. */
  private onDamage(): void {
    if (this.stateValue === 'up') this.sendNak();
  }

  /**
   * An ACK whose `seq` names the frame this side waits for (a NAK; 0 there, as version 1 sends,
   * names none). The same frame is named at most once per short interval.
   */
  private sendNak(): void {
    const seq = this.lastDelivered + 1;
    if (seq > LAST_SEQ) return;
    const now = this.clock.monotonic();
    const last = this.lastNak;
    if (last !== undefined && last.seq === seq && now - last.at < Math.max(this.srtt ?? 0, 128 * this.byteTimeMs)) return;
    this.lastNak = { seq, at: now };
    this.ackOwed = false;
    this.counters.naksSent++;
    this.sendControl(FRAME_TYPE.ACK, seq);
  }

  private onErr(frame: Frame): void {
    this.counters.errorsReceived++;
    const body = this.authenticControlBody(frame, ERR_BODY);
    if (body === undefined) return;
    // Only an error aimed at this boot, about a frame of the session we hold, makes us handshake again.
    if (frame.dstEpoch !== this.epoch || body[0] !== LINK_ERROR.UNKNOWN_SESSION || this.stateValue !== 'up') return;
    if (frame.srcEpoch < (this.peerEpoch ?? 0) || !this.sentTags.includes(hex(body.subarray(1)))) {
      this.counters.staleFrames++;
      return;
    }
    this.linkDown('peer does not know this session');
  }

  private onSessionFrame(frame: Frame): void {
    if (frame.dstEpoch !== this.epoch || this.stateValue !== 'up' || this.keys === undefined || frame.srcEpoch !== this.peerEpoch) {
      if (frame.srcEpoch < this.highestPeerEpoch) {
        this.counters.staleFrames++;
        return;
      }
      this.counters.staleFrames++;
      this.sendUnknownSession(frame);
      return;
    }
    if ((frame.flags & FRAME_FLAG.ENC) === 0) {
      this.counters.authFailures++;
      return;
    }
    const plaintext = open(this.keys.receive, encodeHeader(frame, frame.payload.length), frame.payload);
    if (plaintext === undefined) {
      this.counters.authFailures++;
      return;
    }
    this.lastHeardAt = this.clock.monotonic();
    if ((frame.flags & FRAME_FLAG.ACK_VALID) !== 0) this.onAck(frame.ack, frame.type === FRAME_TYPE.ACK ? frame.seq : 0);
    switch (frame.type) {
      case FRAME_TYPE.DATA:
        this.onData(frame, plaintext);
        return;
      case FRAME_TYPE.PING:
        this.sendControl(FRAME_TYPE.PONG, frame.seq);
        return;
      case FRAME_TYPE.PONG: {
        const sentAt = this.pingSentAt.get(frame.seq);
        this.pingSentAt.delete(frame.seq);
        if (sentAt !== undefined) this.recordRtt(this.clock.monotonic() - sentAt);
        return;
      }
      default:
        return; // ACK: handled above
    }
  }

  private onData(frame: Frame, data: Uint8Array): void {
    const fragment = { data, more: (frame.flags & FRAME_FLAG.MORE) !== 0 };
    if (frame.seq <= this.lastDelivered || this.outOfOrder.has(frame.seq)) {
      // Had it before (our ACK was lost, or the frame was sent again): acknowledge, deliver nothing.
      this.counters.duplicates++;
      this.ackOwed = true;
      this.scheduleAck();
      return;
    }
    if (frame.seq !== this.lastDelivered + 1) {
      // A frame before this one was lost. A version-2 peer sends only the lost one again, so
      // this one is kept until the gap is filled; a version-1 peer sends them all again.
      if (this.protocol >= 2 && frame.seq <= this.lastDelivered + RECEIVE_AHEAD) this.outOfOrder.set(frame.seq, fragment);
      this.sendNak();
      return;
    }
    this.deliver(fragment);
    for (let next = this.outOfOrder.get(this.lastDelivered + 1); next !== undefined && this.stateValue === 'up'; next = this.outOfOrder.get(this.lastDelivered + 1)) {
      this.outOfOrder.delete(this.lastDelivered + 1);
      this.deliver(next);
    }
    if (this.stateValue !== 'up') return;
    if (this.outOfOrder.size > 0) this.sendNak(); // the next gap
    this.scheduleAck();
  }

  /** The next fragment in order: reassembled, and handed on when its message is complete. */
  private deliver(fragment: Fragment): void {
    if (this.stateValue !== 'up') return;
    this.lastDelivered++;
    this.ackOwed = true;
    this.reassemblySize += fragment.data.length;
    if (this.reassemblySize > MAX_MESSAGE) {
      this.linkDown('peer sent a message larger than the limit');
      return;
    }
    this.reassembly.push(fragment.data);
    if (fragment.more) return;
    const message = this.reassembly.length === 1 ? (this.reassembly[0] as Uint8Array) : concat(...this.reassembly);
    this.reassembly = [];
    this.reassemblySize = 0;
    this.counters.messagesReceived++;
    for (const l of [...this.listeners.message]) l(message);
  }

  /**
   * Gives a reply queued by a listener the chance to carry the ACK; otherwise sends it bare.
   * While the line is busy the ACK waits for it: the next frame written carries it.
   */
  private scheduleAck(): void {
    if (!this.ackOwed || this.stateValue !== 'up') return;
    if (!this.lineFreeSoon()) {
      this.serviceWhenLineFree();
      return;
    }
    this.clock.clearTimeout(this.ackTimer);
    this.ackTimer = this.clock.setTimeout(() => {
      if (this.ackOwed) this.sendAck();
    }, 0);
  }

  /** A cumulative ACK up to `ack`; `nak`, when not 0, names the frame the peer waits for. */
  private onAck(ack: number, nak: number): void {
    let sample: number | undefined;
    let acked = false;
    while (this.inFlight.length > 0 && (this.inFlight[0] as InFlight).seq <= ack) {
      const flight = this.inFlight.shift() as InFlight;
      if (flight.transmissions === 1) sample = this.clock.monotonic() - flight.sentAt; // Karn's rule
      acked = true;
    }
    if (acked) {
      if (sample !== undefined) this.recordRtt(sample);
      this.clock.clearTimeout(this.retransmitTimer);
      this.retransmitTimer = undefined;
      this.pump();
    }
    if (nak === 0) return;
    this.counters.naksReceived++;
    const flight = this.inFlight.find((f) => f.seq === nak);
    // Once per transmission, and only for a frame that has left the line (else the NAK is older than it).
    if (flight === undefined || flight.nakAnswered === flight.transmissions || this.clock.monotonic() < flight.leftLineAt) return;
    this.retransmit(flight);
    flight.nakAnswered = flight.transmissions;
  }

  // ---------------------------------------------------------------------------------------
  // Sending

  /**
   * Moves queued fragments into the window, one at a time as the line frees up: a frame is
   * written only when the one before it is about to leave the line, so the ACK it carries is
   * fresh and a bare ACK is needed only when there is no data to carry it.
   */
  private pump(): void {
    if (this.stateValue !== 'up') return;
    const queued = this.queue.length;
    while (this.inFlight.length < this.timings.window && this.queue.length > 0) {
      if (this.nextSeq > LAST_SEQ) {
        // Re-key before the sequence number (and so the IV) could repeat, once the window is
        // empty; the RPC layer re-sends what is still queued.
        if (this.inFlight.length === 0) this.linkDown('sequence numbers exhausted, re-keying');
        return;
      }
      if (!this.lineFreeSoon()) {
        this.serviceWhenLineFree();
        break;
      }
      const fragment = this.queue.shift() as Fragment;
      const flight: InFlight = { seq: this.nextSeq++, fragment, transmissions: 0, nakAnswered: 0, sentAt: 0, leftLineAt: 0 };
      this.inFlight.push(flight);
      this.transmitData(flight);
    }
    this.armRetransmit();
    if (queued > 0 && this.queue.length === 0) for (const l of [...this.listeners.ready]) l();
  }

  /** Whether what this side has written is (nearly) off the line, so a new frame follows without a gap. */
  private lineFreeSoon(): boolean {
    return this.lineFreeAt - this.clock.monotonic() <= PACE_SLACK_BYTES * this.byteTimeMs + 0.001; // (float rounding)
  }

  /** Runs `pump` (and sends an ACK still owed) when the line is about to be free. */
  private serviceWhenLineFree(): void {
    if (this.lineTimer !== undefined) return;
    const delay = this.lineFreeAt - PACE_SLACK_BYTES * this.byteTimeMs - this.clock.monotonic();
    this.lineTimer = this.clock.setTimeout(() => {
      this.lineTimer = undefined;
      this.pump();
      if (this.ackOwed) this.sendAck();
    }, Math.max(0, delay));
  }

  /** Sends one DATA frame of the window (again); a sequence number always carries the same fragment. */
  private transmitData(flight: InFlight): void {
    if (this.keys === undefined) return;
    flight.transmissions++;
    if (flight.transmissions > 1) this.counters.retransmissions++;
    let flags = FRAME_FLAG.ENC | (flight.fragment.more ? FRAME_FLAG.MORE : 0);
    let ack = 0;
    if (this.ackOwed || this.lastDelivered > 0) {
      flags |= FRAME_FLAG.ACK_VALID;
      ack = this.lastDelivered;
      this.ackOwed = false;
    }
    const line = this.sendSealed(FRAME_TYPE.DATA, flags, flight.seq, ack, flight.fragment.data);
    flight.sentAt = line.start;
    flight.leftLineAt = line.end;
  }

  /**
   * Sends a lost frame again: only that one to a version-2 peer, which kept the frames after
   * it; the whole window from it on to a version-1 peer, which dropped them (go-back-N).
   */
  private retransmit(flight: InFlight): void {
    const again = this.protocol >= 2 ? [flight] : this.inFlight.filter((f) => f.seq >= flight.seq);
    for (const f of again) this.transmitData(f);
    if (flight === this.inFlight[0]) {
      this.clock.clearTimeout(this.retransmitTimer);
      this.retransmitTimer = undefined;
      this.armRetransmit();
    }
  }

  /** One timer, for the oldest frame in flight: when it runs out, that frame goes again (with backoff). */
  private armRetransmit(): void {
    const oldest = this.inFlight[0];
    if (oldest === undefined || this.retransmitTimer !== undefined) return;
    const frameBytes = oldest.fragment.data.length + 64;
    const delay = oldest.sentAt + this.rto(oldest.transmissions, frameBytes) - this.clock.monotonic();
    this.retransmitTimer = this.clock.setTimeout(() => this.onRetransmitTimeout(), Math.max(0, delay));
  }

  private onRetransmitTimeout(): void {
    this.retransmitTimer = undefined;
    const oldest = this.inFlight[0];
    if (oldest === undefined) return;
    if (oldest.transmissions >= this.timings.maxRetries) {
      this.linkDown(`no acknowledgement after ${oldest.transmissions} attempts`);
      return;
    }
    this.retransmit(oldest);
  }

  /**
   * RFC 6298 timeout, never below the time a frame and its ACK need on the wire, the ACK
   * perhaps behind a longest frame on the peer's line; doubled per retry.
   */
  private rto(attempt: number, frameBytes: number): number {
    const wire = (frameBytes + 64) * this.byteTimeMs;
    const base =
      this.srtt === undefined || this.rttvar === undefined
        ? Math.max(this.timings.initialRtoMs, 2 * wire + MAX_FRAME_BYTES * this.byteTimeMs)
        : Math.max(this.srtt + 4 * this.rttvar, 2 * wire + MAX_FRAME_BYTES * this.byteTimeMs + 20);
    const backoff = Math.min(this.timings.maxRtoMs, base * 2 ** (attempt - 1));
    return backoff * (1 + (this.randomUnit() * 0.4 - 0.2));
  }

  private recordRtt(sample: number): void {
    this.rtt.last = sample;
    this.rtt.min = this.rtt.min === null ? sample : Math.min(this.rtt.min, sample);
    this.rtt.max = this.rtt.max === null ? sample : Math.max(this.rtt.max, sample);
    if (this.srtt === undefined || this.rttvar === undefined) {
      this.srtt = sample;
      this.rttvar = sample / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - sample);
      this.srtt = 0.875 * this.srtt + 0.125 * sample;
    }
  }

  private sendAck(): void {
    this.ackOwed = false;
    this.sendControl(FRAME_TYPE.ACK, 0);
  }

  private sendControl(type: typeof FRAME_TYPE.ACK | typeof FRAME_TYPE.PING | typeof FRAME_TYPE.PONG, seq: number): void {
    if (this.stateValue !== 'up') return;
    this.sendSealed(type, FRAME_FLAG.ENC | FRAME_FLAG.ACK_VALID, seq, this.lastDelivered, new Uint8Array());
  }

  /** Seals and sends a session frame; returns when it goes onto the line and when it has left it. */
  private sendSealed(type: Frame['type'], flags: number, seq: number, ack: number, plaintext: Uint8Array): { start: number; end: number } {
    const now = this.clock.monotonic();
    if (this.keys === undefined || this.peerEpoch === null) return { start: now, end: now };
    const header = { type, flags, srcEpoch: this.epoch, dstEpoch: this.peerEpoch, seq, ack };
    const headerBytes = encodeHeader(header, plaintext.length + TAG_SIZE);
    const payload = seal(this.keys.send, headerBytes, plaintext);
    this.sentTags.push(hex(lastBytes(payload, TAG_SIZE)));
    if (this.sentTags.length > SENT_TAGS_KEPT) this.sentTags.shift();
    return this.transmit({ ...header, payload });
  }

  private sendUnknownSession(frame: Frame): void {
    // Rate-limited: a burst of stale frames gets one answer per hello interval.
    const now = this.clock.monotonic();
    if (now - this.lastErrAt < this.timings.helloIntervalMs) return;
    this.lastErrAt = now;
    this.counters.errorsSent++;
    const header = { type: FRAME_TYPE.ERR, flags: 0, srcEpoch: this.epoch, dstEpoch: frame.srcEpoch, seq: 0, ack: 0 } as const;
    this.transmit(this.controlFrame(header, concat(Uint8Array.of(LINK_ERROR.UNKNOWN_SESSION), lastBytes(frame.payload, TAG_SIZE))));
  }

  private transmit(frame: Frame): { start: number; end: number } {
    return this.writeWire(encodeFrame(frame));
  }

  /** Writes to the port; returns when the bytes go onto the line (after what is queued) and when they have left it. */
  private writeWire(wire: Uint8Array): { start: number; end: number } {
    const now = this.clock.monotonic();
    const start = Math.max(now, this.lineFreeAt);
    const line = { start, end: start + wire.length * this.byteTimeMs };
    if (!this.port.isOpen) return line;
    try {
      this.port.write(wire);
    } catch (error) {
      this.log.warn({ err: (error as Error).message }, 'link write failed');
      return line;
    }
    this.lineFreeAt = line.end;
    this.counters.framesSent++;
    this.counters.bytesSent += wire.length;
    return line;
  }

  // ---------------------------------------------------------------------------------------
  // Keepalive and housekeeping

  private armKeepalive(): void {
    this.clock.clearTimeout(this.keepaliveTimer);
    this.keepaliveTimer = this.clock.setTimeout(() => this.onKeepalive(), this.timings.keepaliveMs);
  }

  private onKeepalive(): void {
    if (this.stateValue !== 'up') return;
    const silentFor = this.clock.monotonic() - this.lastHeardAt;
    if (silentFor >= this.timings.keepaliveMs * this.timings.keepaliveMisses) {
      this.linkDown(`nothing heard for ${Math.round(silentFor)} ms`);
      return;
    }
    if (silentFor >= this.timings.keepaliveMs * 0.9) {
      this.pingCounter = (this.pingCounter % 0xffff) + 1;
      this.pingSentAt.set(this.pingCounter, this.clock.monotonic());
      if (this.pingSentAt.size > 16) this.pingSentAt.delete(this.pingSentAt.keys().next().value as number);
      this.sendControl(FRAME_TYPE.PING, this.pingCounter);
    }
    this.armKeepalive();
  }

  private resetArq(): void {
    this.sentTags = [];
    this.nextSeq = 1;
    this.lastDelivered = 0;
    this.inFlight = [];
    this.queue.length = 0;
    this.outOfOrder.clear();
    this.lastNak = undefined;
    this.reassembly = [];
    this.reassemblySize = 0;
    this.ackOwed = false;
    this.srtt = undefined;
    this.rttvar = undefined;
    this.pingSentAt.clear();
  }

  private clearSessionTimers(): void {
    this.clock.clearTimeout(this.retransmitTimer);
    this.retransmitTimer = undefined;
    this.clock.clearTimeout(this.lineTimer);
    this.lineTimer = undefined;
    this.clock.clearTimeout(this.ackTimer);
    this.clock.clearTimeout(this.keepaliveTimer);
  }

  private randomUnit(): number {
    const b = this.random.bytes(4);
    return ((((b[0] ?? 0) << 24) | ((b[1] ?? 0) << 16) | ((b[2] ?? 0) << 8) | (b[3] ?? 0)) >>> 0) / 2 ** 32;
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** The last `n` bytes of `b`, zero-padded in front when `b` is shorter. */
function lastBytes(b: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(n);
  const tail = b.subarray(Math.max(0, b.length - n));
  out.set(tail, n - tail.length);
  return out;
}

function u32be(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}

function readU32be(b: Uint8Array, offset: number): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(offset);
}

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}
