/**
 * Secrets at rest (DESIGN.md, rule 7): seeds, channel private keys, the identity key.
 *
 *   KEK      = scrypt(NFKD(PIN), salt(16), N, r, p, 32)          header.kdf
 *   data key = 32 random bytes, sealed under the KEK              header.wrappedDataKey
 *   secret   = AES-256-GCM(data key, iv(12), value, AAD = "hsm-vault/secret/v1:" ‖ name)
 *
 * The data key lives in memory only while the vault is unlocked. Changing the PIN re-wraps the
 * data key; the secrets are untouched. Each unlock attempt is counted durably *before* the PIN
 * is checked, so killing the process after a wrong guess does not reset the count; after
 * `maxAttempts` consecutive wrong PINs the wrapped data key and every secret are erased.
 *
 * Erasure deletes the records; LMDB does not zero freed pages, and flash storage keeps old
 * blocks, so on hardware without a secure element erasure is best effort against an attacker
 * who copied the card beforehand. The PIN-derived key only slows an offline guess.
 * @module
 */
import { createCipheriv, createDecipheriv, scryptSync } from 'node:crypto';
import { HsmError } from '../errors.ts';
import type { RandomSource } from '../random.ts';
import type { DeviceStore, WriteTx } from './store.ts';
import { META_KEYS, SYSTEM_COLLECTIONS } from './system-collections.ts';
import type { z } from 'zod';
import type { sealedSchema, vaultHeaderSchema } from './system-collections.ts';

type Sealed = z.infer<typeof sealedSchema>;
type VaultHeader = z.infer<typeof vaultHeaderSchema>;

export interface KdfCost {
  N: number;
  r: number;
  p: number;
}

/** About 100 ms on a desktop core and 1-2 s on a Pi Zero 2 W; 32 MiB of memory. */
export const DEFAULT_KDF_COST: KdfCost = { N: 2 ** 15, r: 8, p: 1 };
export const DEFAULT_MAX_PIN_ATTEMPTS = 10;
const MIN_PIN_LENGTH = 4;
const MAX_PIN_LENGTH = 64;
const DATA_KEY_AAD = Buffer.from('hsm-vault/data-key/v1');

export type VaultState = 'uninitialised' | 'locked' | 'unlocked' | 'erased';

export function checkPinFormat(pin: string, field = 'pin'): void {
  if (pin.length < MIN_PIN_LENGTH || pin.length > MAX_PIN_LENGTH || !/^[\x20-\x7e]+$/.test(pin)) {
    throw new HsmError('PIN_FORMAT', `the PIN must be ${MIN_PIN_LENGTH}-${MAX_PIN_LENGTH} printable ASCII characters`, { field });
  }
}

function deriveKek(pin: string, kdf: VaultHeader['kdf']): Buffer {
  return scryptSync(Buffer.from(pin.normalize('NFKD'), 'utf8'), kdf.salt, 32, {
    N: kdf.N,
    r: kdf.r,
    p: kdf.p,
    maxmem: 256 * kdf.N * kdf.r + 1024 * 1024,
  });
}

function seal(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, random: RandomSource): Sealed {
  const iv = random.bytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv, ciphertext: new Uint8Array(ciphertext), tag: new Uint8Array(cipher.getAuthTag()) };
}

/** Opens a sealed box; returns undefined when the key or the data is wrong. */
function open(key: Uint8Array, sealed: Sealed, aad: Uint8Array): Buffer | undefined {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, sealed.iv);
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.tag);
    return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]);
  } catch {
    return undefined;
  }
}

function secretAad(name: string): Buffer {
  return Buffer.from(`hsm-vault/secret/v1:${name}`);
}

export class Vault {
  private dataKey: Buffer | undefined;

  constructor(
    private readonly store: DeviceStore,
    private readonly random: RandomSource,
  ) {}

  get state(): VaultState {
    const header = this.header();
    if (header === undefined) return 'uninitialised';
    if (header.erasedAt !== undefined || header.wrappedDataKey === undefined) return 'erased';
    return this.dataKey === undefined ? 'locked' : 'unlocked';
  }

  /** Wrong PINs left before the secrets are erased. */
  get attemptsLeft(): number {
    const header = this.header();
    return header === undefined ? 0 : Math.max(0, header.maxAttempts - header.failedAttempts);
  }

  /**
   * Sets the PIN and creates an empty vault, left unlocked. Runs inside `tx` when given (so
   * provisioning writes the vault and its first secrets in one transaction).
   */
  initialise(pin: string, options: { maxAttempts?: number; kdf?: KdfCost } = {}, tx?: WriteTx): void {
    checkPinFormat(pin);
    if (this.state !== 'uninitialised' && this.state !== 'erased') {
      throw new HsmError('VAULT_EXISTS', 'the vault already holds secrets; zeroize the device before provisioning again');
    }
    const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_PIN_ATTEMPTS;
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 100) {
      throw new HsmError('VAULT_OPTIONS', 'maxAttempts must be an integer in 1..100', { field: 'maxAttempts' });
    }
    const cost = options.kdf ?? DEFAULT_KDF_COST;
    const kdf = { name: 'scrypt' as const, ...cost, salt: this.random.bytes(16) };
    const dataKey = Buffer.from(this.random.bytes(32));
    const kek = deriveKek(pin, kdf);
    try {
      const header: VaultHeader = { kdf, wrappedDataKey: seal(kek, dataKey, DATA_KEY_AAD, this.random), failedAttempts: 0, maxAttempts };
      const write = (t: WriteTx): void => {
        for (const { key } of [...t.range(SYSTEM_COLLECTIONS.secrets)]) t.del(SYSTEM_COLLECTIONS.secrets, key);
        t.put(SYSTEM_COLLECTIONS.vault, META_KEYS.vault, header);
        t.audit('vault.initialised', { maxAttempts, kdfN: cost.N });
      };
      if (tx === undefined) this.store.transact(write);
      else write(tx);
    } finally {
      kek.fill(0);
    }
    this.dataKey = dataKey;
  }

  /** Unlocks with `pin`. Throws PIN_WRONG (naming the attempts left) or VAULT_ERASED. */
  unlock(pin: string): void {
    const header = this.requireHeader();
    if (header.erasedAt !== undefined || header.wrappedDataKey === undefined) {
      throw new HsmError('VAULT_ERASED', 'the secrets were erased after too many wrong PINs; restore the device from its mnemonic');
    }
    checkPinFormat(pin);
    const attempt = header.failedAttempts + 1;
    this.store.transact((tx) => tx.put(SYSTEM_COLLECTIONS.vault, META_KEYS.vault, { ...header, failedAttempts: attempt }));
    const kek = deriveKek(pin, header.kdf);
    const dataKey = open(kek, header.wrappedDataKey, DATA_KEY_AAD);
    kek.fill(0);
    if (dataKey !== undefined) {
      // Unlocked before the entry is written, so the entry that opens this boot is signed
      // (audit-seal.ts); locked again if it cannot be written.
      this.dataKey?.fill(0);
      this.dataKey = dataKey;
      try {
        this.store.transact((tx) => {
          tx.put(SYSTEM_COLLECTIONS.vault, META_KEYS.vault, { ...header, failedAttempts: 0 });
          tx.audit('vault.unlocked', { failedBefore: header.failedAttempts });
        });
      } catch (error) {
        this.lock();
        throw error;
      }
      return;
    }
    if (attempt >= header.maxAttempts) {
      this.erase('too many wrong PINs', attempt);
      throw new HsmError('VAULT_ERASED', `wrong PIN; that was attempt ${attempt} of ${header.maxAttempts}, so the secrets have been erased`, {
        field: 'pin',
      });
    }
    this.store.transact((tx) => tx.audit('vault.pin-wrong', { attempt, maxAttempts: header.maxAttempts }));
    const left = header.maxAttempts - attempt;
    throw new HsmError('PIN_WRONG', `wrong PIN; ${left} attempt${left === 1 ? '' : 's'} left before the secrets are erased`, { field: 'pin' });
  }

  /** Forgets the data key (zeroised). */
  lock(): void {
    this.dataKey?.fill(0);
    this.dataKey = undefined;
  }

  changePin(oldPin: string, newPin: string): void {
    checkPinFormat(newPin, 'newPin');
    this.unlock(oldPin);
    const header = this.requireHeader();
    const kdf = { ...header.kdf, salt: this.random.bytes(16) };
    const kek = deriveKek(newPin, kdf);
    try {
      const wrappedDataKey = seal(kek, this.requireDataKey(), DATA_KEY_AAD, this.random);
      this.store.transact((tx) => {
        tx.put(SYSTEM_COLLECTIONS.vault, META_KEYS.vault, { ...header, kdf, wrappedDataKey, failedAttempts: 0 });
        tx.audit('vault.pin-changed', {});
      });
    } finally {
      kek.fill(0);
    }
  }

  /** Stores `value` under `name` in `tx`. The vault must be unlocked. */
  putSecret(tx: WriteTx, name: string, value: Uint8Array): void {
    tx.put(SYSTEM_COLLECTIONS.secrets, name, seal(this.requireDataKey(), value, secretAad(name), this.random));
  }

  /** A copy of secret `name`; the caller zeroises it when done. */
  getSecret(name: string): Uint8Array {
    const sealed = this.store.get(SYSTEM_COLLECTIONS.secrets, name);
    if (sealed === undefined) throw new HsmError('SECRET_MISSING', `no secret named "${name}"`, { field: name });
    const value = open(this.requireDataKey(), sealed, secretAad(name));
    if (value === undefined) throw new HsmError('SECRET_CORRUPT', `secret "${name}" fails its integrity check`, { field: name });
    return new Uint8Array(value);
  }

  hasSecret(name: string): boolean {
    return this.store.has(SYSTEM_COLLECTIONS.secrets, name);
  }

  deleteSecret(tx: WriteTx, name: string): void {
    tx.del(SYSTEM_COLLECTIONS.secrets, name);
  }

  /**
   * Erases every secret and the wrapped data key (zeroize). When the vault is unlocked, the
   * audit head (with this erasure) is signed first, while the identity key still exists.
   */
  erase(reason: string, attempts?: number): void {
    const header = this.header();
    this.store.transact((tx) => {
      tx.audit('vault.erased', { reason });
      tx.sealAudit();
      this.lock();
      for (const { key } of [...tx.range(SYSTEM_COLLECTIONS.secrets)]) tx.del(SYSTEM_COLLECTIONS.secrets, key);
      if (header !== undefined) {
        const { wrappedDataKey: _dropped, ...rest } = header;
        tx.put(SYSTEM_COLLECTIONS.vault, META_KEYS.vault, { ...rest, failedAttempts: attempts ?? header.failedAttempts, erasedAt: this.store.clock.now() });
      }
    });
  }

  private header(): VaultHeader | undefined {
    return this.store.get(SYSTEM_COLLECTIONS.vault, META_KEYS.vault);
  }

  private requireHeader(): VaultHeader {
    const header = this.header();
    if (header === undefined) throw new HsmError('VAULT_UNINITIALISED', 'the device has not been provisioned (no PIN is set)');
    return header;
  }

  private requireDataKey(): Buffer {
    if (this.dataKey === undefined) throw new HsmError('VAULT_LOCKED', 'the vault is locked; unlock it with the PIN first');
    return this.dataKey;
  }
}
