import { describe, expect, it } from 'vitest';
import { SigHash, Transaction } from '@scure/btc-signer';
import { HDKey, mnemonicToSeed, addressForPublicKey } from '../../shared/crypto/hd.ts';
import { NETWORKS } from '../../shared/crypto/networks.ts';
import { SimulatedClock } from '../../shared/clock.ts';
import { SeededRandom } from '../../shared/random.ts';
import { SimulatedChain, type WalletKey } from '../../hw-profiles/sim/host/chain.ts';
import { expectHsmError } from '../helpers/errors.ts';
import { bitcoin, ecc } from '../oracle/bitcoinjs.ts';

const H = 0x80000000;
// bitcoinjs-lib names P2TR outputs only with a curve library.
bitcoin.initEccLib(ecc);
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

function sign(psbt: Uint8Array, keys: Map<string, { privateKey: Uint8Array }>, addresses: string[], sighash?: number): Uint8Array {
  const tx = Transaction.fromPSBT(psbt);
  for (let i = 0; i < tx.inputsLength; i++) {
    if (sighash !== undefined) tx.updateInput(i, { sighashType: sighash }, true);
    tx.signIdx(keys.get(addresses[i]!)!.privateKey, i, sighash === undefined ? undefined : [sighash]);
  }
  tx.finalize();
  return tx.extract();
}

/**
 * The independent check: bitcoinjs-lib computes the sighash (legacy or BIP143) the signature's
 * last byte names, libsecp256k1 (tiny-secp256k1, strict low-S) verifies it, and the public key
 * must hash to the spent output's program. Shares no code with the chain's own check.
 */
function oracleAccepts(raw: Uint8Array, prevouts: ReadonlyMap<string, { script: Uint8Array; value: bigint }>): boolean {
  try {
    const tx = bitcoin.Transaction.fromBuffer(Buffer.from(raw));
    return tx.ins.every((input, i) => {
      const prev = prevouts.get(`${Buffer.from(input.hash).reverse().toString('hex')}:${input.index}`);
      if (prev === undefined) return false;
      const segwit = prev.script[0] === 0x00;
      const pushes = segwit ? input.witness : bitcoin.script.decompile(input.script);
      if (pushes === null || pushes.length !== 2 || !pushes.every((p) => p instanceof Uint8Array)) return false;
      const [sigWithType, pubkey] = pushes as [Uint8Array, Uint8Array];
      const program = segwit ? prev.script.subarray(2) : prev.script.subarray(3, 23);
      if (!Buffer.from(bitcoin.crypto.hash160(pubkey)).equals(Buffer.from(program))) return false;
      const { signature, hashType } = bitcoin.script.signature.decode(sigWithType);
      const hash = segwit
        ? tx.hashForWitnessV0(i, bitcoin.payments.p2pkh({ hash: program }).output as Uint8Array, prev.value, hashType)
        : tx.hashForSignature(i, prev.script, hashType);
      return ecc.verify(hash, pubkey, signature, true);
    });
  } catch {
    return false;
  }
}

async function accepts(chain: SimulatedChain, raw: Uint8Array): Promise<boolean> {
  try {
    await chain.broadcast(raw);
    return true;
  } catch (error) {
    if (!['CHAIN_BAD_SIGNATURE', 'CHAIN_UNKNOWN_INPUT', 'CHAIN_MALFORMED', 'CHAIN_VALUE'].includes((error as { code?: string }).code ?? '')) throw error;
    return false;
  }
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

  for (const type of ['p2pkh', 'p2wpkh'] as const) {
    it(`accepts exactly the ${type} spends bitcoinjs-lib verifies: 6 sighash types and 300 seeded one-byte changes`, async () => {
      const random = new SeededRandom(`chain-oracle-${type}`);
      const w = wallet(type);
      const receive = w.list.filter((k) => k.path[3] === 0);
      // A fresh chain for each spend, so every signed variant spends the same unspent outputs.
      const fundedChain = (): SimulatedChain => {
        const chain = new SimulatedChain({ clock: new SimulatedClock(), network: NETWORKS['btc-main'], random: new SeededRandom('oracle-funds') });
        chain.fund(receive[0]!.address, 50_000n);
        chain.fund(receive[1]!.address, 30_000n);
        return chain;
      };
      const template = fundedChain();
      const built = template.buildPsbt({
        // Every kind of output the chain names: P2PKH, P2SH, P2WPKH, P2WSH, P2TR.
        payments: [
          { address: '1NbbvxBYxGGCBhaM8mow1HFWA7dB5yukmY', value: 10_000n },
          { address: '3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy', value: 10_000n },
          { address: 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq', value: 10_000n },
          { address: 'bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3', value: 10_000n },
          { address: 'bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr', value: 10_000n },
        ],
        wallet: (a) => w.keys.get(a),
        walletAddresses: w.list.map((k) => k.address),
        change: w.list.find((k) => k.path[3] === 1)!,
        fingerprint: w.fingerprint,
        feeRate: 2,
      });
      const prevouts = new Map(template.utxos(w.list.map((k) => k.address)).map((u) => [`${u.txid}:${u.vout}`, { script: u.script, value: u.value }]));
      const signers = built.inputs.map((i) => i.address);

      const sighashes = [SigHash.ALL, SigHash.NONE, SigHash.SINGLE, SigHash.ALL_ANYONECANPAY, SigHash.NONE_ANYONECANPAY, SigHash.SINGLE_ANYONECANPAY];
      for (const sighash of sighashes) {
        const raw = sign(built.psbt, w.keys, signers, sighash);
        expect(oracleAccepts(raw, prevouts), `sighash ${sighash}`).toBe(true);
        const chain = fundedChain();
        const tx = await chain.broadcast(raw);
        // The output addresses, as bitcoinjs-lib names the scripts.
        expect(tx.outputs.map((o) => o.address)).toEqual(tx.outputs.map((o) => bitcoin.address.fromOutputScript(o.script, bitcoin.networks.bitcoin)));
      }

      const raw = sign(built.psbt, w.keys, signers);
      let rejected = 0;
      for (let n = 0; n < 300; n++) {
        const changed = Uint8Array.from(raw);
        const at = random.int(changed.length);
        changed[at] = (changed[at] as number) ^ (1 << random.int(8));
        const expected = oracleAccepts(changed, prevouts);
        expect(await accepts(fundedChain(), changed), `byte ${at} changed`).toBe(expected);
        if (!expected) rejected++;
      }
      expect(rejected).toBeGreaterThan(250);
    }, 120_000);
  }
});
