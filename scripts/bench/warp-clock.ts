/**
 * Time for end-to-end benchmarks: world time is real time with the idle waits cut out.
 *
 * While anything works, world time runs with real time, read afresh at every call, so the CPU
 * and the store's durable commits cost what they really cost, and a frame written at the end
 * of a long piece of work leaves at the end of it. When nothing works, world time jumps to the
 * next timer: bytes crossing the emulated UART at 9600 baud take their full line time in world
 * time, not in real time. Figures are read in world time.
 *
 * "Nothing works" is read from the clock itself: firmware that handles anything (a frame, a
 * host API message, a store commit) reads the time, sets a timer or is run by one. After two
 * turns of the event loop in which no one did, time jumps to the next timer. A host API
 * message still in a loopback socket at that moment is read one jump late, which can only make
 * a figure worse, never better.
 * @module
 */
import { sleepOn, type Clock, type TimerHandle } from '../../shared/clock.ts';

interface Timer {
  id: number;
  due: number;
  seq: number;
  fn: () => void;
  interval: number | undefined;
}

export interface WarpStats {
  /** World time cut out by jumps over idle waits. */
  jumpedMs: number;
  jumps: number;
}

/** Quiet event-loop turns before time jumps. */
const QUIET_TURNS = 2;

function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export interface WarpClockOptions {
  /** Wall-clock time (Unix ms) world time begins at. */
  start: number;
  /**
   * false: work costs no world time at all; only jumps move it. What the protocol alone
   * would do with infinitely fast devices (a peer figure for the same run).
   */
  chargeWork?: boolean;
}

export class WarpClock implements Clock {
  private skew: number;
  private frozenAt = 0;
  private readonly chargeWork: boolean;
  private readonly wallStart: number;
  private readonly timers = new Map<number, Timer>();
  private nextId = 1;
  private nextSeq = 0;
  private uses = 0;
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly counters: WarpStats = { jumpedMs: 0, jumps: 0 };

  constructor(options: WarpClockOptions) {
    this.skew = -performance.now();
    this.wallStart = options.start;
    this.chargeWork = options.chargeWork ?? true;
  }

  /** World monotonic time for the benchmark itself: reading it is not activity. */
  get worldMs(): number {
    return this.chargeWork ? performance.now() + this.skew : this.frozenAt;
  }

  /** Runs `fn` (the benchmark looking at the world) without counting its clock reads as activity. */
  quietly<T>(fn: () => T): T {
    const uses = this.uses;
    try {
      return fn();
    } finally {
      this.uses = uses;
    }
  }

  now(): number {
    this.uses++;
    return Math.floor(this.wallStart + this.worldMs);
  }

  monotonic(): number {
    this.uses++;
    return this.worldMs;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.add(fn, ms, undefined);
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    this.uses++;
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

  /** Runs the timers (and the jumps) until `stop()`. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  stats(): WarpStats {
    return { ...this.counters };
  }

  private add(fn: () => void, ms: number, interval: number | undefined): TimerHandle {
    this.uses++;
    const id = this.nextId++;
    const delay = Number.isFinite(ms) && ms > 0 ? ms : 0;
    this.timers.set(id, { id, due: this.worldMs + delay, seq: this.nextSeq++, fn, interval });
    return id as unknown as TimerHandle;
  }

  private next(): Timer | undefined {
    let best: Timer | undefined;
    for (const t of this.timers.values()) if (best === undefined || t.due < best.due || (t.due === best.due && t.seq < best.seq)) best = t;
    return best;
  }

  private async run(): Promise<void> {
    let seen = this.uses;
    let quiet = 0;
    while (this.running) {
      await turn();
      const timer = this.next();
      if (timer !== undefined && timer.due <= this.worldMs) {
        if (timer.interval === undefined) this.timers.delete(timer.id);
        else {
          timer.due += timer.interval;
          timer.seq = this.nextSeq++;
        }
        this.uses++;
        timer.fn();
        continue;
      }
      if (this.uses !== seen) {
        seen = this.uses;
        quiet = 0;
        continue;
      }
      if (++quiet < QUIET_TURNS || timer === undefined) continue;
      const gap = timer.due - this.worldMs;
      this.skew += gap;
      this.frozenAt += gap;
      this.counters.jumpedMs += gap;
      this.counters.jumps++;
      quiet = 0;
    }
  }
}
