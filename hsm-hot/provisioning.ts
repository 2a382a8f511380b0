/**
 * Provisioning HSM-Hot, once: the PIN and vault, the hot BIP39 seed (generated or restored),
 * the identity key, the account xpubs, the platform's keys with their scopes; then pairing
 * with HSM-Cold (a pairing file in the simulated rig, or the interactive exchange with a
 * six-digit code both operators compare). The account xpubs are exchanged over the link once
 * it runs (cold-link.ts), so provisioning never waits for HSM-Cold to be up.
 *
 * Everything but pairing is one store transaction: it happens entirely or not at all. All
 * input is checked before anything is written.
 * @module
 */
import type { Clock } from '../shared/clock.ts';
import { HsmError } from '../shared/errors.ts';
import { generateMnemonic, mnemonicToSeed, validateMnemonic, type MnemonicWordCount } from '../shared/crypto/hd.ts';
import { importPairingFile, pairingRecord, runPairingExchange, type PairingFile, type PairingRecord } from '../shared/link/pairing.ts';
import type { Port } from '../shared/port.ts';
import type { RandomSource } from '../shared/random.ts';
import { createIdentity, identityPublicKey, identitySigner } from '../shared/store/identity.ts';
import type { DeviceStore } from '../shared/store/store.ts';
import { checkPinFormat, type KdfCost, type Vault } from '../shared/store/vault.ts';
import { HOT_SEED_SECRET, deriveHotAccounts, storeHotAccounts } from './accounts.ts';
import { checkKeyFormat, platformKeySchema, registerKeys, type PlatformKey } from './api-keys.ts';
import type { HotConfig } from './config.ts';

export type MnemonicInput = { restore: string; passphrase?: string } | { generate: MnemonicWordCount; passphrase?: string };

export type PairingInput =
  | {
      method: 'file';
      /** The pairing file, or a function that makes it once HSM-Hot's identity key exists. */
      file: PairingFile | ((hotIdentity: string) => PairingFile | Promise<PairingFile>);
    }
  | {
      method: 'code';
      /** Shows the code to the operator; resolves true once both operators confirmed it matches. */
      confirm(code: string, peerIdentity: string): boolean | Promise<boolean>;
      timeoutMs?: number;
    };

export interface ProvisioningInput {
  pin: string;
  mnemonic: MnemonicInput;
  platformKeys: PlatformKey[];
  pairing: PairingInput;
}

export interface ProvisioningContext {
  store: DeviceStore;
  vault: Vault;
  random: RandomSource;
  clock: Clock;
  config: HotConfig;
  kdf?: KdfCost;
}

export interface ProvisionedKeys {
  identity: string;
  /** The new mnemonic when one was generated: shown once to the operator, never stored in the clear. */
  generatedMnemonic?: string;
}

function checkPlatformKeys(keys: readonly PlatformKey[]): void {
  if (keys.length === 0) throw new HsmError('PLATFORM_KEY_INVALID', 'register at least one platform key', { field: 'platformKeys' });
  for (const [i, entry] of keys.entries()) {
    if (!platformKeySchema.safeParse(entry).success) {
      throw new HsmError('PLATFORM_KEY_INVALID', `platform key ${i} needs a key and at least one known scope`, { field: `platformKeys[${i}]` });
    }
    checkKeyFormat(entry.key, `platformKeys[${i}].key`);
  }
}

/** Creates the vault, seed, identity, accounts and platform keys in one transaction. */
export function provisionKeys(ctx: ProvisioningContext, input: Omit<ProvisioningInput, 'pairing'>): ProvisionedKeys {
  const { store, vault, random, clock, config } = ctx;
  // A zeroized device: the vault is erased and the identity record gone (main.ts, zeroize).
  const zeroized = vault.state === 'erased' && identityPublicKey(store) === undefined;
  if (vault.state !== 'uninitialised' && !zeroized) {
    throw new HsmError('ALREADY_PROVISIONED', 'the device is provisioned; zeroize it before provisioning again');
  }
  checkPinFormat(input.pin);
  checkPlatformKeys(input.platformKeys);
  const generated = 'generate' in input.mnemonic ? generateMnemonic(random, input.mnemonic.generate) : undefined;
  const mnemonic = validateMnemonic('restore' in input.mnemonic ? input.mnemonic.restore : (generated as string));
  const seed = mnemonicToSeed(mnemonic, input.mnemonic.passphrase ?? '');
  try {
    const accounts = deriveHotAccounts(seed, config.coins);
    const identity = store.transact((tx) => {
      vault.initialise(input.pin, ctx.kdf === undefined ? {} : { kdf: ctx.kdf }, tx);
      vault.putSecret(tx, HOT_SEED_SECRET, seed);
      const publicKey = createIdentity(tx, vault, random, clock.now());
      storeHotAccounts(tx, accounts);
      registerKeys(tx, input.platformKeys, clock.now());
      tx.audit('hot.provisioned', {
        source: generated === undefined ? 'restored' : 'generated',
        accounts: accounts.length,
        platformKeys: input.platformKeys.length,
      });
      return publicKey;
    });
    return generated === undefined ? { identity } : { identity, generatedMnemonic: generated };
  } finally {
    seed.fill(0);
  }
}

export interface PairingContext {
  store: DeviceStore;
  vault: Vault;
  random: RandomSource;
  clock: Clock;
  identity: string;
  /** Opens the link port for the interactive exchange; it is closed afterwards. */
  openPort(): Port | Promise<Port>;
}

/** Pairs with HSM-Cold (the vault must be unlocked). */
export async function pairWithCold(ctx: PairingContext, input: PairingInput): Promise<PairingRecord> {
  const { store, vault, clock } = ctx;
  if (pairingRecord(store) !== undefined) throw new HsmError('ALREADY_PAIRED', 'the device is already paired with its HSM-Cold');
  if (input.method === 'file') {
    const file = typeof input.file === 'function' ? await input.file(ctx.identity) : input.file;
    return importPairingFile(store, vault, 'hot', file, clock.now());
  }
  const port = await ctx.openPort();
  try {
    const signer = identitySigner(store, vault);
    const outcome = await runPairingExchange({
      port,
      clock,
      random: ctx.random,
      role: 'hot',
      store,
      vault,
      signDigest: (digest) => signer.signDigest(digest),
      ...(input.timeoutMs === undefined ? {} : { timeoutMs: input.timeoutMs }),
    });
    if (!(await input.confirm(outcome.code, outcome.peerIdentity))) {
      throw new HsmError('PAIR_REJECTED', 'the operator did not confirm the pairing code; nothing was stored');
    }
    return outcome.confirm();
  } finally {
    await port.close();
  }
}
