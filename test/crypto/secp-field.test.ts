import { describe, expect, it } from 'vitest';
import * as F from '../../shared/crypto/secp-field.ts';
import { SeededRandom } from '../../shared/random.ts';

// The oracle is plain bigint arithmetic modulo p.
const P = 2n ** 256n - 2n ** 32n - 977n;
const mod = (v: bigint): bigint => ((v % P) + P) % P;
const random = new SeededRandom('secp-field');

/** The integer the limbs stand for, without any reduction. */
function valueOf(a: F.Fe): bigint {
  let v = 0n;
  for (let i = F.LIMBS - 1; i >= 0; i--) v = v * 2n ** 22n + BigInt(a[i]!);
  return v;
}

/** Limbs of either sign up to `bound` in magnitude, often at the bound itself. */
function randomLimbs(bound: number): F.Fe {
  const a = F.fe();
  for (let i = 0; i < F.LIMBS; i++) {
    const magnitude = random.chance(0.3) ? bound : random.int(bound + 1);
    a[i] = random.chance(0.5) ? -magnitude : magnitude;
  }
  return a;
}

function element(value: bigint): F.Fe {
  const a = F.fe();
  F.fromBigInt(a, value);
  return a;
}

function randomValue(): bigint {
  return mod(BigInt(`0x${Buffer.from(random.bytes(40)).toString('hex')}`));
}

const REDUCED = 2 ** 21 + 2 ** 18.1;
const MUL_INPUT = Math.floor(2 ** 24.5);
const CARRY_INPUT = 2 ** 26;

function isReduced(a: F.Fe): boolean {
  return a.every((limb) => Math.abs(limb) <= REDUCED);
}

describe('field arithmetic mod p on 22-bit limbs, against bigint', () => {
  it('mul and sqr are exact for limbs up to 2^24.5 and return reduced limbs (10,000 cases)', () => {
    const r = F.fe();
    const failures: string[] = [];
    for (let k = 0; k < 10_000; k++) {
      const a = randomLimbs(MUL_INPUT);
      const b = randomLimbs(MUL_INPUT);
      F.mul(r, a, b);
      if (!isReduced(r) || mod(valueOf(r)) !== mod(valueOf(a) * valueOf(b))) failures.push(`mul ${a} ${b}`);
      F.sqr(r, a);
      if (!isReduced(r) || mod(valueOf(r)) !== mod(valueOf(a) ** 2n)) failures.push(`sqr ${a}`);
    }
    expect(failures).toEqual([]);
  });

  it('mul may write over either input', () => {
    const a = element(randomValue());
    const b = element(randomValue());
    const bValue = valueOf(b);
    const expected = mod(valueOf(a) * bValue);
    F.mul(a, a, b);
    expect(F.toBigInt(a)).toBe(expected);
    F.mul(b, a, b);
    expect(F.toBigInt(b)).toBe(mod(expected * bValue));
  });

  it('carry reduces limbs below 2^26 and keeps the value (10,000 cases)', () => {
    const failures: string[] = [];
    for (let k = 0; k < 10_000; k++) {
      const a = randomLimbs(CARRY_INPUT);
      const before = mod(valueOf(a));
      F.carry(a);
      if (!isReduced(a) || mod(valueOf(a)) !== before) failures.push(`${a}`);
    }
    expect(failures).toEqual([]);
  });

  it('sums and differences of up to 8 reduced elements are valid mul inputs', () => {
    const r = F.fe();
    const s = F.fe();
    const failures: string[] = [];
    for (let k = 0; k < 2_000; k++) {
      s.fill(0);
      for (let term = 0; term < 8; term++) {
        F.mul(r, randomLimbs(MUL_INPUT), randomLimbs(MUL_INPUT));
        if (random.chance(0.5)) F.add(s, s, r);
        else F.sub(s, s, r);
      }
      const b = randomLimbs(MUL_INPUT);
      F.mul(r, s, b);
      if (mod(valueOf(r)) !== mod(valueOf(s) * valueOf(b))) failures.push(`${s} ${b}`);
    }
    expect(failures).toEqual([]);
  });

  it('normalize gives the canonical residue, also for p, 2^256 - 1, negative and unreduced values', () => {
    const cases: bigint[] = [0n, 1n, P - 1n, P, P + 1n, 2n ** 256n - 1n, 2n ** 264n - 1n, -1n, -P, -(2n ** 255n)];
    for (const value of cases) {
      const a = F.fe();
      let rest = value;
      for (let i = 0; i < F.LIMBS; i++) {
        // Signed limbs: the top limb takes whatever is left.
        const limb = i === F.LIMBS - 1 ? rest : BigInt.asUintN(22, rest);
        a[i] = Number(limb);
        rest = (rest - limb) >> 22n;
      }
      expect(valueOf(a)).toBe(value);
      F.normalize(a);
      expect(valueOf(a)).toBe(mod(value));
      for (let i = 0; i < F.LIMBS; i++) expect(a[i]).toBeGreaterThanOrEqual(0);
    }
    const failures: string[] = [];
    for (let k = 0; k < 2_000; k++) {
      const a = randomLimbs(MUL_INPUT);
      const expected = mod(valueOf(a));
      F.normalize(a);
      if (valueOf(a) !== expected) failures.push(`${a}`);
    }
    expect(failures).toEqual([]);
  });

  it('writeBytes encodes a normalized element as 32 big-endian bytes [SEC 1, §2.3.5]', () => {
    const out = new Uint8Array(34);
    for (const value of [0n, 1n, P - 1n, 2n ** 255n, randomValue(), randomValue()]) {
      const a = element(value);
      F.writeBytes(out, 1, a);
      expect(Buffer.from(out.subarray(1, 33)).toString('hex')).toBe(value.toString(16).padStart(64, '0'));
    }
  });

  it('invert gives a^-1', () => {
    const r = F.fe();
    for (const value of [1n, 2n, P - 1n, randomValue(), randomValue()]) {
      F.invert(r, element(value));
      expect(mod(F.toBigInt(r) * value)).toBe(1n);
    }
  });

  it('fromBigInt refuses values outside 0..p-1', () => {
    expect(() => F.fromBigInt(F.fe(), P)).toThrow(RangeError);
    expect(() => F.fromBigInt(F.fe(), -1n)).toThrow(RangeError);
  });
});
