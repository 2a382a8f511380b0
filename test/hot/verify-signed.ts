/**
 * Checks a signed transaction with the independent oracle (bitcoinjs-lib and libsecp256k1 via
 * tiny-secp256k1): every input's signature is verified against the script and amount of the
 * output it spends, with the sighash bitcoinjs computes itself (legacy for P2PKH, BIP143 for
 * P2WPKH).
 */
import { bitcoin, ecc } from '../oracle/bitcoinjs.ts';

export interface Prevout {
  script: Uint8Array;
  amount: bigint;
}

export interface OracleReport {
  txid: string;
  inputs: number;
  outputs: Array<{ script: string; value: bigint }>;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}

/** Throws naming the first input whose signature does not verify. */
export function verifySignedTransaction(rawHex: string, prevouts: readonly Prevout[]): OracleReport {
  const tx = bitcoin.Transaction.fromHex(rawHex);
  if (tx.ins.length !== prevouts.length) throw new Error(`the transaction has ${tx.ins.length} inputs, expected ${prevouts.length}`);
  tx.ins.forEach((input, i) => {
    const prev = prevouts[i] as Prevout;
    const script = prev.script;
    let signatureBytes: Uint8Array;
    let publicKey: Uint8Array;
    let hash: (hashType: number) => Uint8Array;
    if (script.length === 25 && script[0] === 0x76 && script[1] === 0xa9) {
      const chunks = bitcoin.script.decompile(input.script);
      if (chunks === null || chunks.length !== 2 || typeof chunks[0] === 'number' || typeof chunks[1] === 'number') {
        throw new Error(`input ${i}: a P2PKH scriptSig must push a signature and a public key`);
      }
      [signatureBytes, publicKey] = chunks as [Uint8Array, Uint8Array];
      if (input.witness.length !== 0) throw new Error(`input ${i}: a P2PKH input has no witness`);
      hash = (hashType) => tx.hashForSignature(i, script, hashType);
    } else if (script.length === 22 && script[0] === 0x00 && script[1] === 0x14) {
      if (input.script.length !== 0) throw new Error(`input ${i}: a P2WPKH input has an empty scriptSig`);
      if (input.witness.length !== 2) throw new Error(`input ${i}: a P2WPKH witness has two items`);
      [signatureBytes, publicKey] = input.witness as [Uint8Array, Uint8Array];
      const scriptCode = bitcoin.payments.p2pkh({ pubkey: publicKey }).output as Uint8Array;
      hash = (hashType) => tx.hashForWitnessV0(i, scriptCode, prev.amount, hashType);
    } else {
      throw new Error(`input ${i}: spends a script the oracle check does not cover`);
    }
    const expectedHash = script.length === 25 ? script.subarray(3, 23) : script.subarray(2, 22);
    if (!equal(bitcoin.crypto.hash160(publicKey), expectedHash)) throw new Error(`input ${i}: the public key does not match the spent script`);
    const { signature, hashType } = bitcoin.script.signature.decode(signatureBytes);
    if (hashType !== bitcoin.Transaction.SIGHASH_ALL) throw new Error(`input ${i}: sighash type ${hashType}, expected SIGHASH_ALL`);
    if (!ecc.verify(hash(hashType), publicKey, signature, true)) throw new Error(`input ${i}: the signature does not verify`);
  });
  return { txid: tx.getId(), inputs: tx.ins.length, outputs: tx.outs.map((o) => ({ script: hex(o.script), value: o.value })) };
}
