/**
 * Everything secret in a simulated world comes from its seed, so a world is reproducible and
 * a resumed world needs nothing but the seed it was created with: the two devices' mnemonics
 * and PINs (in the simulation the rig plays the operator who would type them), the platform's
 * host-API key, the Open API credentials and the vweb password. Real devices never see these.
 * @module
 */
import { bytesToHex } from '../../shared/crypto/hash.ts';
import { generateMnemonic } from '../../shared/crypto/hd.ts';
import { secp } from '../../shared/crypto/secp.ts';
import { SeededRandom } from '../../shared/random.ts';

/** The world's numbering plan: China's, as the app's (it matches senders as +86 and the number). */
export const WORLD_COUNTRY_CODE = '86';

/** Well-known numbers of the simulated world (E.164). */
export const WORLD_NUMBERS = {
  coldSim1: '+8617000000001',
  coldSim2: '+8617000000002',
  vDevice: '+8613800000001',
  admin: '+8613900000002',
} as const;

export interface WorldKeys {
  hotMnemonic: string;
  coldMnemonic: string;
  hotPin: string;
  coldPin: string;
  platformKey: Uint8Array;
  platformPublicKey: string;
  hotSendingToken: string;
  coldReceivingToken: string;
  /** HMAC secret of the Cold Receiving credential (signed requests). */
  coldReceivingSecret: string;
  vwebPassword: string;
}

function digits(random: SeededRandom, n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) out += String(random.int(10));
  return out;
}

export function worldKeys(seed: string): WorldKeys {
  const root = new SeededRandom(`hsm-sim-world/${seed}`);
  let platformKey = root.fork('platform-key').bytes(32);
  for (let i = 0; !secp.utils.isValidSecretKey(platformKey); i++) platformKey = root.fork(`platform-key/${i}`).bytes(32);
  return {
    hotMnemonic: generateMnemonic(root.fork('hot-mnemonic'), 24),
    coldMnemonic: generateMnemonic(root.fork('cold-mnemonic'), 24),
    hotPin: digits(root.fork('hot-pin'), 6),
    coldPin: digits(root.fork('cold-pin'), 6),
    platformKey,
    platformPublicKey: bytesToHex(secp.getPublicKey(platformKey, true)),
    hotSendingToken: bytesToHex(root.fork('hot-sending-token').bytes(32)),
    coldReceivingToken: bytesToHex(root.fork('cold-receiving-token').bytes(32)),
    coldReceivingSecret: bytesToHex(root.fork('cold-receiving-secret').bytes(32)),
    vwebPassword: digits(root.fork('vweb-password'), 8),
  };
}
