/**
 * Link authentication and encryption (layer 3; notes/serial-link.md §1, "Option A").
 *
 * The pairing gives both devices one 32-byte link key. From it:
 *   controlKey(sender) = HKDF-SHA256(linkKey, salt = "", info = "hsmlink v1 hello " ‖ sender)
 *   key(dir)          = HKDF-SHA256(linkKey, salt = initiatorNonce ‖ responderNonce,
 *                              info = "hsmlink v1 " ‖ dir ‖ u32(hotEpoch) ‖ u32(coldEpoch))
 *                       for dir ∈ {"hot>cold", "cold>hot"}: fresh keys for every handshake.
 *
 * The frames sent outside a session (HELLO, HELLO_ACK and ERR) carry a 16-byte HMAC-SHA256 tag
 * under the sender's control key over header ‖ body, so an unpaired or impostor device can
 * neither start a session nor end one, and a device's own frame reflected back to it is not
 * mistaken for its peer's. Every frame of a session (DATA, ACK, PING, PONG) is AES-256-GCM sealed
 * with the header as associated data:
 *   payload = ciphertext ‖ tag(16)
 *   iv      = type(1) ‖ flags(1) ‖ seq(2) ‖ ack(2) ‖ 0x000000000000
 * The IV is unique per distinct plaintext within a session: a DATA sequence number names one
 * payload (retransmissions repeat it byte for byte or change flags/ack, and so the IV), control
 * frames carry no plaintext that differs under the same header, and the session is re-keyed
 * before the 16-bit sequence number wraps. Replays from older sessions fail under the new keys.
 * @module
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

export type LinkRole = 'hot' | 'cold';
export const TAG_SIZE = 16;
export const NONCE_SIZE = 16;

export function otherRole(role: LinkRole): LinkRole {
  return role === 'hot' ? 'cold' : 'hot';
}

function hkdf(key: Uint8Array, salt: Uint8Array, info: Uint8Array): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', key, salt, info, 32));
}

function epochBytes(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** Key that tags the control frames (HELLO, HELLO_ACK, ERR) `sender` sends. */
export function controlKey(linkKey: Uint8Array, sender: LinkRole): Uint8Array {
  return hkdf(linkKey, new Uint8Array(), Buffer.from(`hsmlink v1 hello ${sender}`));
}

export function controlTag(key: Uint8Array, header: Uint8Array, body: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac('sha256', key).update(header).update(body).digest().subarray(0, TAG_SIZE));
}

export function controlTagValid(key: Uint8Array, header: Uint8Array, body: Uint8Array, tag: Uint8Array): boolean {
  const expected = controlTag(key, header, body);
  return tag.length === TAG_SIZE && timingSafeEqual(expected, tag);
}

export interface SessionKeys {
  /** Key for frames this device sends. */
  send: Uint8Array;
  /** Key for frames this device receives. */
  receive: Uint8Array;
}

export function deriveSessionKeys(
  linkKey: Uint8Array,
  self: LinkRole,
  nonces: { initiator: Uint8Array; responder: Uint8Array },
  epochs: { hot: number; cold: number },
): SessionKeys {
  const salt = Buffer.concat([nonces.initiator, nonces.responder]);
  const info = (dir: string): Buffer => Buffer.concat([Buffer.from(`hsmlink v1 ${dir}`), epochBytes(epochs.hot), epochBytes(epochs.cold)]);
  const hotToCold = hkdf(linkKey, salt, info('hot>cold'));
  const coldToHot = hkdf(linkKey, salt, info('cold>hot'));
  return self === 'hot' ? { send: hotToCold, receive: coldToHot } : { send: coldToHot, receive: hotToCold };
}

function ivFor(header: Uint8Array): Buffer {
  // type(1) ‖ flags(1) ‖ seq(2) ‖ ack(2) from header offsets 1, 2, 11..14
  const iv = Buffer.alloc(12);
  iv[0] = header[1] ?? 0;
  iv[1] = header[2] ?? 0;
  iv.set(header.subarray(11, 15), 2);
  return iv;
}

export function seal(key: Uint8Array, header: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const cipher = createCipheriv('aes-256-gcm', key, ivFor(header), { authTagLength: TAG_SIZE });
  cipher.setAAD(header);
  return new Uint8Array(Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]));
}

/** Opens a sealed payload; undefined when the tag does not verify. */
export function open(key: Uint8Array, header: Uint8Array, sealed: Uint8Array): Uint8Array | undefined {
  if (sealed.length < TAG_SIZE) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, ivFor(header), { authTagLength: TAG_SIZE });
    decipher.setAAD(header);
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_SIZE));
    return new Uint8Array(Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_SIZE)), decipher.final()]));
  } catch {
    return undefined;
  }
}
