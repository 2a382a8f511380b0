import { describe, expect, it } from 'vitest';
import { HDKey, generateMnemonic, mnemonicToSeed, validateMnemonic } from '../../shared/crypto/hd.ts';
import type { RandomSource } from '../../shared/random.ts';
import { expectHsmError } from '../helpers/errors.ts';
import { loadVectors } from '../helpers/vectors.ts';

interface Bip39Vectors {
  source: string;
  passphrase: string;
  vectors: Array<{ entropy: string; mnemonic: string; seed: string; xprv: string }>;
}

const { passphrase, vectors } = loadVectors<Bip39Vectors>('bip39');

function fixedRandom(bytes: Uint8Array): RandomSource {
  return { bytes: (n) => bytes.slice(0, n) };
}

describe('BIP39 reference vectors (passphrase "TREZOR")', () => {
  for (const v of vectors) {
    it(`${v.mnemonic.split(' ').length} words from ${v.entropy.slice(0, 8)}…`, () => {
      const entropy = Buffer.from(v.entropy, 'hex');
      const words = v.mnemonic.split(' ').length as 12 | 18 | 24;
      expect(generateMnemonic(fixedRandom(entropy), words)).toBe(v.mnemonic);
      expect(validateMnemonic(v.mnemonic)).toBe(v.mnemonic);
      const seed = mnemonicToSeed(v.mnemonic, passphrase);
      expect(Buffer.from(seed).toString('hex')).toBe(v.seed);
      expect(HDKey.fromMasterSeed(seed).privateExtendedKey).toBe(v.xprv);
    });
  }
  it('covers all 24 English vectors', () => {
    expect(vectors).toHaveLength(24);
  });
});

describe('BIP39 validation names what is wrong', () => {
  const good = vectors[0]!.mnemonic;

  it('normalises case and whitespace', () => {
    expect(validateMnemonic(`  ${good.toUpperCase().replace(/ /g, '   ')} \n`)).toBe(good);
  });

  it('names the position of a word outside the wordlist, with a suggestion', () => {
    const words = good.split(' ');
    words[4] = 'abandn';
    const error = expectHsmError(() => validateMnemonic(words.join(' ')), 'MNEMONIC_UNKNOWN_WORD', 'word 5');
    expect(error.message).toContain('word 5');
    expect(error.message).toContain('"abandn"');
    expect(error.message).toContain('did you mean "abandon"');
  });

  it('reports a checksum mismatch when two words are swapped', () => {
    const words = good.split(' '); // abandon ×11, about
    [words[0], words[11]] = [words[11]!, words[0]!];
    expectHsmError(() => validateMnemonic(words.join(' ')), 'MNEMONIC_CHECKSUM');
  });

  it('reports the word count', () => {
    const error = expectHsmError(() => validateMnemonic(good.split(' ').slice(0, 11).join(' ')), 'MNEMONIC_WORD_COUNT');
    expect(error.message).toContain('11');
    expectHsmError(() => validateMnemonic(''), 'MNEMONIC_WORD_COUNT');
  });

  it('refuses to generate a mnemonic of an unsupported length', () => {
    expectHsmError(() => generateMnemonic(fixedRandom(new Uint8Array(32)), 13 as 12), 'MNEMONIC_WORD_COUNT');
  });

  it('a passphrase changes the seed', () => {
    expect(Buffer.from(mnemonicToSeed(good, '')).equals(Buffer.from(mnemonicToSeed(good, 'TREZOR')))).toBe(false);
  });
});
