/**
 * Arithmetic modulo the secp256k1 field prime p = 2^256 - 2^32 - 977 [SEC 2, §2.4.1] on plain
 * JS numbers, for hot loops where BigInt is too slow (batch-derivation.ts).
 *
 * An element is 12 limbs of 22 bits in a Float64Array: v = Σ limb[i]·2^(22·i) (264 bits).
 * Limbs are signed: a difference is taken limb by limb, without borrows. Bounds:
 *   - "reduced" (what `mul`, `sqr` and `carry` return): every limb below 2^21 + 2^18.1 in
 *     magnitude (carries round to the nearest multiple of 2^22, so limbs are balanced);
 *   - `mul` and `sqr` accept limbs below 2^24.5 in magnitude, e.g. any sum or difference of at
 *     most 8 reduced elements: a limb product is below 2^49, a column of 12 products below
 *     2^52.6, and with the folded high digits still below 2^53, so every sum is an exact double;
 *   - `carry` accepts limbs below 2^26 in magnitude.
 * Reduction: 2^264 = 2^8·2^256 ≡ 2^8·(2^32 + 977) = 2^18·2^22 + 250112 (mod p), so a high
 * column k ≥ 12, once carried down to 22 bits, folds into columns k-12 (×250112) and k-11 (×2^18).
 *
 * Nothing here is constant-time: use it for public data only (public keys, tweaks of public
 * derivation).
 * @module
 */
import { secp } from './secp.ts';

/** A field element: 12 signed limbs of 22 bits, see the module comment for the bounds. */
export type Fe = Float64Array;

export const LIMBS = 12;
const RADIX = 2 ** 22;
const INV_RADIX = 2 ** -22;
/** Adding and subtracting 1.5·2^52 rounds a double below 2^51 to the nearest integer. */
const ROUND = 1.5 * 2 ** 52;
/** 2^264 mod p = R1·2^22 + R0. */
const R0 = 250112;
const R1 = 2 ** 18;
/** Limb 11 holds bits 242..263; its bits from 2^14 up weigh 2^256 ≡ 2^32 + 977 = 2^10·2^22 + 977. */
const TOP_BITS = 2 ** 14;
const INV_TOP_BITS = 2 ** -14;

const P = secp.Point.CURVE().p;
const Fp = secp.Point.Fp;

export function fe(): Fe {
  return new Float64Array(LIMBS);
}

/** Views `count` elements over one buffer (no per-element allocation). */
export function feArray(count: number, buffer = new Float64Array(count * LIMBS)): Fe[] {
  const out: Fe[] = new Array(count);
  for (let i = 0; i < count; i++) out[i] = buffer.subarray(i * LIMBS, (i + 1) * LIMBS);
  return out;
}

export function copy(r: Fe, a: Fe): void {
  r.set(a);
}

/** r = a + b, limb by limb (no carry). */
export function add(r: Fe, a: Fe, b: Fe): void {
  for (let i = 0; i < LIMBS; i++) r[i] = a[i]! + b[i]!;
}

/** r = a - b, limb by limb (no borrow). */
export function sub(r: Fe, a: Fe, b: Fe): void {
  for (let i = 0; i < LIMBS; i++) r[i] = a[i]! - b[i]!;
}

/** r = a·b mod p (reduced; r may alias a or b). */
export function mul(r: Fe, a: Fe, b: Fe): void {
  const a0 = a[0]!, a1 = a[1]!, a2 = a[2]!, a3 = a[3]!, a4 = a[4]!, a5 = a[5]!;
  const a6 = a[6]!, a7 = a[7]!, a8 = a[8]!, a9 = a[9]!, a10 = a[10]!, a11 = a[11]!;
  const b0 = b[0]!, b1 = b[1]!, b2 = b[2]!, b3 = b[3]!, b4 = b[4]!, b5 = b[5]!;
  const b6 = b[6]!, b7 = b[7]!, b8 = b[8]!, b9 = b[9]!, b10 = b[10]!, b11 = b[11]!;
  // Schoolbook columns: c_k = Σ_{i+j=k} a_i·b_j.
  COLS[0] = a0 * b0;
  COLS[1] = a0 * b1 + a1 * b0;
  COLS[2] = a0 * b2 + a1 * b1 + a2 * b0;
  COLS[3] = a0 * b3 + a1 * b2 + a2 * b1 + a3 * b0;
  COLS[4] = a0 * b4 + a1 * b3 + a2 * b2 + a3 * b1 + a4 * b0;
  COLS[5] = a0 * b5 + a1 * b4 + a2 * b3 + a3 * b2 + a4 * b1 + a5 * b0;
  COLS[6] = a0 * b6 + a1 * b5 + a2 * b4 + a3 * b3 + a4 * b2 + a5 * b1 + a6 * b0;
  COLS[7] = a0 * b7 + a1 * b6 + a2 * b5 + a3 * b4 + a4 * b3 + a5 * b2 + a6 * b1 + a7 * b0;
  COLS[8] = a0 * b8 + a1 * b7 + a2 * b6 + a3 * b5 + a4 * b4 + a5 * b3 + a6 * b2 + a7 * b1 + a8 * b0;
  COLS[9] = a0 * b9 + a1 * b8 + a2 * b7 + a3 * b6 + a4 * b5 + a5 * b4 + a6 * b3 + a7 * b2 + a8 * b1 + a9 * b0;
  COLS[10] = a0 * b10 + a1 * b9 + a2 * b8 + a3 * b7 + a4 * b6 + a5 * b5 + a6 * b4 + a7 * b3 + a8 * b2 + a9 * b1 + a10 * b0;
  COLS[11] = a0 * b11 + a1 * b10 + a2 * b9 + a3 * b8 + a4 * b7 + a5 * b6 + a6 * b5 + a7 * b4 + a8 * b3 + a9 * b2 + a10 * b1 + a11 * b0;
  COLS[12] = a1 * b11 + a2 * b10 + a3 * b9 + a4 * b8 + a5 * b7 + a6 * b6 + a7 * b5 + a8 * b4 + a9 * b3 + a10 * b2 + a11 * b1;
  COLS[13] = a2 * b11 + a3 * b10 + a4 * b9 + a5 * b8 + a6 * b7 + a7 * b6 + a8 * b5 + a9 * b4 + a10 * b3 + a11 * b2;
  COLS[14] = a3 * b11 + a4 * b10 + a5 * b9 + a6 * b8 + a7 * b7 + a8 * b6 + a9 * b5 + a10 * b4 + a11 * b3;
  COLS[15] = a4 * b11 + a5 * b10 + a6 * b9 + a7 * b8 + a8 * b7 + a9 * b6 + a10 * b5 + a11 * b4;
  COLS[16] = a5 * b11 + a6 * b10 + a7 * b9 + a8 * b8 + a9 * b7 + a10 * b6 + a11 * b5;
  COLS[17] = a6 * b11 + a7 * b10 + a8 * b9 + a9 * b8 + a10 * b7 + a11 * b6;
  COLS[18] = a7 * b11 + a8 * b10 + a9 * b9 + a10 * b8 + a11 * b7;
  COLS[19] = a8 * b11 + a9 * b10 + a10 * b9 + a11 * b8;
  COLS[20] = a9 * b11 + a10 * b10 + a11 * b9;
  COLS[21] = a10 * b11 + a11 * b10;
  COLS[22] = a11 * b11;
  reduce(r);
}

/** r = a² mod p (reduced; r may alias a): the cross products of `mul`, each counted twice. */
export function sqr(r: Fe, a: Fe): void {
  const a0 = a[0]!, a1 = a[1]!, a2 = a[2]!, a3 = a[3]!, a4 = a[4]!, a5 = a[5]!;
  const a6 = a[6]!, a7 = a[7]!, a8 = a[8]!, a9 = a[9]!, a10 = a[10]!, a11 = a[11]!;
  COLS[0] = a0 * a0;
  COLS[1] = a0 * a1 * 2;
  COLS[2] = a0 * a2 * 2 + a1 * a1;
  COLS[3] = (a0 * a3 + a1 * a2) * 2;
  COLS[4] = (a0 * a4 + a1 * a3) * 2 + a2 * a2;
  COLS[5] = (a0 * a5 + a1 * a4 + a2 * a3) * 2;
  COLS[6] = (a0 * a6 + a1 * a5 + a2 * a4) * 2 + a3 * a3;
  COLS[7] = (a0 * a7 + a1 * a6 + a2 * a5 + a3 * a4) * 2;
  COLS[8] = (a0 * a8 + a1 * a7 + a2 * a6 + a3 * a5) * 2 + a4 * a4;
  COLS[9] = (a0 * a9 + a1 * a8 + a2 * a7 + a3 * a6 + a4 * a5) * 2;
  COLS[10] = (a0 * a10 + a1 * a9 + a2 * a8 + a3 * a7 + a4 * a6) * 2 + a5 * a5;
  COLS[11] = (a0 * a11 + a1 * a10 + a2 * a9 + a3 * a8 + a4 * a7 + a5 * a6) * 2;
  COLS[12] = (a1 * a11 + a2 * a10 + a3 * a9 + a4 * a8 + a5 * a7) * 2 + a6 * a6;
  COLS[13] = (a2 * a11 + a3 * a10 + a4 * a9 + a5 * a8 + a6 * a7) * 2;
  COLS[14] = (a3 * a11 + a4 * a10 + a5 * a9 + a6 * a8) * 2 + a7 * a7;
  COLS[15] = (a4 * a11 + a5 * a10 + a6 * a9 + a7 * a8) * 2;
  COLS[16] = (a5 * a11 + a6 * a10 + a7 * a9) * 2 + a8 * a8;
  COLS[17] = (a6 * a11 + a7 * a10 + a8 * a9) * 2;
  COLS[18] = (a7 * a11 + a8 * a10) * 2 + a9 * a9;
  COLS[19] = (a8 * a11 + a9 * a10) * 2;
  COLS[20] = a9 * a11 * 2 + a10 * a10;
  COLS[21] = a10 * a11 * 2;
  COLS[22] = a11 * a11;
  reduce(r);
}

/** Product columns c0..c22 of `mul` / `sqr`, passed to `reduce` without boxing. */
const COLS = new Float64Array(2 * LIMBS - 1);

/** round(v / 2^22): the carry that leaves v - high(v)·2^22 in [-2^21, 2^21]. */
function high(v: number): number {
  return v * INV_RADIX + ROUND - ROUND;
}

/**
 * Folds the 23 product columns (each below 2^52.6 in magnitude) into a reduced element. Carries
 * are taken in parallel passes (every digit hands its excess up at once), not one serial chain.
 */
function reduce(r: Fe): void {
  const c0 = COLS[0]!, c1 = COLS[1]!, c2 = COLS[2]!, c3 = COLS[3]!, c4 = COLS[4]!, c5 = COLS[5]!;
  const c6 = COLS[6]!, c7 = COLS[7]!, c8 = COLS[8]!, c9 = COLS[9]!, c10 = COLS[10]!, c11 = COLS[11]!;
  const c12 = COLS[12]!, c13 = COLS[13]!, c14 = COLS[14]!, c15 = COLS[15]!, c16 = COLS[16]!, c17 = COLS[17]!;
  const c18 = COLS[18]!, c19 = COLS[19]!, c20 = COLS[20]!, c21 = COLS[21]!, c22 = COLS[22]!;
  // High columns 12..22 to digits d12..d23 below 2^30.6 (weights 2^264 .. 2^506).
  const t12 = high(c12), t13 = high(c13), t14 = high(c14), t15 = high(c15), t16 = high(c16), t17 = high(c17);
  const t18 = high(c18), t19 = high(c19), t20 = high(c20), t21 = high(c21), t22 = high(c22);
  const d12 = c12 - t12 * RADIX, d13 = c13 - t13 * RADIX + t12, d14 = c14 - t14 * RADIX + t13;
  const d15 = c15 - t15 * RADIX + t14, d16 = c16 - t16 * RADIX + t15, d17 = c17 - t17 * RADIX + t16;
  const d18 = c18 - t18 * RADIX + t17, d19 = c19 - t19 * RADIX + t18, d20 = c20 - t20 * RADIX + t19;
  const d21 = c21 - t21 * RADIX + t20, d22 = c22 - t22 * RADIX + t21, d23 = t22;
  // Fold: digit k (weight 2^(22k) = 2^264·2^(22(k-12))) adds R0 to column k-12 and R1 to k-11.
  // Each fold adds below 2^49.6, so the columns stay below 2^53.
  const f0 = c0 + d12 * R0;
  const f1 = c1 + d13 * R0 + d12 * R1;
  const f2 = c2 + d14 * R0 + d13 * R1;
  const f3 = c3 + d15 * R0 + d14 * R1;
  const f4 = c4 + d16 * R0 + d15 * R1;
  const f5 = c5 + d17 * R0 + d16 * R1;
  const f6 = c6 + d18 * R0 + d17 * R1;
  const f7 = c7 + d19 * R0 + d18 * R1;
  const f8 = c8 + d20 * R0 + d19 * R1;
  const f9 = c9 + d21 * R0 + d20 * R1;
  const f10 = c10 + d22 * R0 + d21 * R1;
  const f11 = c11 + d23 * R0 + d22 * R1;
  const f12 = d23 * R1; // weight 2^264, below 2^45
  // Columns 0..12 to digits below 2^21 + 2^30.8; digits 12 and 13 (weights 2^264, 2^286) fold again.
  const v0 = high(f0), v1 = high(f1), v2 = high(f2), v3 = high(f3), v4 = high(f4), v5 = high(f5);
  const v6 = high(f6), v7 = high(f7), v8 = high(f8), v9 = high(f9), v10 = high(f10), v11 = high(f11);
  const v12 = high(f12);
  const g12 = f12 - v12 * RADIX + v11;
  const g0 = f0 - v0 * RADIX + g12 * R0;
  const g1 = f1 - v1 * RADIX + v0 + g12 * R1 + v12 * R0;
  const g2 = f2 - v2 * RADIX + v1 + v12 * R1;
  const g3 = f3 - v3 * RADIX + v2, g4 = f4 - v4 * RADIX + v3, g5 = f5 - v5 * RADIX + v4;
  const g6 = f6 - v6 * RADIX + v5, g7 = f7 - v7 * RADIX + v6, g8 = f8 - v8 * RADIX + v7;
  const g9 = f9 - v9 * RADIX + v8, g10 = f10 - v10 * RADIX + v9, g11 = f11 - v11 * RADIX + v10;
  // One more pass over all digits (the carry of digit 11 folds into digits 0 and 1), then the
  // four low digits that took the folds.
  const w0 = high(g0), w1 = high(g1), w2 = high(g2), w3 = high(g3), w4 = high(g4), w5 = high(g5);
  const w6 = high(g6), w7 = high(g7), w8 = high(g8), w9 = high(g9), w10 = high(g10), w11 = high(g11);
  const h0 = g0 - w0 * RADIX + w11 * R0;
  const h1 = g1 - w1 * RADIX + w0 + w11 * R1;
  const h2 = g2 - w2 * RADIX + w1;
  const h3 = g3 - w3 * RADIX + w2;
  const x0 = high(h0), x1 = high(h1), x2 = high(h2), x3 = high(h3);
  r[0] = h0 - x0 * RADIX;
  r[1] = h1 - x1 * RADIX + x0;
  r[2] = h2 - x2 * RADIX + x1;
  r[3] = h3 - x3 * RADIX + x2;
  r[4] = g4 - w4 * RADIX + w3 + x3;
  r[5] = g5 - w5 * RADIX + w4;
  r[6] = g6 - w6 * RADIX + w5;
  r[7] = g7 - w7 * RADIX + w6;
  r[8] = g8 - w8 * RADIX + w7;
  r[9] = g9 - w9 * RADIX + w8;
  r[10] = g10 - w10 * RADIX + w9;
  r[11] = g11 - w11 * RADIX + w10;
}

/**
 * Reduces, in place, an element whose limbs are below 2^26 in magnitude (a short sum or
 * difference of reduced elements). Two parallel carry passes; the carry out of limb 11 weighs
 * 2^264 ≡ R1·2^22 + R0.
 */
export function carry(r: Fe): void {
  carryPass(r);
  carryPass(r);
}

function carryPass(r: Fe): void {
  const l0 = r[0]!, l1 = r[1]!, l2 = r[2]!, l3 = r[3]!, l4 = r[4]!, l5 = r[5]!;
  const l6 = r[6]!, l7 = r[7]!, l8 = r[8]!, l9 = r[9]!, l10 = r[10]!, l11 = r[11]!;
  const t0 = high(l0), t1 = high(l1), t2 = high(l2);
  const t3 = high(l3), t4 = high(l4), t5 = high(l5);
  const t6 = high(l6), t7 = high(l7), t8 = high(l8);
  const t9 = high(l9), t10 = high(l10), t11 = high(l11);
  r[0] = l0 - t0 * RADIX + t11 * R0;
  r[1] = l1 - t1 * RADIX + t0 + t11 * R1;
  r[2] = l2 - t2 * RADIX + t1;
  r[3] = l3 - t3 * RADIX + t2;
  r[4] = l4 - t4 * RADIX + t3;
  r[5] = l5 - t5 * RADIX + t4;
  r[6] = l6 - t6 * RADIX + t5;
  r[7] = l7 - t7 * RADIX + t6;
  r[8] = l8 - t8 * RADIX + t7;
  r[9] = l9 - t9 * RADIX + t8;
  r[10] = l10 - t10 * RADIX + t9;
  r[11] = l11 - t11 * RADIX + t10;
}

/**
 * The canonical residue in [0, p): limbs in [0, 2^22), limb 11 below 2^14 (in place). For
 * output and comparisons, not for the hot loop.
 */
export function normalize(r: Fe): void {
  for (;;) {
    // Plain carries; the signed carry out of limb 11 weighs 2^264.
    let t = 0;
    for (let i = 0; i < LIMBS; i++) {
      const v = r[i]! + t;
      t = Math.floor(v * INV_RADIX);
      r[i] = v - t * RADIX;
    }
    // Bits 256..263 of limb 11 and the carry: q·2^256 ≡ q·(2^10·2^22 + 977).
    const high = Math.floor(r[11]! * INV_TOP_BITS);
    const q = high + t * (RADIX * INV_TOP_BITS);
    if (q === 0) break;
    r[11] = r[11]! - high * TOP_BITS;
    r[0] = r[0]! + q * 977;
    r[1] = r[1]! + q * 1024;
  }
  // Now 0 ≤ v < 2^256 < 2p. v ≥ p exactly when w = v + 2^32 + 977 reaches 2^256; then v - p = w - 2^256.
  let t = 0;
  for (let i = 0; i < LIMBS; i++) {
    const v = r[i]! + (i === 0 ? 977 : i === 1 ? 1024 : 0) + t;
    t = Math.floor(v * INV_RADIX);
    WIDE[i] = v - t * RADIX;
  }
  if (WIDE[11]! >= TOP_BITS) {
    WIDE[11] = WIDE[11]! - TOP_BITS;
    r.set(WIDE);
  }
}

const WIDE = new Float64Array(LIMBS);

function toBigIntUnchecked(a: Fe): bigint {
  let v = 0n;
  for (let i = LIMBS - 1; i >= 0; i--) v = (v << 22n) + BigInt(a[i]!);
  return v;
}

function fromBigIntUnchecked(r: Fe, value: bigint): void {
  for (let i = 0; i < LIMBS; i++) {
    r[i] = Number(value & 0x3fffffn);
    value >>= 22n;
  }
}

export function fromBigInt(r: Fe, value: bigint): void {
  if (value < 0n || value >= P) throw new RangeError('field element out of range');
  fromBigIntUnchecked(r, value);
}

/** The canonical value of `a` as a bigint (a is left untouched). */
export function toBigInt(a: Fe): bigint {
  const t = Float64Array.from(a);
  normalize(t);
  return toBigIntUnchecked(t);
}

/** Writes the 32-byte big-endian encoding of a normalized element [SEC 1, §2.3.5]. */
export function writeBytes(out: Uint8Array, offset: number, a: Fe): void {
  // Walk the limbs from the least significant end, 8 bits at a time.
  let acc = 0;
  let bits = 0;
  let limb = 0;
  for (let k = 31; k >= 0; k--) {
    while (bits < 8) {
      acc += a[limb++]! * 2 ** bits;
      bits += 22;
    }
    const byte = acc % 256;
    out[offset + k] = byte;
    acc = (acc - byte) / 256;
    bits -= 8;
  }
}

/** True for a normalized element equal to zero. */
export function isZeroNormalized(a: Fe): boolean {
  for (let i = 0; i < LIMBS; i++) if (a[i] !== 0) return false;
  return true;
}

/** r = a^-1 mod p (a must not be ≡ 0). One per batch step: BigInt is fine here. */
export function invert(r: Fe, a: Fe): void {
  fromBigIntUnchecked(r, Fp.inv(toBigInt(a)));
}
