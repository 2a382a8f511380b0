import { describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../shared/clock.ts';
import { SeededRandom } from '../../shared/random.ts';
import { VirtualSerialPair } from '../../hw-profiles/sim/uart/virtual-pair.ts';
import { tempDir } from '../helpers/temp.ts';
import { BAUD, LinkNode, effects, results, totals } from './harness.ts';

const REQUESTS = 10_000;
const REBOOTS = 20;
const IN_FLIGHT = 8;
const SEED = 'link-fault-suite-1';

describe('link fault suite (seeded)', () => {
  it(`${REQUESTS} requests at ${BAUD} baud with 1% of bytes corrupted and ${REBOOTS} reboots: every request applied exactly once, none lost`, async () => {
    const random = new SeededRandom(SEED);
    const clock = new SimulatedClock();
    const wire = new VirtualSerialPair({ clock, baudRate: BAUD, random: random.fork('wire'), faults: { bitFlipRate: 0.01 } });
    const hot = new LinkNode('hot', tempDir(), clock, () => wire.open('a'), { seed: SEED }).boot();
    const cold = new LinkNode('cold', tempDir(), clock, () => wire.open('b'), { seed: SEED }).boot();

    // Reboot points: after a random number of settled requests, a random side, after a random delay.
    const schedule = Array.from({ length: REBOOTS }, () => random.between(100, REQUESTS - 100)).sort((a, b) => a - b);
    const rebootLog: string[] = [];
    let issued = 0;
    let amountSum = 0;
    const settled = (): number => hot.settled;

    while (settled() < REQUESTS) {
      // The requester keeps a few requests outstanding; issued = rids handed out so far.
      issued = hot.rpc.pending().length + settled();
      while (issued < REQUESTS && hot.rpc.pending().length < IN_FLIGHT) {
        const amount = 1 + (issued % 7);
        amountSum += amount;
        void hot.rpc.call('test.add', { key: 'sum', amount }).catch(() => undefined);
        issued++;
      }
      if (schedule.length > 0 && settled() >= (schedule[0] ?? Infinity)) {
        schedule.shift();
        await clock.advance(random.float() * 200);
        const side = random.chance(0.5) ? hot : cold;
        rebootLog.push(`${side.role}@${settled()}`);
        await side.reboot();
      }
      await clock.advance(25);
      if (clock.monotonic() > 3_600_000 * 6) throw new Error(`stalled at ${settled()} settled after six simulated hours`);
    }

    // Every request got a reply, recorded once on the requester...
    expect(hot.store.count(results)).toBe(REQUESTS);
    expect(hot.rpc.pending()).toEqual([]);
    const failed = [...hot.store.range(results)].filter((r) => !r.value.ok);
    expect(failed).toEqual([]);
    // ...and was applied exactly once on the responder.
    const counts = [...cold.store.range(effects)];
    expect(counts).toHaveLength(REQUESTS);
    expect(counts.every((e) => e.value.count === 1)).toBe(true);
    expect(counts.map((e) => e.key)).toEqual(Array.from({ length: REQUESTS }, (_, i) => i + 1));
    expect(cold.store.get(totals, 'sum')?.total).toBe(amountSum);
    expect(rebootLog).toHaveLength(REBOOTS);
    expect(new Set(rebootLog.map((r) => r.split('@')[0]))).toEqual(new Set(['hot', 'cold']));
    // The faults really happened, and the link recovered from them.
    const stats = wire.stats('a');
    expect(stats.bitFlips).toBeGreaterThan(REQUESTS);
    const hotStats = hot.session.stats();
    expect(hotStats.retransmissions + cold.session.stats().retransmissions).toBeGreaterThan(0);
    console.log(
      JSON.stringify({
        simulatedMinutes: Math.round(clock.monotonic() / 60_000),
        reboots: rebootLog,
        bitFlipsHotToCold: stats.bitFlips,
        bitFlipsColdToHot: wire.stats('b').bitFlips,
      }),
    );
    await hot.shutdown();
    await cold.shutdown();
  }, 600_000);
});
