import { describe, expect, it } from 'vitest';
import { decodeAddress, encodeBase58Address, isValidAddress, outputScript, p2pkhAddress, p2wpkhAddress } from '../../shared/crypto/address.ts';
import { NETWORKS, getNetwork } from '../../shared/crypto/networks.ts';
import { HsmError } from '../../shared/errors.ts';
import { expectHsmError } from '../helpers/errors.ts';
import { loadVectors } from '../helpers/vectors.ts';

const btc = NETWORKS['btc-main'];
const btcTest = NETWORKS['btc-test'];
const ltc = NETWORKS['ltc-main'];
const doge = NETWORKS['doge-main'];

interface Bip350 {
  valid: Array<{ address: string; scriptPubKey: string }>;
  invalid: Array<{ address: string; reason: string }>;
}
const bip350 = loadVectors<Bip350>('bip350-addresses');

function networkForHrp(address: string): typeof btc {
  const hrp = address.slice(0, address.lastIndexOf('1')).toLowerCase();
  return Object.values(NETWORKS).find((n) => n.bech32Hrp === hrp) ?? btc;
}

describe('BIP350 segwit address vectors', () => {
  for (const v of bip350.valid) {
    it(`valid ${v.address.slice(0, 20)}…`, () => {
      const network = networkForHrp(v.address);
      const version = Number.parseInt(v.scriptPubKey.slice(0, 2), 16);
      const programLength = Number.parseInt(v.scriptPubKey.slice(2, 4), 16);
      const supported = (version === 0 && (programLength === 20 || programLength === 32)) || (version === 0x51 && programLength === 32);
      if (supported) {
        expect(Buffer.from(outputScript(decodeAddress(v.address, network))).toString('hex')).toBe(v.scriptPubKey);
      } else {
        // Future witness versions are valid on chain but refused as payment destinations.
        expectHsmError(() => decodeAddress(v.address, network), 'ADDRESS_VERSION');
      }
    });
  }
  for (const v of bip350.invalid) {
    it(`invalid: ${v.reason}`, () => {
      let caught: unknown;
      try {
        decodeAddress(v.address, networkForHrp(v.address));
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(HsmError);
      const code = (caught as HsmError).code;
      if (v.reason.startsWith('Invalid checksum')) expect(code).toBe('ADDRESS_CHECKSUM');
      if (v.reason === 'Mixed case' || v.reason.startsWith('Invalid character')) expect(code).toBe('ADDRESS_CHARSET');
      if (v.reason.startsWith('Invalid program length')) expect(code).toBe('ADDRESS_PROGRAM');
    });
  }
});

describe('address encoding', () => {
  const pub = Buffer.from('0330d54fd0dd420a6e5f8d3624f5f3482cae350f79d5f0753bf5beef9c2d91af3c', 'hex');

  it('encodes P2PKH and P2WPKH for the networks that have them', () => {
    expect(p2wpkhAddress(pub, btc)).toBe('bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu');
    expect(p2pkhAddress(pub, btc).startsWith('1')).toBe(true);
    expect(p2pkhAddress(pub, ltc).startsWith('L')).toBe(true);
    expect(p2wpkhAddress(pub, ltc).startsWith('ltc1q')).toBe(true);
    expect(p2pkhAddress(pub, doge).startsWith('D')).toBe(true);
    expect(p2wpkhAddress(pub, NETWORKS['btc-regtest']).startsWith('bcrt1q')).toBe(true);
    expectHsmError(() => p2wpkhAddress(pub, doge), 'ADDRESS_WRONG_NETWORK');
  });

  it('round-trips every type through decode and outputScript', () => {
    const hash = new Uint8Array(20).fill(0xab);
    const p2sh = encodeBase58Address(btc.p2shVersion, hash);
    expect(decodeAddress(p2sh, btc).type).toBe('p2sh');
    expect(Buffer.from(outputScript(decodeAddress(p2sh, btc))).toString('hex')).toBe(`a914${'ab'.repeat(20)}87`);
    const p2pkh = encodeBase58Address(doge.p2pkhVersion, hash);
    expect(Buffer.from(outputScript(decodeAddress(p2pkh, doge))).toString('hex')).toBe(`76a914${'ab'.repeat(20)}88ac`);
  });
});

describe('address validation names the problem', () => {
  const good = '1LqBGSKuX5yYUonjxT5qGfpUsXKYYWeabA';

  it('accepts a valid address and says so', () => {
    expect(isValidAddress(good, btc)).toBe(true);
    expect(isValidAddress(good, ltc)).toBe(false);
  });

  it('empty, too long, bad characters', () => {
    expectHsmError(() => decodeAddress('', btc, 'outs[0].address'), 'ADDRESS_EMPTY', 'outs[0].address');
    expectHsmError(() => decodeAddress('1'.repeat(91), btc), 'ADDRESS_TOO_LONG');
    expectHsmError(() => decodeAddress('1LqBGSKuX5yYUonjxT5qGfpUsXKYYWeab0', btc), 'ADDRESS_CHARSET');
  });

  it('a changed character fails the checksum', () => {
    expectHsmError(() => decodeAddress(`${good.slice(0, -1)}B`, btc), 'ADDRESS_CHECKSUM');
    expectHsmError(() => decodeAddress('bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyv', btc), 'ADDRESS_CHECKSUM');
  });

  it('an address of another coin or network is named as such', () => {
    const testnet = p2pkhAddress(Buffer.from('0330d54fd0dd420a6e5f8d3624f5f3482cae350f79d5f0753bf5beef9c2d91af3c', 'hex'), btcTest);
    const e1 = expectHsmError(() => decodeAddress(testnet, btc), 'ADDRESS_WRONG_NETWORK');
    expect(e1.message).toContain('btc-test');
    const e2 = expectHsmError(() => decodeAddress('LUWPbpM43E2p7ZSh8cyTBEkvpHmr3cB8Ez', btc), 'ADDRESS_WRONG_NETWORK');
    expect(e2.message).toContain('ltc-main');
    const e3 = expectHsmError(() => decodeAddress('bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu', ltc), 'ADDRESS_WRONG_NETWORK');
    expect(e3.message).toContain('"bc"');
    expectHsmError(() => decodeAddress('DBus3bamQjgJULBJtYXpEzDWQRwF5iwxgC', btc), 'ADDRESS_WRONG_NETWORK');
  });

  it('an unknown version byte is reported', () => {
    expectHsmError(() => decodeAddress(encodeBase58Address(0x99, new Uint8Array(20)), btc), 'ADDRESS_VERSION');
  });

  it('getNetwork refuses unknown ids', () => {
    expectHsmError(() => getNetwork('btc-signet'), 'UNKNOWN_NETWORK');
  });
});
