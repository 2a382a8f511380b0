/**
 * Test rig for the link: two sessions joined either by one emulated UART pair, or through a
 * frame relay in the middle (two pairs) that records every frame and lets a test drop, alter,
 * replay or inject frames, as an attacker on the wire could.
 */
import { SimulatedClock, type Clock } from '../../shared/clock.ts';
import type { Port } from '../../shared/port.ts';
import { SeededRandom } from '../../shared/random.ts';
import { FrameDecoder, encodeFrame, type Frame } from '../../shared/link/frame.ts';
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
  options: { linkKey?: Uint8Array; seed?: string; timings?: Partial<LinkTimings> } = {},
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
export const results = defineCollection('test.results', z.strictObject({ ok: z.boolean(), total: z.number().int().optional(), code: z.string().optional() }));
export const TEST_COLLECTIONS = [effects, totals, results, linkEpochCollection, ...Object.values(RPC_COLLECTIONS)];

/** Responder effect of test.add: one count per rid (must end at exactly 1) and a running total. */
export function applyAdd(tx: WriteTx, rid: number, body: { key: string; amount: number }): { total: number; appliedAt: number } {
  tx.put(effects, rid, { count: (tx.get(effects, rid)?.count ?? 0) + 1 });
  const total = (tx.get(totals, body.key)?.total ?? 0) + body.amount;
  tx.put(totals, body.key, { total });
  return { total, appliedAt: rid };
}

export class LinkNode {
  store!: DeviceStore;
  session!: LinkSession;
  rpc!: RpcEndpoint;
  port!: Port;
  boots = 0;
  /** Settled test.add results (a cheap mirror of the results collection). */
  settled = 0;

  constructor(
    readonly role: LinkRole,
    readonly dir: string,
    private readonly clock: Clock,
    private readonly openPort: () => Port,
    private readonly options: { seed: string; linkKey?: Uint8Array; messages?: MessageRegistry; timings?: Partial<LinkTimings> },
  ) {}

  boot(): this {
    this.boots++;
    this.store = DeviceStore.open(this.dir, { app: `test-${this.role}`, schemaVersion: 1, clock: this.clock, collections: TEST_COLLECTIONS });
    const epoch = nextBootEpoch(this.store);
    this.port = this.openPort();
    this.session = makeSession(this.clock, this.port, this.role, epoch, { seed: `${this.options.seed}/${this.role}/${this.boots}`, linkKey: this.options.linkKey, timings: this.options.timings });
    this.rpc = new RpcEndpoint({ store: this.store, session: this.session, clock: this.clock, role: this.role, messages: this.options.messages ?? TEST_MESSAGES });
    if (this.role === 'cold') {
      this.rpc.handle('test.add', (body: { key: string; amount: number }, { tx, rid }) => applyAdd(tx, rid, body));
      this.rpc.handle('test.refuse', (body: { n: number }) => refuse('TEST_REFUSED', `refused ${body.n}`, 'n'));
      this.rpc.handle('link.echo', (body: { data: Uint8Array }) => ({ data: body.data }));
    } else {
      this.rpc.handle('test.notify', () => ({ seen: true }));
      // Settled results are recorded by rid in the same transaction that clears the outbox.
      this.settled = this.store.count(results);
      this.rpc.onReply('test.add', (_request, outcome: Outcome<{ total: number }>, { tx, rid }) => {
        tx.put(results, rid, outcome.ok ? { ok: true, total: outcome.body.total } : { ok: false, code: outcome.error.code });
        tx.afterCommit(() => this.settled++);
      });
    }
    this.rpc.start();
    this.session.start();
    return this;
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
}
