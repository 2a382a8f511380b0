/**
 * The device identity key: a secp256k1 key made at provisioning, kept in the vault, whose
 * public half is recorded in the clear (`sys.identity`) and pinned by the peer device at
 * pairing. It signs audit checkpoints, HSM-Cold's approvals and HSM-Hot's host API results.
 * @module
 */
import { bytesToHex } from '../crypto/hash.ts';
import { signMessage } from '../crypto/message-signature.ts';
import { secp } from '../crypto/secp.ts';
import { HsmError } from '../errors.ts';
import type { RandomSource } from '../random.ts';
import type { AuditSigner } from './audit.ts';
import type { ReadView, WriteTx } from './store.ts';
import { META_KEYS, SYSTEM_COLLECTIONS } from './system-collections.ts';
import type { Vault } from './vault.ts';

export const IDENTITY_SECRET = 'identity.key';

/** Creates the identity key in `tx`; returns its compressed public key (hex). */
export function createIdentity(tx: WriteTx, vault: Vault, random: RandomSource, now: number): string {
  let privateKey = random.bytes(32);
  while (!secp.utils.isValidSecretKey(privateKey)) privateKey = random.bytes(32);
  const publicKey = bytesToHex(secp.getPublicKey(privateKey, true));
  vault.putSecret(tx, IDENTITY_SECRET, privateKey);
  privateKey.fill(0);
  tx.put(SYSTEM_COLLECTIONS.identity, META_KEYS.identity, { publicKey, createdAt: now });
  tx.audit('identity.created', { publicKey });
  return publicKey;
}

export function identityPublicKey(view: ReadView): string | undefined {
  return view.get(SYSTEM_COLLECTIONS.identity, META_KEYS.identity)?.publicKey;
}

/** A signer over the vault's identity key; the key is read for each signature and zeroised. */
export function identitySigner(view: ReadView, vault: Vault): AuditSigner & { signDigest(digest: Uint8Array): Uint8Array } {
  const publicKeyHex = identityPublicKey(view);
  if (publicKeyHex === undefined) throw new HsmError('NO_IDENTITY', 'the device has no identity key yet (provision it first)');
  const withKey = <T>(fn: (key: Uint8Array) => T): T => {
    const key = vault.getSecret(IDENTITY_SECRET);
    try {
      return fn(key);
    } finally {
      key.fill(0);
    }
  };
  return {
    publicKeyHex,
    signMessage: (message) => withKey((key) => signMessage(message, key)),
    /** Compact 64-byte ECDSA (low S) over a 32-byte digest. */
    signDigest: (digest) => withKey((key) => secp.sign(digest, key, { prehash: false, lowS: true })),
  };
}
