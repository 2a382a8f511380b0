/**
 * Self-test pieces every firmware runs from `selftest`: known-answer tests of the crypto the
 * devices depend on, each vector with its source, and a durable round trip through the store.
 * Each check reports pass or fail with a short reason; none prints key material.
 * @module
 */
import { createHash, createHmac, scryptSync } from 'node:crypto';
import { z } from 'zod';
import { generateSync } from 'otplib';
import { bytesToHex } from '../crypto/hash.ts';
import { HDKey, mnemonicToSeed } from '../crypto/hd.ts';
import { signMessage, verifyMessageWithAddress } from '../crypto/message-signature.ts';
import { NETWORKS } from '../crypto/networks.ts';
import { secp } from '../crypto/secp.ts';
import { decodeWif } from '../crypto/wif.ts';
import type { RandomSource } from '../random.ts';
import { defineCollection } from '../store/collection.ts';
import type { DeviceStore } from '../store/store.ts';

export interface CheckResult {
  name: string;
  status: 'pass' | 'fail' | 'skip';
  detail: string;
}

export const CONSOLE_SELFTEST = defineCollection('console.selftest', z.strictObject({ value: z.string().regex(/^[0-9a-f]{32}$/), at: z.number() }));

interface KnownAnswer {
  name: string;
  /** Where the vector comes from. */
  source: string;
  compute(): string;
  expected: string;
}

const KNOWN_ANSWERS: readonly KnownAnswer[] = [
  {
    name: 'SHA-256 "abc"',
    source: 'FIPS 180-2, appendix B.1',
    compute: () => createHash('sha256').update('abc').digest('hex'),
    expected: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
  },
  {
    name: 'HMAC-SHA256',
    source: 'RFC 4231, test case 2',
    compute: () => createHmac('sha256', 'Jefe').update('what do ya want for nothing?').digest('hex'),
    expected: '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
  },
  {
    name: 'scrypt',
    source: 'RFC 7914 §12, first vector (cheap: the event loop is not held up)',
    compute: () => scryptSync('', '', 64, { N: 16, r: 1, p: 1 }).toString('hex'),
    expected: '77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906',
  },
  {
    name: 'TOTP',
    source: 'RFC 6238, appendix B (SHA-1, T = 59 s)',
    compute: () => generateSync({ secret: new TextEncoder().encode('12345678901234567890'), epoch: 59, digits: 8 }),
    expected: '94287082',
  },
  {
    name: 'secp256k1 G',
    source: 'SEC 2 v2, §2.4.1 (public key of the private key 1)',
    compute: () => bytesToHex(secp.getPublicKey(Uint8Array.from({ length: 32 }, (_, i) => (i === 31 ? 1 : 0)), true)),
    expected: '0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798',
  },
  {
    name: 'BIP39 seed',
    source: 'trezor/python-mnemonic vectors.json, vector 1 (passphrase TREZOR)',
    compute: () => bytesToHex(mnemonicToSeed('abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about', 'TREZOR')),
    expected: 'c55257c360c07c72029aebc1b53c05ed0362ada38ead3e3e9efa3708e53495531f09a6987599d18264c1e1c92f2cf141630c7a3c4ab7c81b2f001698e7463b04',
  },
  {
    name: 'BIP32 m/0h/1',
    source: 'BIP-0032 test vector 1',
    compute: () => {
      const master = HDKey.fromMasterSeed(Uint8Array.from({ length: 16 }, (_, i) => i));
      const node = master.derive("m/0'/1");
      const xpub = node.publicExtendedKey;
      node.wipePrivateData();
      master.wipePrivateData();
      return xpub;
    },
    expected: 'xpub6ASuArnXKPbfEwhqN6e3mwBcDTgzisQN1wXN9BJcM47sSikHjJf3UFHKkNAWbWMiGj7Wf5uMash7SyYq527Hqck2AxYysAA7xmALppuCkwQ',
  },
  {
    name: 'BIP-137 signature',
    source: 'bitcoinjs-message README (RFC 6979 nonce)',
    compute: () => {
      const key = decodeWif('L4rK1yDtCWekvXuE6oXD9jCYfFNV2cWRpVuPLBcCU2z8TrisoyY1').privateKey;
      const signature = signMessage('This is an example of a signed message.', key);
      key.fill(0);
      const verified = verifyMessageWithAddress('This is an example of a signed message.', signature, '1F3sAm6ZtwLAUnj7d38pGFxtP3RVEvtsbV', NETWORKS['btc-main']);
      return verified ? signature : 'does not verify';
    },
    expected: 'H9L5yLFjti0QTHhPyFrZCT1V/MMnBtXKmoiKDZ78NDBjERki6ZTQZdSMCtkgoNmp17By9ItJr8o7ChX0XxY91nk=',
  },
];

/** Runs every known-answer test. */
export function cryptoSelfTest(): CheckResult[] {
  return KNOWN_ANSWERS.map((vector) => {
    try {
      const ok = vector.compute() === vector.expected;
      return { name: vector.name, status: ok ? 'pass' : 'fail', detail: ok ? vector.source : `wrong answer (${vector.source})` };
    } catch (error) {
      return { name: vector.name, status: 'fail', detail: `failed: ${(error as Error).name}` };
    }
  });
}

/** Writes a random value durably, reads it back, and deletes it. */
export function storeSelfTest(store: DeviceStore, random: RandomSource, now: number): CheckResult {
  const value = bytesToHex(random.bytes(16));
  try {
    store.transact((tx) => tx.put(CONSOLE_SELFTEST, 'probe', { value, at: now }));
    const read = store.get(CONSOLE_SELFTEST, 'probe');
    store.transact((tx) => tx.del(CONSOLE_SELFTEST, 'probe'));
    const gone = !store.has(CONSOLE_SELFTEST, 'probe');
    const ok = read?.value === value && gone;
    return { name: 'store round trip', status: ok ? 'pass' : 'fail', detail: ok ? 'write, read back, delete' : 'read back a different value' };
  } catch (error) {
    return { name: 'store round trip', status: 'fail', detail: `failed: ${(error as { code?: string }).code ?? (error as Error).name}` };
  }
}
