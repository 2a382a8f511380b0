/**
 * The simulated world's own records, so a rig stopped and started again on the same state
 * directory resumes where it was: the world clock, the seed it was built from, the chain's
 * transactions and height, vweb's queues and the gateway's request ledger. One LMDB store
 * (shared/store), separate from the devices' stores.
 * @module
 */
import { z } from 'zod';
import type { Clock } from '../../shared/clock.ts';
import { DeviceStore, defineCollection, type CollectionDef } from '../../shared/store/store.ts';
import { vtestPayloadSchema } from '../../shared/crypto/vtest-cipher.ts';
import type { ChainPersistence, ChainTx, SavedChain } from './host/chain.ts';
import type { BatchCheck, VwebPersistence, Withdrawal } from './host/vweb.ts';

const hexBytes = z.string().regex(/^([0-9a-f]{2})*$/);
const amount = z.string().regex(/^[0-9]+$/);

export const WORLD_RECORDS = {
  /** `clock`: the last world time; `origin`: seed and start of the world. */
  meta: defineCollection(
    'world.meta',
    z.union([
      z.strictObject({ kind: z.literal('clock'), now: z.number() }),
      z.strictObject({ kind: z.literal('origin'), seed: z.string(), start: z.number(), createdAt: z.number() }),
    ]),
  ),
  chainTx: defineCollection(
    'world.chain-tx',
    z.strictObject({
      txid: z.string(),
      raw: hexBytes,
      inputs: z.array(z.strictObject({ sn: z.number(), prevTxid: z.string(), prevSn: z.number(), address: z.string(), value: amount })),
      outputs: z.array(z.strictObject({ sn: z.number(), address: z.string(), value: amount, script: hexBytes, spentBy: z.string().optional() })),
      seenAt: z.number(),
      height: z.number().nullable(),
      confirmedAt: z.number().nullable(),
    }),
  ),
  chainTip: defineCollection('world.chain-tip', z.number().int().min(0)),
  withdrawal: defineCollection(
    'world.vweb-withdrawal',
    z.strictObject({
      vtestId: z.number().int(),
      payload: vtestPayloadSchema,
      queuedAt: z.number(),
      handedOutAt: z.number().optional(),
      state: z.enum(['queued', 'handed-out', 'done', 'failed']),
      txHash: z.string().optional(),
      reportedAt: z.number().optional(),
    }),
  ),
  batch: defineCollection(
    'world.vweb-batch',
    z.strictObject({
      batchNo: z.number().int(),
      coin: z.string().optional(),
      addresses: z.array(z.strictObject({ index: z.number().int(), address: z.string() })),
      addressType: z.union([z.literal(1), z.literal(2)]),
      state: z.enum(['queued', 'handed-out', 'passed', 'failed']),
      handedOutAt: z.number().optional(),
    }),
  ),
} as const;

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const bytes = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'hex'));

export class WorldStore {
  private constructor(readonly store: DeviceStore) {}

  static open(dir: string, clock: Clock, extra: ReadonlyArray<CollectionDef<unknown>> = []): WorldStore {
    return new WorldStore(DeviceStore.open(dir, { app: 'sim-world', schemaVersion: 1, clock, collections: [...Object.values(WORLD_RECORDS), ...extra] }));
  }

  close(): Promise<void> {
    return this.store.close();
  }

  origin(): { seed: string; start: number; createdAt: number } | undefined {
    const o = this.store.get(WORLD_RECORDS.meta, 'origin');
    return o?.kind === 'origin' ? o : undefined;
  }

  saveOrigin(origin: { seed: string; start: number; createdAt: number }): void {
    this.store.transact((tx) => tx.put(WORLD_RECORDS.meta, 'origin', { kind: 'origin', ...origin }));
  }

  /** The world time when the rig last stopped (or saved), if ever. */
  lastTime(): number | undefined {
    const c = this.store.get(WORLD_RECORDS.meta, 'clock');
    return c?.kind === 'clock' ? c.now : undefined;
  }

  saveTime(now: number): void {
    this.store.transact((tx) => tx.put(WORLD_RECORDS.meta, 'clock', { kind: 'clock', now }));
  }

  chainPersistence(): ChainPersistence {
    return {
      saveTx: (tx, order) => this.store.transact((w) => w.put(WORLD_RECORDS.chainTx, order, encodeTx(tx))),
      saveHeight: (height) => this.store.transact((w) => w.put(WORLD_RECORDS.chainTip, 'tip', height)),
    };
  }

  loadChain(): SavedChain | undefined {
    const height = this.store.get(WORLD_RECORDS.chainTip, 'tip');
    const txs = [...this.store.range(WORLD_RECORDS.chainTx)].map((e) => decodeTx(e.value));
    if (height === undefined && txs.length === 0) return undefined;
    return { height: height ?? 0, txs };
  }

  vwebPersistence(): VwebPersistence {
    return {
      saveWithdrawal: (w) => this.store.transact((tx) => tx.put(WORLD_RECORDS.withdrawal, w.vtestId, { ...w })),
      saveBatch: (b, position) => this.store.transact((tx) => tx.put(WORLD_RECORDS.batch, position, { ...b })),
    };
  }

  loadVweb(): { withdrawals: Withdrawal[]; batches: BatchCheck[] } {
    return {
      withdrawals: [...this.store.range(WORLD_RECORDS.withdrawal)].map((e) => e.value),
      batches: [...this.store.range(WORLD_RECORDS.batch)].map((e) => e.value),
    };
  }
}

function encodeTx(tx: ChainTx): z.infer<typeof WORLD_RECORDS.chainTx.schema> {
  return {
    txid: tx.txid,
    raw: hex(tx.raw),
    inputs: tx.inputs.map((i) => ({ ...i, value: i.value.toString() })),
    outputs: tx.outputs.map((o) => ({
      sn: o.sn,
      address: o.address,
      value: o.value.toString(),
      script: hex(o.script),
      ...(o.spentBy === undefined ? {} : { spentBy: o.spentBy }),
    })),
    seenAt: tx.seenAt,
    height: tx.height,
    confirmedAt: tx.confirmedAt,
  };
}

function decodeTx(saved: z.infer<typeof WORLD_RECORDS.chainTx.schema>): ChainTx {
  return {
    txid: saved.txid,
    raw: bytes(saved.raw),
    inputs: saved.inputs.map((i) => ({ ...i, value: BigInt(i.value) })),
    outputs: saved.outputs.map((o) => ({
      sn: o.sn,
      address: o.address,
      value: BigInt(o.value),
      script: bytes(o.script),
      ...(o.spentBy === undefined ? {} : { spentBy: o.spentBy }),
    })),
    seenAt: saved.seenAt,
    height: saved.height,
    confirmedAt: saved.confirmedAt,
  };
}
