import { describe, expect, it } from 'vitest';
import { base64 } from '@scure/base';
import { p2pkhAddress, p2wpkhAddress } from '../../shared/crypto/address.ts';
import {
  messageDigest,
  parseSignature,
  recoverMessagePublicKey,
  signMessage,
  verifyMessageWithAddress,
  verifyMessageWithPublicKey,
} from '../../shared/crypto/message-signature.ts';
import { NETWORKS, getNetwork } from '../../shared/crypto/networks.ts';
import { secp } from '../../shared/crypto/secp.ts';
import { decodeWif } from '../../shared/crypto/wif.ts';
import { SeededRandom } from '../../shared/random.ts';
import { expectHsmError } from '../helpers/errors.ts';
import { loadVectors } from '../helpers/vectors.ts';
import { bitcoinMessage } from '../oracle/bitcoinjs.ts';

interface Bip137Vectors {
  vectors: Array<{ source: string; network: string; wif: string; address: string; message: string; signature: string }>;
}
const { vectors } = loadVectors<Bip137Vectors>('bip137');

describe('BIP-137 published vectors', () => {
  for (const v of vectors) {
    it(`${v.source.split('/').slice(3, 5).join('/')}: "${v.message}"`, () => {
      const network = getNetwork(v.network);
      const { privateKey } = decodeWif(v.wif);
      expect(p2pkhAddress(secp.getPublicKey(privateKey, true), network)).toBe(v.address);
      expect(signMessage(v.message, privateKey, network)).toBe(v.signature);
      expect(verifyMessageWithAddress(v.message, v.signature, v.address, network)).toBe(true);
      expect(verifyMessageWithAddress(`${v.message}.`, v.signature, v.address, network)).toBe(false);
    });
  }
});

describe('differential against bitcoinjs-message', () => {
  const random = new SeededRandom('bip137-oracle');
  const cases = Array.from({ length: 40 }, (_, i) => ({
    key: random.bytes(32),
    message: i % 5 === 0 ? '' : i % 5 === 1 ? 'x'.repeat(300) : `{"coin_code":"BTC","is_dynamic_fee":${i % 2},"outs":"PING","user_tx_no":"${i}"}`,
    network: [NETWORKS['btc-main'], NETWORKS['ltc-main'], NETWORKS['doge-main']][i % 3]!,
  }));

  it('our signatures are byte-identical to bitcoinjs-message (RFC 6979) and it verifies them', () => {
    for (const c of cases) {
      const ours = signMessage(c.message, c.key, c.network);
      const theirs = bitcoinMessage.sign(c.message, Buffer.from(c.key), true, c.network.messagePrefix).toString('base64');
      expect(ours).toBe(theirs);
      const address = p2pkhAddress(secp.getPublicKey(c.key, true), c.network);
      expect(bitcoinMessage.verify(c.message, address, ours, c.network.messagePrefix)).toBe(true);
    }
  });

  it('we verify its signatures, uncompressed ones included, and recover the right key', () => {
    for (const [i, c] of cases.entries()) {
      const compressed = i % 2 === 0;
      const sig = bitcoinMessage.sign(c.message, Buffer.from(c.key), compressed, c.network.messagePrefix).toString('base64');
      const pub = secp.getPublicKey(c.key, compressed);
      expect(Buffer.from(recoverMessagePublicKey(c.message, sig, c.network)).equals(Buffer.from(pub))).toBe(true);
      expect(verifyMessageWithPublicKey(c.message, sig, pub, c.network)).toBe(true);
      expect(verifyMessageWithAddress(c.message, sig, p2pkhAddress(pub, c.network), c.network)).toBe(true);
      expect(parseSignature(sig).compressed).toBe(compressed);
    }
  });

  it('a signature by a compressed key verifies against its P2WPKH address too', () => {
    const c = cases[3]!;
    const sig = signMessage(c.message, c.key);
    expect(verifyMessageWithAddress(c.message, sig, p2wpkhAddress(secp.getPublicKey(c.key, true), NETWORKS['btc-main']))).toBe(true);
  });

  it('the digest uses the coin prefix and a CompactSize length', () => {
    expect(Buffer.from(messageDigest('a'.repeat(253))).equals(Buffer.from(messageDigest('a'.repeat(253), NETWORKS['ltc-main'])))).toBe(false);
    const long = 'y'.repeat(70_000); // 0xfe length prefix
    const sig = signMessage(long, cases[0]!.key);
    expect(bitcoinMessage.verify(long, p2pkhAddress(secp.getPublicKey(cases[0]!.key, true), NETWORKS['btc-main']), sig)).toBe(true);
  });
});

describe('bad signatures get a clear error', () => {
  const key = new Uint8Array(32).fill(3);
  const sig = signMessage('m', key);
  const bytes = base64.decode(sig);

  it('not base64', () => {
    expectHsmError(() => parseSignature('not*base64'), 'SIGNATURE_BASE64');
    expectHsmError(() => parseSignature(`${sig.slice(0, -1)}`), 'SIGNATURE_BASE64');
  });

  it('wrong length', () => {
    expectHsmError(() => parseSignature(base64.encode(bytes.slice(0, 64))), 'SIGNATURE_LENGTH');
    expectHsmError(() => parseSignature(base64.encode(Uint8Array.from([...bytes, 0, 0, 0]))), 'SIGNATURE_LENGTH');
  });

  it('headers outside 27..34', () => {
    for (const header of [0, 26, 35, 39, 42, 255]) {
      const bad = Uint8Array.from(bytes);
      bad[0] = header;
      const e = expectHsmError(() => parseSignature(base64.encode(bad)), 'SIGNATURE_HEADER');
      expect(e.message).toContain(String(header));
    }
  });

  it('r or s out of range does not verify', () => {
    const bad = Uint8Array.from(bytes);
    bad.fill(0xff, 1, 33); // r >= n
    expectHsmError(() => recoverMessagePublicKey('m', base64.encode(bad)), 'SIGNATURE_INVALID');
    expect(verifyMessageWithPublicKey('m', base64.encode(bad), secp.getPublicKey(key, true))).toBe(false);
  });

  it('an address of an unsupported type is refused for verification', () => {
    expectHsmError(() => verifyMessageWithAddress('m', sig, '3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy'), 'SIGNATURE_ADDRESS_TYPE');
  });

  it('a bad private key is refused for signing', () => {
    expectHsmError(() => signMessage('m', new Uint8Array(32)), 'BAD_PRIVATE_KEY');
  });
});
