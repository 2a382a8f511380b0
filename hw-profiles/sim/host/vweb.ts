/**
 * vweb: the customer's own site, which the V-Device polls (seed "V-Device Sample"):
 *
 *   GET  /api/v1/open/vtest   → {vtest_info, vtest_at, vtest_id} or null   the next withdrawal
 *   POST /api/v1/open/vtest   vtest_id, tx_hash (empty: failed) → {result: true}
 *   GET  /api/v1/open/batch   → {batch_no, address_list, address_type} or null
 *   POST /api/v1/open/batch   batch_no, status (2 ok / 3 failed), type (1 hot / 2 cold)
 *
 * Withdrawals are queued by the rig (or a test) and handed out encrypted as the spec's
 * `vtest_info` under the shared password. A withdrawal handed out and not reported within
 * `redeliverAfterMs` is handed out again (the V-Device uses vtest_id as user_tx_no, so the
 * platform and the HSMs see the same request again, which they answer idempotently).
 * @module
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { Clock } from '../../../shared/clock.ts';
import { ADDRESS_TYPE, BATCH_STATUS } from '../../../shared/crypto/batch-content.ts';
import { encryptVtest, type VtestPayload } from '../../../shared/crypto/vtest-cipher.ts';
import type { RandomSource } from '../../../shared/random.ts';
import { apiTime, registerFormParser } from './http.ts';

export interface Withdrawal {
  vtestId: number;
  payload: VtestPayload;
  queuedAt: number;
  handedOutAt?: number;
  state: 'queued' | 'handed-out' | 'done' | 'failed';
  txHash?: string;
  reportedAt?: number;
}

export interface BatchCheck {
  batchNo: number;
  addresses: Array<{ index: number; address: string }>;
  addressType: 1 | 2;
  state: 'queued' | 'handed-out' | 'passed' | 'failed';
  handedOutAt?: number;
}

/** Where vweb keeps its queues (a world store); optional. */
export interface VwebPersistence {
  saveWithdrawal(withdrawal: Withdrawal): void;
  /** `position` is the batch's place in the queue. */
  saveBatch(batch: BatchCheck, position: number): void;
}

export interface VwebOptions {
  clock: Clock;
  random: RandomSource;
  password: string;
  redeliverAfterMs?: number;
  persistence?: VwebPersistence;
  saved?: { withdrawals: Withdrawal[]; batches: BatchCheck[] };
}

export class Vweb {
  readonly withdrawals: Withdrawal[] = [];
  readonly batches: BatchCheck[] = [];
  private readonly app: FastifyInstance;
  private readonly listeners = new Set<(event: { type: string; [k: string]: unknown }) => void>();
  private nextId = 1;

  constructor(private readonly options: VwebOptions) {
    this.app = Fastify({ logger: false, bodyLimit: 64 * 1024 });
    registerFormParser(this.app);
    this.routes();
    if (options.saved !== undefined) {
      this.withdrawals.push(...options.saved.withdrawals);
      this.batches.push(...options.saved.batches);
      this.nextId = Math.max(0, ...this.withdrawals.map((w) => w.vtestId)) + 1;
    }
  }

  onEvent(listener: (event: { type: string; [k: string]: unknown }) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Queues a withdrawal for the V-Device; returns its vtest_id. */
  queueWithdrawal(payload: VtestPayload): number {
    const vtestId = this.nextId++;
    const withdrawal: Withdrawal = { vtestId, payload, queuedAt: this.options.clock.now(), state: 'queued' };
    this.withdrawals.push(withdrawal);
    this.options.persistence?.saveWithdrawal(withdrawal);
    this.emit({ type: 'vweb.withdrawal-queued', vtestId, outs: payload.outs });
    return vtestId;
  }

  /** Queues an address batch for the V-Device to check. */
  queueBatchCheck(batchNo: number, addresses: string[], addressType: 'hot' | 'cold', firstIndex = batchNo * 1000): void {
    const batch: BatchCheck = {
      batchNo,
      addresses: addresses.map((address, k) => ({ index: firstIndex + k, address })),
      addressType: addressType === 'hot' ? ADDRESS_TYPE.hotSend : ADDRESS_TYPE.coldReceive,
      state: 'queued',
    };
    this.batches.push(batch);
    this.options.persistence?.saveBatch(batch, this.batches.length - 1);
    this.emit({ type: 'vweb.batch-queued', batchNo, addressType });
  }

  private saveWithdrawal(withdrawal: Withdrawal): void {
    this.options.persistence?.saveWithdrawal(withdrawal);
  }

  private saveBatch(batch: BatchCheck): void {
    this.options.persistence?.saveBatch(batch, this.batches.indexOf(batch));
  }

  withdrawal(vtestId: number): Withdrawal | undefined {
    return this.withdrawals.find((w) => w.vtestId === vtestId);
  }

  async listen(host = '127.0.0.1', port = 0): Promise<string> {
    return this.app.listen({ host, port });
  }

  async close(): Promise<void> {
    await this.app.close();
  }

  private emit(event: { type: string; [k: string]: unknown }): void {
    for (const l of this.listeners) l(event);
  }

  private routes(): void {
    const now = (): number => this.options.clock.now();
    const redeliver = this.options.redeliverAfterMs ?? 10 * 60_000;

    this.app.get('/api/v1/open/vtest', async () => {
      const next = this.withdrawals.find((w) => w.state === 'queued' || (w.state === 'handed-out' && now() - (w.handedOutAt ?? 0) > redeliver));
      if (next === undefined) return null;
      next.state = 'handed-out';
      next.handedOutAt = now();
      this.saveWithdrawal(next);
      return { vtest_info: encryptVtest(next.payload, this.options.password, this.options.random), vtest_at: apiTime(next.queuedAt, false), vtest_id: next.vtestId };
    });

    this.app.post('/api/v1/open/vtest', async (request, reply) => {
      const body = (request.body ?? {}) as Record<string, string | undefined>;
      const vtestId = Number(body.vtest_id);
      const withdrawal = Number.isInteger(vtestId) ? this.withdrawal(vtestId) : undefined;
      if (withdrawal === undefined) return reply.code(400).send(errorBody('vtest_id', 'unknown vtest_id', 1001));
      const txHash = body.tx_hash ?? '';
      if (txHash !== '' && !/^[0-9a-f]{64}$/.test(txHash)) return reply.code(400).send(errorBody('tx_hash', 'tx_hash must be 64 hex digits or empty', 1002));
      withdrawal.state = txHash === '' ? 'failed' : 'done';
      withdrawal.reportedAt = now();
      if (txHash !== '') withdrawal.txHash = txHash;
      this.saveWithdrawal(withdrawal);
      this.emit({ type: 'vweb.withdrawal-reported', vtestId, txHash: txHash === '' ? null : txHash });
      return { result: true };
    });

    this.app.get('/api/v1/open/batch', async () => {
      const next = this.batches.find((b) => b.state === 'queued' || (b.state === 'handed-out' && now() - (b.handedOutAt ?? 0) > redeliver));
      if (next === undefined) return null;
      next.state = 'handed-out';
      next.handedOutAt = now();
      this.saveBatch(next);
      return { batch_no: next.batchNo, address_list: next.addresses, address_type: next.addressType };
    });

    this.app.post('/api/v1/open/batch', async (request, reply) => {
      const body = (request.body ?? {}) as Record<string, string | undefined>;
      const batchNo = Number(body.batch_no);
      const status = Number(body.status);
      const type = Number(body.type);
      // The report answers the copy that was handed out (a batch can be queued again after a fix).
      const matching = this.batches.filter((b) => b.batchNo === batchNo && b.addressType === type);
      const batch = matching.find((b) => b.state === 'handed-out') ?? matching[matching.length - 1];
      if (batch === undefined) return reply.code(400).send(errorBody('batch_no', 'unknown batch_no for that type', 1003));
      if (status !== BATCH_STATUS.success && status !== BATCH_STATUS.failed) return reply.code(400).send(errorBody('status', 'status must be 2 or 3', 1004));
      batch.state = status === BATCH_STATUS.success ? 'passed' : 'failed';
      this.saveBatch(batch);
      this.emit({ type: 'vweb.batch-reported', batchNo, addressType: type, status });
      return { result: true };
    });
  }
}

function errorBody(field: string, message: string, code: number): { errors: Array<{ field: string; message: string; code: number }> } {
  return { errors: [{ field, message, code }] };
}

