/**
 * Crypto figures: a 1,000-address batch from an account xpub (ours: the batch path; @scure/bip32
 * child by child; bitcoinjs-lib + bip32 + tiny-secp256k1), outputs asserted identical; the
 * memory of a 10,000-address job; and BIP-137 verification (ours vs bitcoinjs-message).
 * @module
 */
import { deepStrictEqual } from 'node:assert';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { HDKey } from '@scure/bip32';
import { p2pkhAddress, p2wpkhAddress } from '../../shared/crypto/address.ts';
import { MAX_LANES, addressBatchChunks, deriveAddressBatch } from '../../shared/crypto/batch-derivation.ts';
import { accountSpec, deriveAddresses, exportAccountXpub, importAccountXpub, mnemonicToSeed } from '../../shared/crypto/hd.ts';
import { signMessage, verifyMessageWithAddress } from '../../shared/crypto/message-signature.ts';
import { NETWORKS, type AddressType, type NetworkParams } from '../../shared/crypto/networks.ts';
import { secp } from '../../shared/crypto/secp.ts';
import { BASE_TABLE_BYTES } from '../../shared/crypto/secp-batch.ts';
import { SeededRandom } from '../../shared/random.ts';
import { bitcoinMessage, oracleAccount, oracleAddresses } from '../../test/oracle/bitcoinjs.ts';
import { figure, measure, type Figure } from './harness.ts';

const BATCH = 1000;
const MNEMONIC = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about';

const VARIANTS: Array<{ network: NetworkParams; type: AddressType }> = [
  { network: NETWORKS['btc-main'], type: 'p2pkh' },
  { network: NETWORKS['btc-main'], type: 'p2wpkh' },
  { network: NETWORKS['ltc-main'], type: 'p2pkh' },
  { network: NETWORKS['ltc-main'], type: 'p2wpkh' },
  { network: NETWORKS['doge-main'], type: 'p2pkh' },
];

/** @scure/bip32 used directly, child by child, with the address encoding done per child. */
function scureChildByChild(xpub: string, network: NetworkParams, type: AddressType, from: number): string[] {
  const versions = network.extendedKeyVersions[type === 'p2pkh' ? 44 : 84];
  const chain = HDKey.fromExtendedKey(xpub, versions).deriveChild(0);
  const out: string[] = [];
  for (let i = from; i < from + BATCH; i++) {
    const pub = chain.deriveChild(i).publicKey as Uint8Array;
    out.push(type === 'p2pkh' ? p2pkhAddress(pub, network) : p2wpkhAddress(pub, network));
  }
  return out;
}

export function addressBatchFigures(quick: boolean): Figure[] {
  const seed = mnemonicToSeed(MNEMONIC);
  const figures: Figure[] = [];
  for (const { network, type } of quick ? VARIANTS.slice(0, 1) : VARIANTS) {
    const spec = accountSpec(network, type);
    const xpub = exportAccountXpub(seed, spec);
    const account = importAccountXpub(xpub, spec);
    const peerAccount = oracleAccount(xpub, network, spec.purpose);
    const batchNo = 7; // an arbitrary batch away from index 0
    const from = batchNo * BATCH;
    const ours = (): string[] => deriveAddressBatch(account, spec, 0, from, BATCH);
    const scure = (): string[] => scureChildByChild(xpub, network, type, from);
    const bitcoinjs = (): string[] => oracleAddresses(peerAccount, network, spec.purpose, 0, from, BATCH);
    const expected = ours();
    deepStrictEqual(deriveAddresses(account, spec, 0, from, BATCH), expected, `the reference path differs for ${network.id} ${type}`);
    deepStrictEqual(scure(), expected, `@scure/bip32 batch differs for ${network.id} ${type}`);
    deepStrictEqual(bitcoinjs(), expected, `bitcoinjs batch differs for ${network.id} ${type}`);
    const timings = measure(
      [
        { name: 'ours', run: ours },
        { name: '@scure/bip32 child by child', run: scure },
        { name: 'bitcoinjs-lib + bip32 + tiny-secp256k1', run: bitcoinjs },
      ],
      quick ? { warmup: 1, minRuns: 2, minTimeMs: 0 } : {},
    );
    figures.push(figure(`address batch (1,000) ${network.id} ${type}`, timings, { identicalOutputs: true, batchNo }));
  }
  seed.fill(0);
  return figures;
}

export interface JobMemoryFigure {
  name: string;
  addresses: number;
  chunks: number;
  ms: number;
  /** Highest heap + ArrayBuffer use above the pre-job level, sampled after every chunk (garbage included). */
  peakBytes: number;
  /** The same after a full collection at the end of each chunk: what the job really holds. */
  peakRetainedBytes: number;
  /** Highest resident set size above the pre-job level. */
  peakRssBytes: number;
  /** The fixed-base table, built once per process before the job (so not included above). */
  baseTableBytes: number;
  maxLanes: number;
}

/**
 * A 10,000-address job streamed chunk by chunk, twice: first timed, with heap, ArrayBuffer and
 * RSS use sampled after each chunk; then with a full collection before each sample, for what
 * the job really holds.
 */
export async function batchJobMemoryFigure(quick: boolean): Promise<JobMemoryFigure> {
  const count = quick ? 2000 : 10_000;
  const network = NETWORKS['btc-main'];
  const spec = accountSpec(network, 'p2pkh');
  const seed = mnemonicToSeed(MNEMONIC);
  const account = importAccountXpub(exportAccountXpub(seed, spec), spec);
  seed.fill(0);
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const usage = (): { heap: number; rss: number } => {
    const m = process.memoryUsage();
    return { heap: m.heapUsed + m.arrayBuffers, rss: m.rss };
  };
  const job = (): AsyncGenerator<{ addresses: string[] }> => addressBatchChunks(account, spec, 0, 1_000_000, count);
  deriveAddressBatch(account, spec, 0, 0, MAX_LANES); // the base table exists and the code is warm

  gc();
  let before = usage();
  let peakBytes = 0;
  let peakRssBytes = 0;
  let chunks = 0;
  const t0 = performance.now();
  for await (const chunk of job()) {
    chunks += chunk.addresses.length > 0 ? 1 : 0;
    const now = usage();
    peakBytes = Math.max(peakBytes, now.heap - before.heap);
    peakRssBytes = Math.max(peakRssBytes, now.rss - before.rss);
  }
  const ms = performance.now() - t0;

  gc();
  before = usage();
  let peakRetainedBytes = 0;
  for await (const chunk of job()) {
    if (chunk.addresses.length === 0) throw new Error('empty chunk');
    gc();
    peakRetainedBytes = Math.max(peakRetainedBytes, usage().heap - before.heap);
  }
  return {
    name: `address batch job (${count.toLocaleString('en')}) ${network.id} p2pkh, streamed`,
    addresses: count,
    chunks,
    ms: Math.round(ms * 10) / 10,
    peakBytes,
    peakRetainedBytes,
    peakRssBytes,
    baseTableBytes: BASE_TABLE_BYTES,
    maxLanes: MAX_LANES,
  };
}

export function messageVerifyFigure(quick: boolean): Figure {
  const random = new SeededRandom('bench/bip137');
  const count = quick ? 20 : 200;
  const cases = Array.from({ length: count }, (_, i) => {
    const key = random.bytes(32);
    const message = `{"coin_code":"BTC","is_dynamic_fee":0,"outs":"PING","user_tx_no":"bench-${i}"}`;
    return { message, signature: signMessage(message, key), address: p2pkhAddress(secp.getPublicKey(key, true), NETWORKS['btc-main']) };
  });
  const ours = (): void => {
    for (const c of cases) if (!verifyMessageWithAddress(c.message, c.signature, c.address)) throw new Error('ours rejected a valid signature');
  };
  const peer = (): void => {
    for (const c of cases) if (!bitcoinMessage.verify(c.message, c.address, c.signature)) throw new Error('bitcoinjs-message rejected a valid signature');
  };
  const timings = measure(
    [
      { name: 'ours', run: ours },
      { name: 'bitcoinjs-message', run: peer },
    ],
    quick ? { warmup: 1, minRuns: 2, minTimeMs: 0 } : {},
  );
  return figure(`BIP-137 verify x${count}`, timings, { perSignatureUs: Math.round(((timings[0]?.medianMs ?? 0) / count) * 1000) });
}
