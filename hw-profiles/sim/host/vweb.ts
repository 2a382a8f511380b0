/**
 * vweb: the customer's own site, which the V-Device polls (seed "V-Device Sample"; the app's
 * VWebService, spec "What the released app does"):
 *
 *   GET  /api/v1/open/vtest   → {vtest_info, vtest_at, vtest_id} or null   the next withdrawal
 *   POST /api/v1/open/vtest   vtest_id, tx_hash (absent or empty: failed) → {result: true}
 *   GET  /api/v1/open/batch   → {batch_no, address_list, coin_type, status, address_type} or null
 *   POST /api/v1/open/batch   batch_no, status (2 ok / 3 failed), type (1 hot / 2 cold), coin_type
 *
 * Withdrawals are queued by the rig (or a test) and handed out as the spec's `vtest_info`
 * under the shared password (plaintext JSON when the password is empty, as the app allows).
 * The next withdrawal is the oldest one not reported yet, so a V-Device that failed to post it
 * (HSM-Hot out of reach) pulls the same one again and re-posts it, as the app does; the
 * platform answers a request it already has with code 3. A batch handed out and not reported
 * within `redeliverAfterMs` is handed out again.
 * @module
 */
import type { FastifyInstance } from 'fastify';
import type { Clock } from '../../../shared/clock.ts';
import { ADDRESS_TYPE, BATCH_STATUS } from '../../../shared/crypto/batch-content.ts';
import { encryptVtest, type VtestPayload } from '../../../shared/crypto/vtest-cipher.ts';
import type { Logger } from '../../../shared/log.ts';
import type { RandomSource } from '../../../shared/random.ts';
import { GatewayError } from './gateway-errors.ts';
import { apiTime, registerFormParser, webApp } from './http.ts';

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
  /** The coin of the addresses (`coin_type`); BTC when absent. */
  coin?: string;
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
  log?: Logger;
}

export class Vweb {
  readonly withdrawals: Withdrawal[] = [];
  readonly batches: BatchCheck[] = [];
  private readonly app: FastifyInstance;
  private readonly listeners = new Set<(event: { type: string; [k: string]: unknown }) => void>();
  private nextId = 1;

  constructor(private readonly options: VwebOptions) {
    this.app = webApp(options.log);
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
      const next = this.withdrawals.find((w) => w.state === 'queued' || w.state === 'handed-out');
      if (next === undefined) return null;
      next.state = 'handed-out';
      next.handedOutAt = now();
      this.saveWithdrawal(next);
      return { vtest_info: encryptVtest(next.payload, this.options.password, this.options.random), vtest_at: apiTime(next.queuedAt, false), vtest_id: next.vtestId };
    });

    this.app.post('/api/v1/open/vtest', async (request) => {
      const body = formOf(request.body);
      const vtestId = Number(body.vtest_id);
      const withdrawal = /^[0-9]{1,15}$/.test(body.vtest_id ?? '') ? this.withdrawal(vtestId) : undefined;
      if (withdrawal === undefined) throw vwebError('unknown vtest_id', 'vtest_id', 1001);
      const txHash = body.tx_hash ?? '';
      if (txHash !== '' && !/^[0-9a-f]{64}$/.test(txHash)) throw vwebError('tx_hash must be 64 hex digits, or absent for a failure', 'tx_hash', 1002);
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
      return { batch_no: next.batchNo, address_list: next.addresses, coin_type: next.coin ?? 'BTC', status: null, address_type: next.addressType };
    });

    this.app.post('/api/v1/open/batch', async (request) => {
      const body = formOf(request.body);
      const integer = (name: string): number => {
        const value = body[name];
        if (value === undefined || !/^[0-9]{1,10}$/.test(value)) throw vwebError(`${name} must be an integer`, name, 40001);
        return Number(value);
      };
      const batchNo = integer('batch_no');
      const status = integer('status');
      const type = integer('type');
      const coin = body.coin_type ?? 'BTC';
      if (status !== BATCH_STATUS.success && status !== BATCH_STATUS.failed) throw vwebError('status must be 2 or 3', 'status', 1004);
      // The report answers the copy that was handed out (a batch can be queued again after a fix).
      const matching = this.batches.filter((b) => b.batchNo === batchNo && b.addressType === type && (b.coin ?? 'BTC') === coin);
      const batch = matching.find((b) => b.state === 'handed-out') ?? matching[matching.length - 1];
      if (batch === undefined) {
        const field = this.batches.some((b) => b.batchNo === batchNo && b.addressType === type) ? 'coin_type' : 'batch_no';
        throw vwebError(`no ${coin} batch ${batchNo} of type ${type} was handed out`, field, 1003);
      }
      batch.state = status === BATCH_STATUS.success ? 'passed' : 'failed';
      this.saveBatch(batch);
      this.emit({ type: 'vweb.batch-reported', batchNo, addressType: type, status });
      return { result: true };
    });
  }
}

function formOf(body: unknown): Record<string, string | undefined> {
  return (body ?? {}) as Record<string, string | undefined>;
}

/** vweb's refusals, in the project's error form with vweb's own codes. */
function vwebError(message: string, field: string, code: number): GatewayError {
  return new GatewayError('INPUT', message, field, code);
}
