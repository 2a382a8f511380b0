import { describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../shared/clock.ts';
import { SeededRandom } from '../../shared/random.ts';
import { auditTail, verifyAudit } from '../../shared/store/audit.ts';
import { DeviceStore } from '../../shared/store/store.ts';
import { SYSTEM_COLLECTIONS } from '../../shared/store/system-collections.ts';
import { Vault } from '../../shared/store/vault.ts';
import { expectHsmError } from '../helpers/errors.ts';
import { tempDir } from '../helpers/temp.ts';

const FAST_KDF = { N: 1024, r: 8, p: 1 };
const seedBytes = new Uint8Array(64).fill(7);

function openVault(dir: string): { store: DeviceStore; vault: Vault } {
  const store = DeviceStore.open(dir, { app: 'test', schemaVersion: 1, clock: new SimulatedClock() });
  return { store, vault: new Vault(store, new SeededRandom(`vault-${dir}`)) };
}

describe('vault', () => {
  it('keeps secrets encrypted under the PIN and gives them back only when unlocked', async () => {
    const dir = tempDir();
    const { store, vault } = openVault(dir);
    expect(vault.state).toBe('uninitialised');
    vault.initialise('4711', { kdf: FAST_KDF, maxAttempts: 3 });
    store.transact((tx) => vault.putSecret(tx, 'cold.seed', seedBytes));
    expect(Buffer.from(vault.getSecret('cold.seed')).equals(Buffer.from(seedBytes))).toBe(true);
    // The stored record is ciphertext, not the secret.
    const sealed = store.get(SYSTEM_COLLECTIONS.secrets, 'cold.seed')!;
    expect(Buffer.from(sealed.ciphertext).includes(Buffer.from(seedBytes.subarray(0, 16)))).toBe(false);
    vault.lock();
    expect(vault.state).toBe('locked');
    expectHsmError(() => vault.getSecret('cold.seed'), 'VAULT_LOCKED');
    await store.close();

    const again = openVault(dir);
    expect(again.vault.state).toBe('locked');
    again.vault.unlock('4711');
    expect(Buffer.from(again.vault.getSecret('cold.seed')).equals(Buffer.from(seedBytes))).toBe(true);
    await again.store.close();
  });

  it('counts wrong PINs durably before checking, and erases after the limit', async () => {
    const dir = tempDir();
    const { store, vault } = openVault(dir);
    vault.initialise('4711', { kdf: FAST_KDF, maxAttempts: 3 });
    store.transact((tx) => vault.putSecret(tx, 'cold.seed', seedBytes));
    vault.lock();
    const first = expectHsmError(() => vault.unlock('0000'), 'PIN_WRONG', 'pin');
    expect(first.message).toContain('2 attempts left');
    await store.close();

    // A reboot does not reset the count.
    const again = openVault(dir);
    expect(again.vault.attemptsLeft).toBe(2);
    expectHsmError(() => again.vault.unlock('1111'), 'PIN_WRONG');
    const last = expectHsmError(() => again.vault.unlock('2222'), 'VAULT_ERASED');
    expect(last.message).toContain('erased');
    expect(again.vault.state).toBe('erased');
    expect(again.vault.hasSecret('cold.seed')).toBe(false);
    expectHsmError(() => again.vault.unlock('4711'), 'VAULT_ERASED');
    expect(auditTail(again.store, 3).map((e) => e.kind)).toEqual(['vault.pin-wrong', 'vault.pin-wrong', 'vault.erased']);
    expect(verifyAudit(again.store, 'test').ok).toBe(true);
    await again.store.close();
  });

  it('a right PIN resets the count', async () => {
    const { store, vault } = openVault(tempDir());
    vault.initialise('4711', { kdf: FAST_KDF, maxAttempts: 3 });
    vault.lock();
    expectHsmError(() => vault.unlock('0000'), 'PIN_WRONG');
    expectHsmError(() => vault.unlock('0000'), 'PIN_WRONG');
    vault.unlock('4711');
    expect(vault.attemptsLeft).toBe(3);
    await store.close();
  });

  it('changes the PIN without touching the secrets', async () => {
    const { store, vault } = openVault(tempDir());
    vault.initialise('4711', { kdf: FAST_KDF });
    store.transact((tx) => vault.putSecret(tx, 'k', seedBytes));
    vault.changePin('4711', 'correct horse');
    vault.lock();
    expectHsmError(() => vault.unlock('4711'), 'PIN_WRONG');
    vault.unlock('correct horse');
    expect(Buffer.from(vault.getSecret('k')).equals(Buffer.from(seedBytes))).toBe(true);
    await store.close();
  });

  it('binds each secret to its name: a record moved to another name fails its integrity check', async () => {
    const { store, vault } = openVault(tempDir());
    vault.initialise('4711', { kdf: FAST_KDF });
    store.transact((tx) => vault.putSecret(tx, 'hot.seed', seedBytes));
    const sealed = store.get(SYSTEM_COLLECTIONS.secrets, 'hot.seed')!;
    store.transact((tx) => tx.put(SYSTEM_COLLECTIONS.secrets, 'channel.key', sealed));
    expectHsmError(() => vault.getSecret('channel.key'), 'SECRET_CORRUPT');
    expectHsmError(() => vault.getSecret('nothing'), 'SECRET_MISSING');
    await store.close();
  });

  it('validates PINs and refuses to re-provision a vault that holds secrets', async () => {
    const { store, vault } = openVault(tempDir());
    expectHsmError(() => vault.initialise('12', { kdf: FAST_KDF }), 'PIN_FORMAT');
    expectHsmError(() => vault.initialise('12\n34', { kdf: FAST_KDF }), 'PIN_FORMAT');
    expectHsmError(() => vault.unlock('1234'), 'VAULT_UNINITIALISED');
    vault.initialise('1234', { kdf: FAST_KDF });
    expectHsmError(() => vault.initialise('5678', { kdf: FAST_KDF }), 'VAULT_EXISTS');
    expectHsmError(() => vault.changePin('1234', 'x'), 'PIN_FORMAT');
    await store.close();
  });
});
