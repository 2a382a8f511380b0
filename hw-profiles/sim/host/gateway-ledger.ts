/**
 * The platform's Hot-Sending ledger: every `POST tx/request` becomes one record, kept in the
 * world store, that follows the request from the PSBT the platform builds, through HSM-Hot
 * (ack, then the signed `tx_status` journal messages), to the broadcast on the chain.
 *
 *   unsent ──ack──▶ pending ──status 1──▶ signed ──broadcast──▶ done
 *    │  ▲              └──status 9──▶ failed         └──refused──▶ failed
 *    │  └── HSM-Hot out of reach: stays unsent, the reason kept, sent again when HSM-Hot is back
 *    ├── HSM-Hot err on the first send: the record is dropped (nothing was accepted)
 *    └── HSM-Hot err on a later send: failed, with HSM-Hot's reason
 *
 * The inputs a record's PSBT spends are reserved until it is done or failed, so two requests
 * never race for a coin; every reservation ends, because an unsent record is always sent again
 * (`retryUnsent`: when the host API session comes back, periodically, and at start) until
 * HSM-Hot accepts or refuses it. A request posted again with the same signed fields (the
 * request string) is answered as the app expects, HTTP 400 with code 3, whatever its c_id,
 * vc_code or unsigned fields; other fields under a known user_tx_no are refused
 * (USER_TX_NO_CONFLICT). A crash between signing and broadcast is repaired at start (records
 * in `signed` are broadcast again; the chain knows a transaction it has seen).
 *
 * The app's unsigned fields never widen what is signed: `only_confirmed` only narrows the
 * coins the PSBT may spend; `nonce` and `gas_price` (account-based coins) are recorded and
 * change nothing here.
 * @module
 */
import { base64 } from '@scure/base';
import { z } from 'zod';
import { CHAIN } from '../../../shared/crypto/hd.ts';
import type { Clock } from '../../../shared/clock.ts';
import { parseOuts, requestString } from '../../../shared/crypto/request-string.ts';
import type { Coin } from '../../../shared/crypto/networks.ts';
import { HsmError } from '../../../shared/errors.ts';
import { silentLogger, type Logger } from '../../../shared/log.ts';
import { defineCollection, type DeviceStore } from '../../../shared/store/store.ts';
import type { SimulatedChain } from './chain.ts';
import { GatewayError } from './gateway-errors.ts';
import { HotApiError, type HotClient, type HotMessage } from './hot-client.ts';
import type { WatchWallet } from './watch-wallet.ts';

export const HOT_STATUS = { pending: 0, ok: 1, failed: 9 } as const;

/** What goes to HSM-Hot (its `tx_request` params, less the PSBT). */
const formSchema = z.strictObject({
  coin_code: z.string(),
  user_tx_no: z.string(),
  outs: z.string(),
  vc_code: z.string(),
  is_dynamic_fee: z.union([z.literal(0), z.literal(1)]),
  c_id: z.number().int(),
  outType: z.number().int().optional(),
  memo: z.string().optional(),
});
export type TxRequestForm = z.infer<typeof formSchema>;

/** The app's fields that are posted but not signed; they never reach HSM-Hot. */
const unsignedSchema = z.strictObject({
  only_confirmed: z.union([z.literal(0), z.literal(1)]),
  nonce: z.number().int().nonnegative().optional(),
  gas_price: z.string().optional(),
});
export type UnsignedFields = z.infer<typeof unsignedSchema>;

const reasonSchema = z.strictObject({ code: z.string(), message: z.string() });

const recordSchema = z.strictObject({
  userTxNo: z.string(),
  userId: z.number().int(),
  form: formSchema,
  unsigned: unsignedSchema.optional(),
  psbt: z.string().optional(),
  reserved: z.array(z.string()),
  changeIndex: z.number().int().optional(),
  state: z.enum(['unsent', 'pending', 'signed', 'done', 'failed']),
  /** HSM-Hot's last signed tx_status data. */
  hot: z.record(z.string(), z.unknown()).optional(),
  txHash: z.string().optional(),
  rawTx: z.string().optional(),
  /** Why it failed (HSM-Cold's rule, HSM-Hot's check, the chain). */
  reason: reasonSchema.optional(),
  /** While unsent: why it is not with HSM-Hot yet, and how often it was sent. */
  waiting: reasonSchema.extend({ at: z.number(), attempts: z.number().int().positive() }).optional(),
  createdAt: z.number(),
});
export type LedgerRecord = z.infer<typeof recordSchema>;

export const LEDGER_RECORDS = {
  request: defineCollection('world.gateway-request', recordSchema),
  client: defineCollection('world.gateway-client', z.strictObject({ nonce: z.number().int(), journalId: z.number().int() })),
} as const;

export interface LedgerCoin {
  chain: SimulatedChain;
  hotWallet: () => Promise<WatchWallet>;
}

export interface LedgerOptions {
  store: DeviceStore;
  clock: Clock;
  hot: HotClient;
  coins: (coin: string) => LedgerCoin | undefined;
  fees: { dynamicRate: number; fixedRate: number };
  log?: Logger;
  emit?: (event: { type: string; [k: string]: unknown }) => void;
}

export type LedgerEvent = { type: string; [k: string]: unknown };

export class GatewayLedger {
  private readonly log: Logger;
  /** user_tx_nos being handed to HSM-Hot right now. */
  private readonly sending = new Set<string>();
  private retrying: Promise<void> | undefined;

  constructor(private readonly o: LedgerOptions) {
    this.log = o.log ?? silentLogger;
  }

  /** The HotClient state kept with the ledger (nonces, the last journal id handled). */
  static clientState(store: DeviceStore): { lastNonce(): number; saveNonce(n: number): void; lastJournalId(): number; saveJournalId(id: number): void } {
    const read = () => store.get(LEDGER_RECORDS.client, 'hot') ?? { nonce: 0, journalId: 0 };
    return {
      lastNonce: () => read().nonce,
      saveNonce: (nonce) => store.transact((tx) => tx.put(LEDGER_RECORDS.client, 'hot', { ...read(), nonce })),
      lastJournalId: () => read().journalId,
      saveJournalId: (journalId) => store.transact((tx) => tx.put(LEDGER_RECORDS.client, 'hot', { ...read(), journalId })),
    };
  }

  get(userTxNo: string): LedgerRecord | undefined {
    return this.o.store.get(LEDGER_RECORDS.request, userTxNo);
  }

  /** How many requests are in each state (`unsent` ones wait for HSM-Hot). */
  counts(): Record<LedgerRecord['state'], number> {
    const counts = { unsent: 0, pending: 0, signed: 0, done: 0, failed: 0 };
    for (const { value } of this.o.store.range(LEDGER_RECORDS.request)) counts[value.state] += 1;
    return counts;
  }

  /** Broadcasts what was signed but not yet broadcast (after a crash). */
  async repair(): Promise<void> {
    for (const { value } of this.o.store.range(LEDGER_RECORDS.request)) {
      if (value.state === 'signed') await this.broadcast(value);
    }
  }

  /**
   * Accepts a Hot-Sending request: builds its PSBT, records it, and hands it to HSM-Hot.
   * Resolves once HSM-Hot acknowledged it; throws GatewayError otherwise (USER_TX_NO_DUPLICATE
   * when it was accepted before; HSM_UNREACHABLE when it is kept and will be sent later).
   */
  async submit(userId: number, form: TxRequestForm, unsigned: UnsignedFields, now: number): Promise<void> {
    const coin = this.o.coins(form.coin_code);
    if (coin === undefined) throw new GatewayError('INPUT', `coin_code ${form.coin_code} is not served here`, 'coin_code');
    let parsed;
    try {
      parsed = parseOuts(form.outs, coin.chain.network);
    } catch (error) {
      const e = error as HsmError;
      throw new GatewayError(e.code.startsWith('ADDRESS') ? 'ADDRESS_INVALID' : 'INPUT', e.message, e.field ?? 'outs');
    }
    const existing = this.get(form.user_tx_no);
    if (existing !== undefined) {
      if (existing.userId !== userId || signedString(existing.form) !== signedString(form)) {
        throw new GatewayError('USER_TX_NO_CONFLICT', `user_tx_no ${form.user_tx_no} was used for a request with other fields`, 'user_tx_no');
      }
      if (existing.state === 'unsent') void this.retryUnsent();
      throw new GatewayError('USER_TX_NO_DUPLICATE', `user_tx_no ${form.user_tx_no} was accepted before (${existing.state}); poll GET tx/${form.user_tx_no}`, 'user_tx_no');
    }
    const record: LedgerRecord = { userTxNo: form.user_tx_no, userId, form, unsigned, reserved: [], state: 'unsent', createdAt: now };
    if (parsed.kind === 'payments') {
      const wallet = await coin.hotWallet();
      const changeIndex = this.nextChangeIndex(wallet, coin.chain);
      const change = wallet.walletKey(wallet.address(CHAIN.change, changeIndex));
      let built;
      try {
        built = coin.chain.buildPsbt({
          payments: parsed.payments.map((p) => ({ address: p.address, value: p.value })),
          wallet: (address) => wallet.walletKey(address),
          walletAddresses: wallet.addresses(),
          change: change as NonNullable<typeof change>,
          fingerprint: wallet.fingerprint,
          feeRate: form.is_dynamic_fee === 1 ? this.o.fees.dynamicRate : this.o.fees.fixedRate,
          exclude: this.reserved(),
          onlyConfirmed: unsigned.only_confirmed === 1,
        });
      } catch (error) {
        if (error instanceof HsmError && error.code === 'CHAIN_INSUFFICIENT_FUNDS') throw new GatewayError('INSUFFICIENT_FUNDS', error.message, 'outs');
        throw error;
      }
      record.psbt = base64.encode(built.psbt);
      record.reserved = built.inputs.map((u) => `${u.txid}:${u.vout}`);
      if (built.changeValue > 0n) record.changeIndex = changeIndex;
    }
    this.save(record);
    this.emit({ type: 'gateway.request', userTxNo: form.user_tx_no, outs: form.outs, cId: form.c_id });
    const outcome = await this.send(record);
    if (outcome.kind === 'waiting') {
      throw new GatewayError('HSM_UNREACHABLE', `HSM-Hot cannot be reached now (${outcome.reason.message}); the request is kept and sent when it is back: poll GET tx/${form.user_tx_no}`);
    }
    if (outcome.kind === 'refused') {
      // HSM-Hot refused it before accepting anything: the record and its reservations go.
      this.o.store.transact((tx) => tx.del(LEDGER_RECORDS.request, record.userTxNo));
      const e = outcome.error;
      if (e.code === 'USER_TX_NO_CONFLICT') throw new GatewayError('USER_TX_NO_CONFLICT', e.message, 'user_tx_no');
      throw new GatewayError('HSM_REFUSED', `${e.code}: ${e.message}`, e.field?.startsWith('outs') ? e.field : undefined);
    }
  }

  /**
   * Sends every unsent record to HSM-Hot again (one pass at a time): a record HSM-Hot now
   * accepts goes on; one it refuses fails with its reason and frees its coins; one it still
   * cannot take keeps waiting, with the reason.
   */
  retryUnsent(): Promise<void> {
    if (this.retrying === undefined) {
      const pass = this.retryPass();
      this.retrying = pass;
      void pass.finally(() => {
        if (this.retrying === pass) this.retrying = undefined;
      });
    }
    return this.retrying;
  }

  private async retryPass(): Promise<void> {
    for (const { value } of [...this.o.store.range(LEDGER_RECORDS.request)]) {
      if (value.state !== 'unsent' || this.sending.has(value.userTxNo)) continue;
      if (!this.o.hot.connected) return;
      const outcome = await this.send(value);
      if (outcome.kind === 'refused') {
        const reason = { code: outcome.error.code, message: outcome.error.message };
        const current = this.get(value.userTxNo);
        if (current?.state === 'unsent') {
          const { waiting: _waiting, ...rest } = current;
          this.save({ ...rest, state: 'failed', reserved: [], reason });
        }
      } else if (outcome.kind === 'sent') {
        this.emit({ type: 'gateway.resent', userTxNo: value.userTxNo, attempts: (value.waiting?.attempts ?? 0) + 1 });
      }
    }
  }

  /** Hands a record to HSM-Hot; an unreachable HSM-Hot leaves it unsent, with the reason. */
  private async send(record: LedgerRecord): Promise<{ kind: 'sent' } | { kind: 'waiting'; reason: { code: string; message: string } } | { kind: 'refused'; error: HsmError }> {
    this.sending.add(record.userTxNo);
    try {
      await this.o.hot.send('tx_request', { ...record.form, ...(record.psbt === undefined ? {} : { psbt: record.psbt }) });
    } catch (error) {
      if (error instanceof HotApiError && (error.code === 'HOT_UNREACHABLE' || error.code === 'HOT_TIMEOUT')) {
        const current = this.get(record.userTxNo);
        const reason = { code: error.code, message: error.message };
        if (current?.state === 'unsent') {
          const attempts = (current.waiting?.attempts ?? 0) + 1;
          this.save({ ...current, waiting: { ...reason, at: this.o.clock.now(), attempts } });
          this.emit({ type: 'gateway.waiting', userTxNo: record.userTxNo, code: error.code, attempts });
        }
        return { kind: 'waiting', reason };
      }
      const e = error as HsmError;
      this.emit({ type: 'gateway.refused', userTxNo: record.userTxNo, code: e.code });
      return { kind: 'refused', error: e };
    } finally {
      this.sending.delete(record.userTxNo);
    }
    const current = this.get(record.userTxNo);
    if (current?.state === 'unsent') {
      const { waiting: _waiting, ...rest } = current;
      this.save({ ...rest, state: 'pending' });
    }
    return { kind: 'sent' };
  }

  /** Handles one journal message from HSM-Hot (tx_status updates). */
  async onJournal(message: HotMessage): Promise<void> {
    if (message.msg !== 'tx_status') return;
    const data = message.data as Record<string, unknown>;
    const userTxNo = String((data.send_request as { user_tx_no?: unknown } | undefined)?.user_tx_no ?? '');
    const record = this.get(userTxNo);
    if (record === undefined || record.state === 'done' || record.state === 'failed') return;
    const status = data.hot_wallet_tx_status;
    const { waiting: _waiting, ...known } = record;
    const updated: LedgerRecord = { ...known, hot: data, state: record.state === 'unsent' ? 'pending' : record.state };
    if (status === HOT_STATUS.failed) {
      const reason = (data.reason as { code: string; message: string } | null) ?? { code: 'FAILED', message: 'HSM-Hot reports the request failed' };
      this.save({ ...updated, state: 'failed', reason, reserved: [] });
      this.emit({ type: 'hot.refused', userTxNo, code: reason.code });
      return;
    }
    if (status !== HOT_STATUS.ok) {
      this.save(updated);
      return;
    }
    if (typeof data.raw_tx !== 'string') {
      // PING: approved end to end, nothing to broadcast.
      this.save({ ...updated, state: 'done', reserved: [] });
      this.emit({ type: 'hot.signed', userTxNo, txHash: null });
      return;
    }
    const signed: LedgerRecord = { ...updated, state: 'signed', rawTx: data.raw_tx, txHash: String(data.tx_hash) };
    this.save(signed);
    this.emit({ type: 'hot.signed', userTxNo, txHash: signed.txHash });
    await this.broadcast(signed);
  }

  private async broadcast(record: LedgerRecord): Promise<void> {
    const coin = this.o.coins(record.form.coin_code);
    if (coin === undefined || record.rawTx === undefined) return;
    try {
      const tx = await coin.chain.broadcast(new Uint8Array(Buffer.from(record.rawTx, 'hex')));
      this.save({ ...record, state: 'done', txHash: tx.txid, reserved: [] });
      this.emit({ type: 'chain.broadcast', userTxNo: record.userTxNo, txHash: tx.txid });
    } catch (error) {
      const e = error as HsmError;
      this.log.error({ userTxNo: record.userTxNo, code: e.code }, 'the chain refused a signed transaction');
      this.save({ ...record, state: 'failed', reserved: [], reason: { code: e.code ?? 'BROADCAST_FAILED', message: e.message } });
      this.emit({ type: 'chain.refused', userTxNo: record.userTxNo, code: e.code });
    }
  }

  /**
   * The seed's "Hot Sending Tx Detail" for a record, with the app's TxStatus fields
   * (`hot_wallet_tx`, `tx_info`, `send_request.out_type`/`memo`), and `reason`, which the app
   * does not read: why it failed (status 9) or why it waits (status 0), for the operator.
   */
  detail(record: LedgerRecord): Record<string, unknown> {
    const hot = record.hot ?? {};
    const status = record.state === 'done' ? HOT_STATUS.ok : record.state === 'failed' ? HOT_STATUS.failed : HOT_STATUS.pending;
    const hotWalletTx = (hot.hot_wallet_tx_id as number | undefined) ?? null;
    const reason = record.state === 'failed' ? (record.reason ?? null) : record.state === 'unsent' && record.waiting !== undefined ? waitingReason(record.waiting) : null;
    return {
      tx_hash: record.state === 'done' ? (record.txHash ?? null) : null,
      c_id: record.form.c_id,
      user_id: record.userId,
      send_request: {
        coin_code: record.form.coin_code,
        user_tx_no: record.userTxNo,
        is_dynamic_fee: record.form.is_dynamic_fee,
        outs: record.form.outs,
        out_type: record.form.outType ?? 0,
        ...(record.form.memo === undefined ? {} : { memo: record.form.memo }),
      },
      vc_code: record.form.vc_code,
      request_at: (hot.request_at as string | undefined) ?? new Date(record.createdAt).toISOString().slice(0, 19),
      hot_wallet_tx_id: hotWalletTx,
      hot_wallet_tx: hotWalletTx,
      tx_at: status === HOT_STATUS.ok ? ((hot.tx_at as string | null | undefined) ?? null) : null,
      tx_info: null,
      hot_wallet_tx_status: status,
      reason,
    };
  }

  /** Outpoints held by requests that are not finished. */
  private reserved(): Set<string> {
    const out = new Set<string>();
    for (const { value } of this.o.store.range(LEDGER_RECORDS.request)) for (const o of value.reserved) out.add(o);
    return out;
  }

  /** The first change address neither used on the chain nor promised to an open request. */
  private nextChangeIndex(wallet: WatchWallet, chain: SimulatedChain): number {
    let next = 0;
    for (const tx of chain.history((a) => wallet.isMine(a))) {
      for (const o of tx.outputs) {
        const at = wallet.position(o.address);
        if (at?.chain === CHAIN.change) next = Math.max(next, at.index + 1);
      }
    }
    for (const { value } of this.o.store.range(LEDGER_RECORDS.request)) {
      if (value.changeIndex !== undefined && value.state !== 'failed') next = Math.max(next, value.changeIndex + 1);
    }
    return next;
  }

  private save(record: LedgerRecord): void {
    this.o.store.transact((tx) => tx.put(LEDGER_RECORDS.request, record.userTxNo, record));
  }

  private emit(event: LedgerEvent): void {
    this.o.emit?.(event);
  }
}

/** The string the V-Device signed for a form: two forms are the same request when it is equal. */
function signedString(form: TxRequestForm): string {
  return requestString({ coinCode: form.coin_code as Coin, userTxNo: form.user_tx_no, outs: form.outs, isDynamicFee: form.is_dynamic_fee, outType: form.outType, memo: form.memo });
}

function waitingReason(waiting: NonNullable<LedgerRecord['waiting']>): { code: string; message: string } {
  return { code: 'WAITING_FOR_HSM_HOT', message: `not with HSM-Hot yet after ${waiting.attempts} attempt(s), last ${new Date(waiting.at).toISOString()}: ${waiting.message}; it is sent again when HSM-Hot is back` };
}
