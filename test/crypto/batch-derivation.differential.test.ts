import { describe, expect, it } from 'vitest';
import { deriveAddressBatch } from '../../shared/crypto/batch-derivation.ts';
import { CHAIN, accountSpec, deriveAddresses, exportAccountXpub, generateMnemonic, importAccountXpub, mnemonicToSeed } from '../../shared/crypto/hd.ts';
import { getNetwork, type AddressType } from '../../shared/crypto/networks.ts';
import { SeededRandom } from '../../shared/random.ts';
import { oracleChildAddresses } from '../oracle/bitcoinjs.ts';

// 5 coin/type variants × 2 chains × 10 runs × 1,000 indexes = 100,000 indexes against an
// independent CKDpub (@noble/hashes HMAC, libsecp256k1 point addition, bitcoinjs-lib encoding),
// plus a sample of every variant and chain against @scure/bip32 child by child.
const VARIANTS: Array<[string, AddressType]> = [
  ['btc-main', 'p2pkh'],
  ['btc-main', 'p2wpkh'],
  ['ltc-main', 'p2pkh'],
  ['ltc-main', 'p2wpkh'],
  ['doge-main', 'p2pkh'],
];
const RUNS = 10;
const RUN_LENGTH = 1000;
const LAST_START = 2 ** 31 - RUN_LENGTH;

const random = new SeededRandom('batch-derivation/differential');
const seed = mnemonicToSeed(generateMnemonic(random.fork('mnemonic')));

function setup(networkId: string, type: AddressType) {
  const network = getNetwork(networkId);
  const spec = accountSpec(network, type, random.int(2 ** 31));
  const account = importAccountXpub(exportAccountXpub(seed, spec), spec);
  return { network, spec, account };
}

describe('differential: batch derivation against independent CKDpub, 100,000 indexes', () => {
  let compared = 0;
  for (const [networkId, type] of VARIANTS) {
    const { network, spec, account } = setup(networkId, type);
    for (const chain of [CHAIN.external, CHAIN.change]) {
      it(`${networkId} ${type} chain ${chain}: ${RUNS} runs of ${RUN_LENGTH}, first and last run of the index space included`, () => {
        const node = account.deriveChild(chain);
        const starts = [0, LAST_START, ...Array.from({ length: RUNS - 2 }, () => random.int(LAST_START + 1))];
        for (const start of starts) {
          const expected = oracleChildAddresses(node.publicKey!, node.chainCode!, network, spec.purpose, start, RUN_LENGTH);
          expect(deriveAddressBatch(account, spec, chain, start, RUN_LENGTH), `from ${start}`).toEqual(expected);
          compared += RUN_LENGTH;
        }
      });
    }
  }

  it('compared at least 100,000 indexes', () => {
    expect(compared).toBeGreaterThanOrEqual(100_000);
  });
});

describe('differential: batch derivation against @scure/bip32 child by child', () => {
  for (const [networkId, type] of VARIANTS) {
    it(`${networkId} ${type}: 100 indexes of each chain at a random spot`, () => {
      const { network, spec, account } = setup(networkId, type);
      for (const chain of [CHAIN.external, CHAIN.change]) {
        const start = random.int(LAST_START + 1);
        const reference = deriveAddresses(account, spec, chain, start, 100);
        expect(deriveAddressBatch(account, spec, chain, start, 100)).toEqual(reference);
        const node = account.deriveChild(chain);
        expect(oracleChildAddresses(node.publicKey!, node.chainCode!, network, spec.purpose, start, 100)).toEqual(reference);
      }
    });
  }
});
