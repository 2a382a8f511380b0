import { describe, expect, it } from 'vitest';
import { Transaction } from '@scure/btc-signer';
import { HDKey, mnemonicToSeed, addressForPublicKey } from '../../shared/crypto/hd.ts';
import { NETWORKS } from '../../shared/crypto/networks.ts';
import { SimulatedClock } from '../../shared/clock.ts';
import { SeededRandom } from '../../shared/random.ts';
import { SimulatedChain, type WalletKey } from '../../hw-profiles/sim/host/chain.ts';
import { expectHsmError } from '../helpers/errors.ts';

const H = 0x80000000;
const seed = mnemonicToSeed('abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about');

function wallet(type: 'p2pkh' | 'p2wpkh') {
  const master = HDKey.fromMasterSeed(seed);
  const purpose = type === 'p2pkh' ? 44 : 84;
  const keys = new Map<string, WalletKey & { privateKey: Uint8Array }>();
  for (const chain of [0, 1]) {
    for (let index = 0; index < 5; index++) {
      const path = [purpose + H, H, H, chain, index];
      const node = master.derive(`m/${purpose}'/0'/0'/${chain}/${index}`);
      const address = addressForPublicKey(node.publicKey!, NETWORKS['btc-main'], type);
      keys.set(address, { address, publicKey: node.publicKey!, path, privateKey: node.privateKey! });
    }
  }
  return { keys, fingerprint: master.fingerprint, list: [...keys.values()] };
}

function sign(psbt: Uint8Array, keys: Map<string, { privateKey: Uint8Array }>, addresses: string[]): Uint8Array {
  const tx = Transaction.fromPSBT(psbt);
  for (let i = 0; i < tx.inputsLength; i++) tx.signIdx(keys.get(addresses[i]!)!.privateKey, i);
  tx.finalize();
  return tx.extract();
}

describe('simulated chain', () => {
  for (const type of ['p2pkh', 'p2wpkh'] as const) {
    it(`builds a PSBT from ${type} UTXOs, accepts only validly signed spends, and confirms them over time`, async () => {
      const clock = new SimulatedClock();
      const chain = new SimulatedChain({ clock, network: NETWORKS['btc-main'], random: new SeededRandom('chain') });
      chain.start();
      const w = wallet(type);
      const receive = w.list.filter((k) => k.path[3] === 0);
      chain.fund(receive[0]!.address, 50_000n);
      chain.fund(receive[1]!.address, 30_000n);
      await clock.advance(600_000);
      const change = w.list.find((k) => k.path[3] === 1)!;
      const built = chain.buildPsbt({
        payments: [{ address: '1NbbvxBYxGGCBhaM8mow1HFWA7dB5yukmY', value: 60_000n }],
        wallet: (a) => w.keys.get(a),
        walletAddresses: w.list.map((k) => k.address),
        change,
        fingerprint: w.fingerprint,
        feeRate: 2,
      });
      expect(built.inputs).toHaveLength(2);
      expect(built.changeValue).toBe(80_000n - 60_000n - built.fee);
      const raw = sign(built.psbt, w.keys, built.inputs.map((i) => i.address));
      // A signature made for other data does not pass.
      const tampered = Uint8Array.from(raw);
      tampered[tampered.length - 6] = (tampered[tampered.length - 6] ?? 0) ^ 1;
      await expect(chain.broadcast(tampered)).rejects.toMatchObject({ code: 'CHAIN_BAD_SIGNATURE' });
      const tx = await chain.broadcast(raw);
      expect(chain.confirmations(tx)).toBe(0);
      await expect(chain.broadcast(sign(built.psbt, w.keys, built.inputs.map((i) => i.address)))).resolves.toMatchObject({ txid: tx.txid });
      await clock.advance(3 * 600_000);
      expect(chain.confirmations(tx)).toBe(3);
      expect(chain.balance(w.list.map((k) => k.address))).toBe(built.changeValue);
      const mine = new Set(w.list.map((k) => k.address));
      expect(chain.history((a) => mine.has(a)).map((t) => t.txid)).toContain(tx.txid);
      // Spending the same outputs again is a double spend.
      const again = chain.buildPsbt({ payments: [{ address: '1NbbvxBYxGGCBhaM8mow1HFWA7dB5yukmY', value: 1000n }], wallet: (a) => w.keys.get(a), walletAddresses: [change.address], change, fingerprint: w.fingerprint, feeRate: 1 });
      expect(again.inputs[0]!.txid).toBe(tx.txid);
      chain.stop();
    });
  }

  it('refuses a withdrawal the wallet cannot pay', () => {
    const chain = new SimulatedChain({ clock: new SimulatedClock(), network: NETWORKS['btc-main'], random: new SeededRandom('poor') });
    const w = wallet('p2pkh');
    chain.fund(w.list[0]!.address, 1000n);
    expectHsmError(
      () => chain.buildPsbt({ payments: [{ address: '1NbbvxBYxGGCBhaM8mow1HFWA7dB5yukmY', value: 5000n }], wallet: (a) => w.keys.get(a), walletAddresses: w.list.map((k) => k.address), change: w.list[5]!, fingerprint: w.fingerprint, feeRate: 1 }),
      'CHAIN_INSUFFICIENT_FUNDS',
    );
  });
});
