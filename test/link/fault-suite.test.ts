/**
 * The link's exactly-once promise under everything a line and a power supply can do: bit flips,
 * lost and doubled bytes, bursts of garbage and stalls on the wire; clean reboots; and power
 * cuts on either side, at a seeded store commit (inside it, before it is durable, or right
 * after it) or at a random moment. Counted on both sides, per request id: each request applied
 * once on the responder, each reply handled once on the requester.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../shared/clock.ts';
import { SeededRandom } from '../../shared/random.ts';
import { VirtualSerialPair, type UartFaults } from '../../hw-profiles/sim/uart/virtual-pair.ts';
import { soakCount } from '../helpers/soak.ts';
import { memoryTempDir } from '../helpers/temp.ts';
import { BAUD, LinkNode, PowerCut, effects, results, totals, type CutPoint } from './harness.ts';

const REQUESTS = soakCount(1_000, 10_000);
const REBOOTS = soakCount(4, 20);
const POWER_CUTS = soakCount(30, 120);
const IN_FLIGHT = 8;
const SEED = 'link-fault-suite-2';
/** About 1 % of bytes damaged one way or another, plus garbage bursts and stalls. */
const FAULTS: UartFaults = {
  bitFlipRate: 0.004,
  dropRate: 0.002,
  duplicateRate: 0.002,
  garbageRate: 0.01,
  garbageLength: [1, 64],
  stallRate: 0.01,
  stallMs: [1, 300],
};

type Event = { at: number; side: 'hot' | 'cold' } & ({ kind: 'reboot' } | { kind: 'cut-now' } | { kind: 'cut-at-commit'; commits: number; point: CutPoint });

describe('link fault suite (seeded)', () => {
  it(`${REQUESTS} requests at ${BAUD} baud over a damaged line, ${REBOOTS} reboots and ${POWER_CUTS} power cuts: each request applied once, each reply handled once, none lost`, async () => {
    const random = new SeededRandom(SEED);
    const clock = new SimulatedClock();
    const wire = new VirtualSerialPair({ clock, baudRate: BAUD, random: random.fork('wire'), faults: FAULTS });
    const hot = new LinkNode('hot', memoryTempDir(), clock, () => wire.open('a'), { seed: SEED }).boot();
    const cold = new LinkNode('cold', memoryTempDir(), clock, () => wire.open('b'), { seed: SEED }).boot();
    const nodes = { hot, cold };

    // Events at a random number of settled requests, on a random side.
    const events: Event[] = [];
    for (let i = 0; i < REBOOTS; i++) events.push({ at: random.between(50, REQUESTS - 50), side: random.pick(['hot', 'cold'] as const), kind: 'reboot' });
    for (let i = 0; i < POWER_CUTS; i++) {
      const at = random.between(20, REQUESTS - 20);
      const side = random.pick(['hot', 'cold'] as const);
      events.push(
        random.chance(0.2)
          ? { at, side, kind: 'cut-now' }
          : { at, side, kind: 'cut-at-commit', commits: random.between(1, 12), point: random.pick(['before-commit', 'after-commit'] as const) },
      );
    }
    events.sort((a, b) => a.at - b.at);
    const log: string[] = [];
    const cutPoints = new Set<string>();

    let nextAmount = 1;
    while (hot.settled < REQUESTS) {
      for (const node of [hot, cold]) {
        if (node.isPoweredOff) {
          await node.restoreAfterPowerCut();
          log.push(`${node.role} power restored @${hot.settled}`);
        }
      }
      // The requester keeps a few requests outstanding, until REQUESTS have been written.
      while (hot.rpc.pending().length < IN_FLIGHT && hot.rpc.pending().length + hot.settled < REQUESTS && !hot.isPoweredOff) {
        try {
          void hot.rpc.call('test.add', { key: 'sum', amount: nextAmount }).catch(() => undefined);
        } catch (error) {
          if (!(error instanceof PowerCut)) throw error;
        }
        nextAmount = (nextAmount % 7) + 1;
      }
      const event = events[0];
      if (event !== undefined && hot.settled >= event.at) {
        events.shift();
        const node = nodes[event.side];
        await clock.advance(random.float() * 200);
        if (node.isPoweredOff) continue;
        if (event.kind === 'reboot') {
          await node.reboot();
          log.push(`${event.side} reboot @${hot.settled}`);
        } else if (event.kind === 'cut-now') {
          node.cutPower();
          log.push(`${event.side} power cut @${hot.settled}`);
          cutPoints.add(`${event.side}:between`);
        } else {
          node.armPowerCut(event.commits, event.point);
          log.push(`${event.side} power cut armed at commit +${event.commits} ${event.point} @${hot.settled}`);
          cutPoints.add(`${event.side}:${event.point}`);
        }
      }
      await clock.advance(25);
      if (clock.monotonic() > 3_600_000 * 6) throw new Error(`stalled at ${hot.settled} settled after six simulated hours: ${log.slice(-5).join('; ')}`);
    }

    // Every request written got exactly one reply handled on the requester...
    const settled = [...hot.store.range(results)];
    expect(settled.map((e) => e.key)).toEqual(Array.from({ length: REQUESTS }, (_, i) => i + 1));
    expect(settled.filter((e) => e.value.handled !== 1).map((e) => `${String(e.key)}: handled ${e.value.handled} times`)).toEqual([]);
    expect(settled.filter((e) => !e.value.ok)).toEqual([]);
    expect(hot.rpc.pending()).toEqual([]);
    // ...and was applied exactly once on the responder, with the amount the requester wrote.
    const counts = [...cold.store.range(effects)];
    expect(counts.map((e) => e.key)).toEqual(Array.from({ length: REQUESTS }, (_, i) => i + 1));
    expect(counts.filter((e) => e.value.count !== 1)).toEqual([]);
    expect(cold.store.get(totals, 'sum')?.total).toBe(settled.reduce((sum, e) => sum + e.value.amount, 0));
    // The faults really happened, on both sides, and the link recovered from them.
    expect(hot.powerCuts).toBeGreaterThan(POWER_CUTS / 5);
    expect(cold.powerCuts).toBeGreaterThan(POWER_CUTS / 5);
    expect([...cutPoints].sort()).toEqual(['cold:after-commit', 'cold:before-commit', 'cold:between', 'hot:after-commit', 'hot:before-commit', 'hot:between']);
    const line = [wire.stats('a'), wire.stats('b')];
    for (const stats of line) {
      expect(stats.bitFlips).toBeGreaterThan(0);
      expect(stats.dropped).toBeGreaterThan(0);
      expect(stats.duplicated).toBeGreaterThan(0);
      expect(stats.garbageBytes).toBeGreaterThan(0);
      expect(stats.stalls).toBeGreaterThan(0);
    }
    expect(hot.session.stats().retransmissions + cold.session.stats().retransmissions).toBeGreaterThan(0);
    console.log(
      JSON.stringify({
        simulatedMinutes: Math.round(clock.monotonic() / 60_000),
        powerCuts: { hot: hot.powerCuts, cold: cold.powerCuts },
        boots: { hot: hot.boots, cold: cold.boots },
        hotToCold: line[0],
        coldToHot: line[1],
      }),
    );
    await hot.shutdown();
    await cold.shutdown();
  }, 600_000);
});
