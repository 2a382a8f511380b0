/**
 * Batch public derivation: the child public keys and addresses of one account chain for a range
 * of indexes, from public data only, fast enough for 1,000-address batches on small devices.
 * `deriveAddresses` in hd.ts stays the child-by-child reference.
 *
 * CKDpub [BIP32, "Public parent key → public child key"], for a non-hardened index i < 2^31:
 *   I = HMAC-SHA512(c_par, serP(K_par) ‖ ser32(i)),   K_i = parse256(I_L)·G + K_par,
 * I_L = I[0..32). BIP32: "In case parse256(I_L) ≥ n or K_i is the point at infinity, the
 * resulting key is invalid, and one should proceed with the next value for i." Such an index is
 * reported here (`invalid`) or refused (`BIP32_INVALID_CHILD`), never given another index's key.
 *
 * Per job: K_par is decompressed once [SEC 1, §2.3.4]; per chunk of up to MAX_LANES indexes, all
 * the HMACs, then all the sums I_L·G + K_par together (secp-batch.ts), then hashing and encoding.
 *
 * @example
 * const addresses = deriveAddressBatch(account, spec, CHAIN.external, 7000, 1000);
 * for await (const chunk of addressBatchChunks(account, spec, 0, 0, 10_000)) report(chunk.done, chunk.total);
 * @module
 */
import { createHmac } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { HsmError } from '../errors.ts';
import { addressForPublicKey, addressTypeOf, checkChain, checkCount, checkIndex, type AccountSpec, type Chain, type HDKey } from './hd.ts';
import { secp } from './secp.ts';
import { SUM_INFINITY, SUM_SKIPPED, TweakBatch, isBelowOrder, prepareBaseTable, type Point } from './secp-batch.ts';

/** The public half of an extended key: all that CKDpub needs. */
export interface PublicParent {
  /** serP(K_par): compressed public key, 33 bytes. */
  publicKey: Uint8Array;
  /** c_par, 32 bytes. */
  chainCode: Uint8Array;
}

export type InvalidChildReason = 'tweak-out-of-range' | 'point-at-infinity';

export interface InvalidChild {
  index: number;
  /** parse256(I_L) ≥ n, or K_i at infinity: BIP32 skips this index. */
  reason: InvalidChildReason;
}

export interface PublicChildren {
  from: number;
  count: number;
  /** Compressed K_(from+k) at bytes [33k, 33k + 33); all zero for an invalid index. */
  keys: Uint8Array;
  invalid: InvalidChild[];
}

export interface AddressChunk {
  /** Index of addresses[0]. */
  from: number;
  addresses: string[];
  /** Addresses produced so far in the job (this chunk included), out of `total`. */
  done: number;
  total: number;
}

export type BatchProgress = Pick<AddressChunk, 'done' | 'total'>;

export interface AddressBatchOptions {
  /** Called after each chunk of up to MAX_LANES addresses. */
  onProgress?: (progress: BatchProgress) => void;
}

/** Indexes computed together: bounds a job's scratch memory (about 900 bytes each). */
export const MAX_LANES = 1000;

/**
 * Builds the fixed-base table (405,504 bytes) now instead of in the first batch: for firmware
 * boot, as it takes seconds on a Pi Zero. Optional; idempotent.
 */
export function prepareBatchDerivation(): void {
  prepareBaseTable();
}

/** I = HMAC-SHA512(c_par, serP(K_par) ‖ ser32(index)), 64 bytes. */
type ChildHmac = (index: number) => Uint8Array;

/**
 * K_i of `parent` for i = from .. from + count - 1 (non-hardened), with the indexes BIP32
 * declares invalid listed. Keeps all `count` keys: for long ranges use the chunked functions.
 */
export function derivePublicChildren(parent: PublicParent, from: number, count: number): PublicChildren {
  checkIndex(from, 'from');
  checkCount(from, count);
  return collect(parent, from, count, childHmac(parent));
}

function collect(parent: PublicParent, from: number, count: number, hmac: ChildHmac): PublicChildren {
  const keys = new Uint8Array(count * 33);
  const invalid: InvalidChild[] = [];
  for (const chunk of childChunks(parent, from, count, hmac)) {
    keys.set(chunk.keys, (chunk.from - from) * 33);
    invalid.push(...chunk.invalid);
  }
  return { from, count, keys, invalid };
}

function childHmac(parent: PublicParent): ChildHmac {
  const data = new Uint8Array(37); // serP(K_par) (33) ‖ ser32(i) (4)
  data.set(parent.publicKey, 0);
  const view = new DataView(data.buffer);
  return (index) => {
    view.setUint32(33, index);
    return createHmac('sha512', parent.chainCode).update(data).digest();
  };
}

/** K_par, decompressed and checked on the curve [SEC 1, §2.3.4]. */
function decodeParent(parent: PublicParent): Point {
  if (parent.publicKey.length !== 33 || parent.chainCode.length !== 32) {
    throw new HsmError('XKEY_KEY', 'a parent needs a 33-byte compressed public key and a 32-byte chain code', { field: 'parent' });
  }
  try {
    return secp.Point.fromBytes(parent.publicKey);
  } catch (cause) {
    throw new HsmError('XKEY_KEY', 'the parent public key is not a compressed point on secp256k1', { field: 'parent', cause });
  }
}

/**
 * The children in chunks of up to MAX_LANES. A chunk's `keys` is scratch, overwritten by the
 * next chunk: copy what must outlive it.
 */
function* childChunks(parent: PublicParent, from: number, count: number, hmac: ChildHmac): Generator<PublicChildren> {
  const point = decodeParent(parent);
  const capacity = Math.max(1, Math.min(count, MAX_LANES));
  const batch = new TweakBatch(capacity);
  const keys = new Uint8Array(capacity * 33);
  const status = new Uint8Array(capacity);
  const tweaks: Array<Uint8Array | undefined> = [];
  for (let start = from; start < from + count; start += capacity) {
    const n = Math.min(capacity, from + count - start);
    tweaks.length = n;
    const invalid: InvalidChild[] = [];
    for (let k = 0; k < n; k++) {
      const tweak = hmac(start + k).subarray(0, 32);
      tweaks[k] = isBelowOrder(tweak) ? tweak : undefined;
    }
    batch.compressedSums(tweaks, point, keys, status);
    for (let k = 0; k < n; k++) {
      if (status[k] === SUM_SKIPPED) invalid.push({ index: start + k, reason: 'tweak-out-of-range' });
      else if (status[k] === SUM_INFINITY) invalid.push({ index: start + k, reason: 'point-at-infinity' });
    }
    yield { from: start, count: n, keys: keys.subarray(0, n * 33), invalid };
  }
}

/**
 * The chain node account/chain (one reference step). @scure/bip32 moves on to the next index
 * when a child is invalid; that is refused here, as a chain must be exactly 0 or 1.
 */
function chainParent(account: HDKey, chain: Chain): PublicParent {
  const node = account.deriveChild(chain);
  if (node.index !== chain) throw invalidChild(chain, 'chain', 'tweak-out-of-range');
  if (node.publicKey === null || node.chainCode === null) throw new Error('invariant failed: chain node without public key');
  return { publicKey: node.publicKey, chainCode: node.chainCode };
}

function invalidChild(index: number, field: string, reason: InvalidChildReason): HsmError {
  const why = reason === 'tweak-out-of-range' ? 'I_L ≥ n' : 'the child key is the point at infinity';
  return new HsmError('BIP32_INVALID_CHILD', `${field} ${index} has no key under BIP32 (${why}); BIP32 skips such an index`, { field });
}

function* addressChunks(account: HDKey, spec: AccountSpec, chain: Chain, from: number, count: number, hmacFor?: (parent: PublicParent) => ChildHmac): Generator<AddressChunk> {
  checkChain(chain);
  checkIndex(from, 'from');
  checkCount(from, count);
  const parent = chainParent(account, chain);
  const type = addressTypeOf(spec);
  let done = 0;
  for (const chunk of childChunks(parent, from, count, (hmacFor ?? childHmac)(parent))) {
    const first = chunk.invalid[0];
    if (first !== undefined) throw invalidChild(first.index, 'index', first.reason);
    const addresses: string[] = new Array(chunk.count);
    for (let k = 0; k < chunk.count; k++) {
      addresses[k] = addressForPublicKey(chunk.keys.subarray(k * 33, k * 33 + 33), spec.network, type);
    }
    done += chunk.count;
    yield { from: chunk.from, addresses, done, total: count };
  }
}

/**
 * `count` consecutive addresses of one chain: the same result as `deriveAddresses` (hd.ts),
 * computed in bulk. Refuses an index BIP32 declares invalid with `BIP32_INVALID_CHILD` (field
 * `index`), as a batch position cannot be skipped.
 */
export function deriveAddressBatch(
  account: HDKey,
  spec: AccountSpec,
  chain: Chain,
  from: number,
  count: number,
  options: AddressBatchOptions = {},
): string[] {
  const out: string[] = [];
  for (const chunk of addressChunks(account, spec, chain, from, count)) {
    for (const address of chunk.addresses) out.push(address);
    options.onProgress?.({ done: chunk.done, total: chunk.total });
  }
  return out;
}

/**
 * The same addresses as `deriveAddressBatch`, one chunk of up to MAX_LANES at a time, giving
 * the event loop a turn between chunks (console, event stream, link). Memory stays bounded by
 * the chunk, whatever `count`. Stop early with `break`, or abort `signal`: the next chunk is
 * then not computed and the iteration rejects with the signal's reason. Bad arguments reject
 * the first iteration with the same errors as `deriveAddressBatch`.
 */
export async function* addressBatchChunks(
  account: HDKey,
  spec: AccountSpec,
  chain: Chain,
  from: number,
  count: number,
  options: { signal?: AbortSignal } = {},
): AsyncGenerator<AddressChunk> {
  const chunks = addressChunks(account, spec, chain, from, count);
  try {
    for (;;) {
      options.signal?.throwIfAborted();
      const next = chunks.next();
      if (next.done === true) return;
      yield next.value;
      await nextTurn();
    }
  } finally {
    chunks.return(undefined);
  }
}

/**
 * Test-only seam: the same derivation with the HMAC-SHA512 output I supplied per index, to
 * reach the cases no real HMAC produces (I_L ≥ n, I_L·G = ±K_par). Never for production use.
 */
export const __TESTS = Object.freeze({
  derivePublicChildrenWithI(parent: PublicParent, from: number, count: number, hmac: ChildHmac): PublicChildren {
    checkIndex(from, 'from');
    checkCount(from, count);
    return collect(parent, from, count, hmac);
  },
  deriveAddressBatchWithI(account: HDKey, spec: AccountSpec, chain: Chain, from: number, count: number, hmac: ChildHmac): string[] {
    return [...addressChunks(account, spec, chain, from, count, () => hmac)].flatMap((chunk) => chunk.addresses);
  },
});
