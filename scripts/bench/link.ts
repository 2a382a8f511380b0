/**
 * Link figures on the emulated UART (10 bits per byte at 115200 baud):
 * - protocol efficiency: a 64 KiB message on the simulated clock, with no processing time and no
 *   faults, as a fraction of the line rate: what framing, sealing and windowed ARQ leave;
 * - measured goodput: RPC echo requests in real time, both devices committing to their LMDB
 *   stores, on a line with 1e-4 of its bytes damaged, as a fraction of the line rate;
 * - the round trip of a small request as a multiple of the time its frames take on the wire.
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RealClock, SimulatedClock, type Clock } from '../../shared/clock.ts';
import { nextBootEpoch, linkEpochCollection } from '../../shared/link/epoch.ts';
import { FRAME_FLAG, FRAME_TYPE, encodeFrame } from '../../shared/link/frame.ts';
import { TAG_SIZE } from '../../shared/link/link-crypto.ts';
import { DEVICE_MESSAGES, encodeEnvelope } from '../../shared/link/messages.ts';
import { RPC_COLLECTIONS, RpcEndpoint } from '../../shared/link/rpc.ts';
import { LinkSession } from '../../shared/link/session.ts';
import { SeededRandom } from '../../shared/random.ts';
import { DeviceStore } from '../../shared/store/store.ts';
import { VirtualSerialPair, type UartFaults } from '../../hw-profiles/sim/uart/virtual-pair.ts';

const BAUD = 115_200;
const LINE_BYTES_PER_SECOND = BAUD / 10; // 8N1
const LINK_KEY = new Uint8Array(32).fill(7);

async function until(clock: SimulatedClock, predicate: () => boolean, stepMs = 1): Promise<void> {
  while (!predicate()) await clock.advance(stepMs);
}

function sessions(clock: Clock, wire: VirtualSerialPair): [LinkSession, LinkSession] {
  const make = (end: 'a' | 'b', role: 'hot' | 'cold'): LinkSession =>
    new LinkSession({ port: wire.open(end), clock, random: new SeededRandom(`bench-${role}`), role, linkKey: LINK_KEY, epoch: 1, baudRate: BAUD });
  return [make('a', 'hot'), make('b', 'cold')];
}

const round3 = (n: number): number => Math.round(n * 1000) / 1000;

/** Protocol efficiency: one 64 KiB message, simulated time, no processing time, no faults. */
export async function linkProtocolEfficiency(): Promise<{ value: number; transferMs: number; framesSent: number }> {
  const clock = new SimulatedClock();
  const wire = new VirtualSerialPair({ clock, baudRate: BAUD });
  const [hot, cold] = sessions(clock, wire);
  let received: Uint8Array | undefined;
  cold.onMessage((m) => (received = m));
  hot.start();
  cold.start();
  await until(clock, () => hot.isUp && cold.isUp);
  const payload = new SeededRandom('goodput').bytes(64 * 1024);
  const start = clock.monotonic();
  hot.send(payload);
  await until(clock, () => received !== undefined);
  const seconds = (clock.monotonic() - start) / 1000;
  hot.stop();
  cold.stop();
  if (!Buffer.from(received as Uint8Array).equals(Buffer.from(payload))) throw new Error('64 KiB transfer arrived damaged');
  return { value: payload.length / seconds / LINE_BYTES_PER_SECOND, transferMs: Math.round(seconds * 1000), framesSent: hot.stats().framesSent };
}

export async function linkProtocolEfficiencyFigure(): Promise<Record<string, unknown>> {
  const { value, transferMs, framesSent } = await linkProtocolEfficiency();
  return {
    name: 'link protocol efficiency: 64 KiB at 115200 baud, simulated time, no processing, no faults (fraction of line rate)',
    unit: 'fraction',
    value: round3(value),
    goal: '>= 0.90',
    met: value >= 0.9,
    transferMs,
    framesSent,
  };
}

/** Two RPC endpoints with their stores over one emulated line, on `clock`. */
interface RpcPair {
  hot: RpcEndpoint;
  cold: RpcEndpoint;
  sessions: [LinkSession, LinkSession];
  close(): Promise<void>;
}

function rpcPair(clock: Clock, wire: VirtualSerialPair): RpcPair {
  const [hotSession, coldSession] = sessions(clock, wire);
  const dirs = [mkdtempSync(join(tmpdir(), 'bench-hot-')), mkdtempSync(join(tmpdir(), 'bench-cold-'))];
  const collections = [linkEpochCollection, ...Object.values(RPC_COLLECTIONS)];
  const hotStore = DeviceStore.open(dirs[0] as string, { app: 'bench-hot', schemaVersion: 1, clock, collections });
  const coldStore = DeviceStore.open(dirs[1] as string, { app: 'bench-cold', schemaVersion: 1, clock, collections });
  nextBootEpoch(hotStore);
  const hot = new RpcEndpoint({ store: hotStore, session: hotSession, clock, role: 'hot', messages: DEVICE_MESSAGES });
  const cold = new RpcEndpoint({ store: coldStore, session: coldSession, clock, role: 'cold', messages: DEVICE_MESSAGES });
  cold.handle('link.time', () => ({ now: clock.now() }));
  cold.handle('link.echo', (body: { data: Uint8Array }) => ({ data: body.data }));
  hot.start();
  cold.start();
  hotSession.start();
  coldSession.start();
  return {
    hot,
    cold,
    sessions: [hotSession, coldSession],
    close: async () => {
      hot.stop();
      cold.stop();
      hotSession.stop();
      coldSession.stop();
      await hotStore.close();
      await coldStore.close();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}

/**
 * Goodput as a device sees it: echo requests of 4 KiB, eight in flight, in real time, each
 * written to the requester's outbox, applied and recorded by the responder and settled by the
 * requester (three durable commits), over a line that damages 1e-4 of its bytes. Counted one
 * way: request data per second over the line rate (the replies carry as much the other way).
 */
export async function linkMeasuredGoodputFigure(quick: boolean): Promise<Record<string, unknown>> {
  const clock = new RealClock();
  const faults: UartFaults = { bitFlipRate: 1e-4 };
  const wire = new VirtualSerialPair({ clock, baudRate: BAUD, random: new SeededRandom('bench-line'), faults });
  const pair = rpcPair(clock, wire);
  const [hotSession, coldSession] = pair.sessions;
  while (!(hotSession.isUp && coldSession.isUp)) await clock.sleep(5);
  const size = 4096;
  const requests = quick ? 8 : 32;
  const data = new SeededRandom('bench-echo').bytes(size);
  const start = performance.now();
  let settled = 0;
  let failed = 0;
  const inFlight = new Set<Promise<unknown>>();
  for (let i = 0; i < requests; i++) {
    if (inFlight.size >= 8) await Promise.race(inFlight);
    const call: Promise<unknown> = pair.hot
      .call<{ data: Uint8Array }>('link.echo', { data })
      .then((reply) => {
        if (Buffer.compare(reply.data, data) === 0) settled++;
        else failed++;
      })
      .finally(() => inFlight.delete(call));
    inFlight.add(call);
  }
  await Promise.all(inFlight);
  const seconds = (performance.now() - start) / 1000;
  const stats = { hot: hotSession.stats(), cold: coldSession.stats(), line: wire.stats('a') };
  await pair.close();
  if (failed > 0 || settled !== requests) throw new Error(`${failed} echo replies differed from their requests`);
  const value = (requests * size) / seconds / LINE_BYTES_PER_SECOND;
  const efficiency = (await linkProtocolEfficiency()).value;
  return {
    name: 'link goodput measured: 4 KiB echo requests, 8 in flight, real time, stores committing, 1e-4 of bytes damaged (fraction of line rate)',
    unit: 'fraction',
    value: round3(value),
    /** Measured goodput over protocol efficiency: what processing, the stores and the damage cost. */
    ofProtocolEfficiency: round3(value / efficiency),
    requests,
    seconds: round3(seconds),
    retransmissions: stats.hot.retransmissions + stats.cold.retransmissions,
    bitFlips: stats.line.bitFlips,
  };
}

export async function linkRttFigure(): Promise<Record<string, unknown>> {
  const clock = new SimulatedClock();
  const wire = new VirtualSerialPair({ clock, baudRate: BAUD });
  const pair = rpcPair(clock, wire);
  const { hot } = pair;
  const [hotSession, coldSession] = pair.sessions;
  await until(clock, () => hotSession.isUp && coldSession.isUp);
  const samples: number[] = [];
  let wireMs = 0;
  for (let i = 0; i < 20; i++) {
    let done = false;
    const start = clock.monotonic();
    void hot.call('link.time', {}).then(() => (done = true));
    await until(clock, () => done, 0.05);
    samples.push(clock.monotonic() - start);
    // Pure wire time: the request frame and the reply frame (ACK piggybacked), 10 bits a byte.
    const rid = i + 1;
    const requestFrame = dataFrameBytes(new Uint8Array(encodeEnvelope({ k: 'req', rid, t: 'link.time', w: rid, b: {} }).length));
    const replyFrame = dataFrameBytes(new Uint8Array(encodeEnvelope({ k: 'res', rid, t: 'link.time', ok: true, b: { now: clock.now() } }).length));
    wireMs = ((requestFrame + replyFrame) * 10_000) / BAUD;
    await clock.advance(50);
  }
  await pair.close();
  const median = [...samples].sort((a, b) => a - b)[samples.length >> 1] as number;
  const ratio = median / wireMs;
  return {
    name: 'link round trip of a small request (multiple of its pure wire time)',
    unit: 'ratio',
    value: Math.round(ratio * 1000) / 1000,
    goal: '<= 1.3',
    met: ratio <= 1.3,
    rttMs: Math.round(median * 100) / 100,
    wireMs: Math.round(wireMs * 100) / 100,
  };
}

/**
 * The line bytes of a DATA frame sealing `plaintext` (delimiters included). The ciphertext is
 * stood in for by the plaintext itself: pass bytes like the sealed ones (random, or zeros for
 * the worst case of COBS) for an exact count.
 */
export function dataFrameBytes(plaintext: Uint8Array): number {
  const payload = new Uint8Array(plaintext.length + TAG_SIZE);
  payload.set(plaintext);
  return encodeFrame({ type: FRAME_TYPE.DATA, flags: FRAME_FLAG.ENC | FRAME_FLAG.ACK_VALID, srcEpoch: 1, dstEpoch: 1, seq: 1, ack: 1, payload }).length;
}
