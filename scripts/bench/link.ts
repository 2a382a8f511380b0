/**
 * Link figures on the emulated UART (10 bits per byte at 115200 baud, on the simulated clock):
 * goodput of a 64 KiB transfer as a fraction of the line rate, and the round trip of a small
 * request as a multiple of the time its request and reply frames take on the wire.
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimulatedClock } from '../../shared/clock.ts';
import { nextBootEpoch, linkEpochCollection } from '../../shared/link/epoch.ts';
import { FRAME_FLAG, FRAME_TYPE, encodeFrame } from '../../shared/link/frame.ts';
import { TAG_SIZE } from '../../shared/link/link-crypto.ts';
import { DEVICE_MESSAGES, encodeEnvelope } from '../../shared/link/messages.ts';
import { RPC_COLLECTIONS, RpcEndpoint } from '../../shared/link/rpc.ts';
import { LinkSession } from '../../shared/link/session.ts';
import { SeededRandom } from '../../shared/random.ts';
import { DeviceStore } from '../../shared/store/store.ts';
import { VirtualSerialPair } from '../../hw-profiles/sim/uart/virtual-pair.ts';

const BAUD = 115_200;
const LINK_KEY = new Uint8Array(32).fill(7);

async function until(clock: SimulatedClock, predicate: () => boolean, stepMs = 1): Promise<void> {
  while (!predicate()) await clock.advance(stepMs);
}

function sessions(clock: SimulatedClock, wire: VirtualSerialPair): [LinkSession, LinkSession] {
  const make = (end: 'a' | 'b', role: 'hot' | 'cold'): LinkSession =>
    new LinkSession({ port: wire.open(end), clock, random: new SeededRandom(`bench-${role}`), role, linkKey: LINK_KEY, epoch: 1, baudRate: BAUD });
  return [make('a', 'hot'), make('b', 'cold')];
}

export async function linkGoodputFigure(): Promise<Record<string, unknown>> {
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
  const lineRate = BAUD / 10; // bytes per second, 8N1
  hot.stop();
  cold.stop();
  if (!Buffer.from(received as Uint8Array).equals(Buffer.from(payload))) throw new Error('64 KiB transfer arrived damaged');
  const goodput = payload.length / seconds / lineRate;
  return {
    name: 'link goodput, 64 KiB at 115200 baud (fraction of line rate)',
    unit: 'fraction',
    value: Math.round(goodput * 1000) / 1000,
    goal: '>= 0.90',
    met: goodput >= 0.9,
    transferMs: Math.round(seconds * 1000),
    framesSent: hot.stats().framesSent,
  };
}

export async function linkRttFigure(): Promise<Record<string, unknown>> {
  const clock = new SimulatedClock();
  const wire = new VirtualSerialPair({ clock, baudRate: BAUD });
  const [hotSession, coldSession] = sessions(clock, wire);
  const dirs = [mkdtempSync(join(tmpdir(), 'bench-hot-')), mkdtempSync(join(tmpdir(), 'bench-cold-'))];
  const collections = [linkEpochCollection, ...Object.values(RPC_COLLECTIONS)];
  const hotStore = DeviceStore.open(dirs[0] as string, { app: 'bench-hot', schemaVersion: 1, clock, collections });
  const coldStore = DeviceStore.open(dirs[1] as string, { app: 'bench-cold', schemaVersion: 1, clock, collections });
  nextBootEpoch(hotStore);
  const hot = new RpcEndpoint({ store: hotStore, session: hotSession, clock, role: 'hot', messages: DEVICE_MESSAGES });
  const cold = new RpcEndpoint({ store: coldStore, session: coldSession, clock, role: 'cold', messages: DEVICE_MESSAGES });
  cold.handle('link.time', () => ({ now: clock.now() }));
  hot.start();
  cold.start();
  hotSession.start();
  coldSession.start();
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
    const requestFrame = encodeFrame({
      type: FRAME_TYPE.DATA,
      flags: FRAME_FLAG.ENC,
      srcEpoch: 1,
      dstEpoch: 1,
      seq: 1,
      ack: 1,
      payload: new Uint8Array(encodeEnvelope({ k: 'req', rid, t: 'link.time', w: rid, b: {} }).length + TAG_SIZE),
    }).length;
    const replyFrame = encodeFrame({
      type: FRAME_TYPE.DATA,
      flags: FRAME_FLAG.ENC | FRAME_FLAG.ACK_VALID,
      srcEpoch: 1,
      dstEpoch: 1,
      seq: 1,
      ack: 1,
      payload: new Uint8Array(encodeEnvelope({ k: 'res', rid, t: 'link.time', ok: true, b: { now: clock.now() } }).length + TAG_SIZE),
    }).length;
    wireMs = ((requestFrame + replyFrame) * 10_000) / BAUD;
    await clock.advance(50);
  }
  hot.stop();
  cold.stop();
  hotSession.stop();
  coldSession.stop();
  await hotStore.close();
  await coldStore.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
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
