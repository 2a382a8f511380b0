/**
 * The one clock (DESIGN.md, rule 2): every timer, timeout, schedule and timestamp in firmware
 * comes from a `Clock`. `RealClock` wraps the host's timers; `SimulatedClock` is advanced by
 * tests and the simulated rig (by hand, or scaled against real time).
 *
 * A `Clock` satisfies xstate's `ActorOptions.clock` (`setTimeout` / `clearTimeout`), so device
 * machines get their `after` delays from it: `createActor(machine, { clock })`.
 *
 * Two notions of time, as on a Raspberry Pi without an RTC:
 * - `monotonic()` only moves forward and drives timers;
 * - `now()` is wall-clock time (Unix ms) and may step when the time source corrects it.
 * @module
 */
import { HsmError } from './errors.ts';
import { nextDailyOccurrence, parseTimeOfDay, assertTimeZone, type TimeOfDay } from './time-zone.ts';

export interface TimerHandle {
  readonly __timer: unique symbol;
}

export interface Clock {
  /** Wall-clock time in whole Unix milliseconds (as Date.now()). */
  now(): number;
  /** Milliseconds on a clock that never goes back; only differences are meaningful. */
  monotonic(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
  setInterval(fn: () => void, ms: number): TimerHandle;
  clearInterval(handle: TimerHandle | undefined): void;
  /** Resolves after `ms`; rejects with the signal's reason if aborted first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export interface DailySchedule {
  /** Local time of day, `HH:MM`. */
  at: string;
  /** IANA time zone the time of day is read in. */
  timeZone: string;
}

/**
 * Longest single wait of a daily schedule. Waiting in slices means a wall-clock step (NTP or
 * network time arriving after boot) is noticed within a minute instead of firing hours off.
 */
const DAILY_SLICE_MS = 60_000;

/**
 * An occurrence more than this late is skipped rather than fired: it was jumped over by a
 * wall-clock step (time set after boot), and firing "the 03:00 job" at noon would be wrong.
 */
const DAILY_GRACE_MS = 5 * 60_000;

/**
 * Runs `fn` every day at `schedule.at` local time in `schedule.timeZone`; returns a function
 * that cancels the schedule. `fn` receives the scheduled instant (Unix ms).
 */
export function scheduleDaily(clock: Clock, schedule: DailySchedule, fn: (scheduledAt: number) => void): () => void {
  const at: TimeOfDay = parseTimeOfDay(schedule.at, 'at');
  assertTimeZone(schedule.timeZone);
  let cancelled = false;
  let handle: TimerHandle | undefined;
  let target = nextDailyOccurrence(clock.now(), at, schedule.timeZone);

  const wait = (): void => {
    if (cancelled) return;
    const now = clock.now();
    if (now >= target) {
      const due = target;
      target = nextDailyOccurrence(now, at, schedule.timeZone);
      if (now - due <= DAILY_GRACE_MS) fn(due);
    } else if (target - now > 2 * 86_400_000) {
      target = nextDailyOccurrence(now, at, schedule.timeZone); // the clock stepped backwards
    }
    if (cancelled) return;
    handle = clock.setTimeout(wait, Math.min(DAILY_SLICE_MS, Math.max(0, target - clock.now())));
  };
  wait();
  return () => {
    cancelled = true;
    clock.clearTimeout(handle);
  };
}

// ---------------------------------------------------------------------------------------------
// Real clock

export class RealClock implements Clock {
  now(): number {
    return Date.now();
  }

  monotonic(): number {
    return performance.now();
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    return setTimeout(fn, clampDelay(ms)) as unknown as TimerHandle;
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle !== undefined) clearTimeout(handle as unknown as NodeJS.Timeout);
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    return setInterval(fn, clampDelay(ms)) as unknown as TimerHandle;
  }

  clearInterval(handle: TimerHandle | undefined): void {
    if (handle !== undefined) clearInterval(handle as unknown as NodeJS.Timeout);
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal);
  }
}

/** Node's timers overflow past 2^31-1 ms and fire at once; clamp instead. */
function clampDelay(ms: number): number {
  if (!Number.isFinite(ms) || ms < 0) return 0;
  return Math.min(ms, 2 ** 31 - 1);
}

/** `clock.sleep` for any clock: resolves after `ms` on its timers, rejects when `signal` aborts. */
export function sleepOn(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clock.clearTimeout(handle);
      reject(signal?.reason);
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

// ---------------------------------------------------------------------------------------------
// Simulated clock

interface SimTimer {
  id: number;
  due: number; // monotonic ms
  seq: number; // insertion order breaks ties, as real timers do
  fn: () => void;
  interval: number | undefined;
}

export interface SimulatedClockOptions {
  /** Initial wall-clock time (Unix ms). Default: 2026-01-01T00:00:00Z. */
  start?: number;
}

/**
 * A clock that moves only when told to. `advance(ms)` fires due timers in order, letting the
 * promises and I/O callbacks they start settle between timers, so asynchronous firmware code
 * behaves as it would in real time. `runScaled(n)` lets it follow real time n times faster.
 */
export class SimulatedClock implements Clock {
  private mono = 0;
  private wallOffset: number;
  private readonly timers = new Map<number, SimTimer>();
  private nextId = 1;
  private nextSeq = 0;
  private scaledTimer: NodeJS.Timeout | undefined;
  private advancing: Promise<void> = Promise.resolve();
  private readonly followers = new Map<(now: number) => Promise<void> | void, () => number>();

  constructor(options: SimulatedClockOptions = {}) {
    this.wallOffset = options.start ?? Date.UTC(2026, 0, 1);
  }

  now(): number {
    return Math.floor(this.mono + this.wallOffset);
  }

  monotonic(): number {
    return this.mono;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.add(fn, ms, undefined);
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle !== undefined) this.timers.delete(handle as unknown as number);
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    return this.add(fn, ms, Math.max(1, ms));
  }

  clearInterval(handle: TimerHandle | undefined): void {
    this.clearTimeout(handle);
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal);
  }

  /** Number of timers waiting to fire. */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /** Monotonic time of the next timer, if any. */
  nextDue(): number | undefined {
    let best: number | undefined;
    for (const t of this.timers.values()) if (best === undefined || t.due < best) best = t.due;
    return best;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due, in order; between timers
   * the event loop runs once so promise chains and I/O started by a timer can react.
   * Calls are serialised: a second `advance` starts where the first one ends.
   */
  advance(ms: number): Promise<void> {
    if (!Number.isFinite(ms) || ms < 0) {
      throw new HsmError('BAD_DURATION', `advance() needs a finite, non-negative number of ms, got ${ms}`);
    }
    const run = this.advancing.then(async () => {
      const end = this.mono + ms;
      for (;;) {
        // With followers, time moves in steps no longer than they allow, and each step ends
        // with them catching up.
        const stop = Math.min(end, this.mono + this.followStep());
        for (;;) {
          const next = this.popDue(stop);
          if (next === undefined) break;
          this.mono = Math.max(this.mono, next.due);
          this.fire(next);
          await settle();
        }
        this.mono = stop;
        await settle();
        for (const follower of this.followers.keys()) await follower(this.now());
        if (stop >= end) break;
      }
    });
    this.advancing = run.catch(() => undefined);
    return run;
  }

  /**
   * Calls `follower` with the wall-clock time at the end of every `advance`, and after every
   * `maxStepMs()` of time within one, and waits for it before time moves on: how clocks in
   * other processes keep step with this one. Returns a function that stops it.
   */
  onAdvanced(follower: (now: number) => Promise<void> | void, maxStepMs: () => number = () => Number.POSITIVE_INFINITY): () => void {
    this.followers.set(follower, maxStepMs);
    return () => this.followers.delete(follower);
  }

  private followStep(): number {
    let step = Number.POSITIVE_INFINITY;
    for (const maxStep of this.followers.values()) step = Math.min(step, Math.max(1, maxStep()));
    return step;
  }

  /** Synchronous variant for pure machine tests: fires due timers without yielding. */
  advanceSync(ms: number): void {
    const end = this.mono + ms;
    for (;;) {
      const next = this.popDue(end);
      if (next === undefined) break;
      this.mono = Math.max(this.mono, next.due);
      this.fire(next);
    }
    this.mono = end;
  }

  /** Advances to the wall-clock instant `epochMs` (which must not be in the past). */
  advanceTo(epochMs: number): Promise<void> {
    const delta = epochMs - this.now();
    if (delta < 0) {
      throw new HsmError('BAD_DURATION', `advanceTo() cannot go back in time (${new Date(epochMs).toISOString()} is before now)`);
    }
    return this.advance(delta);
  }

  /**
   * Steps the wall clock by `deltaMs` without moving monotonic time or firing timers: what an
   * NTP correction or a wrong RTC does to a real device.
   */
  stepWallClock(deltaMs: number): void {
    this.wallOffset += deltaMs;
  }

  /**
   * Follows real time `scale` times faster: every `tickMs` of real time, advances by
   * `tickMs * scale`. Returns a function that stops following.
   */
  runScaled(scale: number, tickMs = 10): () => void {
    if (!(scale > 0) || !Number.isFinite(scale)) {
      throw new HsmError('BAD_TIME_SCALE', `time scale must be a positive number, got ${scale}`, { field: 'timeScale' });
    }
    this.stopScaled();
    let last = performance.now();
    let busy = false;
    this.scaledTimer = setInterval(() => {
      if (busy) return;
      busy = true;
      const real = performance.now();
      const step = (real - last) * scale;
      last = real;
      void this.advance(step).finally(() => {
        busy = false;
      });
    }, tickMs);
    this.scaledTimer.unref?.();
    return () => this.stopScaled();
  }

  stopScaled(): void {
    if (this.scaledTimer !== undefined) clearInterval(this.scaledTimer);
    this.scaledTimer = undefined;
  }

  private add(fn: () => void, ms: number, interval: number | undefined): TimerHandle {
    const id = this.nextId++;
    const delay = Number.isFinite(ms) && ms > 0 ? ms : 0;
    this.timers.set(id, { id, due: this.mono + delay, seq: this.nextSeq++, fn, interval });
    return id as unknown as TimerHandle;
  }

  private popDue(end: number): SimTimer | undefined {
    let best: SimTimer | undefined;
    for (const t of this.timers.values()) {
      if (t.due > end) continue;
      if (best === undefined || t.due < best.due || (t.due === best.due && t.seq < best.seq)) best = t;
    }
    if (best !== undefined && best.interval === undefined) this.timers.delete(best.id);
    return best;
  }

  private fire(timer: SimTimer): void {
    if (timer.interval !== undefined) {
      timer.due += timer.interval;
      timer.seq = this.nextSeq++;
    }
    timer.fn();
  }
}

/** Lets pending promise reactions and ready I/O callbacks run (one turn of the event loop). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
