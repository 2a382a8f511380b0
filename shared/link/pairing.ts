/**
 * Pairing HSM-Hot with HSM-Cold, once: each learns the other's identity public key, and both
 * get the same 32-byte link key, from which every session's keys are derived (link-crypto.ts).
 *
 * Interactive pairing runs over the serial line before any session, in PAIR frames, as a
 * numeric comparison with a commitment (the scheme of Bluetooth Secure Simple Pairing):
 *
 *   1. hot  → cold  commit = SHA-256("hsm-pair/v1 commit" ‖ ephHot ‖ nonceHot ‖ idHot)
 *   2. cold → hot   ephCold, nonceCold, idCold
 *   3. hot  → cold  ephHot, nonceHot, idHot           (cold checks the commitment)
 *   4. both         sig = ECDSA(identity key, T)      (each proves it holds its identity key)
 *
 *   T       = SHA-256("hsm-pair/v1" ‖ commit ‖ ephCold ‖ nonceCold ‖ idCold ‖ ephHot ‖ nonceHot ‖ idHot)
 *   linkKey = HKDF-SHA256(X25519(eph, peerEph), salt = T, info = "hsm-pair/v1 link key")
 *   code    = u32(SHA-256("hsm-pair/v1 code" ‖ T)[0..4]) mod 10^6, shown on both consoles
 *
 * A device in the middle must pick its ephemeral keys before it sees the other side's (the
 * commitment), so it matches the two codes with probability 10^-6. Both operators compare
 * the codes and confirm; only then is the pairing stored.
 *
 * The simulated rig pairs with a pairing file instead (`createPairingFile`).
 * @module
 */
import { hkdfSync, createHash } from 'node:crypto';
import { x25519 } from '@noble/curves/ed25519.js';
import { z } from 'zod';
import type { Clock, TimerHandle } from '../clock.ts';
import { bytesToHex, hexToBytesOrUndefined } from '../crypto/hash.ts';
import { secp } from '../crypto/secp.ts';
import { HsmError } from '../errors.ts';
import type { Port } from '../port.ts';
import type { RandomSource } from '../random.ts';
import { defineCollection } from '../store/collection.ts';
import { identityPublicKey } from '../store/identity.ts';
import type { DeviceStore, ReadView } from '../store/store.ts';
import type { Vault } from '../store/vault.ts';
import { FRAME_TYPE, FrameDecoder, encodeFrame, type Frame } from './frame.ts';
import { otherRole, type LinkRole } from './link-crypto.ts';
import { checkBody, packBody, unpackBody, bytesSchema, type MessageRegistry } from './messages.ts';
import { checkMsgpack } from './msgpack-guard.ts';

export const LINK_KEY_SECRET = 'link.key';
const pubKeyHex = z.string().regex(/^(02|03)[0-9a-f]{64}$/);

export const pairingRecordSchema = z.strictObject({
  role: z.enum(['hot', 'cold']),
  peerIdentity: pubKeyHex,
  method: z.enum(['code', 'file']),
  pairedAt: z.number(),
});
export type PairingRecord = z.infer<typeof pairingRecordSchema>;
export const pairingCollection = defineCollection('link.pairing', pairingRecordSchema);
const PAIRING_KEY = 'peer';

export interface Pairing extends PairingRecord {
  linkKey: Uint8Array;
}

export function pairingRecord(view: ReadView): PairingRecord | undefined {
  return view.get(pairingCollection, PAIRING_KEY);
}

/** The stored pairing and its link key (the vault must be unlocked). */
export function loadPairing(store: DeviceStore, vault: Vault): Pairing {
  const record = pairingRecord(store);
  if (record === undefined) throw new HsmError('LINK_UNPAIRED', 'this device is not paired with its peer; run the pairing first');
  return { ...record, linkKey: vault.getSecret(LINK_KEY_SECRET) };
}

function storePairing(store: DeviceStore, vault: Vault, record: PairingRecord, linkKey: Uint8Array): void {
  store.transact((tx) => {
    tx.put(pairingCollection, PAIRING_KEY, record);
    vault.putSecret(tx, LINK_KEY_SECRET, linkKey);
    tx.audit('link.paired', { role: record.role, peerIdentity: record.peerIdentity, method: record.method });
  });
}

// ---------------------------------------------------------------------------------------------
// Pairing file (simulated rig)

export const pairingFileSchema = z.strictObject({
  format: z.literal('hsm-pairing/v1'),
  hot: z.strictObject({ identity: pubKeyHex }),
  cold: z.strictObject({ identity: pubKeyHex }),
  linkKey: z.string().regex(/^[0-9a-f]{64}$/),
});
export type PairingFile = z.infer<typeof pairingFileSchema>;

export function createPairingFile(hotIdentity: string, coldIdentity: string, random: RandomSource): PairingFile {
  return pairingFileSchema.parse({ format: 'hsm-pairing/v1', hot: { identity: hotIdentity }, cold: { identity: coldIdentity }, linkKey: bytesToHex(random.bytes(32)) });
}

/** Stores the pairing a file describes, after checking this device is the one it names. */
export function importPairingFile(store: DeviceStore, vault: Vault, role: LinkRole, file: unknown, now: number): PairingRecord {
  const parsed = pairingFileSchema.safeParse(file);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new HsmError('PAIRING_FILE', `pairing file ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`, { field: issue?.path.join('.') });
  }
  const own = identityPublicKey(store);
  if (own === undefined) throw new HsmError('NO_IDENTITY', 'provision the device before pairing it');
  if (parsed.data[role].identity !== own) {
    throw new HsmError('PAIRING_FILE', `the pairing file names another ${role} device (${parsed.data[role].identity})`, { field: `${role}.identity` });
  }
  const record: PairingRecord = { role, peerIdentity: parsed.data[otherRole(role)].identity, method: 'file', pairedAt: now };
  storePairing(store, vault, record, hexToBytesOrUndefined(parsed.data.linkKey) as Uint8Array);
  return record;
}

// ---------------------------------------------------------------------------------------------
// Interactive pairing

const PAIR_MESSAGES = {
  commit: { from: 'hot', description: 'stage 1', request: z.strictObject({ s: z.literal(1), commit: bytesSchema(32) }), reply: z.unknown() },
  reveal: {
    from: 'either',
    description: 'stages 2 and 3',
    request: z.strictObject({ s: z.union([z.literal(2), z.literal(3)]), eph: bytesSchema(32), nonce: bytesSchema(32), id: bytesSchema(33) }),
    reply: z.unknown(),
  },
  proof: { from: 'either', description: 'stage 4', request: z.strictObject({ s: z.literal(4), sig: bytesSchema(64) }), reply: z.unknown() },
} as const satisfies MessageRegistry;

type PairMessage =
  | { s: 1; commit: Uint8Array }
  | { s: 2 | 3; eph: Uint8Array; nonce: Uint8Array; id: Uint8Array }
  | { s: 4; sig: Uint8Array };

function parsePairMessage(payload: Uint8Array): PairMessage {
  checkMsgpack(payload);
  const value = unpackBody(payload) as { s?: unknown };
  const kind = value.s === 1 ? 'commit' : value.s === 2 || value.s === 3 ? 'reveal' : value.s === 4 ? 'proof' : undefined;
  if (kind === undefined) throw new HsmError('PAIR_MESSAGE', 'unknown pairing stage', { field: 's' });
  return checkBody<PairMessage>(PAIR_MESSAGES, kind, 'request', value);
}

function sha256(...parts: Array<Uint8Array | string>): Uint8Array {
  const hash = createHash('sha256');
  for (const p of parts) hash.update(p);
  return new Uint8Array(hash.digest());
}

export interface PairingOutcome {
  /** Six digits both operators compare. */
  code: string;
  peerIdentity: string;
  /** Stores the pairing; call only after both operators confirmed the code. */
  confirm(): PairingRecord;
}

export interface PairingExchangeOptions {
  port: Port;
  clock: Clock;
  random: RandomSource;
  role: LinkRole;
  store: DeviceStore;
  vault: Vault;
  /** Signs a 32-byte digest with the identity key (compact 64-byte ECDSA). */
  signDigest(digest: Uint8Array): Uint8Array;
  timeoutMs?: number;
}

/**
 * Runs the exchange over `port` (no session may use the port meanwhile). Resolves with the code
 * to show; rejects with PAIR_TIMEOUT, PAIR_COMMITMENT or PAIR_PROOF.
 */
export function runPairingExchange(options: PairingExchangeOptions): Promise<PairingOutcome> {
  const { port, clock, random, role, store, vault } = options;
  const ownIdentityHex = identityPublicKey(store);
  if (ownIdentityHex === undefined) return Promise.reject(new HsmError('NO_IDENTITY', 'provision the device before pairing it'));
  const ownId = hexToBytesOrUndefined(ownIdentityHex) as Uint8Array;
  const ephSecret = random.bytes(32);
  const ephPublic = x25519.getPublicKey(ephSecret);
  const nonce = random.bytes(32);
  const commit = sha256('hsm-pair/v1 commit', ephPublic, nonce, ownId);

  return new Promise<PairingOutcome>((resolve, reject) => {
    let peerReveal: { eph: Uint8Array; nonce: Uint8Array; id: Uint8Array } | undefined;
    let peerCommit: Uint8Array | undefined;
    let peerProof: Uint8Array | undefined;
    let transcript: Uint8Array | undefined;
    /** Everything this side has said so far, repeated until the exchange completes. */
    const said: PairMessage[] = [];
    let repeat: TimerHandle | undefined;
    let finished = false;

    const write = (message: PairMessage): void => {
      if (port.isOpen) port.write(encodeFrame({ type: FRAME_TYPE.PAIR, flags: 0, srcEpoch: 0, dstEpoch: 0, seq: 0, ack: 0, payload: packBody(message) }));
    };
    const send = (message: PairMessage): void => {
      said.push(message);
      write(message);
    };
    const repeatAll = (): void => {
      for (const message of said) write(message);
    };
    const finish = (error?: HsmError, outcome?: PairingOutcome): void => {
      if (finished) return;
      finished = true;
      clock.clearTimeout(repeat);
      clock.clearTimeout(deadline);
      off();
      ephSecret.fill(0);
      if (error !== undefined) reject(error);
      else resolve(outcome as PairingOutcome);
    };
    const tick = (): void => {
      repeatAll();
      repeat = clock.setTimeout(tick, 500);
    };
    const deadline = clock.setTimeout(
      () => finish(new HsmError('PAIR_TIMEOUT', 'the peer did not complete the pairing exchange in time')),
      options.timeoutMs ?? 120_000,
    );

    const computeTranscript = (): void => {
      if (transcript !== undefined || peerReveal === undefined) return;
      const hot = role === 'hot' ? { eph: ephPublic, nonce, id: ownId, commit } : { ...peerReveal, commit: peerCommit as Uint8Array };
      const cold = role === 'cold' ? { eph: ephPublic, nonce, id: ownId } : peerReveal;
      transcript = sha256('hsm-pair/v1', hot.commit, cold.eph, cold.nonce, cold.id, hot.eph, hot.nonce, hot.id);
      send({ s: 4, sig: options.signDigest(transcript) });
    };
    const tryFinish = (): void => {
      if (transcript === undefined || peerProof === undefined || peerReveal === undefined) return;
      if (!secp.verify(peerProof, transcript, peerReveal.id, { prehash: false, lowS: false })) {
        finish(new HsmError('PAIR_PROOF', 'the peer could not prove it holds the identity key it announced'));
        return;
      }
      const shared = x25519.getSharedSecret(ephSecret, peerReveal.eph);
      const linkKey = new Uint8Array(hkdfSync('sha256', shared, transcript, Buffer.from('hsm-pair/v1 link key'), 32));
      shared.fill(0);
      const digest = sha256('hsm-pair/v1 code', transcript);
      const u32 = (((digest[0] ?? 0) << 24) | ((digest[1] ?? 0) << 16) | ((digest[2] ?? 0) << 8) | (digest[3] ?? 0)) >>> 0;
      const code = String(u32 % 1_000_000).padStart(6, '0');
      const peerIdentity = bytesToHex(peerReveal.id);
      // Keep repeating for a while so the peer completes too, then stop.
      const lingerUntil = clock.monotonic() + 3000;
      const linger = (): void => {
        if (clock.monotonic() < lingerUntil) {
          repeatAll();
          clock.setTimeout(linger, 500);
        }
      };
      clock.setTimeout(linger, 500);
      finish(undefined, {
        code,
        peerIdentity,
        confirm: () => {
          const record: PairingRecord = { role, peerIdentity, method: 'code', pairedAt: clock.now() };
          storePairing(store, vault, record, linkKey);
          linkKey.fill(0);
          return record;
        },
      });
    };

    const onFrame = (frame: Frame): void => {
      if (finished || frame.type !== FRAME_TYPE.PAIR) return;
      let message: PairMessage;
      try {
        message = parsePairMessage(frame.payload);
      } catch {
        return;
      }
      if (role === 'cold' && message.s === 1 && peerCommit === undefined) {
        peerCommit = message.commit;
        send({ s: 2, eph: ephPublic, nonce, id: ownId });
      } else if (role === 'hot' && message.s === 2 && peerReveal === undefined) {
        if (!secp.utils.isValidPublicKey(message.id, true)) return;
        peerReveal = message;
        send({ s: 3, eph: ephPublic, nonce, id: ownId });
        computeTranscript();
      } else if (role === 'cold' && message.s === 3 && peerReveal === undefined && peerCommit !== undefined) {
        const expected = sha256('hsm-pair/v1 commit', message.eph, message.nonce, message.id);
        if (bytesToHex(expected) !== bytesToHex(peerCommit)) {
          finish(new HsmError('PAIR_COMMITMENT', 'the peer revealed keys that do not match its commitment (a device in the middle?)'));
          return;
        }
        if (!secp.utils.isValidPublicKey(message.id, true)) return;
        peerReveal = message;
        computeTranscript();
      } else if (message.s === 4 && peerProof === undefined) {
        peerProof = message.sig;
      }
      tryFinish();
    };

    const decoder = new FrameDecoder(onFrame);
    const off = port.onData((chunk) => decoder.push(chunk));
    if (role === 'hot') send({ s: 1, commit });
    tick();
  });
}
