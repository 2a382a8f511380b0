import { describe, expect, it } from 'vitest';
import { createActor, createMachine } from 'xstate';
import { RealClock, SimulatedClock, scheduleDaily } from '../../shared/clock.ts';
import {
  isInDailyWindow,
  nextDailyOccurrence,
  parseTimeOfDay,
  zonedParts,
  zonedToEpoch,
  assertTimeZone,
} from '../../shared/time-zone.ts';
import { expectHsmError } from '../helpers/errors.ts';

const iso = (t: number): string => new Date(t).toISOString();

describe('SimulatedClock', () => {
  it('fires timers in due order, ties in the order they were set', async () => {
    const clock = new SimulatedClock({ start: Date.UTC(2026, 0, 1) });
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('b@200'), 200);
    clock.setTimeout(() => fired.push('a@100'), 100);
    clock.setTimeout(() => fired.push('c@200'), 200);
    const cancelled = clock.setTimeout(() => fired.push('never'), 150);
    clock.clearTimeout(cancelled);
    await clock.advance(199);
    expect(fired).toEqual(['a@100']);
    await clock.advance(1);
    expect(fired).toEqual(['a@100', 'b@200', 'c@200']);
    expect(clock.now()).toBe(Date.UTC(2026, 0, 1) + 200);
    expect(clock.monotonic()).toBe(200);
  });

  it('repeats intervals until cleared', async () => {
    const clock = new SimulatedClock();
    let ticks = 0;
    const handle = clock.setInterval(() => ticks++, 1000);
    await clock.advance(3500);
    expect(ticks).toBe(3);
    clock.clearInterval(handle);
    await clock.advance(5000);
    expect(ticks).toBe(3);
  });

  it('lets promise chains started by a timer schedule further timers inside the same advance', async () => {
    const clock = new SimulatedClock();
    const log: number[] = [];
    const job = async (): Promise<void> => {
      await clock.sleep(100);
      log.push(clock.monotonic());
      await Promise.resolve();
      await clock.sleep(50);
      log.push(clock.monotonic());
    };
    const done = job();
    await clock.advance(1000);
    await done;
    expect(log).toEqual([100, 150]);
  });

  it('sleep rejects when aborted', async () => {
    const clock = new SimulatedClock();
    const controller = new AbortController();
    const sleeping = clock.sleep(1000, controller.signal);
    controller.abort(new Error('stop'));
    await expect(sleeping).rejects.toThrow('stop');
    expect(clock.pendingTimers).toBe(0);
  });

  it('drives xstate delayed transitions through the actor clock option', () => {
    const clock = new SimulatedClock();
    const machine = createMachine({ initial: 'waiting', states: { waiting: { after: { 30_000: 'timedOut' } }, timedOut: {} } });
    const actor = createActor(machine, { clock }).start();
    clock.advanceSync(29_999);
    expect(actor.getSnapshot().value).toBe('waiting');
    clock.advanceSync(1);
    expect(actor.getSnapshot().value).toBe('timedOut');
    actor.stop();
  });

  it('refuses to go back in time or advance by nonsense', () => {
    const clock = new SimulatedClock({ start: Date.UTC(2026, 5, 1) });
    expectHsmError(() => clock.advanceTo(Date.UTC(2026, 4, 1)), 'BAD_DURATION');
    expectHsmError(() => clock.advance(-1), 'BAD_DURATION');
    expectHsmError(() => clock.runScaled(0), 'BAD_TIME_SCALE');
  });

  it('steps the wall clock without moving monotonic time', () => {
    const clock = new SimulatedClock({ start: 0 });
    clock.stepWallClock(86_400_000);
    expect(clock.now()).toBe(86_400_000);
    expect(clock.monotonic()).toBe(0);
  });

  it('follows real time scaled, never ahead of it, and stops when told', async () => {
    const clock = new SimulatedClock();
    const started = performance.now();
    const stop = clock.runScaled(1000, 5);
    // Wait for the state, however slow the machine: 50 simulated seconds.
    while (clock.monotonic() < 50_000) await new Promise((r) => setTimeout(r, 5));
    stop();
    await clock.advance(0); // an advance already under way ends first
    const frozen = clock.monotonic();
    expect(frozen).toBeLessThanOrEqual((performance.now() - started) * 1000);
    await new Promise((r) => setTimeout(r, 30));
    expect(clock.monotonic()).toBe(frozen);
  });
});

describe('RealClock', () => {
  it('sleeps on the host timers and reports both clocks', async () => {
    const clock = new RealClock();
    const started = clock.monotonic();
    await clock.sleep(20);
    expect(clock.monotonic() - started).toBeGreaterThanOrEqual(15); // a lower bound: a busy machine only adds
    const before = Date.now();
    const now = clock.now();
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(Date.now());
  });
});

describe('time zones', () => {
  it('reads local wall time', () => {
    expect(zonedParts(Date.UTC(2026, 0, 1, 16, 30), 'Asia/Shanghai')).toEqual({ year: 2026, month: 1, day: 2, hour: 0, minute: 30, second: 0 });
  });

  it('converts local time back to an instant, across DST gaps and repeats', () => {
    expect(iso(zonedToEpoch({ year: 2026, month: 7, day: 1, hour: 12, minute: 0 }, 'Europe/Berlin'))).toBe('2026-07-01T10:00:00.000Z');
    // 2026-03-08 02:30 does not exist in New York: pushed forward by the one-hour gap.
    expect(iso(zonedToEpoch({ year: 2026, month: 3, day: 8, hour: 2, minute: 30 }, 'America/New_York'))).toBe('2026-03-08T07:30:00.000Z');
    // 2026-11-01 01:30 happens twice: the first (EDT) is chosen.
    expect(iso(zonedToEpoch({ year: 2026, month: 11, day: 1, hour: 1, minute: 30 }, 'America/New_York'))).toBe('2026-11-01T05:30:00.000Z');
  });

  it('knows the rotation window 23:00-02:00 wraps midnight', () => {
    const window = { from: parseTimeOfDay('23:00'), to: parseTimeOfDay('02:00') };
    const at = (h: number, m: number): number => zonedToEpoch({ year: 2026, month: 2, day: 10, hour: h, minute: m }, 'Asia/Shanghai');
    expect(isInDailyWindow(at(22, 59), window, 'Asia/Shanghai')).toBe(false);
    expect(isInDailyWindow(at(23, 0), window, 'Asia/Shanghai')).toBe(true);
    expect(isInDailyWindow(at(0, 30), window, 'Asia/Shanghai')).toBe(true);
    expect(isInDailyWindow(at(1, 59), window, 'Asia/Shanghai')).toBe(true);
    expect(isInDailyWindow(at(2, 0), window, 'Asia/Shanghai')).toBe(false);
    expect(isInDailyWindow(at(2, 0), window, 'UTC')).toBe(false); // 02:00 Shanghai is 18:00 UTC
  });

  it('finds the next daily occurrence strictly after a time', () => {
    const start = Date.UTC(2026, 0, 1, 0, 0); // 08:00 in Shanghai
    expect(iso(nextDailyOccurrence(start, { hour: 3, minute: 0 }, 'Asia/Shanghai'))).toBe('2026-01-01T19:00:00.000Z');
    expect(iso(nextDailyOccurrence(Date.UTC(2026, 0, 1, 19, 0), { hour: 3, minute: 0 }, 'Asia/Shanghai'))).toBe('2026-01-02T19:00:00.000Z');
  });

  it('rejects bad zones and times of day', () => {
    expectHsmError(() => assertTimeZone('Mars/Olympus'), 'BAD_TIME_ZONE', 'timeZone');
    for (const bad of ['24:00', '7:00', '07:60', '0700', '']) expectHsmError(() => parseTimeOfDay(bad), 'BAD_TIME_OF_DAY');
  });
});

describe('scheduleDaily', () => {
  it('fires once a day at the local time, for several days', async () => {
    const clock = new SimulatedClock({ start: Date.UTC(2026, 0, 1) });
    const fired: string[] = [];
    const cancel = scheduleDaily(clock, { at: '03:00', timeZone: 'Asia/Shanghai' }, (t) => fired.push(iso(t)));
    await clock.advance(3 * 86_400_000);
    expect(fired).toEqual(['2026-01-01T19:00:00.000Z', '2026-01-02T19:00:00.000Z', '2026-01-03T19:00:00.000Z']);
    cancel();
    await clock.advance(86_400_000);
    expect(fired).toHaveLength(3);
  });

  it('keeps local time across a DST change', async () => {
    const clock = new SimulatedClock({ start: Date.UTC(2026, 2, 6) });
    const fired: string[] = [];
    scheduleDaily(clock, { at: '00:00', timeZone: 'America/New_York' }, (t) => fired.push(iso(t)));
    await clock.advance(4 * 86_400_000);
    expect(fired).toEqual(['2026-03-06T05:00:00.000Z', '2026-03-07T05:00:00.000Z', '2026-03-08T05:00:00.000Z', '2026-03-09T04:00:00.000Z']);
  });

  it('skips occurrences jumped over by a wall-clock step (time set after boot), then keeps time', async () => {
    const clock = new SimulatedClock({ start: Date.UTC(1970, 0, 1) });
    const fired: number[] = [];
    scheduleDaily(clock, { at: '00:00', timeZone: 'UTC' }, (t) => fired.push(t));
    clock.stepWallClock(Date.UTC(2026, 0, 1, 12) - Date.UTC(1970, 0, 1));
    await clock.advance(61_000);
    expect(fired).toHaveLength(0);
    await clock.advance(86_400_000);
    expect(fired.map(iso)).toEqual(['2026-01-02T00:00:00.000Z']);
  });

  it('rejects a bad schedule', () => {
    const clock = new SimulatedClock();
    expectHsmError(() => scheduleDaily(clock, { at: '25:00', timeZone: 'UTC' }, () => undefined), 'BAD_TIME_OF_DAY');
    expectHsmError(() => scheduleDaily(clock, { at: '01:00', timeZone: 'Nowhere/City' }, () => undefined), 'BAD_TIME_ZONE');
  });
});
