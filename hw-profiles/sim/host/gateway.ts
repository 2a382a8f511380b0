/**
 * The platform gateway: the seed's Open API (spec §"Platform Open API used here", seed
 * "Basic API", "Cold Receiving API", "Hot Sending API") over the simulated chain, talking to
 * HSM-Hot only through its host API (hot-client.ts).
 *
 *   GET  /api/v1/open/time                       {"time": "2016-08-02T12:51:34.460394"}
 *   GET  /api/v1/open/user                       the credential's user and wallet balance
 *   GET  /api/v1/open/address/batch/<batch_no>   1,000 {index, address} (from HSM-Hot)
 *   GET  /api/v1/open/address/history/<path>     used addresses of chain <path>, newest first
 *   GET  /api/v1/open/address/next               the next unused receiving address
 *   GET  /api/v1/open/tx[?tx_hash=]              20 transactions, oldest first, after tx_hash
 *   GET  /api/v1/open/tx/detail/<tx_hash>        one transaction
 *   POST /api/v1/open/tx/request                 form: coin_code, user_tx_no, outs, vc_code,
 *                                                is_dynamic_fee, c_id, and the app's
 *                                                only_confirmed, out_type, memo, nonce,
 *                                                gas_price  →  {"result": true}
 *   GET  /api/v1/open/tx/<user_tx_no>            the seed's Hot Sending Tx Detail (the app's
 *                                                TxStatus), with `reason` on failure
 *
 * and the same under `/api/v1/open/<coin>/` (btc, ltc, doge; any case) for every coin served:
 * the released app posts withdrawals to `<COIN>/tx/request` and polls `<COIN>/tx/<no>`, BTC
 * included, and sends PING to the coin-less paths (spec "What the released app does"). A Hot
 * Sending credential sees the hot wallet; a Cold Receiving one the cold receiving wallet. A
 * request posted again is answered HTTP 400 `{"code":3,...}`, which the app takes for success.
 * @module
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../../../shared/clock.ts';
import { CHAIN, type Chain } from '../../../shared/crypto/hd.ts';
import { MAX_BATCH_NO } from '../../../shared/crypto/batch-content.ts';
import { COINS, getNetwork, type AddressType } from '../../../shared/crypto/networks.ts';
import { MAX_CHANNEL_ID } from '../../../shared/chaincloud/sms.ts';
import { MAX_OUTS_LENGTH, checkRequestFields } from '../../../shared/crypto/request-string.ts';
import type { HsmError } from '../../../shared/errors.ts';
import { silentLogger, type Logger } from '../../../shared/log.ts';
import { LruCache } from '../../../shared/lru-cache.ts';
import type { DeviceStore } from '../../../shared/store/store.ts';
import type { ChainTx, SimulatedChain } from './chain.ts';
import { GatewayAuth, type GatewayScope, type GatewayToken } from './gateway-auth.ts';
import { GatewayError } from './gateway-errors.ts';
import { GatewayLedger, type LedgerEvent, type TxRequestForm, type UnsignedFields } from './gateway-ledger.ts';
import type { HotClient } from './hot-client.ts';
import { apiTime, rawBody, registerFormParser, webApp } from './http.ts';
import { WatchWallet } from './watch-wallet.ts';

const TX_PAGE = 20;
const HISTORY_PAGE = 1000;
/** How often unsent requests are offered to HSM-Hot again while it is connected (world ms). */
const RETRY_EVERY_MS = 60_000;
/** Address batches kept (each a thousand addresses, about 110 KB); the least recently used goes first. */
export const GATEWAY_BATCH_CACHE = 16;

export interface GatewayCoin {
  chain: SimulatedChain;
  /** Address type of the hot and cold accounts the platform uses for this coin. */
  hotAddressType: AddressType;
  coldAddressType: AddressType;
}

export interface GatewayOptions {
  clock: Clock;
  store: DeviceStore;
  hot: HotClient;
  tokens: readonly GatewayToken[];
  coins: Partial<Record<string, GatewayCoin>>;
  fees?: { dynamicRate: number; fixedRate: number };
  signatureWindowSeconds?: number;
  perMinute?: number;
  /** When the platform user accounts were registered (the `user` endpoint's register_at). */
  registeredAt: number;
  log?: Logger;
}

interface Scope {
  credential: GatewayToken;
  coin: string;
  gatewayCoin: GatewayCoin;
}

export class Gateway {
  readonly ledger: GatewayLedger;
  private readonly app: FastifyInstance;
  private readonly auth: GatewayAuth;
  private readonly log: Logger;
  private readonly wallets = new Map<string, WatchWallet>();
  private readonly batches = new LruCache<string, Array<{ index: number; address: string }>>(GATEWAY_BATCH_CACHE);
  private readonly listeners = new Set<(event: LedgerEvent) => void>();
  private readonly stopRetries: Array<() => void> = [];

  constructor(private readonly o: GatewayOptions) {
    this.log = o.log ?? silentLogger;
    this.auth = new GatewayAuth({
      clock: o.clock,
      tokens: o.tokens,
      ...(o.signatureWindowSeconds === undefined ? {} : { windowSeconds: o.signatureWindowSeconds }),
      ...(o.perMinute === undefined ? {} : { perMinute: o.perMinute }),
    });
    this.ledger = new GatewayLedger({
      store: o.store,
      clock: o.clock,
      hot: o.hot,
      coins: (coin) => {
        const c = this.o.coins[coin];
        return c === undefined ? undefined : { chain: c.chain, hotWallet: () => this.wallet(coin, 'hot') };
      },
      fees: o.fees ?? { dynamicRate: 10, fixedRate: 5 },
      log: this.log,
      emit: (event) => this.emit(event),
    });
    o.hot.onJournal((message) => this.ledger.onJournal(message));
    this.app = webApp(this.log);
    // Bodies are forms only (seed "Hot Sending Tx Request"): a signed request's signature covers
    // the raw body, which only the form parser keeps.
    registerFormParser(this.app);
    this.routes('/api/v1/open', () => 'BTC');
    this.routes('/api/v1/open/:coin', (request) => String((request.params as { coin: string }).coin).toUpperCase());
  }

  /** Address batches in the cache. */
  get cachedBatches(): number {
    return this.batches.size;
  }

  onEvent(listener: (event: LedgerEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async listen(host = '127.0.0.1', port = 0): Promise<string> {
    await this.ledger.repair();
    // Requests kept while HSM-Hot was out of reach go out when it is back, and a lost ack is
    // made up for by the next pass.
    this.stopRetries.push(this.o.hot.onConnection((up) => void (up && this.ledger.retryUnsent())));
    const timer = this.o.clock.setInterval(() => void this.ledger.retryUnsent(), RETRY_EVERY_MS);
    this.stopRetries.push(() => this.o.clock.clearInterval(timer));
    void this.ledger.retryUnsent();
    return this.app.listen({ host, port });
  }

  async close(): Promise<void> {
    for (const stop of this.stopRetries.splice(0)) stop();
    await this.app.close();
  }

  /** The watch-only wallet of `coin` for hot sending or cold receiving (xpubs from HSM-Hot). */
  async wallet(coin: string, kind: 'hot' | 'cold'): Promise<WatchWallet> {
    const key = `${coin}/${kind}`;
    const known = this.wallets.get(key);
    if (known !== undefined) return known;
    const gatewayCoin = this.o.coins[coin];
    if (gatewayCoin === undefined) throw new GatewayError('NOT_FOUND', `coin ${coin} is not served here`);
    const status = (await this.hotQuery('device_status', {})).data as {
      accounts: Array<{ coin_code: string; network: string; address_type: AddressType; account: number; xpub: string; master_fingerprint: string }>;
      cold_accounts: Array<{ coin_code: string; network: string; address_type: AddressType; account: number; xpub: string }>;
    };
    const type = kind === 'hot' ? gatewayCoin.hotAddressType : gatewayCoin.coldAddressType;
    const list = kind === 'hot' ? status.accounts : status.cold_accounts;
    const account = list.find((a) => a.coin_code === coin && a.address_type === type);
    if (account === undefined) {
      throw new GatewayError('HSM_UNREACHABLE', `HSM-Hot does not know the ${kind} ${type} account of ${coin} yet (HSM-Cold's xpubs arrive over the link)`);
    }
    const fingerprint = 'master_fingerprint' in account ? Number.parseInt(String(account.master_fingerprint), 16) : 0;
    const wallet = new WatchWallet(account.xpub, getNetwork(account.network), type, account.account, fingerprint);
    wallet.ensure(CHAIN.external, 1000);
    wallet.ensure(CHAIN.change, 1000);
    this.wallets.set(key, wallet);
    return wallet;
  }

  // ---------------------------------------------------------------------------------------

  private emit(event: LedgerEvent): void {
    for (const l of this.listeners) l(event);
  }

  private async hotQuery(op: string, params: Record<string, unknown>) {
    try {
      return await this.o.hot.query(op, params);
    } catch (error) {
      const e = error as GatewayError;
      if (e.code === 'HOT_UNREACHABLE' || e.code === 'HOT_TIMEOUT') throw new GatewayError('HSM_UNREACHABLE');
      throw new GatewayError('HSM_REFUSED', `${e.code}: ${e.message}`);
    }
  }

  private routes(prefix: string, coinOf: (request: FastifyRequest) => string): void {
    const scoped = (request: FastifyRequest, scope: GatewayScope): Scope => {
      const credential = this.auth.authenticate(
        { method: request.method, url: request.url, rawBody: rawBody(request), header: (name) => headerValue(request, name) },
        scope,
      );
      const coin = coinOf(request);
      const gatewayCoin = (COINS as readonly string[]).includes(coin) ? this.o.coins[coin] : undefined;
      if (gatewayCoin === undefined) throw new GatewayError('NOT_FOUND', `coin ${coin.toLowerCase()} is not served here`);
      return { credential, coin, gatewayCoin };
    };
    const walletOf = (s: Scope): Promise<WatchWallet> => this.wallet(s.coin, s.credential.kind === 'hot-sending' ? 'hot' : 'cold');

    this.app.get(`${prefix}/time`, async (request) => {
      scoped(request, 'user:read');
      return { time: apiTime(this.o.clock.now(), true) };
    });

    this.app.get(`${prefix}/user`, async (request) => {
      const s = scoped(request, 'user:read');
      const wallet = await walletOf(s);
      const next = this.nextReceiving(wallet, s.gatewayCoin.chain);
      return {
        can_otc_ad: 0,
        user_id: s.credential.userId,
        gender: 0,
        user_type: 4,
        real_name: null,
        receiving_index: next,
        avatar: null,
        register_at: apiTime(this.o.registeredAt, false),
        address: wallet.address(CHAIN.external, next),
        balance: Number(s.gatewayCoin.chain.balance(wallet.addresses())),
        user_name: s.credential.userName,
        can_otc_order: 0,
      };
    });

    this.app.get(`${prefix}/address/batch/:batchNo`, async (request) => {
      const s = scoped(request, 'address:read');
      const batchNo = integerParam((request.params as { batchNo: string }).batchNo, 'batch_no', MAX_BATCH_NO);
      const kind = s.credential.kind === 'hot-sending' ? 'hot' : 'cold';
      const key = `${s.coin}/${kind}/${batchNo}`;
      const cached = this.batches.get(key);
      if (cached !== undefined) return cached;
      const reply = await this.hotQuery('address_batch', {
        wallet: kind,
        coin_code: s.coin,
        batch_no: batchNo,
        address_type: kind === 'hot' ? s.gatewayCoin.hotAddressType : s.gatewayCoin.coldAddressType,
      });
      const addresses = (reply.data as { addresses: Array<{ index: number; address: string }> }).addresses;
      this.batches.set(key, addresses);
      return addresses;
    });

    this.app.get(`${prefix}/address/history/:path`, async (request) => {
      const s = scoped(request, 'address:read');
      const chain = integerParam((request.params as { path: string }).path, 'path', 1) as Chain;
      const since = (request.query as { since_address?: string }).since_address;
      const wallet = await walletOf(s);
      const used = this.usedIndexes(wallet, s.gatewayCoin.chain, chain);
      let start = 0;
      if (since !== undefined && since !== '' && since !== 'null') {
        const at = wallet.position(since);
        if (at === undefined || at.chain !== chain) throw new GatewayError('INPUT', 'since_address is not an address of this path', 'since_address');
        start = used.filter((i) => i >= at.index).length;
      }
      return used.slice(start, start + HISTORY_PAGE).map((index) => ({ index, address: wallet.address(chain, index) }));
    });

    this.app.get(`${prefix}/address/next`, async (request) => {
      const s = scoped(request, 'address:read');
      const wallet = await walletOf(s);
      const index = this.nextReceiving(wallet, s.gatewayCoin.chain);
      return { index, address: wallet.address(CHAIN.external, index) };
    });

    this.app.get(`${prefix}/tx`, async (request) => {
      const s = scoped(request, 'tx:read');
      const wallet = await walletOf(s);
      const txs = s.gatewayCoin.chain.history((a) => wallet.isMine(a));
      const since = (request.query as { tx_hash?: string }).tx_hash;
      let start = 0;
      if (since !== undefined && since !== '') {
        const at = txs.findIndex((t) => t.txid === since);
        if (at < 0) throw new GatewayError('INPUT', 'tx_hash is not a transaction of this wallet', 'tx_hash');
        start = at + 1;
      }
      return txs.slice(start, start + TX_PAGE).map((t) => this.txView(t, wallet, s.gatewayCoin.chain));
    });

    this.app.get(`${prefix}/tx/detail/:txHash`, async (request) => {
      const s = scoped(request, 'tx:read');
      const txHash = (request.params as { txHash: string }).txHash;
      if (!/^[0-9a-f]{64}$/.test(txHash)) throw new GatewayError('INPUT', 'tx_hash must be 64 lower-case hex digits', 'tx_hash');
      const wallet = await walletOf(s);
      const tx = s.gatewayCoin.chain.transaction(txHash);
      if (tx === undefined || !(tx.outputs.some((o) => wallet.isMine(o.address)) || tx.inputs.some((i) => wallet.isMine(i.address)))) {
        throw new GatewayError('NOT_FOUND', 'no transaction of this wallet has that hash');
      }
      return this.txView(tx, wallet, s.gatewayCoin.chain);
    });

    this.app.post(`${prefix}/tx/request`, async (request, reply: FastifyReply) => {
      const s = scoped(request, 'tx:create');
      if (s.credential.kind !== 'hot-sending') throw new GatewayError('SCOPE_MISSING', 'only a Hot Sending credential can request transactions', 'token');
      const { form, unsigned } = parseTxRequestForm(request.body, s.coin);
      await this.ledger.submit(s.credential.userId, form, unsigned, this.o.clock.now());
      return reply.send({ result: true });
    });

    this.app.get(`${prefix}/tx/:userTxNo`, async (request) => {
      const s = scoped(request, 'tx:read');
      const userTxNo = (request.params as { userTxNo: string }).userTxNo;
      const record = this.ledger.get(userTxNo);
      if (record === undefined || record.userId !== s.credential.userId || record.form.coin_code !== s.coin) {
        throw new GatewayError('NOT_FOUND', `no request with user_tx_no ${userTxNo}`);
      }
      return this.ledger.detail(record);
    });
  }

  private usedIndexes(wallet: WatchWallet, chain: SimulatedChain, path: Chain): number[] {
    const used = new Set<number>();
    for (const tx of chain.history((a) => wallet.isMine(a))) {
      for (const o of tx.outputs) {
        const at = wallet.position(o.address);
        if (at?.chain === path) used.add(at.index);
      }
    }
    return [...used].sort((a, b) => b - a);
  }

  private nextReceiving(wallet: WatchWallet, chain: SimulatedChain): number {
    const used = this.usedIndexes(wallet, chain, CHAIN.external);
    return used.length === 0 ? 0 : (used[0] as number) + 1;
  }

  /** A transaction in the seed's "Tx List" shape, from `wallet`'s point of view. */
  private txView(tx: ChainTx, wallet: WatchWallet, chain: SimulatedChain): Record<string, unknown> {
    let value = 0n;
    const inputs = tx.inputs.map((i) => {
      const mine = wallet.isMine(i.address);
      if (mine) value -= i.value;
      return { is_mine: mine, value: Number(i.value), prev_out_sn: i.prevSn, sn: i.sn, address: i.address, prev_tx_hash: i.prevTxid };
    });
    const outputs = tx.outputs.map((o) => {
      const mine = wallet.isMine(o.address);
      if (mine) value += o.value;
      return { status: o.spentBy === undefined ? 0 : 1, is_mine: mine, sn: o.sn, value: Number(o.value), address: o.address };
    });
    return {
      tx_hash: tx.txid,
      confirmation: chain.confirmations(tx),
      confirm_at: tx.confirmedAt === null ? null : apiTime(tx.confirmedAt, false),
      value: Number(value),
      tx_at: apiTime(tx.seenAt, false),
      inputs,
      outputs,
    };
  }
}

function headerValue(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function integerParam(text: string, field: string, max: number): number {
  if (!/^(0|[1-9][0-9]{0,9})$/.test(text) || Number(text) > max) throw new GatewayError('INPUT', `${field} must be an integer from 0 to ${max}`, field);
  return Number(text);
}

/** The form fields of `POST tx/request`: the seed's, and those the released app adds. */
const FORM_FIELDS = new Set(['coin_code', 'user_tx_no', 'outs', 'vc_code', 'is_dynamic_fee', 'c_id', 'out_type', 'memo', 'only_confirmed', 'nonce', 'gas_price']);

/**
 * The `POST tx/request` form (seed "Hot Sending Tx Request"; the app's fields, spec "What the
 * released app does"), checked field by field with the rules HSM-Hot applies, so nothing is
 * reserved for a request HSM-Hot would refuse. `out_type` is the signed string's `outType`;
 * `only_confirmed`, `nonce` and `gas_price` are not signed and come back apart.
 */
export function parseTxRequestForm(body: unknown, coinFromPath: string): { form: TxRequestForm; unsigned: UnsignedFields } {
  if (body === null || typeof body !== 'object') throw new GatewayError('INPUT', 'the request needs a form body', 'body');
  const fields = body as Record<string, string>;
  for (const name of Object.keys(fields)) {
    if (!FORM_FIELDS.has(name)) throw new GatewayError('INPUT', `unknown field ${name}${name === 'outType' ? ' (the form field is out_type)' : ''}`, name);
  }
  const required = (name: string, max: number): string => {
    const value = fields[name];
    if (value === undefined || value === '') throw new GatewayError('INPUT', `${name} is required`, name);
    if (value.length > max) throw new GatewayError('INPUT', `${name} is longer than ${max} characters`, name);
    return value;
  };
  const integer = (name: string, max: number): number | undefined => {
    const value = fields[name];
    if (value === undefined) return undefined;
    if (!/^(0|[1-9][0-9]{0,9})$/.test(value) || Number(value) > max) throw new GatewayError('INPUT', `${name} must be an integer from 0 to ${max}`, name);
    return Number(value);
  };
  const flag = (name: string, fallback: 0 | 1): 0 | 1 => {
    const value = fields[name] ?? String(fallback);
    if (value !== '0' && value !== '1') throw new GatewayError('INPUT', `${name} must be 0 or 1`, name);
    return value === '1' ? 1 : 0;
  };
  const coin = (fields.coin_code ?? coinFromPath).toUpperCase();
  if (coin !== coinFromPath) throw new GatewayError('INPUT', `coin_code ${coin} does not match the path's coin ${coinFromPath.toLowerCase()}`, 'coin_code');
  const cId = integer('c_id', MAX_CHANNEL_ID);
  if (cId === undefined || fields.c_id === '') throw new GatewayError('INPUT', 'c_id is required', 'c_id');
  const outType = integer('out_type', 2 ** 31 - 1);
  const form: TxRequestForm = {
    coin_code: coin,
    user_tx_no: required('user_tx_no', 64),
    outs: required('outs', MAX_OUTS_LENGTH),
    vc_code: required('vc_code', 120),
    is_dynamic_fee: flag('is_dynamic_fee', 1),
    c_id: cId,
    ...(outType === undefined ? {} : { outType }),
    ...(fields.memo === undefined ? {} : { memo: fields.memo }),
  };
  // The rules of the signed string, as HSM-Hot and HSM-Cold check them (request-string.ts).
  try {
    checkRequestFields({ coinCode: coin as never, userTxNo: form.user_tx_no, outs: form.outs, isDynamicFee: form.is_dynamic_fee, outType: form.outType, memo: form.memo });
  } catch (error) {
    const e = error as HsmError;
    const field = e.field === 'outType' ? 'out_type' : (e.field ?? 'body');
    throw new GatewayError('INPUT', e.message.replace(/^outType/, 'out_type'), field);
  }
  const gasPrice = fields.gas_price;
  if (gasPrice !== undefined && !/^[0-9]{1,30}$/.test(gasPrice)) throw new GatewayError('INPUT', 'gas_price must be a decimal integer', 'gas_price');
  const nonce = integer('nonce', 2 ** 31 - 1);
  const unsigned: UnsignedFields = {
    only_confirmed: flag('only_confirmed', 0),
    ...(nonce === undefined ? {} : { nonce }),
    ...(gasPrice === undefined ? {} : { gas_price: gasPrice }),
  };
  return { form, unsigned };
}
