/**
 * HD keys: BIP39 mnemonics and seeds (@scure/bip39), BIP32 derivation (@scure/bip32), BIP44 /
 * BIP84 account paths, and account extended public keys with a wrong-network check.
 *
 * Account path: m / purpose' / coin_type' / account' [BIP44, BIP84]; below it, chain 0 is the
 * external (receiving) chain and chain 1 the change chain, then the address index.
 * @module
 */
import { HDKey, HARDENED_OFFSET } from '@scure/bip32';
import * as bip39 from '@scure/bip39';
import { wordlist as english } from '@scure/bip39/wordlists/english.js';
import { HsmError } from '../errors.ts';
import type { RandomSource } from '../random.ts';
import { base58check, p2pkhAddress, p2wpkhAddress } from './address.ts';
import { NETWORKS, purposeOf, type AddressType, type NetworkParams, type Purpose } from './networks.ts';
import { secp } from './secp.ts';

export { HDKey };

/** Address chains under an account [BIP44 "change"]. */
export const CHAIN = { external: 0, change: 1 } as const;
export type Chain = (typeof CHAIN)[keyof typeof CHAIN];

export const MNEMONIC_WORD_COUNTS = [12, 15, 18, 21, 24] as const;
export type MnemonicWordCount = (typeof MNEMONIC_WORD_COUNTS)[number];

const englishIndex = new Map(english.map((word, i) => [word, i]));

/** A new English mnemonic of `words` words from `random` (128..256 bits of entropy). */
export function generateMnemonic(random: RandomSource, words: MnemonicWordCount = 24): string {
  if (!MNEMONIC_WORD_COUNTS.includes(words)) {
    throw new HsmError('MNEMONIC_WORD_COUNT', `a mnemonic has 12, 15, 18, 21 or 24 words, not ${words}`, { field: 'words' });
  }
  return bip39.entropyToMnemonic(random.bytes((words / 3) * 4), english);
}

/**
 * Checks an English mnemonic and returns it normalised (NFKD, lower case, single spaces).
 * Errors name the word count, the first word outside the wordlist (by position), or the
 * checksum.
 */
export function validateMnemonic(mnemonic: string): string {
  const words = mnemonic.normalize('NFKD').trim().toLowerCase().split(/\s+/).filter((w) => w.length > 0);
  if (!(MNEMONIC_WORD_COUNTS as readonly number[]).includes(words.length)) {
    throw new HsmError('MNEMONIC_WORD_COUNT', `a mnemonic has 12, 15, 18, 21 or 24 words; this one has ${words.length}`, {
      field: 'mnemonic',
    });
  }
  for (const [i, word] of words.entries()) {
    if (!englishIndex.has(word)) {
      const hint = suggest(word);
      throw new HsmError(
        'MNEMONIC_UNKNOWN_WORD',
        `word ${i + 1} ("${word}") is not in the BIP39 English wordlist${hint === undefined ? '' : `; did you mean "${hint}"?`}`,
        { field: `word ${i + 1}` },
      );
    }
  }
  const normalized = words.join(' ');
  if (!bip39.validateMnemonic(normalized, english)) {
    throw new HsmError('MNEMONIC_CHECKSUM', 'the mnemonic checksum does not match: a word is wrong or two words are swapped', {
      field: 'mnemonic',
    });
  }
  return normalized;
}

/** The unique wordlist entry sharing the first four letters (BIP39 words are unique in four). */
function suggest(word: string): string | undefined {
  if (word.length < 3) return undefined;
  const matches = english.filter((w) => w.startsWith(word.slice(0, 4)));
  return matches.length === 1 ? matches[0] : undefined;
}

/** BIP39 seed (PBKDF2-HMAC-SHA512, 2048 rounds, salt "mnemonic" ‖ passphrase). */
export function mnemonicToSeed(mnemonic: string, passphrase = ''): Uint8Array {
  return bip39.mnemonicToSeedSync(validateMnemonic(mnemonic), passphrase.normalize('NFKD'));
}

export interface AccountSpec {
  network: NetworkParams;
  purpose: Purpose;
  account: number;
}

export function accountSpec(network: NetworkParams, type: AddressType = 'p2pkh', account = 0): AccountSpec {
  if (!Number.isInteger(account) || account < 0 || account >= HARDENED_OFFSET) {
    throw new HsmError('BAD_ACCOUNT', `account must be an integer in 0..2^31-1, got ${account}`, { field: 'account' });
  }
  const purpose = purposeOf(type);
  if (network.extendedKeyVersions[purpose] === undefined) {
    throw new HsmError('ADDRESS_WRONG_NETWORK', `${network.coin} has no ${type.toUpperCase()} addresses`, { field: 'type' });
  }
  return { network, purpose, account };
}

export function accountPath(spec: AccountSpec): string {
  return `m/${spec.purpose}'/${spec.network.coinType}'/${spec.account}'`;
}

export function addressTypeOf(spec: AccountSpec): AddressType {
  return spec.purpose === 44 ? 'p2pkh' : 'p2wpkh';
}

function versionsOf(spec: AccountSpec): { public: number; private: number } {
  const versions = spec.network.extendedKeyVersions[spec.purpose];
  if (versions === undefined) throw new HsmError('ADDRESS_WRONG_NETWORK', `${spec.network.id} has no BIP${spec.purpose} accounts`);
  return versions;
}

/** The account's private node. The caller owns it and must `wipePrivateData()` when done. */
export function deriveAccountKey(seed: Uint8Array, spec: AccountSpec): HDKey {
  const master = HDKey.fromMasterSeed(seed, versionsOf(spec));
  try {
    return master.derive(accountPath(spec));
  } finally {
    master.wipePrivateData();
  }
}

/** The account xpub / tpub / zpub / Ltub / dgub string for `spec`. */
export function exportAccountXpub(seed: Uint8Array, spec: AccountSpec): string {
  const account = deriveAccountKey(seed, spec);
  try {
    return account.publicExtendedKey;
  } finally {
    account.wipePrivateData();
  }
}

export interface ExtendedKeyInfo {
  version: number;
  depth: number;
  parentFingerprint: number;
  childNumber: number;
  chainCode: Uint8Array;
  /** 33 bytes: 0x00 ‖ private key, or a compressed public key. */
  key: Uint8Array;
  isPrivate: boolean;
}

const knownVersions = new Map<number, boolean>(); // version → is private
for (const n of Object.values(NETWORKS)) {
  for (const v of Object.values(n.extendedKeyVersions)) {
    knownVersions.set(v.public, false);
    knownVersions.set(v.private, true);
  }
}

/**
 * Decodes and fully checks a serialized extended key [BIP32 "Serialization format"]:
 *   version(4) ‖ depth(1) ‖ parent fingerprint(4) ‖ child number(4) ‖ chain code(32) ‖ key(33)
 * Errors name the first problem: checksum, length, version, depth/fingerprint/index
 * consistency, key prefix, or a key that is not on the curve or not in 1..n-1.
 */
export function decodeExtendedKey(text: string, field = 'extended key'): ExtendedKeyInfo {
  let payload: Uint8Array;
  try {
    payload = base58check.decode(text.trim());
  } catch (cause) {
    throw new HsmError('XKEY_CHECKSUM', `${field} is not valid base58check (a character is wrong or missing)`, { field, cause });
  }
  if (payload.length !== 78) {
    throw new HsmError('XKEY_LENGTH', `${field} decodes to ${payload.length} bytes, an extended key has 78`, { field });
  }
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const version = view.getUint32(0);
  const isPrivate = knownVersions.get(version);
  if (isPrivate === undefined) {
    throw new HsmError('XKEY_VERSION', `${field} has unknown version 0x${hex32(version)}`, { field });
  }
  const depth = payload[4] ?? 0;
  const parentFingerprint = view.getUint32(5);
  const childNumber = view.getUint32(9);
  if (depth === 0 && parentFingerprint !== 0) {
    throw new HsmError('XKEY_DEPTH', `${field} has depth 0 but a non-zero parent fingerprint`, { field });
  }
  if (depth === 0 && childNumber !== 0) {
    throw new HsmError('XKEY_DEPTH', `${field} has depth 0 but a non-zero child index`, { field });
  }
  const chainCode = payload.slice(13, 45);
  const key = payload.slice(45, 78);
  const prefix = key[0] ?? -1;
  if (isPrivate) {
    if (prefix !== 0x00) {
      throw new HsmError('XKEY_KEY', `${field} has a private-key version but its key starts with 0x${prefix.toString(16).padStart(2, '0')}, not 0x00`, { field });
    }
    if (!secp.utils.isValidSecretKey(key.subarray(1))) {
      throw new HsmError('XKEY_KEY', `${field} holds a private key outside 1..n-1`, { field });
    }
  } else {
    if (prefix !== 0x02 && prefix !== 0x03) {
      throw new HsmError('XKEY_KEY', `${field} has a public-key version but its key starts with 0x${prefix.toString(16).padStart(2, '0')}, not 0x02/0x03`, { field });
    }
    if (!secp.utils.isValidPublicKey(key, true)) {
      throw new HsmError('XKEY_KEY', `${field} holds a public key that is not on the curve`, { field });
    }
  }
  return { version, depth, parentFingerprint, childNumber, chainCode, key, isPrivate };
}

/**
 * Parses an account extended public key for `spec`. Refuses private keys, keys of another
 * network or purpose (naming what they are), and keys that are not at account depth.
 */
export function importAccountXpub(text: string, spec: AccountSpec, field = 'xpub'): HDKey {
  const info = decodeExtendedKey(text, field);
  if (info.isPrivate) {
    throw new HsmError('XPUB_IS_PRIVATE', `${field} is a private extended key; only public keys are accepted`, { field });
  }
  const expected = versionsOf(spec);
  if (info.version !== expected.public) {
    throw new HsmError(
      'XPUB_WRONG_NETWORK',
      `${field} is ${describeVersion(info.version)}, expected an account key for ${spec.network.id} BIP${spec.purpose}`,
      { field },
    );
  }
  if (info.depth !== 3 || info.childNumber < HARDENED_OFFSET) {
    throw new HsmError('XPUB_NOT_ACCOUNT', `${field} is at depth ${info.depth}, not an account key (depth 3, hardened index)`, { field });
  }
  return HDKey.fromExtendedKey(text.trim(), expected);
}

function describeVersion(version: number): string {
  const owners: string[] = [];
  for (const n of Object.values(NETWORKS)) {
    for (const [purpose, v] of Object.entries(n.extendedKeyVersions)) {
      if (v.public === version) owners.push(`${n.id} BIP${purpose}`);
    }
  }
  return `a public key of ${owners.join(' / ')}`;
}

function hex32(n: number): string {
  return n.toString(16).padStart(8, '0');
}

export function checkIndex(index: number, field = 'index'): void {
  if (!Number.isInteger(index) || index < 0 || index >= HARDENED_OFFSET) {
    throw new HsmError('BAD_INDEX', `${field} must be a non-hardened index in 0..2^31-1, got ${index}`, { field });
  }
}

export function checkChain(chain: number): asserts chain is Chain {
  if (chain !== CHAIN.external && chain !== CHAIN.change) {
    throw new HsmError('BAD_CHAIN', `chain must be 0 (external) or 1 (change), got ${chain}`, { field: 'chain' });
  }
}

/** `count` indexes from `from` stay non-hardened (below 2^31). */
export function checkCount(from: number, count: number): void {
  if (!Number.isInteger(count) || count < 0 || from + count > HARDENED_OFFSET) {
    throw new HsmError('BAD_COUNT', `count must be a non-negative integer that keeps indexes below 2^31, got ${count}`, {
      field: 'count',
    });
  }
}

/**
 * Chain nodes (`account / chain`) of public-only account keys, kept while the account node
 * lives: deriving one costs a point multiplication, and a signer checks the same two chains for
 * every input and change output. Nodes holding a private key are never kept.
 */
const publicChainNodes = new WeakMap<HDKey, Map<number, HDKey>>();

function chainNode(account: HDKey, chain: Chain): HDKey {
  if (account.privateKey !== null) return account.deriveChild(chain);
  let byChain = publicChainNodes.get(account);
  if (byChain === undefined) {
    byChain = new Map();
    publicChainNodes.set(account, byChain);
  }
  let node = byChain.get(chain);
  if (node === undefined) {
    node = account.deriveChild(chain);
    byChain.set(chain, node);
  }
  return node;
}

/** Public key of `account / chain / index` (compressed, 33 bytes). */
export function derivePublicKey(account: HDKey, chain: Chain, index: number): Uint8Array {
  checkChain(chain);
  checkIndex(index);
  const key = chainNode(account, chain).deriveChild(index).publicKey;
  if (key === null) throw new Error('invariant failed: derived node without public key');
  return key;
}

export function addressForPublicKey(publicKey: Uint8Array, network: NetworkParams, type: AddressType): string {
  return type === 'p2pkh' ? p2pkhAddress(publicKey, network) : p2wpkhAddress(publicKey, network);
}

/**
 * `count` consecutive addresses of one chain, child by child. The reference implementation;
 * bulk batches use `deriveAddressBatch` (batch-derivation.ts), which gives the same addresses.
 */
export function deriveAddresses(account: HDKey, spec: AccountSpec, chain: Chain, from: number, count: number): string[] {
  checkChain(chain);
  checkIndex(from, 'from');
  checkCount(from, count);
  const chainNode = account.deriveChild(chain);
  const type = addressTypeOf(spec);
  const out: string[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const key = chainNode.deriveChild(from + i).publicKey;
    if (key === null) throw new Error('invariant failed: derived node without public key');
    out[i] = addressForPublicKey(key, spec.network, type);
  }
  return out;
}
