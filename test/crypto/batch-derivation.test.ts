import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { hmac } from '@noble/hashes/hmac.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import {
  MAX_LANES,
  __TESTS,
  addressBatchChunks,
  deriveAddressBatch,
  derivePublicChildren,
  prepareBatchDerivation,
  type BatchProgress,
  type PublicParent,
} from '../../shared/crypto/batch-derivation.ts';
import {
  CHAIN,
  HDKey,
  accountSpec,
  decodeExtendedKey,
  deriveAccountKey,
  deriveAddresses,
  exportAccountXpub,
  importAccountXpub,
  mnemonicToSeed,
} from '../../shared/crypto/hd.ts';
import { NETWORKS, getNetwork, type AddressType } from '../../shared/crypto/networks.ts';
import { CURVE_ORDER, secp } from '../../shared/crypto/secp.ts';
import { expectHsmError } from '../helpers/errors.ts';
import { loadVectors } from '../helpers/vectors.ts';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const keyAt = (keys: Uint8Array, k: number): string => hex(keys.subarray(k * 33, k * 33 + 33));

interface Bip32Vectors {
  vectors: Array<{ name: string; chains: Array<{ path: string; xpub: string }> }>;
}

describe('BIP32 test vectors: every public derivation step', () => {
  for (const vector of loadVectors<Bip32Vectors>('bip32').vectors) {
    vector.chains.forEach((child, i) => {
      const parent = vector.chains[i - 1];
      const step = child.path.split('/').pop() ?? '';
      if (parent === undefined || step.endsWith("'")) return;
      it(`${vector.name}: ${parent.path} → ${child.path}`, () => {
        const info = decodeExtendedKey(parent.xpub);
        const node: PublicParent = { publicKey: info.key, chainCode: info.chainCode };
        const index = Number(step);
        const expected = hex(decodeExtendedKey(child.xpub).key);
        const alone = derivePublicChildren(node, index, 1);
        expect(keyAt(alone.keys, 0)).toBe(expected);
        expect(alone.invalid).toEqual([]);
        // The same key from the middle of a batch.
        const from = Math.max(0, index - 3);
        expect(keyAt(derivePublicChildren(node, from, 7).keys, index - from)).toBe(expected);
      });
    });
  }
});

interface AccountVectors {
  mnemonic: string;
  accounts: Array<{ network: string; type: AddressType; path: string; addresses: Array<{ chain: 0 | 1; index: number; address: string }> }>;
}

describe('BIP44 / BIP84 address vectors of the standard test mnemonic', () => {
  const { mnemonic, accounts } = loadVectors<AccountVectors>('bip44-84');
  const seed = mnemonicToSeed(mnemonic);
  for (const account of accounts) {
    it(`${account.network} ${account.type} ${account.path}`, () => {
      const spec = accountSpec(getNetwork(account.network), account.type);
      const node = importAccountXpub(exportAccountXpub(seed, spec), spec);
      for (const a of account.addresses) {
        expect(deriveAddressBatch(node, spec, a.chain, a.index, 1)).toEqual([a.address]);
        expect(deriveAddressBatch(node, spec, a.chain, 0, 5)[a.index]).toBe(a.address);
      }
    });
  }
});

// A parent whose private key is known, to craft tweaks that hit BIP32's edge cases.
const seed = mnemonicToSeed('abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about');
const btc44 = accountSpec(NETWORKS['btc-main'], 'p2pkh');
const privateAccount = deriveAccountKey(seed, btc44);
const privateChain = privateAccount.deriveChild(CHAIN.external);
const chainSecret = BigInt(`0x${hex(privateChain.privateKey!)}`);
const chainNode = HDKey.fromExtendedKey(privateChain.publicExtendedKey);
const chainParent: PublicParent = { publicKey: chainNode.publicKey!, chainCode: chainNode.chainCode! };
const account = importAccountXpub(privateAccount.publicExtendedKey, btc44);
const n = CURVE_ORDER;

/** The real HMAC-SHA512 of CKDpub, except I_L replaced at chosen indexes. */
function hmacWith(overrides: Map<number, bigint>): (index: number) => Uint8Array {
  return (index) => {
    const data = new Uint8Array(37);
    data.set(chainParent.publicKey, 0);
    new DataView(data.buffer).setUint32(33, index);
    const I = hmac(sha512, chainParent.chainCode, data);
    const tweak = overrides.get(index);
    if (tweak !== undefined) I.set(Buffer.from(tweak.toString(16).padStart(64, '0'), 'hex'), 0);
    return I;
  };
}

/** @scure/bip32's own child for a given I (its documented test seam). */
function scureChildWithI(index: number, I: Uint8Array): HDKey {
  return (chainNode as unknown as { _deriveChild(index: number, I: Uint8Array): HDKey })._deriveChild(index, I);
}

describe('BIP32 edge cases through the test seam (crafted HMAC outputs)', () => {
  const base = 5000;

  it('I_L ≥ n: exactly that index is reported invalid, its neighbours are untouched', () => {
    const hmacOut = hmacWith(new Map([[base + 2, n], [base + 5, 2n ** 256n - 1n]]));
    const result = __TESTS.derivePublicChildrenWithI(chainParent, base, 8, hmacOut);
    expect(result.invalid).toEqual([
      { index: base + 2, reason: 'tweak-out-of-range' },
      { index: base + 5, reason: 'tweak-out-of-range' },
    ]);
    expect(keyAt(result.keys, 2)).toBe('00'.repeat(33));
    expect(keyAt(result.keys, 5)).toBe('00'.repeat(33));
    for (const k of [0, 1, 3, 4, 6, 7]) expect(keyAt(result.keys, k)).toBe(hex(chainNode.deriveChild(base + k).publicKey!));
    // @scure/bip32 silently moves on to the next index instead.
    expect(scureChildWithI(base + 2, hmacOut(base + 2)).index).toBe(base + 3);
  });

  it('K_i at infinity (I_L = n - k_par): reported invalid', () => {
    const hmacOut = hmacWith(new Map([[base + 1, n - chainSecret]]));
    const result = __TESTS.derivePublicChildrenWithI(chainParent, base, 3, hmacOut);
    expect(result.invalid).toEqual([{ index: base + 1, reason: 'point-at-infinity' }]);
    expect(keyAt(result.keys, 1)).toBe('00'.repeat(33));
    expect(keyAt(result.keys, 2)).toBe(hex(chainNode.deriveChild(base + 2).publicKey!));
  });

  it('valid edge tweaks agree with @scure/bip32: I_L = 0 (K_par), I_L = k_par (2·K_par), I_L = n - 1', () => {
    const overrides = new Map([[base, 0n], [base + 1, chainSecret], [base + 2, n - 1n]]);
    const hmacOut = hmacWith(overrides);
    const result = __TESTS.derivePublicChildrenWithI(chainParent, base, 3, hmacOut);
    expect(result.invalid).toEqual([]);
    expect(keyAt(result.keys, 0)).toBe(hex(chainParent.publicKey));
    expect(keyAt(result.keys, 1)).toBe(hex(secp.Point.fromBytes(chainParent.publicKey).double().toBytes(true)));
    for (let k = 0; k < 3; k++) expect(keyAt(result.keys, k)).toBe(hex(scureChildWithI(base + k, hmacOut(base + k)).publicKey!));
  });

  it('an address batch refuses an invalid index with BIP32_INVALID_CHILD naming it', () => {
    const hmacOut = hmacWith(new Map([[base + 999, n]]));
    const error = expectHsmError(() => __TESTS.deriveAddressBatchWithI(account, btc44, CHAIN.external, base, 1000, hmacOut), 'BIP32_INVALID_CHILD', 'index');
    expect(error.message).toContain(`index ${base + 999}`);
    expect(__TESTS.deriveAddressBatchWithI(account, btc44, CHAIN.external, base, 999, hmacOut)).toEqual(deriveAddressBatch(account, btc44, CHAIN.external, base, 999));
  });
});

describe('input checks', () => {
  it('refuses hardened or negative indexes and ranges that reach 2^31', () => {
    expectHsmError(() => derivePublicChildren(chainParent, 2 ** 31, 1), 'BAD_INDEX', 'from');
    expectHsmError(() => derivePublicChildren(chainParent, -1, 1), 'BAD_INDEX', 'from');
    expectHsmError(() => derivePublicChildren(chainParent, 1.5, 1), 'BAD_INDEX', 'from');
    expectHsmError(() => derivePublicChildren(chainParent, 2 ** 31 - 1, 2), 'BAD_COUNT', 'count');
    expectHsmError(() => derivePublicChildren(chainParent, 0, -1), 'BAD_COUNT', 'count');
    expectHsmError(() => derivePublicChildren(chainParent, 0, 0.5), 'BAD_COUNT', 'count');
    expectHsmError(() => deriveAddressBatch(account, btc44, 0, 2 ** 31, 1), 'BAD_INDEX', 'from');
    expectHsmError(() => deriveAddressBatch(account, btc44, 0, 2 ** 31 - 10, 11), 'BAD_COUNT', 'count');
    expectHsmError(() => deriveAddressBatch(account, btc44, 2 as 0, 0, 1), 'BAD_CHAIN', 'chain');
    expect(deriveAddressBatch(account, btc44, 0, 2 ** 31 - 1, 1)).toEqual(deriveAddresses(account, btc44, 0, 2 ** 31 - 1, 1));
    expect(deriveAddressBatch(account, btc44, 0, 0, 0)).toEqual([]);
  });

  it('refuses a parent that is not a compressed point on the curve', () => {
    const offCurve = Uint8Array.from([0x02, ...new Uint8Array(31), 5]); // x = 5: x³ + 7 is not a square
    expectHsmError(() => derivePublicChildren({ publicKey: offCurve, chainCode: chainParent.chainCode }, 0, 1), 'XKEY_KEY', 'parent');
    expectHsmError(() => derivePublicChildren({ publicKey: chainParent.publicKey.subarray(1), chainCode: chainParent.chainCode }, 0, 1), 'XKEY_KEY');
  });
});

describe('jobs, progress and memory', () => {
  it('the base table can be built ahead of the first batch, any number of times', () => {
    prepareBatchDerivation();
    prepareBatchDerivation();
    expect(deriveAddressBatch(account, btc44, CHAIN.external, 0, 2)).toEqual(deriveAddresses(account, btc44, CHAIN.external, 0, 2));
  });

  it('reports progress after each chunk', () => {
    const progress: BatchProgress[] = [];
    const addresses = deriveAddressBatch(account, btc44, CHAIN.change, 100, 2500, { onProgress: (p) => progress.push(p) });
    expect(progress).toEqual([
      { done: 1000, total: 2500 },
      { done: 2000, total: 2500 },
      { done: 2500, total: 2500 },
    ]);
    expect(addresses.slice(0, 3)).toEqual(deriveAddresses(account, btc44, CHAIN.change, 100, 3));
    expect(addresses.slice(-3)).toEqual(deriveAddresses(account, btc44, CHAIN.change, 2597, 3));
  });

  it('the async chunks give the same addresses and can be aborted', async () => {
    const chunks: Array<{ from: number; length: number; done: number }> = [];
    const all: string[] = [];
    for await (const chunk of addressBatchChunks(account, btc44, CHAIN.external, 40, 2100)) {
      chunks.push({ from: chunk.from, length: chunk.addresses.length, done: chunk.done });
      all.push(...chunk.addresses);
    }
    expect(chunks).toEqual([
      { from: 40, length: 1000, done: 1000 },
      { from: 1040, length: 1000, done: 2000 },
      { from: 2040, length: 100, done: 2100 },
    ]);
    expect(all).toEqual(deriveAddressBatch(account, btc44, CHAIN.external, 40, 2100));

    const controller = new AbortController();
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const chunk of addressBatchChunks(account, btc44, CHAIN.external, 0, 5000, { signal: controller.signal })) {
          seen.push(chunk.done);
          controller.abort();
        }
      })(),
    ).rejects.toMatchObject({ name: 'AbortError' });
    expect(seen).toEqual([1000]);
  });

  it('a 10,000-address job holds one chunk at a time: each chunk is released once the next is taken', async () => {
    // Memory in bytes is a bench figure (`npm run bench`, batchJobMemory); here, what is held.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const chunks: Array<WeakRef<string[]>> = [];
    let count = 0;
    for await (const chunk of addressBatchChunks(account, btc44, CHAIN.external, 1_000_000, 10_000)) {
      expect(chunk.addresses.length).toBeLessThanOrEqual(MAX_LANES);
      count += chunk.addresses.length;
      chunks.push(new WeakRef(chunk.addresses));
    }
    expect(count).toBe(10_000);
    await new Promise((resolve) => setImmediate(resolve)); // WeakRefs are kept alive until the current job ends
    gc();
    const held = chunks.slice(0, -1).map((ref) => ref.deref() !== undefined); // the last is the loop's own
    expect(held).toEqual(held.map(() => false));
    expect(held).toHaveLength(9);
  });

});
