/**
 * The hot wallet's accounts: one BIP44 (P2PKH) or BIP84 (P2WPKH) account per configured coin
 * and address type, derived from the hot seed at provisioning. Their xpubs and the seed's
 * master fingerprint are kept in the clear (`hot.accounts`), so addresses and ownership checks
 * never touch the seed; only signing does, through `SeedKeys`.
 *
 * HSM-Cold's account xpubs, received at pairing (`cold.pin-xpubs`), are kept beside them
 * (`hot.cold-accounts`) for the Cold Receiving address batches.
 * @module
 */
import { HDKey } from '@scure/bip32';
import { z } from 'zod';
import { HsmError } from '../shared/errors.ts';
import {
  accountPath,
  accountSpec,
  deriveAccountKey,
  exportAccountXpub,
  importAccountXpub,
  type AccountSpec,
} from '../shared/crypto/hd.ts';
import { getNetwork, type AddressType, type Coin, type NetworkParams } from '../shared/crypto/networks.ts';
import { accountXpubSchema, type AccountXpub } from '../shared/link/messages.ts';
import { defineCollection } from '../shared/store/collection.ts';
import type { ReadView, WriteTx } from '../shared/store/store.ts';
import type { Vault } from '../shared/store/vault.ts';
import type { CoinConfig } from './config.ts';

export const HOT_SEED_SECRET = 'hot.seed';

const hotAccountSchema = accountXpubSchema.extend({
  /** First 4 bytes of HASH160 of the master public key [BIP32 "Key identifiers"], as u32. */
  masterFingerprint: z.number().int().min(0).max(0xffffffff),
});
export type HotAccountRecord = z.infer<typeof hotAccountSchema>;

export const hotAccountsCollection = defineCollection('hot.accounts', hotAccountSchema);
export const coldAccountsCollection = defineCollection('hot.cold-accounts', accountXpubSchema);

export function accountKey(coin: Coin, type: AddressType): string {
  return `${coin}/${type}`;
}

/** The account records for `coins`, derived from `seed` (provisioning). */
export function deriveHotAccounts(seed: Uint8Array, coins: readonly CoinConfig[]): HotAccountRecord[] {
  const master = HDKey.fromMasterSeed(seed);
  const masterFingerprint = master.fingerprint;
  master.wipePrivateData();
  const records: HotAccountRecord[] = [];
  for (const coin of coins) {
    const network = getNetwork(coin.network);
    for (const type of coin.types) {
      const spec = accountSpec(network, type, coin.account);
      records.push({ coin: coin.coin, network: coin.network, type, account: coin.account, xpub: exportAccountXpub(seed, spec), masterFingerprint });
    }
  }
  return records;
}

export function storeHotAccounts(tx: WriteTx, records: readonly HotAccountRecord[]): void {
  for (const record of records) tx.put(hotAccountsCollection, accountKey(record.coin, record.type), record);
}

export function storeColdAccounts(tx: WriteTx, records: readonly AccountXpub[]): void {
  for (const { key } of [...tx.range(coldAccountsCollection)]) tx.del(coldAccountsCollection, key);
  for (const record of records) tx.put(coldAccountsCollection, accountKey(record.coin, record.type), record);
}

/** An account ready for derivation: its spec and public node. */
export interface Account {
  record: AccountXpub;
  spec: AccountSpec;
  network: NetworkParams;
  type: AddressType;
  node: HDKey;
  /** `m/purpose'/coin'/account'` as BIP32 child numbers (hardened ones with the high bit). */
  path: number[];
  masterFingerprint: number | undefined;
}

export function loadAccount(record: AccountXpub & { masterFingerprint?: number }): Account {
  const network = getNetwork(record.network);
  const spec = accountSpec(network, record.type, record.account);
  return {
    record,
    spec,
    network,
    type: record.type,
    node: importAccountXpub(record.xpub, spec),
    path: [spec.purpose, network.coinType, spec.account].map((n) => (n | 0x80000000) >>> 0),
    masterFingerprint: record.masterFingerprint,
  };
}

/** Public views of the stored accounts, cached per store read. */
export class AccountBook {
  private readonly hot = new Map<string, Account>();
  private readonly cold = new Map<string, Account>();

  constructor(private readonly view: ReadView) {
    for (const { value } of view.range(hotAccountsCollection)) this.hot.set(accountKey(value.coin, value.type), loadAccount(value));
  }

  hotAccounts(): Account[] {
    return [...this.hot.values()];
  }

  hotAccountsOf(coin: Coin): Account[] {
    return this.hotAccounts().filter((a) => a.record.coin === coin);
  }

  /** The hot account of `coin` and `type`; throws ACCOUNT_UNKNOWN naming the field. */
  hotAccount(coin: Coin, type: AddressType): Account {
    const account = this.hot.get(accountKey(coin, type));
    if (account === undefined) {
      throw new HsmError('ACCOUNT_UNKNOWN', `this device has no ${coin} ${type} account`, { field: 'address_type' });
    }
    return account;
  }

  coldAccounts(): AccountXpub[] {
    return [...this.view.range(coldAccountsCollection)].map((e) => e.value);
  }

  coldAccount(coin: Coin, type: AddressType | undefined): Account {
    const records = this.coldAccounts().filter((r) => r.coin === coin && (type === undefined || r.type === type));
    if (this.coldAccounts().length === 0) {
      throw new HsmError('COLD_XPUBS_UNKNOWN', "HSM-Cold's account keys have not arrived yet (pairing is still exchanging them)", {
        field: 'wallet',
      });
    }
    const record = records[0];
    if (record === undefined) {
      throw new HsmError('ACCOUNT_UNKNOWN', `HSM-Cold has no ${coin}${type === undefined ? '' : ` ${type}`} account`, { field: 'address_type' });
    }
    const key = accountKey(record.coin, record.type);
    let account = this.cold.get(key);
    if (account === undefined || account.record.xpub !== record.xpub) {
      account = loadAccount(record);
      this.cold.set(key, account);
    }
    return account;
  }
}

/** Private keys from the vault's hot seed, for the signer; each is the caller's to zeroise. */
export interface KeySource {
  /** Private key of `account / chain / index`. */
  privateKey(spec: AccountSpec, chain: number, index: number): Uint8Array;
}

/** A key source over `seed` (the caller keeps and zeroises the seed); `wipe()` forgets derived nodes. */
export function seedKeySource(seed: Uint8Array): KeySource & { wipe(): void } {
  const accounts = new Map<string, HDKey>();
  return {
    privateKey(spec, chain, index) {
      const path = accountPath(spec);
      let node = accounts.get(path);
      if (node === undefined) {
        node = deriveAccountKey(seed, spec);
        accounts.set(path, node);
      }
      const child = node.deriveChild(chain).deriveChild(index);
      const key = child.privateKey;
      if (key === null) throw new Error('invariant failed: a private node without a private key');
      const copy = Uint8Array.from(key);
      child.wipePrivateData();
      return copy;
    },
    wipe() {
      for (const node of accounts.values()) node.wipePrivateData();
      accounts.clear();
    },
  };
}

/** Runs `fn` with a key source over the vault's hot seed, which is zeroised afterwards. */
export function withSeedKeys<T>(vault: Vault, fn: (keys: KeySource) => T): T {
  const seed = vault.getSecret(HOT_SEED_SECRET);
  const keys = seedKeySource(seed);
  try {
    return fn(keys);
  } finally {
    keys.wipe();
    seed.fill(0);
  }
}

/** A BIP32 fingerprint as PSBT tools print it (8 hex digits). */
export function fingerprintHex(value: number | undefined): string | null {
  return value === undefined ? null : value.toString(16).padStart(8, '0');
}
