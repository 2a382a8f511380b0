import { describe, expect, it } from 'vitest';
import {
  CHAIN,
  accountPath,
  accountSpec,
  deriveAccountKey,
  deriveAddresses,
  derivePublicKey,
  exportAccountXpub,
  importAccountXpub,
  mnemonicToSeed,
} from '../../shared/crypto/hd.ts';
import { NETWORKS, getNetwork, type AddressType } from '../../shared/crypto/networks.ts';
import { SeededRandom } from '../../shared/random.ts';
import { expectHsmError } from '../helpers/errors.ts';
import { loadVectors } from '../helpers/vectors.ts';
import { oracleAccount, oracleAddresses } from '../oracle/bitcoinjs.ts';

interface AccountVectors {
  mnemonic: string;
  accounts: Array<{
    source: string;
    network: string;
    type: AddressType;
    path: string;
    xpub?: string;
    xprv?: string;
    addresses: Array<{ chain: 0 | 1; index: number; address: string; publicKey?: string }>;
  }>;
}

const { mnemonic, accounts } = loadVectors<AccountVectors>('bip44-84');
const seed = mnemonicToSeed(mnemonic);

describe('BIP44 / BIP84 accounts of the standard test mnemonic', () => {
  for (const account of accounts) {
    it(`${account.network} ${account.type} ${account.path}`, () => {
      const spec = accountSpec(getNetwork(account.network), account.type);
      expect(accountPath(spec)).toBe(account.path);
      const xpub = exportAccountXpub(seed, spec);
      if (account.xpub !== undefined) expect(xpub).toBe(account.xpub);
      if (account.xprv !== undefined) {
        const node = deriveAccountKey(seed, spec);
        expect(node.privateExtendedKey).toBe(account.xprv);
        node.wipePrivateData();
      }
      const imported = importAccountXpub(xpub, spec);
      for (const a of account.addresses) {
        expect(deriveAddresses(imported, spec, a.chain, a.index, 1)).toEqual([a.address]);
        if (a.publicKey !== undefined) expect(Buffer.from(derivePublicKey(imported, a.chain, a.index)).toString('hex')).toBe(a.publicKey);
      }
    });
  }
});

describe('public keys of an account, asked again and again (chain nodes are kept)', () => {
  it('gives each chain its own keys, the same on every call, for a public and a private account key alike', () => {
    const spec = accountSpec(getNetwork('btc-main'), 'p2wpkh');
    const imported = importAccountXpub(exportAccountXpub(seed, spec), spec);
    const privateNode = deriveAccountKey(seed, spec);
    const expected = (chain: 0 | 1, index: number): string => Buffer.from(imported.deriveChild(chain).deriveChild(index).publicKey as Uint8Array).toString('hex');
    const asks: Array<[0 | 1, number]> = [[0, 5], [1, 5], [0, 5], [1, 7], [0, 7], [1, 5]];
    for (const node of [imported, privateNode]) {
      expect(asks.map(([chain, index]) => Buffer.from(derivePublicKey(node, chain, index)).toString('hex'))).toEqual(asks.map(([chain, index]) => expected(chain, index)));
    }
    privateNode.wipePrivateData();
  });
});

describe('account xpub import checks', () => {
  const btc44 = accountSpec(NETWORKS['btc-main'], 'p2pkh');
  const btc84 = accountSpec(NETWORKS['btc-main'], 'p2wpkh');
  const test44 = accountSpec(NETWORKS['btc-test'], 'p2pkh');
  const xpub = exportAccountXpub(seed, btc44);

  it('refuses an xpub of another network or purpose, naming what it is', () => {
    const e = expectHsmError(() => importAccountXpub(xpub, test44), 'XPUB_WRONG_NETWORK', 'xpub');
    expect(e.message).toContain('btc-main BIP44');
    expectHsmError(() => importAccountXpub(xpub, btc84), 'XPUB_WRONG_NETWORK');
    expectHsmError(() => importAccountXpub(exportAccountXpub(seed, accountSpec(NETWORKS['doge-main'], 'p2pkh')), btc44), 'XPUB_WRONG_NETWORK');
  });

  it('refuses private keys and keys that are not account keys', () => {
    const node = deriveAccountKey(seed, btc44);
    expectHsmError(() => importAccountXpub(node.privateExtendedKey, btc44), 'XPUB_IS_PRIVATE');
    expectHsmError(() => importAccountXpub(node.deriveChild(0).publicExtendedKey, btc44), 'XPUB_NOT_ACCOUNT');
    node.wipePrivateData();
  });

  it('refuses damaged strings', () => {
    expectHsmError(() => importAccountXpub(`${xpub.slice(0, -1)}A`, btc44), 'XKEY_CHECKSUM');
    expectHsmError(() => importAccountXpub('xpub', btc44), 'XKEY_CHECKSUM');
  });

  it('refuses bad chains, indexes and counts', () => {
    const account = importAccountXpub(xpub, btc44);
    expectHsmError(() => deriveAddresses(account, btc44, 2 as 0, 0, 1), 'BAD_CHAIN');
    expectHsmError(() => deriveAddresses(account, btc44, 0, -1, 1), 'BAD_INDEX');
    expectHsmError(() => deriveAddresses(account, btc44, 0, 2 ** 31, 1), 'BAD_INDEX');
    expectHsmError(() => deriveAddresses(account, btc44, 0, 2 ** 31 - 1, 2), 'BAD_COUNT');
    expectHsmError(() => accountSpec(NETWORKS['doge-main'], 'p2wpkh'), 'ADDRESS_WRONG_NETWORK');
    expectHsmError(() => accountSpec(NETWORKS['btc-main'], 'p2pkh', -1), 'BAD_ACCOUNT');
  });
});

describe('differential: our derivation agrees with bitcoinjs-lib + bip32 + tiny-secp256k1', () => {
  const variants: Array<[string, AddressType]> = [
    ['btc-main', 'p2pkh'],
    ['btc-main', 'p2wpkh'],
    ['btc-test', 'p2pkh'],
    ['btc-regtest', 'p2wpkh'],
    ['ltc-main', 'p2pkh'],
    ['ltc-main', 'p2wpkh'],
    ['doge-main', 'p2pkh'],
  ];
  const random = new SeededRandom('hd-oracle');
  let compared = 0;
  for (const [networkId, type] of variants) {
    it(`${networkId} ${type}: 300 indexes on both chains, spread over the index space`, () => {
      const network = getNetwork(networkId);
      const spec = accountSpec(network, type, random.int(3));
      const xpub = exportAccountXpub(seed, spec);
      const ours = importAccountXpub(xpub, spec);
      const theirs = oracleAccount(xpub, network, spec.purpose);
      for (const chain of [CHAIN.external, CHAIN.change]) {
        // A contiguous run near 0, plus runs at random points up to 2^31 - 1.
        const starts = [0, random.int(2 ** 31 - 100), random.int(1_000_000)];
        for (const start of starts) {
          const count = 50;
          expect(deriveAddresses(ours, spec, chain, start, count)).toEqual(oracleAddresses(theirs, network, spec.purpose, chain, start, count));
          compared += count;
        }
      }
    });
  }
  it('compared at least 2,000 indexes', () => {
    expect(compared).toBeGreaterThanOrEqual(2000);
  });
});
