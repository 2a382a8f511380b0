/**
 * Sealing the audit log: every transaction that appends audit entries while the device
 * identity key is at hand commits with a checkpoint, the new head signed by that key
 * (audit.ts). The key is at hand whenever the vault is unlocked and the device has an
 * identity, so a running device leaves no entry unsigned, and every boot is signed with its
 * `vault.unlocked` entry. Entries written while the vault is locked (wrong PINs, a console
 * login before the unlock) are covered by the next signature.
 * @module
 */
import { writeCheckpoint } from './audit.ts';
import { IDENTITY_SECRET, identityPublicKey, identitySigner } from './identity.ts';
import type { DeviceStore } from './store.ts';
import type { Vault } from './vault.ts';

/** Seals every audited transaction of `store` (owned by `app`); returns a function that stops it. */
export function sealAuditWithIdentity(store: DeviceStore, vault: Vault, app: string): () => void {
  return store.onAuditAppended((tx) => {
    if (vault.state !== 'unlocked' || identityPublicKey(tx) === undefined || !vault.hasSecret(IDENTITY_SECRET)) return;
    writeCheckpoint(tx, app, identitySigner(tx, vault), store.clock.now());
  });
}
