/**
 * An emulated serial cable: two `Port` ends joined by a wire that behaves like a UART.
 *
 * Timing: each byte occupies the line for 10 bit times (8N1) at the configured baud rate, on
 * the shared clock; writes queue behind bytes still on the line. The receiver gets bytes in
 * chunks (at most `chunkBytes`, like a UART FIFO or a tty read) once the chunk's last byte has
 * crossed the wire. A UART never reorders bytes, and neither does this wire.
 *
 * Faults (seeded, so a failing run replays): bit flips, dropped and duplicated bytes, bursts of
 * garbage, line stalls; and `unplug`/`replug` of either end: the unplugged end's Port closes as
 * disconnected, bytes in flight are lost, and the end can be opened again after `replug`.
 * @module
 */
import type { Clock, TimerHandle } from '../../../shared/clock.ts';
import { HsmError } from '../../../shared/errors.ts';
import { PortEvents, type Port, type PortCloseInfo } from '../../../shared/port.ts';
import { SeededRandom } from '../../../shared/random.ts';

export type PairEnd = 'a' | 'b';

export interface UartFaults {
  /** Probability per byte that one of its bits flips. */
  bitFlipRate?: number;
  /** Probability per byte that it is lost. */
  dropRate?: number;
  /** Probability per byte that it arrives twice. */
  duplicateRate?: number;
  /** Probability per chunk that a burst of random bytes is inserted before it. */
  garbageRate?: number;
  /** Garbage burst length range (bytes). */
  garbageLength?: readonly [number, number];
  /** Probability per chunk of a line stall before it. */
  stallRate?: number;
  /** Stall length range (ms). */
  stallMs?: readonly [number, number];
}

export interface VirtualSerialPairOptions {
  clock: Clock;
  baudRate?: number;
  /** Seeds the fault injector. */
  random?: SeededRandom;
  faults?: UartFaults;
  /** Largest chunk handed to the receiver at once. Default 64. */
  chunkBytes?: number;
  name?: string;
}

export interface DirectionStats {
  bytesWritten: number;
  bytesDelivered: number;
  bitFlips: number;
  dropped: number;
  duplicated: number;
  garbageBytes: number;
  stalls: number;
  lostInFlight: number;
}

function emptyStats(): DirectionStats {
  return { bytesWritten: 0, bytesDelivered: 0, bitFlips: 0, dropped: 0, duplicated: 0, garbageBytes: 0, stalls: 0, lostInFlight: 0 };
}

interface Direction {
  /** Monotonic ms at which the line is free again. */
  lineFreeAt: number;
  stats: DirectionStats;
  timers: Set<TimerHandle>;
}

export class VirtualSerialPair {
  readonly baudRate: number;
  /** Milliseconds one byte occupies the line (10 bits). */
  readonly byteTimeMs: number;
  private readonly clock: Clock;
  private readonly random: SeededRandom;
  private readonly chunkBytes: number;
  private readonly name: string;
  private faults: UartFaults;
  private readonly ports: Record<PairEnd, VirtualPort | undefined> = { a: undefined, b: undefined };
  private readonly plugged: Record<PairEnd, boolean> = { a: true, b: true };
  /** Direction keyed by the sending end. */
  private readonly directions: Record<PairEnd, Direction> = {
    a: { lineFreeAt: 0, stats: emptyStats(), timers: new Set() },
    b: { lineFreeAt: 0, stats: emptyStats(), timers: new Set() },
  };

  constructor(options: VirtualSerialPairOptions) {
    this.clock = options.clock;
    this.baudRate = options.baudRate ?? 115_200;
    this.byteTimeMs = 10_000 / this.baudRate;
    this.random = options.random ?? new SeededRandom('virtual-pair');
    this.faults = options.faults ?? {};
    this.chunkBytes = options.chunkBytes ?? 64;
    this.name = options.name ?? 'virtual';
  }

  /** Opens one end. Throws PORT_UNAVAILABLE while it is unplugged or already open. */
  open(end: PairEnd): Port {
    if (!this.plugged[end]) throw new HsmError('PORT_UNAVAILABLE', `${this.name}/${end} is unplugged`);
    if (this.ports[end]?.isOpen) throw new HsmError('PORT_UNAVAILABLE', `${this.name}/${end} is already open`);
    const port = new VirtualPort(this, end, `${this.name}/${end}`);
    this.ports[end] = port;
    return port;
  }

  setFaults(faults: UartFaults): void {
    this.faults = faults;
  }

  stats(from: PairEnd): DirectionStats {
    return { ...this.directions[from].stats };
  }

  /** Pulls the cable at `end`: its Port closes as disconnected; bytes in flight are lost. */
  unplug(end: PairEnd): void {
    this.plugged[end] = false;
    for (const from of ['a', 'b'] as const) this.dropInFlight(from);
    const port = this.ports[end];
    this.ports[end] = undefined;
    port?.closedByWire({ disconnected: true, reason: 'unplugged' });
  }

  replug(end: PairEnd): void {
    this.plugged[end] = true;
  }

  isPlugged(end: PairEnd): boolean {
    return this.plugged[end];
  }

  /** @internal called by VirtualPort.write */
  transmit(from: PairEnd, data: Uint8Array): void {
    const direction = this.directions[from];
    direction.stats.bytesWritten += data.length;
    const to: PairEnd = from === 'a' ? 'b' : 'a';
    for (let offset = 0; offset < data.length; offset += this.chunkBytes) {
      const chunk = data.subarray(offset, Math.min(data.length, offset + this.chunkBytes));
      let start = Math.max(this.clock.monotonic(), direction.lineFreeAt);
      if (this.faults.stallRate !== undefined && this.random.chance(this.faults.stallRate)) {
        const [min, max] = this.faults.stallMs ?? [1, 50];
        start += min + this.random.float() * (max - min);
        direction.stats.stalls++;
      }
      const wire = this.applyFaults(chunk, direction.stats);
      // The line is busy for the bytes actually sent (garbage included, dropped bytes too).
      const end = start + Math.max(chunk.length, wire.length) * this.byteTimeMs;
      direction.lineFreeAt = end;
      const handle = this.clock.setTimeout(() => {
        direction.timers.delete(handle);
        const receiver = this.ports[to];
        if (receiver === undefined || !receiver.isOpen || !this.plugged[from] || !this.plugged[to]) {
          direction.stats.lostInFlight += wire.length;
          return;
        }
        direction.stats.bytesDelivered += wire.length;
        if (wire.length > 0) receiver.deliver(wire);
      }, end - this.clock.monotonic());
      direction.timers.add(handle);
    }
  }

  /** @internal resolves when the bytes queued from `from` have left the line. */
  drainDelay(from: PairEnd): number {
    return Math.max(0, this.directions[from].lineFreeAt - this.clock.monotonic());
  }

  /** @internal */
  portClosed(end: PairEnd, port: VirtualPort): void {
    if (this.ports[end] === port) this.ports[end] = undefined;
  }

  /** @internal */
  get wireClock(): Clock {
    return this.clock;
  }

  private dropInFlight(from: PairEnd): void {
    const direction = this.directions[from];
    for (const handle of direction.timers) this.clock.clearTimeout(handle);
    direction.timers.clear();
    direction.lineFreeAt = this.clock.monotonic();
  }

  private applyFaults(chunk: Uint8Array, stats: DirectionStats): Uint8Array {
    const f = this.faults;
    const noFaults = !f.bitFlipRate && !f.dropRate && !f.duplicateRate && !f.garbageRate;
    if (noFaults) return Uint8Array.from(chunk);
    const out: number[] = [];
    if (f.garbageRate !== undefined && this.random.chance(f.garbageRate)) {
      const [min, max] = f.garbageLength ?? [1, 64];
      const length = this.random.between(min, max);
      for (const byte of this.random.bytes(length)) out.push(byte);
      stats.garbageBytes += length;
    }
    for (const original of chunk) {
      if (f.dropRate !== undefined && this.random.chance(f.dropRate)) {
        stats.dropped++;
        continue;
      }
      let byte = original;
      if (f.bitFlipRate !== undefined && this.random.chance(f.bitFlipRate)) {
        byte ^= 1 << this.random.int(8);
        stats.bitFlips++;
      }
      out.push(byte);
      if (f.duplicateRate !== undefined && this.random.chance(f.duplicateRate)) {
        out.push(byte);
        stats.duplicated++;
      }
    }
    return Uint8Array.from(out);
  }
}

class VirtualPort implements Port {
  private readonly events = new PortEvents();
  private open = true;

  constructor(
    private readonly pair: VirtualSerialPair,
    private readonly end: PairEnd,
    readonly path: string,
  ) {}

  get isOpen(): boolean {
    return this.open;
  }

  write(data: Uint8Array): void {
    if (!this.open) throw new HsmError('PORT_CLOSED', `${this.path} is not open`);
    this.pair.transmit(this.end, data);
  }

  drain(): Promise<void> {
    return this.pair.wireClock.sleep(this.pair.drainDelay(this.end));
  }

  onData(listener: (chunk: Uint8Array) => void): () => void {
    return this.events.onData(listener);
  }

  onClose(listener: (info: PortCloseInfo) => void): () => void {
    return this.events.onClose(listener);
  }

  async close(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    this.pair.portClosed(this.end, this);
    this.events.emitClose({ disconnected: false });
  }

  /** @internal */
  deliver(chunk: Uint8Array): void {
    if (this.open) this.events.emitData(chunk);
  }

  /** @internal */
  closedByWire(info: PortCloseInfo): void {
    if (!this.open) return;
    this.open = false;
    this.events.emitClose(info);
  }
}
