/**
 * The platform's Hot-Sending ledger: every `POST tx/request` becomes one record, kept in the
 * world store, that follows the request from the PSBT the platform builds, through HSM-Hot
 * (ack, then the signed `tx_status` journal messages), to the broadcast on the chain.
 *
 *   unsent ──ack──▶ pending ──status 1──▶ signed ──broadcast──▶ done
 *      │               └──status 9──▶ failed         └──refused──▶ failed
 *      └── HSM-Hot err: the record is dropped (nothing was accepted)
 *
 * The inputs a record's PSBT spends are reserved until it is done or failed, so two requests
 * never race for a coin. A retry with the same `user_tx_no` and the same fields resends the
 * same PSBT (HSM-Hot answers it idempotently); other fields are refused (USER_TX_NO_CONFLICT).
 * A crash between signing and broadcast is repaired at start (records in `signed` are
 * broadcast again; the chain knows a transaction it has seen).
 * @module
 */
import { base64 } from '@scure/base';
import { z } from 'zod';
import { CHAIN } from '../../../shared/crypto/hd.ts';
import { parseOuts } from '../../../shared/crypto/request-string.ts';
import { HsmError } from '../../../shared/errors.ts';
import { silentLogger, type Logger } from '../../../shared/log.ts';
import { defineCollection, type DeviceStore } from '../../../shared/store/store.ts';
import type { SimulatedChain } from './chain.ts';
import { GatewayError } from './gateway-errors.ts';
import { HotApiError, type HotClient, type HotMessage } from './hot-client.ts';
import type { WatchWallet } from './watch-wallet.ts';

export const HOT_STATUS = { pending: 0, ok: 1, failed: 9 } as const;

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

const recordSchema = z.strictObject({
  userTxNo: z.string(),
  userId: z.number().int(),
  form: formSchema,
  psbt: z.string().optional(),
  reserved: z.array(z.string()),
  changeIndex: z.number().int().optional(),
  state: z.enum(['unsent', 'pending', 'signed', 'done', 'failed']),
  /** HSM-Hot's last signed tx_status data. */
  hot: z.record(z.string(), z.unknown()).optional(),
  txHash: z.string().optional(),
  rawTx: z.string().optional(),
  reason: z.strictObject({ code: z.string(), message: z.string() }).optional(),
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
  hot: HotClient;
  coins: (coin: string) => LedgerCoin | undefined;
  fees: { dynamicRate: number; fixedRate: number };
  log?: Logger;
  emit?: (event: { type: string; [k: string]: unknown }) => void;
}

export type LedgerEvent = { type: string; [k: string]: unknown };

export class GatewayLedger {
  private readonly log: Logger;

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

  /** Broadcasts what was signed but not yet broadcast (after a crash). */
  async repair(): Promise<void> {
    for (const { value } of this.o.store.range(LEDGER_RECORDS.request)) {
      if (value.state === 'signed') await this.broadcast(value);
    }
  }

  /**
   * Accepts a Hot-Sending request: builds its PSBT, records it, and hands it to HSM-Hot.
   * Resolves once HSM-Hot acknowledged it; throws GatewayError otherwise.
   */
  async submit(userId: number, form: TxRequestForm, now: number): Promise<void> {
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
    let record: LedgerRecord;
    if (existing !== undefined) {
      if (existing.userId !== userId || JSON.stringify(existing.form) !== JSON.stringify(form)) {
        throw new GatewayError('USER_TX_NO_CONFLICT', `user_tx_no ${form.user_tx_no} was used for a request with other fields`, 'user_tx_no');
      }
      if (existing.state !== 'unsent') return;
      record = existing;
    } else {
      record = { userTxNo: form.user_tx_no, userId, form, reserved: [], state: 'unsent', createdAt: now };
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
    }
    try {
      await this.o.hot.send('tx_request', { ...form, ...(record.psbt === undefined ? {} : { psbt: record.psbt }) });
    } catch (error) {
      if (error instanceof HotApiError && (error.code === 'HOT_UNREACHABLE' || error.code === 'HOT_TIMEOUT')) {
        throw new GatewayError('HSM_UNREACHABLE', 'HSM-Hot cannot be reached now; send the same request again later');
      }
      // HSM-Hot refused it before accepting anything: the record and its reservations go.
      this.o.store.transact((tx) => tx.del(LEDGER_RECORDS.request, record.userTxNo));
      const e = error as HsmError;
      this.emit({ type: 'gateway.refused', userTxNo: form.user_tx_no, code: e.code });
      if (e.code === 'USER_TX_NO_CONFLICT') throw new GatewayError('USER_TX_NO_CONFLICT', e.message, 'user_tx_no');
      throw new GatewayError('HSM_REFUSED', `${e.code}: ${e.message}`, e.field?.startsWith('outs') ? e.field : undefined);
    }
    const current = this.get(record.userTxNo);
    if (current?.state === 'unsent') this.save({ ...current, state: 'pending' });
  }

  /** Handles one journal message from HSM-Hot (tx_status updates). */
  async onJournal(message: HotMessage): Promise<void> {
    if (message.msg !== 'tx_status') return;
    const data = message.data as Record<string, unknown>;
    const userTxNo = String((data.send_request as { user_tx_no?: unknown } | undefined)?.user_tx_no ?? '');
    const record = this.get(userTxNo);
    if (record === undefined || record.state === 'done' || record.state === 'failed') return;
    const status = data.hot_wallet_tx_status;
    const updated: LedgerRecord = { ...record, hot: data, state: record.state === 'unsent' ? 'pending' : record.state };
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

  /** The seed's "Hot Sending Tx Detail" for a record. */
  detail(record: LedgerRecord): Record<string, unknown> {
    const hot = record.hot ?? {};
    const status = record.state === 'done' ? HOT_STATUS.ok : record.state === 'failed' ? HOT_STATUS.failed : HOT_STATUS.pending;
    return {
      tx_hash: record.state === 'done' ? (record.txHash ?? null) : null,
      c_id: record.form.c_id,
      user_id: record.userId,
      send_request: {
        coin_code: record.form.coin_code,
        user_tx_no: record.userTxNo,
        is_dynamic_fee: record.form.is_dynamic_fee,
        outs: record.form.outs,
      },
      vc_code: record.form.vc_code,
      request_at: (hot.request_at as string | undefined) ?? new Date(record.createdAt).toISOString().slice(0, 19),
      hot_wallet_tx_id: (hot.hot_wallet_tx_id as number | undefined) ?? null,
      tx_at: status === HOT_STATUS.ok ? ((hot.tx_at as string | null | undefined) ?? null) : null,
      hot_wallet_tx_status: status,
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
