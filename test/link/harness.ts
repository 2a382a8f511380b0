/**
 * Test rig for the link: two sessions joined either by one emulated UART pair, or through a
 * frame relay in the middle (two pairs) that records every frame and lets a test drop, alter,
 * replay or inject frames, as an attacker on the wire could.
 */
import { SimulatedClock, type Clock, type TimerHandle } from '../../shared/clock.ts';
import type { Port, PortCloseInfo } from '../../shared/port.ts';
import { SeededRandom } from '../../shared/random.ts';
import { FRAME_TYPE, FrameDecoder, encodeFrame, type Frame } from '../../shared/link/frame.ts';
import { LinkSession, type LinkTimings } from '../../shared/link/session.ts';
import type { LinkRole } from '../../shared/link/link-crypto.ts';
import { VirtualSerialPair, type UartFaults } from '../../hw-profiles/sim/uart/virtual-pair.ts';
import { z } from 'zod';
import { DeviceStore, defineCollection, type WriteTx } from '../../shared/store/store.ts';
import { nextBootEpoch, linkEpochCollection } from '../../shared/link/epoch.ts';
import { LINK_MESSAGES, type MessageRegistry } from '../../shared/link/messages.ts';
import { RPC_COLLECTIONS, RpcEndpoint, refuse, type Outcome } from '../../shared/link/rpc.ts';

export const BAUD = 115_200;
export const LINK_KEY = new Uint8Array(32).fill(0x5a);

export function makeSession(
  clock: Clock,
  port: Port,
  role: LinkRole,
  epoch: number,
  options: { linkKey?: Uint8Array; seed?: string; timings?: Partial<LinkTimings>; protocol?: number } = {},
): LinkSession {
  return new LinkSession({
    port,
    clock,
    random: new SeededRandom(options.seed ?? `${role}-${epoch}`),
    role,
    linkKey: options.linkKey ?? LINK_KEY,
    epoch,
    baudRate: BAUD,
    timings: options.timings,
    protocol: options.protocol,
  });
}

export function directRig(options: { seed?: string; faults?: UartFaults } = {}): {
  clock: SimulatedClock;
  wire: VirtualSerialPair;
  hotPort: Port;
  coldPort: Port;
} {
  const clock = new SimulatedClock();
  const wire = new VirtualSerialPair({ clock, baudRate: BAUD, random: new SeededRandom(options.seed ?? 'wire'), faults: options.faults });
  return { clock, wire, hotPort: wire.open('a'), coldPort: wire.open('b') };
}

export type Direction = 'hot>cold' | 'cold>hot';
export type RelayVerdict = 'forward' | 'drop' | Uint8Array;

export class FrameRelay {
  readonly clock = new SimulatedClock();
  readonly hotWire = new VirtualSerialPair({ clock: this.clock, baudRate: BAUD, name: 'hot-wire' });
  readonly coldWire = new VirtualSerialPair({ clock: this.clock, baudRate: BAUD, name: 'cold-wire' });
  readonly hotPort: Port = this.hotWire.open('a');
  readonly coldPort: Port = this.coldWire.open('b');
  readonly captured: Array<{ dir: Direction; frame: Frame; wire: Uint8Array }> = [];
  filter: (dir: Direction, frame: Frame, wire: Uint8Array) => RelayVerdict = () => 'forward';
  private readonly toCold: Port = this.coldWire.open('a');
  private readonly toHot: Port = this.hotWire.open('b');

  constructor() {
    const fromHot = new FrameDecoder((frame) => this.relay('hot>cold', frame));
    const fromCold = new FrameDecoder((frame) => this.relay('cold>hot', frame));
    this.toHot.onData((chunk) => fromHot.push(chunk));
    this.toCold.onData((chunk) => fromCold.push(chunk));
  }

  /** Sends raw bytes toward one side, as a device on the wire would. */
  inject(toward: 'hot' | 'cold', wire: Uint8Array): void {
    (toward === 'hot' ? this.toHot : this.toCold).write(wire);
  }

  framesOf(dir: Direction, type?: number): Frame[] {
    return this.captured.filter((c) => c.dir === dir && (type === undefined || c.frame.type === type)).map((c) => c.frame);
  }

  private relay(dir: Direction, frame: Frame): void {
    const wire = encodeFrame(frame);
    this.captured.push({ dir, frame, wire });
    const verdict = this.filter(dir, frame, wire);
    if (verdict === 'drop') return;
    const out = verdict === 'forward' ? wire : verdict;
    (dir === 'hot>cold' ? this.toCold : this.toHot).write(out);
  }
}

/** Two sessions joined through a frame relay, started, and up (hot at `hotEpoch`, cold at `coldEpoch`). */
export async function relayedPair(hotEpoch: number, coldEpoch: number): Promise<{ relay: FrameRelay; hot: LinkSession; cold: LinkSession }> {
  const relay = new FrameRelay();
  const hot = makeSession(relay.clock, relay.hotPort, 'hot', hotEpoch);
  const cold = makeSession(relay.clock, relay.coldPort, 'cold', coldEpoch);
  hot.start();
  cold.start();
  await until(relay.clock, () => hot.isUp && cold.isUp);
  return { relay, hot, cold };
}

/**
 * Ends the relayed pair's first session with a genuine ERR{UNKNOWN_SESSION} (one DATA frame is
 * readdressed to an epoch cold does not have) and waits for the second session.
 */
export async function endFirstSessionWithErr(pair: { relay: FrameRelay; hot: LinkSession; cold: LinkSession }): Promise<void> {
  const { relay, hot, cold } = pair;
  const wrongEpoch = cold.stats().epoch - 1;
  relay.filter = (dir, frame) => (dir === 'hot>cold' && frame.type === FRAME_TYPE.DATA ? encodeFrame({ ...frame, dstEpoch: wrongEpoch }) : 'forward');
  hot.send(new TextEncoder().encode('to a session cold does not have'));
  await until(relay.clock, () => hot.stats().errorsReceived > 0);
  relay.filter = () => 'forward';
  await until(relay.clock, () => hot.stats().handshakes === 2 && hot.isUp && cold.isUp);
}

/** Advances until `predicate` holds (or throws after `limitMs` of simulated time). */
export async function until(clock: SimulatedClock, predicate: () => boolean, limitMs = 60_000, stepMs = 5): Promise<void> {
  const start = clock.monotonic();
  while (!predicate()) {
    if (clock.monotonic() - start > limitMs) throw new Error(`condition not met within ${limitMs} ms of simulated time`);
    await clock.advance(stepMs);
  }
}

export function collectMessages(session: LinkSession): Uint8Array[] {
  const messages: Uint8Array[] = [];
  session.onMessage((m) => messages.push(m));
  return messages;
}

// ---------------------------------------------------------------------------------------------
// Whole link endpoints with a durable store, that can reboot


/** Test-only message types with visible, countable effects. */
export const TEST_MESSAGES = {
  ...LINK_MESSAGES,
  'test.add': {
    from: 'hot',
    description: 'adds to a total on the responder; each application is counted',
    request: z.strictObject({ key: z.string(), amount: z.number().int() }),
    reply: z.strictObject({ total: z.number().int(), appliedAt: z.number().int() }),
  },
  'test.refuse': {
    from: 'hot',
    description: 'always refused, deterministically',
    request: z.strictObject({ n: z.number().int() }),
    reply: z.strictObject({}),
  },
  'test.notify': {
    from: 'cold',
    description: 'a request in the other direction',
    request: z.strictObject({ text: z.string() }),
    reply: z.strictObject({ seen: z.boolean() }),
  },
} as const satisfies MessageRegistry;

export const effects = defineCollection('test.effects', z.strictObject({ count: z.number().int() }));
export const totals = defineCollection('test.totals', z.strictObject({ total: z.number().int() }));
/** A settled test.add on the requester: its outcome, its amount, and how often a reply was handled for it (must be 1). */
export const results = defineCollection(
  'test.results',
  z.strictObject({ ok: z.boolean(), total: z.number().int().optional(), code: z.string().optional(), amount: z.number().int(), handled: z.number().int() }),
);
export const TEST_COLLECTIONS = [effects, totals, results, linkEpochCollection, ...Object.values(RPC_COLLECTIONS)];

/** Responder effect of test.add: one count per rid (must end at exactly 1) and a running total. */
export function applyAdd(tx: WriteTx, rid: number, body: { key: string; amount: number }): { total: number; appliedAt: number } {
  tx.put(effects, rid, { count: (tx.get(effects, rid)?.count ?? 0) + 1 });
  const total = (tx.get(totals, body.key)?.total ?? 0) + body.amount;
  tx.put(totals, body.key, { total });
  return { total, appliedAt: rid };
}

// ---------------------------------------------------------------------------------------------
// Power cuts

/** Thrown where a device loses power; nothing of it runs after that. */
export class PowerCut extends Error {
  constructor() {
    super('power cut');
  }
}

/**
 * One device's power. When it goes off, the device stops where it is: its timers and port
 * callbacks no longer run, its writes go nowhere. The store keeps exactly what was committed:
 * LMDB commits with a synchronous fsync (shared/store/store.ts), so a cut loses the transaction
 * in progress and nothing else, which is the state a real power cut leaves.
 */
export class Power {
  on = true;

  cut(): never {
    this.on = false;
    throw new PowerCut();
  }

  /** Runs `fn` while powered; a cut inside it ends it quietly (the device is dead, not failing). */
  run(fn: () => void): void {
    if (!this.on) return;
    try {
      fn();
    } catch (error) {
      if (!(error instanceof PowerCut)) throw error;
    }
  }
}

/** The device's view of the shared clock: time goes on, but its timers die with its power. */
class PoweredClock implements Clock {
  constructor(
    private readonly clock: Clock,
    private readonly power: Power,
  ) {}
  now(): number {
    return this.clock.now();
  }
  monotonic(): number {
    return this.clock.monotonic();
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.clock.setTimeout(() => this.power.run(fn), ms);
  }
  clearTimeout(handle: TimerHandle | undefined): void {
    this.clock.clearTimeout(handle);
  }
  setInterval(fn: () => void, ms: number): TimerHandle {
    return this.clock.setInterval(() => this.power.run(fn), ms);
  }
  clearInterval(handle: TimerHandle | undefined): void {
    this.clock.clearInterval(handle);
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return this.clock.sleep(ms, signal);
  }
}

/** The device's end of the cable: silent and deaf once its power is off. */
class PoweredPort implements Port {
  constructor(
    readonly inner: Port,
    private readonly power: Power,
  ) {}
  get path(): string {
    return this.inner.path;
  }
  get isOpen(): boolean {
    return this.power.on && this.inner.isOpen;
  }
  write(data: Uint8Array): void {
    if (this.power.on) this.inner.write(data);
  }
  drain(): Promise<void> {
    return this.inner.drain();
  }
  onData(listener: (chunk: Uint8Array) => void): () => void {
    return this.inner.onData((chunk) => this.power.run(() => listener(chunk)));
  }
  onClose(listener: (info: PortCloseInfo) => void): () => void {
    return this.inner.onClose((info) => this.power.run(() => listener(info)));
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

export type CutPoint = 'before-commit' | 'after-commit';

export class LinkNode {
  store!: DeviceStore;
  session!: LinkSession;
  rpc!: RpcEndpoint;
  port!: Port;
  power = new Power();
  boots = 0;
  powerCuts = 0;
  /** Outermost store transactions this boot has started. */
  commits = 0;
  private armed: { at: number; point: CutPoint } | undefined;

  constructor(
    readonly role: LinkRole,
    readonly dir: string,
    private readonly clock: Clock,
    private readonly openPort: () => Port,
    private readonly options: { seed: string; linkKey?: Uint8Array; messages?: MessageRegistry; timings?: Partial<LinkTimings> },
  ) {}

  /** Settled test.add requests (on the requester). */
  get settled(): number {
    return this.store.count(results);
  }

  boot(): this {
    this.boots++;
    this.power = new Power();
    this.commits = 0;
    this.armed = undefined;
    const power = this.power;
    const clock = new PoweredClock(this.clock, power);
    this.store = DeviceStore.open(this.dir, { app: `test-${this.role}`, schemaVersion: 1, clock: this.clock, collections: TEST_COLLECTIONS });
    this.countCommits(this.store, power);
    const epoch = nextBootEpoch(this.store);
    this.port = new PoweredPort(this.openPort(), power);
    this.session = makeSession(clock, this.port, this.role, epoch, { seed: `${this.options.seed}/${this.role}/${this.boots}`, linkKey: this.options.linkKey, timings: this.options.timings });
    this.rpc = new RpcEndpoint({ store: this.store, session: this.session, clock, role: this.role, messages: this.options.messages ?? TEST_MESSAGES });
    if (this.role === 'cold') {
      this.rpc.handle('test.add', (body: { key: string; amount: number }, { tx, rid }) => applyAdd(tx, rid, body));
      this.rpc.handle('test.refuse', (body: { n: number }) => refuse('TEST_REFUSED', `refused ${body.n}`, 'n'));
      this.rpc.handle('link.echo', (body: { data: Uint8Array }) => ({ data: body.data }));
    } else {
      this.rpc.handle('test.notify', () => ({ seen: true }));
      // Settled results are recorded by rid in the transaction that settles the reply; `handled`
      // counts how often that happened for the rid.
      this.rpc.onReply('test.add', (request: { amount: number }, outcome: Outcome<{ total: number }>, { tx, rid }) => {
        const handled = (tx.get(results, rid)?.handled ?? 0) + 1;
        const result = outcome.ok ? { ok: true, total: outcome.body.total } : { ok: false, code: outcome.error.code };
        tx.put(results, rid, { ...result, amount: request.amount, handled });
      });
    }
    this.rpc.start();
    this.session.start();
    return this;
  }

  /** Cuts the power when the `n`-th store transaction from now commits: just before, or just after. */
  armPowerCut(n: number, point: CutPoint): void {
    this.armed = { at: this.commits + n, point };
  }

  /** Cuts the power now, between two transactions. */
  cutPower(): void {
    try {
      this.power.cut();
    } catch {
      // the device is off
    }
  }

  get isPoweredOff(): boolean {
    return !this.power.on;
  }

  /** After a power cut: the port is gone without a word, the store reopens with what was committed. */
  async restoreAfterPowerCut(): Promise<void> {
    this.powerCuts++;
    await this.port.close();
    await this.store.close();
    this.boot();
  }

  async shutdown(): Promise<void> {
    this.rpc.stop();
    this.session.stop();
    await this.port.close();
    await this.store.close();
  }

  async reboot(): Promise<void> {
    await this.shutdown();
    this.boot();
  }

  /** Counts outermost transactions, and cuts the power at the armed one. */
  private countCommits(store: DeviceStore, power: Power): void {
    const transact = store.transact.bind(store);
    let depth = 0;
    store.transact = <T>(fn: (tx: WriteTx) => T): T => {
      if (!power.on) throw new PowerCut();
      if (depth > 0) return transact(fn);
      depth++;
      try {
        const n = ++this.commits;
        const cut = this.armed?.at === n ? this.armed.point : undefined;
        return transact((tx) => {
          if (cut === 'after-commit') tx.afterCommit(() => power.cut()); // runs first: before any other after-commit work
          const value = fn(tx);
          if (cut === 'before-commit') power.cut(); // everything written, nothing committed
          return value;
        });
      } finally {
        depth--;
      }
    };
  }
}
