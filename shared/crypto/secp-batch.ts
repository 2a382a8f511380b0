/**
 * Many points t_k·G + P on secp256k1 at once, for public scalars t_k and one public point P:
 * the curve half of batch public derivation (batch-derivation.ts). Nothing here is
 * constant-time; never pass a secret.
 *
 *  - t_k·G by a fixed-base comb: t_k = Σ_j d_j·2^(8j) with signed digits |d_j| ≤ 128 (33
 *    windows: 256 bits and the carry of the recoding), so t_k·G = Σ_j d_j·(2^(8j)·G), each term
 *    read from a table of affine points m·2^(8j)·G, m = 1..128; a negative digit takes the
 *    negation (x, -y).
 *  - The lanes (one per k) add their j-th terms in lockstep with affine additions [SEC 1, §2.2.1],
 *    and all the lanes' denominators share one field inversion (Montgomery's trick).
 *    No partial sum S meets ±(its next term T), so no addition is exceptional. For a window
 *    j < 32: |S| ≤ 128·(2^(8j) - 1)/255 < 2^(8j) ≤ |T| and |S ± T| < 129·2^(8j) < 2^255.1 < n,
 *    so S ≢ ±T (mod n). In window 32 the only digit is 1, which needs t > 2^255, while
 *    S = t - 2^256 ≡ ±2^256 only for t ≡ 2^257 or t ≡ 0 (mod n), both far below 2^255.
 *  - P is added the same way; lanes where t_k·G = ±P double P or reach infinity.
 *  - Results are serialized compressed [SEC 1, §2.3.3].
 *
 * Memory: the base table is 33 × 128 points × (x, y) × 12 Int32 limbs = 405,504 bytes, built on
 * first use and kept; a `TweakBatch` holds about 900 bytes per lane of its capacity.
 * @module
 */
import { invariant } from '../errors.ts';
import { CURVE_ORDER, secp } from './secp.ts';
import * as F from './secp-field.ts';

export type Point = InstanceType<typeof secp.Point>;

// ## Base table

const WINDOW_BITS = 8;
/** 256 bits of t plus the carry of the signed recoding. */
const WINDOWS = Math.ceil(257 / WINDOW_BITS);
/** Multiples per window: digits lie in [-(2^(w-1) - 1), 2^(w-1)]. */
const MULTIPLES = 2 ** (WINDOW_BITS - 1);
/** An affine point in a source array: x limbs then y limbs, canonical. */
const ENTRY = 2 * F.LIMBS;

export const BASE_TABLE_BYTES = WINDOWS * MULTIPLES * ENTRY * Int32Array.BYTES_PER_ELEMENT;

let baseTable: Int32Array | undefined;

/** Entry j·MULTIPLES + m - 1 holds m·2^(8j)·G. Built once per process. */
function getBaseTable(): Int32Array {
  baseTable ??= buildBaseTable();
  return baseTable;
}

/** Builds the base table now rather than in the first batch (about 0.1 s on a server core). */
export function prepareBaseTable(): void {
  getBaseTable();
}

function buildBaseTable(): Int32Array {
  const table = new Int32Array(WINDOWS * MULTIPLES * ENTRY);
  const bases = new Int32Array(WINDOWS * ENTRY);
  const lanes = new Lanes(WINDOWS);
  let base: Point = secp.Point.BASE;
  for (let j = 0; j < WINDOWS; j++) {
    const twice = base.double();
    storePoint(bases, j * ENTRY, base);
    storePoint(table, j * MULTIPLES * ENTRY, base);
    storePoint(table, (j * MULTIPLES + 1) * ENTRY, twice);
    lanes.loadPoint(j, twice);
    for (let k = 0; k < WINDOW_BITS; k++) base = base.double();
  }
  // m·B_j = (m-1)·B_j + B_j for m = 3..MULTIPLES, all windows in lockstep; (m-1)·B_j ≠ ±B_j.
  for (let m = 3; m <= MULTIPLES; m++) {
    for (let j = 0; j < WINDOWS; j++) lanes.schedule(j, j, j * ENTRY, false);
    invariant(addLanes(lanes, WINDOWS, bases), 'base table addition met an exceptional case');
    for (let j = 0; j < WINDOWS; j++) lanes.store(j, table, (j * MULTIPLES + m - 1) * ENTRY);
  }
  return table;
}

function storePoint(out: Int32Array, offset: number, point: Point): void {
  const { x, y } = point.toAffine();
  const t = F.fe();
  F.fromBigInt(t, x);
  out.set(t, offset);
  F.fromBigInt(t, y);
  out.set(t, offset + F.LIMBS);
}

// ## Lanes and the batched affine addition

const LANE_EMPTY = 0; // the point at infinity
const LANE_POINT = 1;
const LANE_SKIPPED = 2;

/** Per-lane affine accumulators and the scratch of one batched addition. */
class Lanes {
  readonly x: F.Fe[];
  readonly y: F.Fe[];
  readonly state: Uint8Array;
  /** Lanes taking part in the current addition, with the source offset and sign of their Q. */
  readonly active: Int32Array;
  readonly qOffset: Int32Array;
  readonly qNegate: Uint8Array;
  /** den_k = x_Q - x_A and the prefix products den_0···den_k, by position in `active`. */
  readonly den: F.Fe[];
  readonly prefix: F.Fe[];

  constructor(size: number) {
    this.x = F.feArray(size);
    this.y = F.feArray(size);
    this.state = new Uint8Array(size);
    this.active = new Int32Array(size);
    this.qOffset = new Int32Array(size);
    this.qNegate = new Uint8Array(size);
    this.den = F.feArray(size);
    this.prefix = F.feArray(size);
  }

  schedule(position: number, lane: number, offset: number, negate: boolean): void {
    this.active[position] = lane;
    this.qOffset[position] = offset;
    this.qNegate[position] = negate ? 1 : 0;
  }

  /** A = the source point at `offset`, negated when asked. */
  load(lane: number, source: Int32Array, offset: number, negate: boolean): void {
    const x = this.x[lane]!;
    const y = this.y[lane]!;
    const sign = negate ? -1 : 1;
    for (let t = 0; t < F.LIMBS; t++) {
      x[t] = source[offset + t]!;
      y[t] = sign * source[offset + F.LIMBS + t]!;
    }
    this.state[lane] = LANE_POINT;
  }

  loadPoint(lane: number, point: Point): void {
    const { x, y } = point.toAffine();
    F.fromBigInt(this.x[lane]!, x);
    F.fromBigInt(this.y[lane]!, y);
    this.state[lane] = LANE_POINT;
  }

  /** Writes A, canonical, into a source array. */
  store(lane: number, out: Int32Array, offset: number): void {
    const x = this.x[lane]!;
    const y = this.y[lane]!;
    F.normalize(x);
    F.normalize(y);
    out.set(x, offset);
    out.set(y, offset + F.LIMBS);
  }
}

const INV = F.fe();
const DEN_INV = F.fe();
const LAMBDA = F.fe();
const T = F.fe();
const U = F.fe();

/**
 * A ← A + Q for the m lanes listed in `lanes.active`, all affine with x_A ≠ x_Q [SEC 1, §2.2.1]:
 *   λ = (y_Q - y_A)/(x_Q - x_A),   x' = λ² - x_A - x_Q,   y' = λ·(x_A - x') - y_A.
 * Montgomery's trick of simultaneous inversion [P. L. Montgomery, "Speeding the Pollard and
 * elliptic curve methods of factorization", Math. Comp. 48 (1987), 243-264] inverts the m
 * denominators at once: with prefix products P_k = den_0···den_k, one inversion gives P_(m-1)^-1,
 * then walking back den_k^-1 = P_k^-1·P_(k-1) and P_(k-1)^-1 = P_k^-1·den_k: three
 * multiplications per lane. Returns false, changing no lane, when a denominator is zero.
 */
function addLanes(lanes: Lanes, m: number, source: Int32Array): boolean {
  if (m === 0) return true;
  const { x: xs, y: ys, active, qOffset, qNegate, den, prefix } = lanes;
  for (let k = 0; k < m; k++) {
    const xa = xs[active[k]!]!;
    const o = qOffset[k]!;
    const d = den[k]!;
    for (let t = 0; t < F.LIMBS; t++) d[t] = source[o + t]! - xa[t]!;
    if (k === 0) F.copy(prefix[0]!, d);
    else F.mul(prefix[k]!, prefix[k - 1]!, d);
  }
  F.copy(INV, prefix[m - 1]!);
  F.normalize(INV);
  if (F.isZeroNormalized(INV)) return false;
  F.invert(INV, INV);
  for (let k = m - 1; k >= 0; k--) {
    const lane = active[k]!;
    const xa = xs[lane]!;
    const ya = ys[lane]!;
    const o = qOffset[k]!;
    const sign = qNegate[k] === 1 ? -1 : 1;
    if (k > 0) {
      F.mul(DEN_INV, INV, prefix[k - 1]!);
      F.mul(INV, INV, den[k]!);
    } else {
      F.copy(DEN_INV, INV);
    }
    for (let t = 0; t < F.LIMBS; t++) T[t] = sign * source[o + F.LIMBS + t]! - ya[t]!;
    F.mul(LAMBDA, T, DEN_INV);
    F.sqr(T, LAMBDA);
    for (let t = 0; t < F.LIMBS; t++) {
      T[t] = T[t]! - xa[t]! - source[o + t]!; // x'
      U[t] = xa[t]! - T[t]!; // x_A - x'
    }
    F.mul(U, LAMBDA, U);
    for (let t = 0; t < F.LIMBS; t++) {
      ya[t] = U[t]! - ya[t]!;
      xa[t] = T[t]!;
    }
    F.carry(xa);
    F.carry(ya);
  }
  return true;
}

// ## Scalars

/** n as 32 big-endian bytes. */
const ORDER_BYTES = Uint8Array.from(Buffer.from(CURVE_ORDER.toString(16).padStart(64, '0'), 'hex'));

/** True when 32 big-endian bytes encode an integer below the group order n. */
export function isBelowOrder(scalar: Uint8Array): boolean {
  for (let b = 0; b < 32; b++) {
    if (scalar[b] !== ORDER_BYTES[b]) return scalar[b]! < ORDER_BYTES[b]!;
  }
  return false;
}

/**
 * Signed recoding of t (32 big-endian bytes, t < n) into WINDOWS digits with
 * Σ_j d_j·2^(8j) = t: d_j = byte_j + carry, minus 2^8 (carry 1) when above 2^7.
 */
function recode(scalar: Uint8Array, digits: Int16Array, offset: number): void {
  let carry = 0;
  for (let j = 0; j < WINDOWS; j++) {
    let d = (j < 32 ? scalar[31 - j]! : 0) + carry;
    carry = d > MULTIPLES ? 1 : 0;
    d -= carry << WINDOW_BITS;
    digits[offset + j] = d;
  }
  invariant(carry === 0, 'recoding left a carry');
}

// ## Tweak batches

export const SUM_OK = 0;
/** The lane was given no scalar; its output bytes are zero. */
export const SUM_SKIPPED = 1;
/** t·G + P is the point at infinity (t ≡ -log P); its output bytes are zero. */
export const SUM_INFINITY = 2;

/**
 * Reusable scratch for up to `capacity` sums t_k·G + P. One instance is used by one job at a
 * time; its memory is bounded by the capacity.
 */
export class TweakBatch {
  readonly capacity: number;
  private readonly lanes: Lanes;
  private readonly digits: Int16Array;
  private readonly addend = new Int32Array(ENTRY);

  constructor(capacity: number) {
    invariant(Number.isInteger(capacity) && capacity > 0, 'capacity must be a positive integer');
    this.capacity = capacity;
    this.lanes = new Lanes(capacity);
    this.digits = new Int16Array(capacity * WINDOWS);
  }

  /**
   * For k < scalars.length: out[33k, 33k + 33) = compressed(t_k·G + P), t_k given as 32
   * big-endian bytes below n, or undefined to skip the lane; status[k] = SUM_OK, SUM_SKIPPED or
   * SUM_INFINITY (the bytes of the last two are zero).
   */
  compressedSums(scalars: ReadonlyArray<Uint8Array | undefined>, point: Point, out: Uint8Array, status: Uint8Array): void {
    const n = scalars.length;
    invariant(n <= this.capacity && out.length >= n * 33 && status.length >= n, 'batch larger than its scratch');
    const { lanes, digits, addend } = this;
    const { state } = lanes;
    const table = getBaseTable();
    status.fill(SUM_OK, 0, n);
    for (let k = 0; k < n; k++) {
      const scalar = scalars[k];
      if (scalar === undefined) {
        state[k] = LANE_SKIPPED;
        continue;
      }
      invariant(scalar.length === 32 && isBelowOrder(scalar), 'scalar must be 32 bytes below n');
      recode(scalar, digits, k * WINDOWS);
      state[k] = LANE_EMPTY;
    }
    // t_k·G, window by window.
    for (let j = 0; j < WINDOWS; j++) {
      let m = 0;
      for (let k = 0; k < n; k++) {
        if (state[k] === LANE_SKIPPED) continue;
        const d = digits[k * WINDOWS + j]!;
        if (d === 0) continue;
        const offset = (j * MULTIPLES + Math.abs(d) - 1) * ENTRY;
        if (state[k] === LANE_EMPTY) lanes.load(k, table, offset, d < 0);
        else lanes.schedule(m++, k, offset, d < 0);
      }
      invariant(addLanes(lanes, m, table), 'comb addition met an exceptional case');
    }
    // + P; a lane still at infinity (t = 0) becomes P.
    storePoint(addend, 0, point);
    let m = 0;
    for (let k = 0; k < n; k++) {
      if (state[k] === LANE_EMPTY) lanes.load(k, addend, 0, false);
      else if (state[k] === LANE_POINT) lanes.schedule(m++, k, 0, false);
    }
    if (!addLanes(lanes, m, addend)) {
      m = this.settleCollisions(m, point, status);
      invariant(addLanes(lanes, m, addend), 'point addition met an exceptional case twice');
    }
    for (let k = 0; k < n; k++) {
      const bytes = out.subarray(k * 33, k * 33 + 33);
      if (state[k] === LANE_SKIPPED) status[k] = SUM_SKIPPED;
      if (status[k] !== SUM_OK) {
        bytes.fill(0);
        continue;
      }
      const x = lanes.x[k]!;
      const y = lanes.y[k]!;
      F.normalize(x);
      F.normalize(y);
      bytes[0] = 0x02 + (y[0]! % 2); // 0x02 for an even y, 0x03 for an odd one
      F.writeBytes(bytes, 1, x);
    }
  }

  /**
   * Takes the lanes with t·G = ±P out of the scheduled addition of P: +P doubles P, -P gives
   * infinity (status SUM_INFINITY). Returns how many lanes stay scheduled. Reached only for
   * t = ±log P, i.e. crafted scalars.
   */
  private settleCollisions(m: number, point: Point, status: Uint8Array): number {
    const { lanes, addend } = this;
    const px = Float64Array.from(addend.subarray(0, F.LIMBS));
    const py = Float64Array.from(addend.subarray(F.LIMBS));
    let kept = 0;
    for (let k = 0; k < m; k++) {
      const lane = lanes.active[k]!;
      F.sub(T, lanes.x[lane]!, px);
      F.normalize(T);
      if (!F.isZeroNormalized(T)) {
        lanes.schedule(kept++, lane, lanes.qOffset[k]!, lanes.qNegate[k] === 1);
        continue;
      }
      F.sub(T, lanes.y[lane]!, py);
      F.normalize(T);
      if (F.isZeroNormalized(T)) lanes.loadPoint(lane, point.double());
      else status[lane] = SUM_INFINITY;
    }
    return kept;
  }
}
