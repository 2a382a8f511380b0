/**
 * The released app's HTTP calls (its Retrofit interfaces ChainCloudHotSendService and
 * VWebService; spec "What the released app does"), byte for byte: the paths, the form fields
 * in the app's order (a field whose value is null is left out, as Retrofit does), the `Token`
 * and `Accept` headers, and JSON read the way its Gson reads it (snake_case, unknown fields
 * ignored). A failure is what Retrofit would raise: no answer (network), or an HTTP status with
 * the app's ApiError body {code, message} when there is one.
 * @module
 */

export type AppCallError = { kind: 'network'; message: string } | { kind: 'http'; status: number; apiError: { code?: number; message?: string } | undefined };

export type AppResult<T> = { ok: true; body: T } | { ok: false; error: AppCallError };

/** The app's TxStatus (api/result/TxStatus.java) as far as the app reads it. */
export interface AppTxStatus {
  hot_wallet_tx_status?: number;
  tx_hash?: string | null;
  send_request?: { user_tx_no?: string } | null;
}

export interface AppVtest {
  vtest_info?: string | null;
  vtest_at?: string;
  vtest_id?: string | number;
}

export interface AppBatch {
  batch_no?: string | number;
  address_list?: Array<{ index?: number; address?: string }>;
  coin_type?: string;
  address_type?: number;
}

/** The fields of the app's per-coin `postTxs`, in its order; null ones are not sent. */
export interface AppTxPost {
  coinCode: string;
  userTxNo: string;
  outs: string;
  vcCode: string;
  isDynamicFee: number;
  onlyConfirmed: number;
  cId: number;
  outType: number;
  memo: string | null;
  nonce: number | null;
  gasPrice: string | null;
}

/** Where the app's calls go: the platform with its Hot Send token (BTC) and Hot Send Alt token (other coins), and vweb. */
export interface AppEndpoints {
  platform: { baseUrl: string; token: string; altToken: string };
  vweb: { baseUrl: string; token: string };
}

export class AppApi {
  private readonly platform: { baseUrl: string; token: string };
  private readonly platformAlt: { baseUrl: string; token: string };
  private readonly vweb: { baseUrl: string; token: string };

  constructor(endpoints: AppEndpoints) {
    this.platform = { baseUrl: endpoints.platform.baseUrl, token: endpoints.platform.token };
    this.platformAlt = { baseUrl: endpoints.platform.baseUrl, token: endpoints.platform.altToken };
    this.vweb = endpoints.vweb;
  }

  /** BTC goes through the app's Hot Send service, other coins through its Alt one. */
  private hotSend(coin: string): { baseUrl: string; token: string } {
    return coin === 'BTC' ? this.platform : this.platformAlt;
  }

  // ChainCloudHotSendService ---------------------------------------------------------------

  currentUser(coin: string): Promise<AppResult<{ balance?: number }>> {
    return this.call(this.platform, 'GET', `/api/v1/open/${coin}/user`);
  }

  /** `POST /open/{coin}/tx/request`, the withdrawal. */
  postTx(p: AppTxPost): Promise<AppResult<{ result?: boolean }>> {
    return this.call(this.hotSend(p.coinCode), 'POST', `/api/v1/open/${p.coinCode}/tx/request`, [
      ['coin_code', p.coinCode],
      ['user_tx_no', p.userTxNo],
      ['outs', p.outs],
      ['vc_code', p.vcCode],
      ['is_dynamic_fee', String(p.isDynamicFee)],
      ['only_confirmed', String(p.onlyConfirmed)],
      ['c_id', String(p.cId)],
      ['out_type', String(p.outType)],
      ['memo', p.memo],
      ['nonce', p.nonce === null ? null : String(p.nonce)],
      ['gas_price', p.gasPrice],
    ]);
  }

  /** `POST /open/tx/request`, the coin-less form the app's PING uses. */
  postPing(p: { userTxNo: string; vcCode: string; cId: number }): Promise<AppResult<{ result?: boolean }>> {
    return this.call(this.platform, 'POST', '/api/v1/open/tx/request', [
      ['coin_code', 'BTC'],
      ['user_tx_no', p.userTxNo],
      ['outs', 'PING'],
      ['vc_code', p.vcCode],
      ['is_dynamic_fee', '1'],
      ['c_id', String(p.cId)],
    ]);
  }

  /** `GET /open/{coin}/tx/{user_tx_no}`, or the coin-less path without a coin (PING). */
  txStatus(coin: string | undefined, userTxNo: string): Promise<AppResult<AppTxStatus>> {
    return this.call(coin === undefined ? this.platform : this.hotSend(coin), 'GET', `/api/v1/open/${coin === undefined ? '' : `${coin}/`}tx/${encodeURIComponent(userTxNo)}`);
  }

  // VWebService -----------------------------------------------------------------------------

  nextVtest(): Promise<AppResult<AppVtest | null>> {
    return this.call(this.vweb, 'GET', '/api/v1/open/vtest');
  }

  /** The outcome of a withdrawal: tx_hash null (left out) means it failed. */
  postVtestStatus(vtestId: string, txHash: string | null): Promise<AppResult<{ result?: boolean }>> {
    return this.call(this.vweb, 'POST', '/api/v1/open/vtest', [
      ['vtest_id', vtestId],
      ['tx_hash', txHash],
    ]);
  }

  nextBatch(): Promise<AppResult<AppBatch | null>> {
    return this.call(this.vweb, 'GET', '/api/v1/open/batch');
  }

  postBatchStatus(batchNo: number, status: number, type: number, coinType: string): Promise<AppResult<{ result?: boolean }>> {
    return this.call(this.vweb, 'POST', '/api/v1/open/batch', [
      ['batch_no', String(batchNo)],
      ['status', String(status)],
      ['type', String(type)],
      ['coin_type', coinType],
    ]);
  }

  // -----------------------------------------------------------------------------------------

  private async call<T>(server: { baseUrl: string; token: string }, method: 'GET' | 'POST', path: string, fields?: Array<[string, string | null]>): Promise<AppResult<T>> {
    const form = fields === undefined ? undefined : new URLSearchParams(fields.filter((f): f is [string, string] => f[1] !== null)).toString();
    let response: Response;
    let text: string;
    try {
      response = await fetch(`${server.baseUrl}${path}`, {
        method,
        headers: { Accept: 'application/json', Token: server.token, ...(form === undefined ? {} : { 'Content-Type': 'application/x-www-form-urlencoded; charset=UTF-8' }) },
        ...(form === undefined ? {} : { body: form }),
      });
      text = await response.text();
    } catch (error) {
      return { ok: false, error: { kind: 'network', message: (error as Error).message } };
    }
    const json = parseJson(text);
    if (response.status < 200 || response.status >= 300) {
      const body = json as { code?: unknown; message?: unknown } | undefined;
      const apiError = body !== null && typeof body === 'object' ? { ...(typeof body.code === 'number' ? { code: body.code } : {}), ...(typeof body.message === 'string' ? { message: body.message } : {}) } : undefined;
      return { ok: false, error: { kind: 'http', status: response.status, apiError } };
    }
    return { ok: true, body: (json ?? null) as T };
  }
}

function parseJson(text: string): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
