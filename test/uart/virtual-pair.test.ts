import { describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../shared/clock.ts';
import { SeededRandom } from '../../shared/random.ts';
import { VirtualSerialPair } from '../../hw-profiles/sim/uart/virtual-pair.ts';
import { expectHsmError } from '../helpers/errors.ts';

function collect(port: { onData(l: (c: Uint8Array) => void): () => void }): { chunks: Uint8Array[]; bytes(): number[] } {
  const chunks: Uint8Array[] = [];
  port.onData((c) => chunks.push(c));
  return { chunks, bytes: () => chunks.flatMap((c) => [...c]) };
}

describe('VirtualSerialPair', () => {
  it('takes 10 bit times per byte and hands over chunks when their last byte has arrived', async () => {
    const clock = new SimulatedClock();
    const pair = new VirtualSerialPair({ clock, baudRate: 115_200 });
    const a = pair.open('a');
    const rx = collect(pair.open('b'));
    const data = Uint8Array.from({ length: 115 }, (_, i) => i);
    a.write(data);
    await clock.advance(64 * pair.byteTimeMs - 0.01);
    expect(rx.chunks).toHaveLength(0);
    await clock.advance(0.02);
    expect(rx.chunks.map((c) => c.length)).toEqual([64]);
    const total = 115 * pair.byteTimeMs; // 9.98 ms at 115200 baud
    await clock.advance(total - clock.monotonic() - 0.001);
    expect(rx.bytes()).toHaveLength(64);
    await clock.advance(0.002);
    expect(rx.bytes()).toEqual([...data]);
  });

  it('queues writes behind bytes still on the line, both directions independent', async () => {
    const clock = new SimulatedClock();
    const pair = new VirtualSerialPair({ clock, baudRate: 9600 });
    const a = pair.open('a');
    const b = pair.open('b');
    const atB = collect(b);
    const atA = collect(a);
    a.write(Uint8Array.of(1, 2, 3));
    a.write(Uint8Array.of(4));
    b.write(Uint8Array.of(9));
    await clock.advance(pair.byteTimeMs + 0.001);
    expect(atA.bytes()).toEqual([9]);
    expect(atB.bytes()).toEqual([]);
    await clock.advance(3 * pair.byteTimeMs);
    expect(atB.bytes()).toEqual([1, 2, 3, 4]);
  });

  it('drain resolves once queued bytes have left the line', async () => {
    const clock = new SimulatedClock();
    const pair = new VirtualSerialPair({ clock, baudRate: 115_200 });
    const a = pair.open('a');
    pair.open('b');
    a.write(new Uint8Array(1000));
    let drained = false;
    void a.drain().then(() => (drained = true));
    await clock.advance(999 * pair.byteTimeMs);
    expect(drained).toBe(false);
    await clock.advance(2 * pair.byteTimeMs);
    expect(drained).toBe(true);
  });

  it('injects seeded faults, reproducibly, and counts them', async () => {
    const run = async (seed: string): Promise<{ bytes: number[]; stats: ReturnType<VirtualSerialPair['stats']> }> => {
      const clock = new SimulatedClock();
      const pair = new VirtualSerialPair({
        clock,
        random: new SeededRandom(seed),
        faults: { bitFlipRate: 0.05, dropRate: 0.02, duplicateRate: 0.02, garbageRate: 0.2, garbageLength: [5, 10], stallRate: 0.1, stallMs: [1, 5] },
      });
      const a = pair.open('a');
      const rx = collect(pair.open('b'));
      a.write(new Uint8Array(4096).fill(0x55));
      await clock.advance(10_000);
      return { bytes: rx.bytes(), stats: pair.stats('a') };
    };
    const first = await run('faults');
    const again = await run('faults');
    const other = await run('other');
    expect(again.bytes).toEqual(first.bytes);
    expect(other.bytes).not.toEqual(first.bytes);
    const s = first.stats;
    expect(s.bitFlips).toBeGreaterThan(100);
    expect(s.dropped).toBeGreaterThan(30);
    expect(s.duplicated).toBeGreaterThan(30);
    expect(s.garbageBytes).toBeGreaterThan(50);
    expect(s.stalls).toBeGreaterThan(0);
    expect(first.bytes.length).toBe(4096 - s.dropped + s.duplicated + s.garbageBytes);
    expect(first.bytes.filter((b) => b !== 0x55).length).toBeGreaterThanOrEqual(s.bitFlips);
  });

  it('unplugging closes that end as disconnected and loses bytes in flight; replug allows reopening', async () => {
    const clock = new SimulatedClock();
    const pair = new VirtualSerialPair({ clock });
    const a = pair.open('a');
    const b = pair.open('b');
    const rx = collect(b);
    const closes: unknown[] = [];
    b.onClose((info) => closes.push(info));
    a.write(new Uint8Array(500));
    await clock.advance(10 * pair.byteTimeMs);
    pair.unplug('b');
    expect(closes).toEqual([{ disconnected: true, reason: 'unplugged' }]);
    expect(b.isOpen).toBe(false);
    expectHsmError(() => b.write(Uint8Array.of(1)), 'PORT_CLOSED');
    expectHsmError(() => pair.open('b'), 'PORT_UNAVAILABLE');
    await clock.advance(100);
    expect(rx.bytes()).toEqual([]);
    a.write(Uint8Array.of(7)); // into a cut cable: gone
    await clock.advance(10);
    pair.replug('b');
    const b2 = pair.open('b');
    const rx2 = collect(b2);
    a.write(Uint8Array.of(8));
    await clock.advance(10);
    expect(rx2.bytes()).toEqual([8]);
    expect(pair.stats('a').lostInFlight).toBeGreaterThan(0);
  });

  it('refuses a second open of the same end', () => {
    const pair = new VirtualSerialPair({ clock: new SimulatedClock() });
    pair.open('a');
    expectHsmError(() => pair.open('a'), 'PORT_UNAVAILABLE');
  });
});
