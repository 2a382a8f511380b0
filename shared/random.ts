/**
 * Randomness behind one interface, so that key generation, nonces and fault injection can be
 * replayed: the devices use `systemRandom` (the OS CSPRNG); the simulated rig with `--seed`
 * and every seeded test use `SeededRandom`, a SHA-256 counter-mode stream.
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';

export interface RandomSource {
  bytes(length: number): Uint8Array;
}

export const systemRandom: RandomSource = {
  bytes: (length) => new Uint8Array(randomBytes(length)),
};

/**
 * Deterministic stream: block i = SHA-256(seed ‖ u64be(i)). Not for keys on real devices; for
 * the simulated world, reproducible tests and fault injection.
 */
export class SeededRandom implements RandomSource {
  private readonly seed: Buffer;
  private counter = 0n;
  private block = Buffer.alloc(0);
  private offset = 0;

  constructor(seed: string | Uint8Array) {
    this.seed = Buffer.from(typeof seed === 'string' ? Buffer.from(seed, 'utf8') : seed);
  }

  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) {
      if (this.offset >= this.block.length) this.refill();
      out[i] = this.block[this.offset++] ?? 0;
    }
    return out;
  }

  uint32(): number {
    if (this.offset + 4 > this.block.length) this.refill();
    const value = this.block.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  /** Uniform float in [0, 1). */
  float(): number {
    return this.uint32() / 2 ** 32;
  }

  /** Uniform integer in [0, maxExclusive). */
  int(maxExclusive: number): number {
    if (maxExclusive <= 1) return 0;
    return Math.floor(this.float() * maxExclusive);
  }

  /** Uniform integer in [min, max]. */
  between(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  chance(probability: number): boolean {
    return this.float() < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick() from an empty list');
    return items[this.int(items.length)] as T;
  }

  /** An independent stream for a named purpose, so adding draws in one place does not shift another. */
  fork(label: string): SeededRandom {
    return new SeededRandom(createHash('sha256').update(this.seed).update('/').update(label).digest());
  }

  private refill(): void {
    const counter = Buffer.alloc(8);
    counter.writeBigUInt64BE(this.counter++);
    this.block = createHash('sha256').update(this.seed).update(counter).digest();
    this.offset = 0;
  }
}
