import { describe, expect, it } from 'vitest';
import { BASE_TABLE_BYTES, SUM_INFINITY, SUM_OK, SUM_SKIPPED, TweakBatch, isBelowOrder } from '../../shared/crypto/secp-batch.ts';
import { CURVE_ORDER, secp } from '../../shared/crypto/secp.ts';
import { SeededRandom } from '../../shared/random.ts';

// The oracle: @noble/curves point arithmetic, one scalar at a time.
const { Point } = secp;
const n = CURVE_ORDER;
const random = new SeededRandom('secp-batch');

function bytes32(value: bigint): Uint8Array {
  return Uint8Array.from(Buffer.from(value.toString(16).padStart(64, '0'), 'hex'));
}

function randomScalar(): bigint {
  return BigInt(`0x${Buffer.from(random.bytes(32)).toString('hex')}`) % n;
}

function expectedSum(t: bigint, p: InstanceType<typeof Point>): string {
  return Buffer.from(Point.BASE.multiplyUnsafe(t).add(p).toBytes(true)).toString('hex');
}

function sums(scalars: Array<bigint | undefined>, p: InstanceType<typeof Point>, batch = new TweakBatch(scalars.length)) {
  const out = new Uint8Array(scalars.length * 33);
  const status = new Uint8Array(scalars.length);
  batch.compressedSums(
    scalars.map((t) => (t === undefined ? undefined : bytes32(t))),
    p,
    out,
    status,
  );
  return scalars.map((_, k) => ({ key: Buffer.from(out.subarray(k * 33, k * 33 + 33)).toString('hex'), status: status[k] }));
}

const parentSecret = randomScalar();
const parent = Point.BASE.multiply(parentSecret);

describe('t·G + P for many scalars at once, against @noble/curves', () => {
  it('random scalars', () => {
    const scalars = Array.from({ length: 300 }, randomScalar);
    const results = sums(scalars, parent);
    scalars.forEach((t, k) => expect(results[k]).toEqual({ key: expectedSum(t, parent), status: SUM_OK }));
  });

  it('every window and digit sign of the comb: m·2^(8j), 2^(8j+8) - 2^(8j), and carry chains', () => {
    const scalars: bigint[] = [];
    for (let j = 0; j < 32; j++) {
      const w = 2n ** BigInt(8 * j);
      for (const m of [1n, 2n, 3n, 64n, 127n, 128n, 129n, 255n]) scalars.push(m * w);
    }
    scalars.push(
      1n,
      n - 1n,
      n - 2n,
      2n ** 255n,
      2n ** 256n - n, // 2^256 mod n, the weight of the carry window
      BigInt(`0x${'80'.repeat(32)}`), // every digit at +128
      BigInt(`0x${'81'.repeat(32)}`), // every digit negative, carries all the way up
      BigInt(`0x${'7f'.repeat(32)}`),
      BigInt(`0x${'ff'.repeat(15)}${'00'.repeat(17)}`),
    );
    const results = sums(scalars, parent);
    scalars.forEach((t, k) => expect(results[k], `t = 0x${t.toString(16)}`).toEqual({ key: expectedSum(t, parent), status: SUM_OK }));
  });

  it('t = 0 gives P; skipped lanes stay zero', () => {
    const results = sums([0n, undefined, 5n], parent);
    expect(results[0]).toEqual({ key: Buffer.from(parent.toBytes(true)).toString('hex'), status: SUM_OK });
    expect(results[1]).toEqual({ key: '00'.repeat(33), status: SUM_SKIPPED });
    expect(results[2]).toEqual({ key: expectedSum(5n, parent), status: SUM_OK });
  });

  it('t·G = P doubles P; t·G = -P is the point at infinity; the other lanes are unaffected', () => {
    const others = [randomScalar(), randomScalar()];
    const results = sums([others[0], parentSecret, n - parentSecret, others[1]], parent);
    expect(results[0]).toEqual({ key: expectedSum(others[0]!, parent), status: SUM_OK });
    expect(results[1]).toEqual({ key: Buffer.from(parent.double().toBytes(true)).toString('hex'), status: SUM_OK });
    expect(results[2]).toEqual({ key: '00'.repeat(33), status: SUM_INFINITY });
    expect(results[3]).toEqual({ key: expectedSum(others[1]!, parent), status: SUM_OK });
  });

  it('a batch object is reusable: statuses and keys of a previous run do not leak', () => {
    const batch = new TweakBatch(3);
    sums([n - parentSecret, undefined, 1n], parent, batch);
    const again = [randomScalar(), randomScalar(), randomScalar()];
    const results = sums(again, parent, batch);
    again.forEach((t, k) => expect(results[k]).toEqual({ key: expectedSum(t, parent), status: SUM_OK }));
  });

  it('refuses scalars of n and above, and batches larger than the scratch', () => {
    expect(() => sums([n], parent)).toThrow(/below n/);
    expect(() => sums([2n ** 256n - 1n], parent)).toThrow(/below n/);
    const batch = new TweakBatch(1);
    expect(() => batch.compressedSums([bytes32(1n), bytes32(2n)], parent, new Uint8Array(66), new Uint8Array(2))).toThrow(/scratch/);
  });

  it('isBelowOrder compares 32 big-endian bytes with n', () => {
    expect(isBelowOrder(bytes32(0n))).toBe(true);
    expect(isBelowOrder(bytes32(n - 1n))).toBe(true);
    expect(isBelowOrder(bytes32(n))).toBe(false);
    expect(isBelowOrder(bytes32(2n ** 256n - 1n))).toBe(false);
  });

  it('states its table size', () => {
    expect(BASE_TABLE_BYTES).toBe(33 * 128 * 2 * 12 * 4);
  });
});
