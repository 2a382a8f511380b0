/**
 * The host API operations: their params (strict schemas, seed field names), scopes and
 * effects. Each answers with an ack or an err, then with a signed message:
 *
 *   op              scope         params                                            result message
 *   tx_request      tx:create     coin_code, user_tx_no, outs, vc_code,             tx_status (journal; a
 *                                 is_dynamic_fee, c_id, psbt, [outType, memo]       retry gets a reply)
 *   tx_status       tx:read       user_tx_no                                        tx_status
 *   address_batch   address:read  wallet (hot|cold), coin_code, batch_no,           address_batch
 *                                 [address_type]
 *   address_range   address:read  coin_code, chain (0|1), from, count, [address_type]  address_range
 *   channel_status  events:read   -                                                 channel_status
 *   device_status   (any)         -                                                 device_status
 *   subscribe       per topic     topics: ["tx" (tx:read), "events" (events:read)]  subscribed
 *   history         (any)         since (journal id), [limit]                       the journal messages
 *                                                                                   after `since` the key
 *                                                                                   may read, then history
 *
 * Error fields name the params field (`outs[1].value`, `user_tx_no`); envelope fields are
 * named `data.<field>`.
 * @module
 */
import { z } from 'zod';
import { HsmError } from '../shared/errors.ts';
import { MAX_BATCH_NO, batchRange } from '../shared/crypto/batch-content.ts';
import { CHAIN, type Chain } from '../shared/crypto/hd.ts';
import { parseCoin, type AddressType } from '../shared/crypto/networks.ts';
import { MAX_MEMO_LENGTH, MAX_OUTS_LENGTH } from '../shared/crypto/request-string.ts';
import type { DeviceStore } from '../shared/store/store.ts';
import { fingerprintHex, type Account, type AccountBook } from './accounts.ts';
import type { AddressLists } from './addresses.ts';
import { API_ERROR, TOPICS, type Topic } from './api-wire.ts';
import type { ColdLink } from './cold-link.ts';
import { coinConfig, defaultAddressType, type HotConfig } from './config.ts';
import { journalVisible, type Operation, type OperationTable } from './host-api.ts';
import type { Journal, JsonData } from './journal.ts';
import type { HotSendRequests, TxRequestParams } from './requests.ts';
import { MAX_PSBT_BYTES, formatPath } from './signer.ts';

export const MAX_RANGE = 1000;

export interface OperationDeps {
  store: DeviceStore;
  config: HotConfig;
  accounts: AccountBook;
  addresses: AddressLists;
  requests: HotSendRequests;
  coldLink: ColdLink;
  journal: Journal;
  deviceStatus(): JsonData;
}

const safeInt = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const addressType = z.enum(['p2pkh', 'p2wpkh']);
const coinCode = z.string().min(1).max(8);

function define<P>(operation: Operation<P>): Operation<never> {
  return operation as unknown as Operation<never>;
}

function resolveHotAccount(deps: OperationDeps, coin: string, type: AddressType | undefined): Account {
  const config = coinConfig(deps.config, parseCoin(coin, 'coin_code'));
  return deps.accounts.hotAccount(config.coin, type ?? defaultAddressType(config));
}

export function hostOperations(deps: OperationDeps): OperationTable {
  const { requests, journal, store } = deps;
  return {
    tx_request: define({
      scope: 'tx:create',
      params: z.strictObject({
        coin_code: coinCode.default('BTC'),
        user_tx_no: z.string().min(1).max(64),
        outs: z.string().min(1).max(MAX_OUTS_LENGTH),
        vc_code: z.string().min(1).max(120),
        is_dynamic_fee: z.union([z.literal(0), z.literal(1)]).default(1),
        c_id: safeInt,
        outType: safeInt.optional(),
        memo: z.string().max(MAX_MEMO_LENGTH).optional(),
        psbt: z.string().max(Math.ceil(MAX_PSBT_BYTES / 3) * 4).optional(),
      }),
      accept(params: TxRequestParams, ctx, tx) {
        const { record, fresh } = requests.submit(tx, params, ctx.key);
        if (fresh) {
          requests.askCold(record.userTxNo, tx);
          return undefined;
        }
        const data = requests.statusData(record);
        return () => ctx.reply('tx_status', data);
      },
    }),

    tx_status: define({
      scope: 'tx:read',
      params: z.strictObject({ user_tx_no: z.string().min(1).max(64) }),
      accept(params: { user_tx_no: string }, ctx, tx) {
        const record = requests.get(tx, params.user_tx_no);
        if (record === undefined) throw new HsmError('TX_UNKNOWN', `no request with user_tx_no ${params.user_tx_no}`, { field: 'user_tx_no' });
        const data = requests.statusData(record);
        return () => ctx.reply('tx_status', data);
      },
    }),

    address_batch: define({
      scope: 'address:read',
      params: z.strictObject({
        wallet: z.enum(['hot', 'cold']),
        coin_code: coinCode,
        batch_no: z.number().int().min(0).max(MAX_BATCH_NO),
        address_type: addressType.optional(),
      }),
      accept(params: { wallet: 'hot' | 'cold'; coin_code: string; batch_no: number; address_type?: AddressType }, ctx) {
        const account =
          params.wallet === 'hot'
            ? resolveHotAccount(deps, params.coin_code, params.address_type)
            : deps.accounts.coldAccount(parseCoin(params.coin_code, 'coin_code'), params.address_type);
        const range = batchRange(params.batch_no);
        return async () => {
          const addresses = await deps.addresses.range(account, CHAIN.external, range.from, range.count);
          ctx.reply('address_batch', {
            wallet: params.wallet,
            coin_code: account.record.coin,
            address_type: account.type,
            batch_no: params.batch_no,
            addresses: addresses.map((address, k) => ({ index: range.from + k, address })),
          });
        };
      },
    }),

    address_range: define({
      scope: 'address:read',
      params: z.strictObject({
        coin_code: coinCode,
        address_type: addressType.optional(),
        chain: z.union([z.literal(0), z.literal(1)]),
        from: z.number().int().min(0).max(0x7fffffff),
        count: z.number().int().min(1).max(MAX_RANGE),
      }),
      accept(params: { coin_code: string; address_type?: AddressType; chain: Chain; from: number; count: number }, ctx) {
        const account = resolveHotAccount(deps, params.coin_code, params.address_type);
        if (params.from + params.count > 0x80000000) {
          throw new HsmError(API_ERROR.PARAMS_INVALID, 'from + count must stay below 2^31', { field: 'count' });
        }
        return async () => {
          const addresses = await deps.addresses.range(account, params.chain, params.from, params.count);
          ctx.reply('address_range', {
            coin_code: account.record.coin,
            address_type: account.type,
            chain: params.chain,
            master_fingerprint: fingerprintHex(account.masterFingerprint),
            addresses: addresses.map((address, k) => ({
              index: params.from + k,
              address,
              path: formatPath([...account.path, params.chain, params.from + k]),
            })),
          });
        };
      },
    }),

    channel_status: define({
      scope: 'events:read',
      params: z.strictObject({}),
      accept(_params: Record<string, never>, ctx) {
        return async () => ctx.reply('channel_status', await deps.coldLink.status(deps.config.api.coldStatusWaitMs));
      },
    }),

    device_status: define({
      scope: null,
      params: z.strictObject({}),
      accept(_params: Record<string, never>, ctx) {
        const data = deps.deviceStatus();
        return () => ctx.reply('device_status', data);
      },
    }),

    subscribe: define({
      scope: null,
      params: z.strictObject({ topics: z.array(z.enum(['tx', 'events'])).min(1).max(2) }),
      accept(params: { topics: Topic[] }, ctx, tx) {
        for (const topic of params.topics) {
          if (!ctx.scopes.includes(TOPICS[topic])) {
            throw new HsmError(API_ERROR.SCOPE_MISSING, `the topic "${topic}" needs the scope ${TOPICS[topic]}`, { field: 'topics' });
          }
        }
        const lastId = journal.lastId(tx);
        return () => {
          ctx.subscribe(params.topics);
          ctx.reply('subscribed', { topics: [...new Set(params.topics)], last_id: lastId });
        };
      },
    }),

    history: define({
      scope: null,
      params: z.strictObject({ since: safeInt, limit: z.number().int().min(1).max(deps.config.api.historyPage).optional() }),
      accept(params: { since: number; limit?: number }, ctx) {
        return () => {
          const limit = params.limit ?? deps.config.api.historyPage;
          const { entries, more } = journal.since(store, params.since, limit, (entry) => journalVisible(entry, ctx.key, ctx.scopes));
          for (const entry of entries) ctx.replay(entry);
          ctx.reply('history', {
            since: params.since,
            count: entries.length,
            last_id: entries.at(-1)?.id ?? params.since,
            more,
          });
        };
      },
    }),
  };
}
