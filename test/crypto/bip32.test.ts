import { describe, expect, it } from 'vitest';
import { HDKey, decodeExtendedKey } from '../../shared/crypto/hd.ts';
import { HsmError } from '../../shared/errors.ts';
import { loadVectors } from '../helpers/vectors.ts';

interface Bip32Vectors {
  source: string;
  vectors: Array<{ name: string; seed: string; chains: Array<{ path: string; xpub: string; xprv: string }> }>;
  invalid: Array<{ key: string; reason: string }>;
}

const { vectors, invalid } = loadVectors<Bip32Vectors>('bip32');

describe('BIP32 test vectors 1-4', () => {
  for (const vector of vectors) {
    describe(vector.name, () => {
      const master = HDKey.fromMasterSeed(Buffer.from(vector.seed, 'hex'));
      for (const chain of vector.chains) {
        it(`${chain.path} serializes to the published xpub and xprv`, () => {
          const node = master.derive(chain.path);
          expect(node.publicExtendedKey).toBe(chain.xpub);
          expect(node.privateExtendedKey).toBe(chain.xprv);
          // Both published keys pass our strict decoder, and agree with each other.
          const pub = decodeExtendedKey(chain.xpub);
          const prv = decodeExtendedKey(chain.xprv);
          expect(pub.isPrivate).toBe(false);
          expect(prv.isPrivate).toBe(true);
          expect(pub.depth).toBe(prv.depth);
          expect(Buffer.from(pub.chainCode).equals(Buffer.from(prv.chainCode))).toBe(true);
        });
      }
    });
  }

  it('derives public children from an xpub alone (non-hardened steps of vector 1)', () => {
    const v1 = vectors[0]!;
    const parent = HDKey.fromExtendedKey(v1.chains.find((c) => c.path === "m/0'/1/2'")!.xpub);
    expect(parent.deriveChild(2).publicExtendedKey).toBe(v1.chains.find((c) => c.path === "m/0'/1/2'/2")!.xpub);
  });
});

describe('BIP32 test vector 5: invalid extended keys are refused with a typed error', () => {
  for (const { key, reason } of invalid) {
    it(reason, () => {
      let caught: unknown;
      try {
        decodeExtendedKey(key);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(HsmError);
      const code = (caught as HsmError).code;
      if (reason.includes('checksum')) expect(code).toBe('XKEY_CHECKSUM');
      else if (reason.includes('unknown extended key version')) expect(code).toBe('XKEY_VERSION');
      else if (reason.includes('zero depth')) expect(code).toBe('XKEY_DEPTH');
      else expect(code).toBe('XKEY_KEY');
    });
  }
});
