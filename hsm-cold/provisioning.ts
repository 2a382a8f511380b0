/**
 * Provisioning HSM-Cold: the PIN that seals its secrets, the cold BIP39 mnemonic (new, or
 * restored), the identity key, and the configuration, written in one transaction with an audit
 * entry. A new mnemonic is returned once, for the operator to write down; the device keeps only
 * the seed (sealed) and the account xpubs, never the words.
 * @module
 */
import { accountSpec, exportAccountXpub, generateMnemonic, mnemonicToSeed, validateMnemonic, type MnemonicWordCount } from '../shared/crypto/hd.ts';
import { getNetwork, type Coin } from '../shared/crypto/networks.ts';
import { HsmError } from '../shared/errors.ts';
import type { AccountXpub } from '../shared/link/messages.ts';
import type { RandomSource } from '../shared/random.ts';
import { createIdentity } from '../shared/store/identity.ts';
import type { DeviceStore } from '../shared/store/store.ts';
import type { KdfCost, Vault } from '../shared/store/vault.ts';
import { parseColdConfig, type ColdConfig } from './config.ts';
import { COLD_RECORDS, COLD_SEED_SECRET, SINGLETON } from './records.ts';

export interface ColdProvisioning {
  pin: string;
  /** Restore from these words; when absent a new mnemonic is generated. */
  mnemonic?: string;
  words?: MnemonicWordCount;
  config: unknown;
  maxPinAttempts?: number;
  kdf?: KdfCost;
}

export interface ColdProvisioned {
  /** Only when generated: shown once, never stored. */
  mnemonic?: string;
  identity: string;
  coldAccounts: AccountXpub[];
  config: ColdConfig;
}

export function isProvisioned(store: DeviceStore): boolean {
  return store.get(COLD_RECORDS.device, SINGLETON) !== undefined;
}

export function coldAccountsFor(seed: Uint8Array, config: ColdConfig): AccountXpub[] {
  return (Object.entries(config.coins) as Array<[Coin, ColdConfig['coins'][Coin]]>).map(([coin, c]) => {
    const spec = accountSpec(getNetwork(c!.network), c!.addressType, c!.account);
    return { coin, network: c!.network, type: c!.addressType, account: c!.account, xpub: exportAccountXpub(seed, spec) };
  });
}

export function provisionCold(store: DeviceStore, vault: Vault, random: RandomSource, now: number, input: ColdProvisioning): ColdProvisioned {
  if (isProvisioned(store)) throw new HsmError('ALREADY_PROVISIONED', 'HSM-Cold is already provisioned; zeroize it first');
  const config = parseColdConfig(input.config);
  const generated = input.mnemonic === undefined;
  const mnemonic = generated ? generateMnemonic(random, input.words ?? 24) : validateMnemonic(input.mnemonic as string);
  const seed = mnemonicToSeed(mnemonic);
  try {
    const coldAccounts = coldAccountsFor(seed, config);
    const identity = store.transact((tx) => {
      vault.initialise(input.pin, { maxAttempts: input.maxPinAttempts, kdf: input.kdf }, tx);
      vault.putSecret(tx, COLD_SEED_SECRET, seed);
      const publicKey = createIdentity(tx, vault, random, now);
      tx.put(COLD_RECORDS.config, SINGLETON, config);
      tx.put(COLD_RECORDS.device, SINGLETON, { provisionedAt: now, coldAccounts, hadChannel: false });
      tx.audit('cold.provisioned', { restored: !generated, coins: coldAccounts.map((a) => a.coin).join(','), identity: publicKey });
      return publicKey;
    });
    return { ...(generated ? { mnemonic } : {}), identity, coldAccounts, config };
  } finally {
    seed.fill(0);
  }
}

export function loadColdConfig(store: DeviceStore): ColdConfig {
  const config = store.get(COLD_RECORDS.config, SINGLETON);
  if (config === undefined) throw new HsmError('NOT_PROVISIONED', 'HSM-Cold is not provisioned');
  return config;
}
