/**
 * The Hot-Sending request lifecycle (seed "Hot Sending API"; DESIGN.md rule 5).
 *
 *   tx_request ──▶ record {status 0} ──▶ cold.approve (durable outbox) ──▶ reply hook:
 *                   (one transaction with        verify HSM-Cold's signature, re-check
 *                    the nonce and the journal)  the PSBT, sign, store {status 1, tx}
 *                                                or {status 9, reason}, journal it
 *
 * One record per user_tx_no, keyed by it. A retried request (same request hash, PSBT,
 * vc_code and c_id) gets the stored record back; a different one for a known user_tx_no is
 * refused (USER_TX_NO_CONFLICT), so one user_tx_no never leads to two transactions. The reply
 * hook runs in the transaction that settles the outbox entry, so the signed transaction and
 * status 1 commit with it: a crash before that commit leaves the request in the outbox, HSM-Cold
 * replays its recorded reply, and the deterministic signer produces the same transaction.
 * A crash between storing the record and writing the outbox entry is repaired by `resume()`.
 *
 * One unsigned transaction belongs to one request (PSBT_ALREADY_REQUESTED otherwise), until
 * that request fails. Signing the same transaction twice with different claimed input amounts
 * would let whoever builds the PSBTs combine the two signature sets into a transaction whose
 * real fee neither check saw (BIP143 commits to each input's amount, not to the others').
 *
 * hot_wallet_tx_status: 0 pending, 1 OK (tx_hash and raw transaction; for the V-Device's PING
 * no transaction), 9 failed (the reason's code and message).
 * @module
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Clock } from '../shared/clock.ts';
import { HsmError } from '../shared/errors.ts';
import { requestHash, verifyApproval, type ApprovalKind, type ApprovalStatement } from '../shared/chaincloud/approval.ts';
import { bytesToHex } from '../shared/crypto/hash.ts';
import { COINS, type Coin } from '../shared/crypto/networks.ts';
import { PING_OUTS, checkRequestFields, parseOuts, type HotSendRequest, type Payment } from '../shared/crypto/request-string.ts';
import type { Logger } from '../shared/log.ts';
import { silentLogger } from '../shared/log.ts';
import type { ReplyOf, RequestOf } from '../shared/link/messages.ts';
import { DEVICE_LINK_MESSAGES, unpackBody } from '../shared/link/messages.ts';
import { RPC_COLLECTIONS, type Outcome, type RpcEndpoint } from '../shared/link/rpc.ts';
import { defineCollection } from '../shared/store/collection.ts';
import type { DeviceStore, ReadView, WriteTx } from '../shared/store/store.ts';
import type { Vault } from '../shared/store/vault.ts';
import { withSeedKeys, type AccountBook } from './accounts.ts';
import { coinConfig, networkOf, type HotConfig } from './config.ts';
import { apiTime } from './api-wire.ts';
import type { Journal, JsonData } from './journal.ts';
import { checkPsbt, signPsbt, type SigningPolicy } from './signer.ts';

type ApproveRequest = RequestOf<typeof DEVICE_LINK_MESSAGES, 'cold.approve'>;
type ApproveReply = ReplyOf<typeof DEVICE_LINK_MESSAGES, 'cold.approve'>;

export const TX_STATUS = { pending: 0, ok: 1, failed: 9 } as const;
export type TxStatus = (typeof TX_STATUS)[keyof typeof TX_STATUS];

const bytes = z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'expected bytes');
const hex64 = z.string().regex(/^[0-9a-f]{64}$/);

const requestRecordSchema = z.strictObject({
  /** hot_wallet_tx_id: this device's number for the request. */
  no: z.number().int().positive(),
  userTxNo: z.string().min(1).max(64),
  coinCode: z.enum(COINS),
  outs: z.string(),
  isDynamicFee: z.union([z.literal(0), z.literal(1)]),
  outType: z.number().int().nonnegative().optional(),
  memo: z.string().optional(),
  vcCode: z.string(),
  cId: z.number().int().nonnegative(),
  requestHash: hex64,
  psbt: bytes.optional(),
  psbtHash: hex64.optional(),
  /** The unsigned transaction's hash, reserved for this request while it is not failed. */
  unsignedHash: hex64.optional(),
  /** The platform key that asked. */
  owner: z.string(),
  requestedAt: z.number(),
  status: z.union([z.literal(0), z.literal(1), z.literal(9)]),
  approval: z.strictObject({ kind: z.enum(['spend', 'ping']), approvedAt: z.number(), signature: z.string() }).optional(),
  txHash: z.string().optional(),
  rawTx: bytes.optional(),
  fee: z.number().int().nonnegative().optional(),
  txAt: z.number().optional(),
  failure: z.strictObject({ code: z.string(), message: z.string() }).optional(),
});
export type RequestRecord = z.infer<typeof requestRecordSchema>;

export const requestsCollection = defineCollection('hot.requests', requestRecordSchema);
/** user_tx_no of every request still waiting for HSM-Cold. */
export const pendingRequestsCollection = defineCollection('hot.requests-pending', z.strictObject({ since: z.number() }));
export const requestCounterCollection = defineCollection('hot.requests-head', z.strictObject({ last: z.number().int().nonnegative() }));
/** Unsigned transaction hash → the request it belongs to. */
export const unsignedTxCollection = defineCollection('hot.unsigned-txs', z.strictObject({ userTxNo: z.string() }));
const HEAD = 'head';

/**
 * Fails every request still waiting for HSM-Cold (zeroize: the keys it was accepted under are
 * gone) and releases their unsigned transactions; returns how many. Runs in the caller's `tx`.
 */
export function failPendingRequests(tx: WriteTx, code: string, message: string, now: number): number {
  let failed = 0;
  for (const { key } of [...tx.range(pendingRequestsCollection)]) {
    const userTxNo = key as string;
    tx.del(pendingRequestsCollection, userTxNo);
    const record = tx.get(requestsCollection, userTxNo);
    if (record === undefined || record.status !== TX_STATUS.pending) continue;
    tx.put(requestsCollection, userTxNo, { ...record, status: TX_STATUS.failed, failure: { code, message }, txAt: now });
    if (record.unsignedHash !== undefined && tx.get(unsignedTxCollection, record.unsignedHash)?.userTxNo === userTxNo) tx.del(unsignedTxCollection, record.unsignedHash);
    tx.audit('tx.failed', { userTxNo, code });
    failed += 1;
  }
  return failed;
}

/** A tx_request as the host API hands it over (seed field names, already type-checked). */
export interface TxRequestParams {
  coin_code: string;
  user_tx_no: string;
  outs: string;
  vc_code: string;
  is_dynamic_fee: 0 | 1;
  c_id: number;
  outType?: number | undefined;
  memo?: string | undefined;
  /** base64 PSBT; absent for the V-Device's PING. */
  psbt?: string | undefined;
}

export interface Submission {
  record: RequestRecord;
  /** False when the request was already known (a retry). */
  fresh: boolean;
}

export interface RequestsOptions {
  store: DeviceStore;
  vault: Vault;
  accounts: AccountBook;
  config: HotConfig;
  journal: Journal;
  clock: Clock;
  /** HSM-Cold's identity key (hex), pinned at pairing. */
  coldIdentity: string;
  log?: Logger;
}

function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function decodePsbt(text: string): Uint8Array {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0 || text.length === 0) {
    throw new HsmError('PSBT_MALFORMED', 'psbt must be a base64 string', { field: 'psbt' });
  }
  return new Uint8Array(Buffer.from(text, 'base64'));
}

function hotSendRequest(record: Pick<RequestRecord, 'coinCode' | 'userTxNo' | 'outs' | 'isDynamicFee' | 'outType' | 'memo'>): HotSendRequest {
  return {
    coinCode: record.coinCode,
    userTxNo: record.userTxNo,
    outs: record.outs,
    isDynamicFee: record.isDynamicFee,
    outType: record.outType,
    memo: record.memo,
  };
}

export class HotSendRequests {
  private readonly options: RequestsOptions;
  private readonly log: Logger;
  private rpc: RpcEndpoint | undefined;

  constructor(options: RequestsOptions) {
    this.options = options;
    this.log = options.log ?? silentLogger;
  }

  /** Connects to the link: registers the reply hook (before the endpoint starts). */
  attachLink(rpc: RpcEndpoint): void {
    this.rpc = rpc;
    rpc.onReply<ApproveRequest, ApproveReply>('cold.approve', (request, outcome, { tx }) => this.settle(tx, request, outcome));
  }

  detachLink(): void {
    this.rpc = undefined;
  }

  get(view: ReadView, userTxNo: string): RequestRecord | undefined {
    return view.get(requestsCollection, userTxNo);
  }

  /**
   * Validates a tx_request and records it in `tx` (status 0, journalled), or finds the stored
   * one for a retry. Throws an HsmError naming the field for anything it refuses; the
   * transaction then writes nothing of it.
   */
  submit(tx: WriteTx, params: TxRequestParams, owner: string): Submission {
    const coin = coinConfig(this.options.config, params.coin_code);
    const request = checkRequestFields({
      coinCode: coin.coin,
      userTxNo: params.user_tx_no,
      outs: params.outs,
      isDynamicFee: params.is_dynamic_fee,
      outType: params.outType,
      memo: params.memo,
    });
    const hash = requestHash(request);
    const psbt = params.psbt === undefined ? undefined : decodePsbt(params.psbt);
    const psbtHash = psbt === undefined ? undefined : sha256Hex(psbt);
    const existing = tx.get(requestsCollection, request.userTxNo);
    if (existing !== undefined) {
      if (existing.requestHash === hash && existing.psbtHash === psbtHash && existing.vcCode === params.vc_code && existing.cId === params.c_id) {
        return { record: existing, fresh: false };
      }
      throw new HsmError(
        'USER_TX_NO_CONFLICT',
        `user_tx_no ${request.userTxNo} already names another request; one user_tx_no is never signed twice`,
        { field: 'user_tx_no' },
      );
    }
    const network = networkOf(coin);
    const outs = parseOuts(request.outs, network);
    let unsignedHash: string | undefined;
    if (outs.kind === 'ping') {
      if (psbt !== undefined) throw new HsmError('PSBT_UNEXPECTED', 'a PING request spends nothing and carries no PSBT', { field: 'psbt' });
    } else {
      if (psbt === undefined) throw new HsmError('PSBT_REQUIRED', 'a payment request needs the PSBT that makes it', { field: 'psbt' });
      unsignedHash = checkPsbt(psbt, outs.payments, request.isDynamicFee, this.policyFor(request.coinCode)).unsignedHash;
      const owner = tx.get(unsignedTxCollection, unsignedHash);
      if (owner !== undefined) {
        throw new HsmError('PSBT_ALREADY_REQUESTED', `this transaction already belongs to user_tx_no ${owner.userTxNo}`, { field: 'psbt' });
      }
    }
    const no = (tx.get(requestCounterCollection, HEAD)?.last ?? 0) + 1;
    tx.put(requestCounterCollection, HEAD, { last: no });
    const record: RequestRecord = {
      no,
      userTxNo: request.userTxNo,
      coinCode: request.coinCode,
      outs: request.outs,
      isDynamicFee: request.isDynamicFee,
      vcCode: params.vc_code,
      cId: params.c_id,
      requestHash: hash,
      owner,
      requestedAt: this.options.clock.now(),
      status: TX_STATUS.pending,
    };
    if (request.outType !== undefined) record.outType = request.outType;
    if (request.memo !== undefined) record.memo = request.memo;
    if (psbt !== undefined && psbtHash !== undefined && unsignedHash !== undefined) {
      record.psbt = psbt;
      record.psbtHash = psbtHash;
      record.unsignedHash = unsignedHash;
      tx.put(unsignedTxCollection, unsignedHash, { userTxNo: record.userTxNo });
    }
    tx.put(requestsCollection, record.userTxNo, record);
    tx.put(pendingRequestsCollection, record.userTxNo, { since: record.requestedAt });
    tx.audit('tx.requested', { userTxNo: record.userTxNo, no, coin: record.coinCode, requestHash: hash, cId: record.cId, owner });
    this.journal(tx, record);
    return { record, fresh: true };
  }

  /**
   * Asks HSM-Cold to approve a recorded request (durable; settles through the reply hook).
   * Given the transaction that records the request, the approval request commits with it: one
   * durable commit per withdrawal instead of two, and no window in which a crash leaves a
   * pending request without its approval request.
   */
  askCold(userTxNo: string, tx?: WriteTx): void {
    const rpc = this.rpc;
    if (rpc === undefined) return; // resume() asks once the link is attached
    const record = (tx ?? this.options.store).get(requestsCollection, userTxNo);
    if (record === undefined || record.status !== TX_STATUS.pending) return;
    const body: ApproveRequest = {
      coinCode: record.coinCode,
      userTxNo: record.userTxNo,
      outs: record.outs,
      isDynamicFee: record.isDynamicFee,
      vcCode: record.vcCode,
      cId: record.cId,
      requestedAt: record.requestedAt,
    };
    if (record.outType !== undefined) body.outType = record.outType;
    if (record.memo !== undefined) body.memo = record.memo;
    rpc.call('cold.approve', body).catch(() => undefined); // the outcome settles in the reply hook
  }

  /**
   * At boot: every pending request must have its approval request in the outbox (a crash may
   * have come between the two transactions). Returns how many were asked again.
   */
  resume(): number {
    const inOutbox = new Set<string>();
    for (const { value } of this.options.store.range(RPC_COLLECTIONS.outbox)) {
      if (value.type !== 'cold.approve') continue;
      const body = unpackBody(value.body) as { userTxNo?: unknown };
      if (typeof body.userTxNo === 'string') inOutbox.add(body.userTxNo);
    }
    let asked = 0;
    for (const { key } of [...this.options.store.range(pendingRequestsCollection)]) {
      if (inOutbox.has(key as string)) continue;
      this.askCold(key as string);
      asked++;
    }
    return asked;
  }

  counts(view: ReadView): { pending: number; total: number } {
    return { pending: view.count(pendingRequestsCollection), total: view.count(requestsCollection) };
  }

  /** The seed's "Hot Sending Tx Detail" shape, plus the raw transaction and the failure reason. */
  statusData(record: RequestRecord): JsonData {
    const sendRequest: JsonData = {
      coin_code: record.coinCode,
      user_tx_no: record.userTxNo,
      is_dynamic_fee: record.isDynamicFee,
      outs: record.outs,
    };
    if (record.outType !== undefined) sendRequest.outType = record.outType;
    if (record.memo !== undefined) sendRequest.memo = record.memo;
    return {
      hot_wallet_tx_id: record.no,
      tx_hash: record.txHash ?? null,
      c_id: record.cId,
      send_request: sendRequest,
      vc_code: record.vcCode,
      request_at: apiTime(record.requestedAt),
      tx_at: record.txAt === undefined ? null : apiTime(record.txAt),
      hot_wallet_tx_status: record.status,
      raw_tx: record.rawTx === undefined ? null : bytesToHex(record.rawTx),
      fee: record.fee ?? null,
      reason: record.failure ?? null,
    };
  }

  // ---------------------------------------------------------------------------------------

  private policyFor(coin: Coin): SigningPolicy {
    return { accounts: this.options.accounts.hotAccountsOf(coin), fee: coinConfig(this.options.config, coin).fee };
  }

  private journal(tx: WriteTx, record: RequestRecord): void {
    this.options.journal.append(tx, { msg: 'tx_status', topic: 'tx', owner: record.owner, data: this.statusData(record) });
  }

  /** The cold.approve reply hook; runs in the transaction that settles the outbox entry. */
  private settle(tx: WriteTx, request: ApproveRequest, outcome: Outcome<ApproveReply>): void {
    const record = tx.get(requestsCollection, request.userTxNo);
    if (record === undefined || record.status !== TX_STATUS.pending) return;
    let settled: RequestRecord;
    try {
      settled = outcome.ok ? this.approved(tx, record, outcome.body) : this.failed(record, outcome.error.code, outcome.error.message);
    } catch (error) {
      const e = error instanceof HsmError ? error : new HsmError('SIGNING_FAILED', 'the transaction could not be signed');
      this.log.error({ userTxNo: record.userTxNo, code: e.code }, 'signing failed after approval');
      settled = this.failed(record, e.code, e.message);
    }
    tx.put(requestsCollection, settled.userTxNo, settled);
    tx.del(pendingRequestsCollection, settled.userTxNo);
    if (settled.status === TX_STATUS.failed && settled.unsignedHash !== undefined) {
      if (tx.get(unsignedTxCollection, settled.unsignedHash)?.userTxNo === settled.userTxNo) tx.del(unsignedTxCollection, settled.unsignedHash);
    }
    if (settled.status === TX_STATUS.ok) {
      tx.audit('tx.signed', { userTxNo: settled.userTxNo, txid: settled.txHash ?? null, fee: settled.fee ?? null, kind: settled.approval?.kind ?? null });
    } else {
      tx.audit('tx.failed', { userTxNo: settled.userTxNo, code: settled.failure?.code ?? null });
    }
    this.journal(tx, settled);
  }

  private failed(record: RequestRecord, code: string, message: string): RequestRecord {
    return { ...record, status: TX_STATUS.failed, failure: { code, message }, txAt: this.options.clock.now() };
  }

  private approved(tx: WriteTx, record: RequestRecord, reply: ApproveReply): RequestRecord {
    const request = hotSendRequest(record);
    const expectedKind: ApprovalKind = record.outs === PING_OUTS ? 'ping' : 'spend';
    const statement: ApprovalStatement = {
      requestHash: record.requestHash,
      userTxNo: record.userTxNo,
      cId: record.cId,
      approvedAt: reply.approvedAt,
      kind: expectedKind,
    };
    const matches =
      reply.requestHash === record.requestHash &&
      requestHash(request) === record.requestHash &&
      reply.userTxNo === record.userTxNo &&
      reply.cId === record.cId &&
      reply.kind === expectedKind;
    if (!matches || !verifyApproval(statement, reply.signature, this.options.coldIdentity)) {
      tx.audit('alert.approval-invalid', { userTxNo: record.userTxNo, matches });
      return this.failed(
        record,
        'APPROVAL_INVALID',
        matches ? "HSM-Cold's approval signature does not verify with the pinned HSM-Cold key" : 'the approval is for another request',
      );
    }
    const approval = { kind: reply.kind, approvedAt: reply.approvedAt, signature: reply.signature };
    if (expectedKind === 'ping') return { ...record, approval, status: TX_STATUS.ok, txAt: this.options.clock.now() };
    const outs = parseOuts(record.outs, networkOf(coinConfig(this.options.config, record.coinCode)));
    if (outs.kind !== 'payments' || record.psbt === undefined) throw new HsmError('PSBT_REQUIRED', 'the request has no PSBT', { field: 'psbt' });
    const payments: Payment[] = outs.payments;
    const checked = checkPsbt(record.psbt, payments, record.isDynamicFee, this.policyFor(record.coinCode));
    const signed = withSeedKeys(this.options.vault, (keys) => signPsbt(checked, keys));
    return {
      ...record,
      approval,
      status: TX_STATUS.ok,
      txHash: signed.txid,
      rawTx: signed.raw,
      fee: Number(signed.fee),
      txAt: this.options.clock.now(),
    };
  }
}
